"""NVIDIA GPUs: NVML through nvidia-ml-py first (no subprocess, exact bytes), else ``nvidia-smi --query-gpu`` as CSV.

Both give the driver's own total and free memory per device: a 24 GB RTX 4090 reports 24564 MiB, an
80 GB H100 81559 MiB (modal-labs/modal-client#2797 lists these for every GPU type Modal rents).
"""

from __future__ import annotations

import csv
import io
from typing import Any

from .profile import Gpu
from .run import run_tool

MIB = 2**20
QUERY = ["nvidia-smi", "--query-gpu=name,memory.total,memory.free", "--format=csv"]


def parse_nvidia_smi_csv(text: str) -> list[Gpu]:
    """Parse ``nvidia-smi --query-gpu=name,memory.total,memory.free --format=csv`` (the header names the columns).

    Memory reads "81920 MiB"; unified-memory parts (DGX Spark's GB10) print "[N/A]", kept as unknown.
    """
    rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(text)) if any(c.strip() for c in row)]
    if not rows:
        return []
    columns = [cell.split(" [")[0] for cell in rows[0]]  # "memory.total [MiB]" -> "memory.total"
    gpus = []
    for row in rows[1:]:
        cell = dict(zip(columns, row, strict=False))  # a short row leaves its last columns unknown
        gpus.append(Gpu(vendor="nvidia", name=cell.get("name", "unknown NVIDIA GPU"), memory_total_bytes=_mib(cell.get("memory.total")),
                        memory_free_bytes=_mib(cell.get("memory.free")), source="nvidia-smi"))
    return gpus


def _mib(cell: str | None) -> int | None:
    number = (cell or "").removesuffix("MiB").strip()
    return int(float(number) * MIB) if number.replace(".", "", 1).isdigit() else None


def read_nvml(nvml: Any) -> list[Gpu]:
    """Every device NVML lists (``nvml`` is the ``pynvml`` module, already initialised)."""
    gpus = []
    for index in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(index)
        name = nvml.nvmlDeviceGetName(handle)
        total: int | None
        free: int | None
        try:
            memory = nvml.nvmlDeviceGetMemoryInfo(handle)
            total, free = int(memory.total), int(memory.free)
        except nvml.NVMLError:  # unified-memory parts (GB10) do not report device memory
            total = free = None
        gpus.append(Gpu(vendor="nvidia", name=name.decode() if isinstance(name, bytes) else str(name),
                        memory_total_bytes=total, memory_free_bytes=free, source="nvml"))
    return gpus


def probe() -> tuple[list[Gpu], list[str]]:
    """NVIDIA GPUs of this machine, and a note for each way of asking that did not work."""
    try:
        import pynvml
    except ImportError:
        why = "nvidia-ml-py is not installed"
    else:
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as exc:
            why = f"NVML: {exc}"
        else:
            try:
                return read_nvml(pynvml), []
            finally:
                pynvml.nvmlShutdown()
    out, reason = run_tool(QUERY)
    if out is None:
        return [], [f"no NVIDIA driver: {why}; {reason}"]
    return parse_nvidia_smi_csv(out), []
