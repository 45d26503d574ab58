"""AMD GPUs: the amdsmi library where ROCm installed it, else ``rocm-smi --showproductname --showmeminfo vram --json``.

amdsmi is not a dependency: the PyPI wheel is only a binding, it fails on import without ROCm's libamd_smi.so,
and it must match the installed ROCm version, so it is used only where ROCm put it.
"""

from __future__ import annotations

import json
from typing import Any

from .profile import Gpu
from .run import run_tool

MIB = 2**20
QUERY = ["rocm-smi", "--showproductname", "--showmeminfo", "vram", "--json"]


def parse_rocm_smi_json(text: str) -> list[Gpu]:
    """Parse rocm-smi's JSON: one ``cardN`` object per GPU; VRAM in bytes. Key case varies across ROCm releases."""
    data = json.loads(text)
    gpus = []
    for card, fields in sorted(data.items(), key=lambda kv: _card_number(kv[0])):
        if not card.startswith("card") or not isinstance(fields, dict):
            continue  # "system" holds the driver version
        f = {str(k).lower(): str(v) for k, v in fields.items()}
        total, used = _int(f.get("vram total memory (b)")), _int(f.get("vram total used memory (b)"))
        name = f.get("card series") or f.get("device name") or f.get("card model") or "unknown AMD GPU"
        gpus.append(Gpu(vendor="amd", name=name, memory_total_bytes=total,
                        memory_free_bytes=total - used if total is not None and used is not None else None, source="rocm-smi"))
    return gpus


def _card_number(card: str) -> int:
    digits = card.removeprefix("card")
    return int(digits) if digits.isdigit() else 1_000_000


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() else None


def read_amdsmi(amdsmi: Any) -> list[Gpu]:
    """Every GPU amdsmi lists (``amdsmi`` is the module, already initialised).

    VRAM figures are in MB (2^20 bytes: ``amdsmi_vram_usage_t``, "uint32_t vram_total In MB", rocm.docs.amd.com amdsmi 6.4.1).
    """
    gpus = []
    for handle in amdsmi.amdsmi_get_processor_handles():
        name = amdsmi.amdsmi_get_gpu_asic_info(handle).get("market_name") or "unknown AMD GPU"
        vram = amdsmi.amdsmi_get_gpu_vram_usage(handle)
        total, used = int(vram["vram_total"]) * MIB, int(vram["vram_used"]) * MIB
        gpus.append(Gpu(vendor="amd", name=str(name), memory_total_bytes=total, memory_free_bytes=total - used, source="amdsmi"))
    return gpus


def probe() -> tuple[list[Gpu], list[str]]:
    """AMD GPUs of this machine, and a note for each way of asking that did not work."""
    try:
        import amdsmi
    except Exception as exc:  # the binding raises KeyError, OSError, ... when ROCm's library is missing
        why = "amdsmi is not installed" if isinstance(exc, ImportError) else f"amdsmi unusable ({type(exc).__name__})"
    else:
        try:
            amdsmi.amdsmi_init()
        except Exception as exc:
            why = f"amdsmi: {exc}"
        else:
            try:
                return read_amdsmi(amdsmi), []
            finally:
                amdsmi.amdsmi_shut_down()
    out, reason = run_tool(QUERY)
    if out is None:
        return [], [f"no AMD driver: {why}; {reason}"]
    try:
        return parse_rocm_smi_json(out), []
    except (ValueError, AttributeError) as exc:
        return [], [f"rocm-smi printed something other than its JSON ({exc})"]
