"""Hybrid CPU+GPU inference: what stays on the GPUs, what stays in host RAM computed by the host CPU, and how fast.

Pure formulas over numbers, like ``sizing`` (which they build on). Two splits, as llama.cpp and KTransformers run them:

- ``experts``: the routed experts of the first N mixture-of-experts layers stay in host RAM and the CPU computes them
  (llama.cpp ``--n-cpu-moe N``, ``-ot exps=CPU`` for all); attention, shared experts, embeddings, dense layers and the
  KV cache stay on the GPU. A token reads only the experts it is routed to, so the CPU reads a few GB per token.
- ``layers``: N whole layers (weights and their KV cache) stay in host RAM (llama.cpp ``-ngl`` layers minus N): the
  CPU reads all of their bytes every step.

A decode step is the GPU's part (its bytes at the GPU's bandwidth plus the runtime's per-layer fixed cost), then the
CPU's part (the host-resident bytes it reads at the host's bandwidth x a calibrated efficiency), plus a hop of the
hidden state to the CPU and back for every offloaded layer. Batched users read each touched expert once per step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from . import sizing

MODES = ("experts", "layers")


@dataclass(frozen=True)
class Placement:
    """Where the bytes of one hybrid configuration live (all GPUs together, and the host)."""

    mode: str  # "experts" or "layers"
    offloaded_layers: int  # N: llama.cpp --n-cpu-moe N, or the layers -ngl leaves on the CPU
    layers: int
    gpu_weight_bytes: int  # attention, shared experts, embeddings, dense layers and the experts not offloaded
    host_weight_bytes: int  # the routed experts (or whole layers) in host RAM
    gpu_kv_bytes: int
    host_kv_bytes: int  # the KV cache of offloaded whole layers (none when only experts are offloaded)
    host_reserve_bytes: int  # the operating system's share of the host RAM

    @property
    def host_ram_bytes(self) -> int:
        """Host RAM the configuration needs: what is offloaded plus the system's share."""
        return self.host_weight_bytes + self.host_kv_bytes + self.host_reserve_bytes

    def as_dict(self) -> dict[str, int | str]:
        return {"mode": self.mode, "offloaded_layers": self.offloaded_layers, "layers": self.layers,
                "gpu_weight_bytes": self.gpu_weight_bytes, "gpu_kv_cache_bytes": self.gpu_kv_bytes,
                "host_weight_bytes": self.host_weight_bytes, "host_kv_cache_bytes": self.host_kv_bytes,
                "host_ram_bytes": self.host_ram_bytes}


def routed_expert_bytes(arch: sizing.Arch, weight_bytes: int) -> int:
    """Bytes of a MoE model's routed experts (zero for a dense model): all but its shared part."""
    return math.floor(weight_bytes * (1.0 - arch.moe_shared_fraction))


def place(arch: sizing.Arch, mode: str, weight_bytes: int, kv_bytes: int, fixed_gpu_bytes: int, gpu_room_bytes: int,
          reserve_bytes: int) -> Placement | None:
    """The split that offloads the fewest layers (at least one) and leaves the GPUs' part within ``gpu_room_bytes``.

    :param fixed_gpu_bytes: what stays on the GPUs whatever the split (activations, the runtime's buffers).
    :param gpu_room_bytes: the usable memory of all the GPUs together.
    :returns: None when even offloading every layer leaves too much on the GPUs, or when ``experts`` is asked of a
        dense model.
    """
    layers = arch.layers
    if mode == "experts":
        movable = routed_expert_bytes(arch, weight_bytes)
        if movable <= 0:
            return None
        per_layer, per_layer_kv = movable / layers, 0.0
    else:
        per_layer, per_layer_kv = weight_bytes / layers, kv_bytes / layers
    over = weight_bytes + kv_bytes + fixed_gpu_bytes - gpu_room_bytes
    n = max(1, math.ceil(over / (per_layer + per_layer_kv)))
    if n > layers or (mode == "layers" and n >= layers):  # every layer on the CPU is a CPU-only run, not a hybrid
        return None
    host_weights = math.ceil(per_layer * n)
    host_kv = math.ceil(per_layer_kv * n)
    if weight_bytes - host_weights + kv_bytes - host_kv + fixed_gpu_bytes > gpu_room_bytes:
        return None
    return Placement(mode=mode, offloaded_layers=n, layers=layers, gpu_weight_bytes=weight_bytes - host_weights,
                     host_weight_bytes=host_weights, gpu_kv_bytes=kv_bytes - host_kv, host_kv_bytes=host_kv,
                     host_reserve_bytes=reserve_bytes)


