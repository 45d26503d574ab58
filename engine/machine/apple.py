"""Apple silicon: ``sysctl hw.memsize machdep.cpu.brand_string`` (the chip and its unified memory) and
``system_profiler SPDisplaysDataType -json`` (the GPU's name and core count).

The GPU shares the machine's RAM: the memory reported is the whole of it; how much Metal lets the GPU use is
the catalog's and the sizing's business, not the probe's.
"""

from __future__ import annotations

import json
import sys

from .profile import Gpu
from .run import run_tool

SYSCTL = ["sysctl", "hw.memsize", "machdep.cpu.brand_string"]
PROFILER = ["system_profiler", "SPDisplaysDataType", "-json"]


def parse_sysctl(text: str) -> dict[str, str]:
    """``key: value`` lines (macOS sysctl's output format) as a mapping."""
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {key.strip(): value.strip() for key, value in pairs}


def parse_system_profiler(text: str) -> list[tuple[str, int | None]]:
    """Each graphics processor's name and core count from ``system_profiler SPDisplaysDataType -json``.

    The name is ``sppci_model`` ("Apple M2 Max") where present; older macOS releases put an internal key in
    ``_name`` ("kHW_AppleM1Item"), newer ones the chip's name.
    """
    items = json.loads(text).get("SPDisplaysDataType", [])
    found = []
    for item in items:
        name = str(item.get("sppci_model") or item.get("_name") or "unknown GPU")
        cores = str(item.get("sppci_cores", ""))
        found.append((name, int(cores) if cores.isdigit() else None))
    return found


def apple_gpus(sysctl_text: str, profiler_text: str | None) -> list[Gpu]:
    """The Apple GPU of a Mac described by these two outputs; none on an Intel Mac."""
    values = parse_sysctl(sysctl_text)
    chip = values.get("machdep.cpu.brand_string", "")
    if not chip.startswith("Apple"):
        return []
    memsize = values.get("hw.memsize", "")
    displays = dict(parse_system_profiler(profiler_text)) if profiler_text else {}
    return [Gpu(vendor="apple", name=chip, memory_total_bytes=int(memsize) if memsize.isdigit() else None,
                source="sysctl", cores=displays.get(chip))]


def probe() -> tuple[list[Gpu], list[str]]:
    """The Apple GPU of this Mac; nothing (and no note) on other systems."""
    if sys.platform != "darwin":
        return [], []
    out, reason = run_tool(SYSCTL)
    if out is None:
        return [], [f"no Apple GPU read: {reason}"]
    profiler, _ = run_tool(PROFILER)  # only adds the core count: its absence is not worth a line
    try:
        return apple_gpus(out, profiler), []
    except ValueError as exc:
        return apple_gpus(out, None), [f"system_profiler printed something other than its JSON ({exc})"]
