"""Options an enumeration rules out before sizing them, from the options it has already built.

A layer split (llama.cpp) gets no faster with more devices: every option of one device, format and such a runtime runs
at most at a ceiling (``evaluate.layer_split_rate_ceiling``) and costs at least the fewest devices that hold the format
at the device's price. When an option already built costs no more than that floor, is faster than that ceiling and is
as good on every other merit ``frontier.pareto`` weighs (quality class, memory to spare, no tensor parallel over PCIe,
batching, time to first token), ``pareto`` would drop every option of the combination: none is sized. An unpriced
device's options are compared only with its own, their device count standing for their cost.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from .options import QUALITY_RANK, Option

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
