"""The host around the accelerators, loading and offload (pitfall P2): CPU cores, RAM and reading a checkpoint from a
drive; pure functions over numbers.
"""

from __future__ import annotations

import math

from .sizing import GIGA


def host_cores(base_cores: int, users: int, users_per_core: int) -> int:
    """CPU cores a host needs: ``base_cores`` for the devices it drives plus one per ``users_per_core`` concurrent users.

    :param base_cores: what the runtime keeps busy for its devices (runtimes.yaml host_cores: vllm-cpu-resources,
        llamacpp-pr-2915, mle-cpu-cores; else policy host-cores-per-device per device, gk-h100), with
        host-min-cores-cpu-inference for what the CPU computes itself (article); see planner.host_cores.
    :param users: concurrent users served (0 for training).
    :param users_per_core: policy host-users-per-core (llmhw-assumption).
    """
    return base_cores + math.ceil(users / users_per_core)


def host_ram_bytes(weights_bytes: float, ram_per_weights: float, os_reserve_bytes: float) -> float:
    """RAM to stage a checkpoint through host memory (policy host-ram-per-weights, article) plus the system's share
    (policy host-os-reserve-bytes, llmhw-assumption)."""
    return weights_bytes * ram_per_weights + os_reserve_bytes


def load_seconds(n_bytes: float, read_gbs: float) -> float:
    """Seconds to read ``n_bytes`` from a drive reading ``read_gbs`` GB/s (policy sata-gbs, nvme-gbs)."""
    return n_bytes / (read_gbs * GIGA)

