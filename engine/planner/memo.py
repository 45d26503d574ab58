"""Values derived from the catalog alone (a runtime's per-layer costs, a device's links, the host boxes and which
one takes some cards), kept while that catalog is the one asked about: every enumeration asks again for the same."""

from __future__ import annotations

from typing import Any

from ..knowledge.loader import Catalog

_MEMOS: dict[str, tuple[Catalog, dict[Any, Any]]] = {}  # memo name -> the last catalog asked about, and its values


def per_catalog(name: str, cat: Catalog, kept: int | None = None) -> dict[Any, Any]:
    """The memo ``name`` of ``cat``: a fresh one when another catalog was asked about last (a --knowledge directory, a
    calibration, a model file), or when it holds ``kept`` values already (a bound for memos keyed by workload numbers)."""
    entry = _MEMOS.get(name)
    if entry is None or entry[0] is not cat or (kept is not None and len(entry[1]) >= kept):
        entry = _MEMOS[name] = (cat, {})
    return entry[1]
