"""Match what a driver reports to a catalog accelerator: by name or alias, then checked by memory size.

A name alone is not enough: an RTX 3060 8GB and 12GB report the same name, and an Apple chip comes with several
memory sizes, while a catalog entry describes one. The driver's total must lie near the entry's nominal memory.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from ..errors import InputError
from ..units import gb
from .profile import Gpu

if TYPE_CHECKING:
    from ..knowledge.loader import Catalog

# The catalog's usable_memory_bytes is what the driver reports (24564 MiB for an RTX 4090, 23028 MiB for an A10 with
# ECC on: modal-labs/modal-client#2797), or the vendor's GiB where no reading was found, which the driver's reserve
# (ECC, firmware) undercuts by up to ~6.5% (A10, L4, L40S). Drivers and ECC settings move a reading by less than that;
# outside 0.93-1.03x it is another memory configuration of the same chip (the 8 GB RTX 3060), not this catalog entry.
MEMORY_RATIO_LOW = 0.93
MEMORY_RATIO_HIGH = 1.03
VENDOR_WORDS = ("nvidia", "amd", "advanced micro devices", "intel")


def _candidates(name: str) -> list[str]:
    """The name, then without the vendor's word, then with trailing words dropped ("... Workstation Edition")."""
    words = name.split()
    while words and words[0].lower().rstrip(",") in VENDOR_WORDS:
        words = words[1:]
    names = [name] + [" ".join(words[:n]) for n in range(len(words), 1, -1)]
    return list(dict.fromkeys(names))


def match_gpu(gpu: Gpu, cat: Catalog) -> Gpu:
    """The GPU with ``catalog_id`` set, or with ``catalog_note`` saying why no entry matched."""
    near = None
    for candidate in _candidates(gpu.name):
        try:
            accel = cat.accelerator(candidate)
        except InputError:
            continue
        ratio = gpu.memory_total_bytes / accel.usable_memory_bytes if gpu.memory_total_bytes else 1.0
        if MEMORY_RATIO_LOW <= ratio <= MEMORY_RATIO_HIGH:
            how = "" if candidate == gpu.name else f"matched by the name '{candidate}'"
            return replace(gpu, catalog_id=accel.id, catalog_note=how)
        near = near or accel
    if near is not None:
        note = f"the catalog's {near.id} reports {gb(near.usable_memory_bytes)}; this one reports {gb(gpu.memory_total_bytes)}"
    else:
        note = "no catalog entry has this name"
    return replace(gpu, catalog_note=note)
