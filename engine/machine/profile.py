"""What a probe found, as plain frozen dataclasses: GPUs, the host CPU, RAM and disks, and what could not be read."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Gpu:
    """One accelerator as its driver reports it; ``catalog_id`` is set once it is matched to a catalog entry."""

    vendor: str  # nvidia, amd, apple, intel
    name: str  # the driver's product name ("NVIDIA GeForce RTX 4090", "Radeon RX 7900 XT", "Apple M4 Pro")
    memory_total_bytes: int | None  # driver-reported; on Apple, the machine's unified memory
    memory_free_bytes: int | None = None
    source: str = ""  # the tool that reported it: nvml, nvidia-smi, amdsmi, rocm-smi, sysctl
    cores: int | None = None  # GPU cores where the driver says (Apple)
    catalog_id: str | None = None
    catalog_note: str = ""  # why it matched no catalog entry, or how it matched


@dataclass(frozen=True)
class Cpu:
    model: str
    physical_cores: int | None
    logical_cores: int | None
    flags: tuple[str, ...] = ()  # the vector/matrix extensions that matter for CPU inference: avx2, avx512f, amx_*


@dataclass(frozen=True)
class Disk:
    name: str
    kind: str  # ssd, nvme, hdd ("rotational" as the kernel reports it: virtual disks often say so)


@dataclass(frozen=True)
class MachineProfile:
    """This machine: its accelerators, CPU, RAM and disks, and one line per probe that could not run.

    .. versionadded:: 0.1.0
    """

    gpus: tuple[Gpu, ...]
    cpu: Cpu | None
    ram_total_bytes: int | None
    ram_available_bytes: int | None
    disks: tuple[Disk, ...] = ()
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """The JSON document `llmhw detect --format json` prints (tuples become lists)."""
        data: dict[str, Any] = _lists(asdict(self))
        return data


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value
