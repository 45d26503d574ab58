"""Speeds measured on the user's machine (`llmhw calibrate`, ``local`` calibration runs of a --knowledge directory).

A device and runtime with such runs get their decode estimates scaled by the measured / estimated ratio (the geometric
mean over their runs), each run's estimate taken without any correction. Other devices and runtimes are unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict

from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import Accelerator, CalibrationRun

_FACTORS: dict[int, tuple[Catalog, dict[tuple[str, str], float]]] = {}  # by catalog: its factors (the catalog kept alive)
_KEPT = 16  # catalogs remembered (load_catalog caches 8, consultations of model files add a few)


def speed_factor(accel: Accelerator, runtime: Runtime, cat: Catalog) -> float:
    """The factor this device's decode estimates under this runtime are scaled by: 1.0 without a local measurement."""
    entry = _FACTORS.get(id(cat))
    if entry is None or entry[0] is not cat:
        if len(_FACTORS) >= _KEPT:
            _FACTORS.clear()
        entry = _FACTORS[id(cat)] = (cat, _factors(cat))
    factors = entry[1]
    return factors.get((accel.id, runtime.id), 1.0) if factors else 1.0


def measured_runs(accel: Accelerator, runtime: Runtime, cat: Catalog) -> list[CalibrationRun]:
    """The user's measurements of this device under this runtime."""
    return [r for r in cat.calibration.values() if r.local and r.hardware == accel.id and r.runtime == runtime.id]


def _factors(cat: Catalog) -> dict[tuple[str, str], float]:
    local = [r for r in cat.calibration.values() if r.local]
    if not local:
        return {}
    from ..calibrate import estimate

    base = dataclasses.replace(cat, calibration={k: r for k, r in cat.calibration.items() if not r.local})
    logs: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in local:
        logs[(r.hardware, r.runtime)].append(math.log(r.published_tok_s / estimate(r, base)))
    return {key: math.exp(sum(v) / len(v)) for key, v in logs.items()}
