"""Turn a workload and the catalog into sized options, and pick tiers among them.

Rules call these functions: the arithmetic stays here and in ``sizing``, the
reasoning (what is excluded, which tier, which warning) stays in the rules.
``options`` holds the vocabulary, ``evaluate`` sizes one configuration and ``costs`` prices it (host boxes included),
``frontier`` searches the catalog and keeps the options no other beats (``pareto``; ``bounds``: those it need not
size), ``tiers`` picks the three tiers, ``check`` chooses the format for a named configuration and what would make it fit.
"""

from __future__ import annotations

from . import frontier, offload
from .check import Remedies, choose, closest_context, configurations, largest_smaller_model, remedies
from .costs import SELF_HOSTED, cost_of, host_cores, node_host, prices_of
from .evaluate import (
    arch,
    average_bits,
    bandwidth_efficiency,
    device_counts,
    evaluate,
    offered,
    precisions_for,
    quality_of,
    reference_memory,
    reference_precision,
    runs_at,
    runs_on,
    runtimes_for,
    tflops_at,
    training_fit,
    usable_bytes,
    weights_at,
)
from .frontier import cheapest_meeting, enumerate_options, options_for, undominated
from .options import KV_BYTES_DEFAULT, QUALITY_RANK, TIERS, Cost, Option, Workload
from .pareto import pareto
from .tiers import Floors, cheapest, dominates, meets, pick_best, pick_minimum, pick_recommended, priced, smallest

__all__ = [
    "KV_BYTES_DEFAULT", "QUALITY_RANK", "SELF_HOSTED", "TIERS", "Cost", "Floors", "Option", "Remedies", "Workload", "arch", "average_bits",
    "bandwidth_efficiency", "cheapest", "cheapest_meeting", "choose", "closest_context", "configurations", "cost_of",
    "device_counts", "dominates", "enumerate_options", "evaluate", "frontier", "host_cores", "largest_smaller_model", "offload",
    "meets", "offered", "options_for", "node_host", "pareto", "pick_best", "pick_minimum", "pick_recommended", "precisions_for",
    "priced", "prices_of", "quality_of", "reference_memory", "reference_precision", "remedies", "runs_at", "runs_on",
    "runtimes_for", "smallest", "tflops_at", "training_fit", "undominated", "usable_bytes", "weights_at",
]