@dataclass(frozen=True)
class HostLink:
    """The host's side of a hybrid step: its memory bandwidth, the share the CPU reaches, and the per-layer hop."""

    bandwidth_gbs: float
    efficiency: float  # policy hybrid-cpu-bandwidth-efficiency
    layer_overhead_s: float  # policy hybrid-layer-overhead-s
    link_gbs: float  # PCIe, for prefill's copies of the offloaded weights (policy moe-offload-link-gbs)
    prefill_batch_tokens: int  # policy hybrid-prefill-batch-tokens


def decode_speed(arch: sizing.Arch, p: Placement, sequences: int, gpu_bandwidth_gbs: float, gpu_efficiency: float,
                 gpu_overhead: sizing.StepOverhead, host: HostLink, gpu_tflops: float | None, compute_efficiency: float) -> sizing.Speed:
    """Decode and prefill rates of a hybrid split: GPU part + CPU part + a hop per offloaded layer.

    The experts' share a step reads grows with the batch (``sizing.experts_touched``: each touched expert is read
    once per step, whatever number of tokens it serves); whole offloaded layers are read in full; KV cache is read at
    half the context on average, as in ``sizing.decode_speed``. Prefill: a prompt micro-batch copies the offloaded
    weights to the GPU over PCIe, so it runs at ``prefill_batch_tokens`` per copy, or the GPU's compute rate if lower.
    """
    return decode_speeds(arch, p, sequences, gpu_bandwidth_gbs, gpu_efficiency, gpu_overhead, [host], gpu_tflops,
                         compute_efficiency)[0]


def decode_speeds(arch: sizing.Arch, p: Placement, sequences: int, gpu_bandwidth_gbs: float, gpu_efficiency: float,
                  gpu_overhead: sizing.StepOverhead, hosts: list[HostLink], gpu_tflops: float | None,
                  compute_efficiency: float) -> list[sizing.Speed]:
    """``decode_speed`` with each of ``hosts``: the GPU's part of the step is worked out once."""
    gpu_read, host_read = step_reads(arch, p, sequences)
    gpu_layers = p.layers if p.mode == "experts" else p.layers - p.offloaded_layers
    t_gpu = gpu_read / (gpu_bandwidth_gbs * sizing.GIGA * gpu_efficiency)
    t_fixed = gpu_overhead.per_step_s(arch, sequences) * gpu_layers / p.layers
    # the GPU computes the micro-batch: 2 FLOPs per active parameter per token
    gpu_prefill = gpu_tflops * sizing.TERA * compute_efficiency / (2 * arch.active_params) if gpu_tflops else None
    out = []
    for host in hosts:
        t_host = host_read / (host.bandwidth_gbs * sizing.GIGA * host.efficiency)
        t_hops = p.offloaded_layers * host.layer_overhead_s
        step = t_gpu + t_fixed + t_host + t_hops
        bound, longest = "memory", t_gpu  # the largest part, the first named on a tie
        for part, t in (("overhead", t_fixed + t_hops), ("host-memory", t_host)):
            if t > longest:
                bound, longest = part, t
        copy_s = p.host_weight_bytes / (host.link_gbs * sizing.GIGA)
        prefill = host.prefill_batch_tokens / copy_s
        if gpu_prefill is not None:
            prefill = min(prefill, gpu_prefill)
        out.append(sizing.Speed(decode_per_seq=1 / step, decode_total=sequences / step, prefill=prefill, bound=bound))
    return out


def step_reads(arch: sizing.Arch, p: Placement, sequences: int) -> tuple[float, float]:
    """Bytes one decode step of ``sequences`` tokens reads on the GPUs and in host RAM.

    Experts split: the GPUs read the shared part, their experts' touched share and the KV cache; the host reads its
    experts' touched share (``sizing.experts_touched``). Layers split: each side reads its layers' weights (a MoE's
    routed share of them) and half its KV cache.
    """
    if p.mode == "experts":
        touched = sizing.experts_touched(arch, sequences)
        routed = routed_expert_bytes(arch, p.gpu_weight_bytes + p.host_weight_bytes)
        shared = p.gpu_weight_bytes + p.host_weight_bytes - routed
        return shared + (routed - p.host_weight_bytes) * touched + p.gpu_kv_bytes / 2, p.host_weight_bytes * touched
    share = sizing.moe_weight_fraction_read(arch, sequences)
    return p.gpu_weight_bytes * share + p.gpu_kv_bytes / 2, p.host_weight_bytes * share + p.host_kv_bytes / 2

