"""The host: CPU model, cores and the vector extensions CPU inference uses; RAM; disk types.

Linux answers from /proc/cpuinfo and /sys/block at once; elsewhere py-cpuinfo (which takes ~2 s) reads the CPU.
RAM comes from psutil, which every supported system has.
"""

from __future__ import annotations

from pathlib import Path

from .profile import Cpu, Disk

# Extensions that change CPU (or hybrid offload) decode speed: llama.cpp and KTransformers pick kernels by them.
INTERESTING_FLAGS = ("avx2", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8")
VIRTUAL_BLOCK = ("loop", "ram", "zram", "dm-", "sr", "md", "nbd")  # not disks: loop files, RAM disks, device-mapper, optical


def parse_proc_cpuinfo(text: str) -> Cpu:
    """Linux /proc/cpuinfo: the first processor's model and flags; logical CPUs and distinct physical cores counted."""
    blocks = [dict(_pairs(block)) for block in text.split("\n\n") if block.strip()]
    blocks = [b for b in blocks if "processor" in b]
    first = blocks[0] if blocks else {}
    cores = {(b.get("physical id", "0"), b.get("core id", b["processor"])) for b in blocks}
    flags = set(first.get("flags", "").split())
    return Cpu(model=first.get("model name", "unknown CPU"), physical_cores=len(cores) or None, logical_cores=len(blocks) or None,
               flags=tuple(f for f in INTERESTING_FLAGS if f in flags))


def _pairs(block: str) -> list[tuple[str, str]]:
    return [(k.strip(), v.strip()) for k, v in (line.split(":", 1) for line in block.splitlines() if ":" in line)]


def cpu() -> tuple[Cpu | None, list[str]]:
    proc = Path("/proc/cpuinfo")
    if proc.is_file():
        return parse_proc_cpuinfo(proc.read_text(errors="replace")), []
    try:
        import cpuinfo
        import psutil
    except ImportError as exc:
        return None, [f"CPU not read: {exc.name} is not installed"]
    info = cpuinfo.get_cpu_info()
    flags = set(info.get("flags", []))
    return Cpu(model=str(info.get("brand_raw") or "unknown CPU"), physical_cores=psutil.cpu_count(logical=False),
               logical_cores=psutil.cpu_count(logical=True), flags=tuple(f for f in INTERESTING_FLAGS if f in flags)), []


def ram() -> tuple[int | None, int | None, list[str]]:
    """Total and available RAM in bytes."""
    try:
        import psutil
    except ImportError:
        return None, None, ["RAM not read: psutil is not installed"]
    memory = psutil.virtual_memory()
    return int(memory.total), int(memory.available), []


def disks(sys_block: Path = Path("/sys/block")) -> tuple[Disk, ...]:
    """Each block device's type from /sys/block/*/queue/rotational (where readable): nvme, ssd or rotational."""
    found = []
    for queue in sorted(sys_block.glob("*/queue/rotational")):
        name = queue.parent.parent.name
        if name.startswith(VIRTUAL_BLOCK):
            continue
        try:
            rotational = queue.read_text().strip() == "1"
        except OSError:
            continue
        found.append(Disk(name=name, kind="rotational" if rotational else "nvme" if name.startswith("nvme") else "ssd"))
    return tuple(found)
