"""Describe this machine: every probe runs, each one that cannot answer leaves a note; GPUs are matched to the catalog."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from ..errors import InputError
from ..units import gb
from . import amd, apple, host, nvidia
from .match import match_gpu
from .profile import Gpu, MachineProfile

if TYPE_CHECKING:
    from ..knowledge.loader import Catalog

NO_GPU = "no GPU detected; name one with --hardware"


def detect(cat: Catalog | None = None) -> MachineProfile:
    """This machine as a profile. With a catalog, each GPU is matched to an accelerator entry.

    Never raises for a missing tool, library or permission: each becomes a line of ``notes``.

    .. versionadded:: 0.1.0
    """
    gpus: list[Gpu] = []
    notes: list[str] = []
    for probe in (nvidia.probe, amd.probe, apple.probe):
        found, why = probe()
        gpus += found
        notes += why
    cpu, cpu_notes = host.cpu()
    total, available, ram_notes = host.ram()
    if cat is not None:
        gpus = [match_gpu(g, cat) for g in gpus]
    return MachineProfile(gpus=tuple(gpus), cpu=cpu, ram_total_bytes=total, ram_available_bytes=available,
                          disks=host.disks(), notes=tuple(notes + cpu_notes + ram_notes))


def this_hardware(machine: MachineProfile) -> tuple[str, int]:
    """The catalog accelerator and count ``--hardware this`` means: the matched GPUs holding the most memory.

    :raises InputError: no GPU was found, or none matches a catalog entry (the message says which and why).
    """
    if not machine.gpus:
        raise InputError("hardware", NO_GPU)
    counts = Counter(g.catalog_id for g in machine.gpus if g.catalog_id)
    if not counts:
        first = machine.gpus[0]
        raise InputError("hardware", f"this machine's {first.name} ({gb(first.memory_total_bytes)}) matches no catalog entry "
                                     f"({first.catalog_note}); name the nearest with --hardware (`llmhw hardware` lists them)")
    memory = {g.catalog_id: g.memory_total_bytes or 0 for g in machine.gpus}
    best = max(counts, key=lambda cid: (counts[cid] * memory[cid], cid))
    return str(best), counts[best]
