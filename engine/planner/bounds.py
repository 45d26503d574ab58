"""Options an enumeration rules out before sizing them, from the options it has already built.

A layer split (llama.cpp) gets no faster with more devices: every option of one device, format and such a runtime runs
at most at a ceiling (``evaluate.layer_split_rate_ceiling``) and costs at least the fewest devices that hold the format
at the device's price. When an option already built costs no more than that floor, is faster than that ceiling and is
as good on every other merit ``pareto.merits`` weighs (quality class, memory to spare, no tensor parallel over PCIe,
batching, time to first token), ``pareto.pareto`` would drop every option of the combination: none is sized. An unpriced
device's options are compared only with its own, their device count standing for their cost.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING

from .. import sizing
from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import Accelerator, Model, Precision
from . import layouts, offload
from .costs import buys_host_box, host_for, node_host, prices_of
from .evaluate import layer_split_rate_ceiling, quality_of
from .options import KV_BYTES_DEFAULT, QUALITY_RANK, Option, Workload

if TYPE_CHECKING:
    from .frontier import _Shared

SPEED_SLACK = 1e-9  # "faster" is strictly faster, beyond rounding: an equal option would keep the first id instead
PRICED = ""  # the group of the options priced whole, which compare across devices (an unpriced device's: its id)

Stairs = dict[tuple[int, bool], tuple[list[float], list[float]]]


class Built:
    """The options built so far that no candidate can beat on the merits other than cost and speed: roomy, no tensor
    parallel over PCIe, the prompt read in time, and priced whole or not priced at all (cards priced without their box
    compare only among themselves: none is kept). Per group (``PRICED``, or an unpriced device's id), quality class and
    batching, a staircase: costs ascending, each step the fastest option that costs that much or less."""

    def __init__(self, comfortable: float, prompt_ok: Callable[[Option], bool]) -> None:
        self.comfortable = comfortable
        self.prompt_ok = prompt_ok
        self.groups: dict[str, Stairs] = {}

    def add(self, o: Option) -> None:
        cost = o.cost.budget_usd
        if o.utilization > self.comfortable or o.tp_over_pcie or (cost is not None and not o.whole_price_known) or not self.prompt_ok(o):
            return
        group, cost = (PRICED, cost) if cost is not None else (o.hardware, o.count)
        speed = o.tokens_per_s or 0.0
        costs, speeds = self.groups.setdefault(group, {}).setdefault((QUALITY_RANK[o.quality], o.serves_many), ([], []))
        i = bisect_right(costs, cost)
        if i and speeds[i - 1] >= speed:  # one no dearer is as fast
            return
        costs.insert(i, cost)
        speeds.insert(i, speed)
        end = i + 1
        while end < len(costs) and speeds[end] <= speed:  # dearer and no faster: never the fastest within a cost again
            end += 1
        del costs[i + 1:end], speeds[i + 1:end]

    def fastest(self, group: str, quality: str, serves_many: bool, within: float) -> float:
        """The speed per user of the fastest option built in ``group`` that costs at most ``within`` (USD, or devices for
        an unpriced device) and is of the ``quality`` class or a better one, batching if ``serves_many`` (0: none)."""
        rank = QUALITY_RANK[quality]
        best = 0.0
        for (q, batching), (costs, speeds) in self.groups.get(group, {}).items():
            if q >= rank and batching >= serves_many:
                i = bisect_right(costs, within)
                if i and speeds[i - 1] > best:
                    best = speeds[i - 1]
        return best


def beaten(w: Workload, model: Model, accel: Accelerator, p: Precision, rt: Runtime, counts: list[int], fewest: int,
           price: float, cat: Catalog, shared: _Shared) -> bool:
    """Whether an option built (``shared.built``) beats every option of this device, format and layer-split runtime at
    ``counts`` from the ``fewest`` that hold the format, at ``price`` each at least (``frontier.least_cost``): one that
    costs no more than the fewest and runs faster than the runtime's ceiling here at any count.

    Only where each of those options would be compared with the options built, priced whole or not priced (``pareto``),
    and nothing else reads them (``_read_by_none``). A tensor-parallel runtime buys speed with devices: its ceiling at
    each count is too far above its speed to rule out as much as checking it would cost."""
    built = shared.built
    assert built is not None
    group, floor = (PRICED, fewest * price) if price < math.inf else (accel.id, fewest)
    fastest = built.fastest(group, quality_of(p, model), rt.serves_many, floor) if price > 0 else 0.0
    if not (fastest and _read_by_none(w, model, accel, p, rt, fewest, cat, shared)):
        return False
    weights = shared.weights[p.id]
    ceiling = layer_split_rate_ceiling(w, shared.a, accel, p, rt, cat, KV_BYTES_DEFAULT, weights, shared.kv(w, 1))
    return (ceiling is not None and fastest > ceiling * (1 + SPEED_SLACK)
            and (group != PRICED or _priced_whole(w, model, accel, rt, [n for n in counts if n >= fewest], weights, shared.a, cat)))


def _read_by_none(w: Workload, model: Model, accel: Accelerator, p: Precision, rt: Runtime, fewest: int, cat: Catalog,
                  shared: _Shared) -> bool:
    """Whether nothing but ``pareto`` reads the options of this device, format and runtime from ``fewest`` devices up: no
    runtime after it compares its numbers with theirs (``frontier._new``), and none is one device where the device gets
    hybrid options (``offload.with_offload`` looks for the formats one device holds alone)."""
    return shared.offered(w, model, accel, p, cat)[-1] is rt and (fewest > 1 or not offload.offloads(w, model, accel, None))


def _priced_whole(w: Workload, model: Model, accel: Accelerator, rt: Runtime, counts: list[int], weights: int, a: sizing.Arch,
                  cat: Catalog) -> bool:
    """Whether every option of ``counts`` of this device under this runtime, in any layout, is priced whole
    (``Option.whole_price_known``): no host box is bought beside the devices, or the catalog prices one for each
    (``costs.cost_of``)."""
    if not buys_host_box(w, accel, prices_of(accel)[0]):
        return True
    expert_parallel = layouts.expert_parallel_runs(model, rt, cat)
    for n in counts:
        for layout in layouts.candidates(w, a, accel, n, rt, expert_parallel):
            need = node_host(w, accel, rt, n, layout, weights, cat)
            if host_for(need.cards, need.ram_bytes, need.cores, cat, accel) is None:
                return False
    return True
