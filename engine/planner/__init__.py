"""Turn a workload and the catalog into sized options, and pick tiers among them.

Rules call these functions: the arithmetic stays here and in ``sizing``, the
reasoning (what is excluded, which tier, which warning) stays in the rules.
``options`` holds the vocabulary, ``evaluate`` sizes one configuration,
``frontier`` searches the catalog and keeps the options no other beats.
"""

from __future__ import annotations

from .evaluate import (
    arch,
    bandwidth_efficiency,
    cost_of,
    device_counts,
    evaluate,
    precisions_for,
    prices_of,
    reference_memory,
    reference_precision,
    runs_on,
    runtime_for,
    tflops_at,
    training_fit,
    usable_bytes,
)
from .frontier import best, cheapest, enumerate_options, meets, options_for, pareto, priced, undominated
from .options import KV_BYTES_DEFAULT, QUALITY_RANK, TIERS, Cost, Option, Workload

__all__ = [
    "KV_BYTES_DEFAULT", "QUALITY_RANK", "TIERS", "Cost", "Option", "Workload", "arch", "bandwidth_efficiency", "best",
    "cheapest", "cost_of", "device_counts", "enumerate_options", "evaluate", "meets", "options_for", "pareto",
    "precisions_for", "priced", "prices_of", "reference_memory", "reference_precision", "runs_on", "runtime_for",
    "tflops_at", "training_fit", "undominated", "usable_bytes",
]
