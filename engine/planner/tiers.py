"""The three tiers, and the promises they keep.

minimum: the cheapest option at acceptable quality that meets the speed floor.
recommended: within the budget, at least as fast as the minimum (or of a better quality class at the speed
    target), reading the timed prompt within the time-to-first-token target when an option within its price limit
    does, and dominated by no option (none is cheaper-or-equal, faster-or-equal and of the same or a better quality
    class). A training run has no speed target: its recommended tier is the option with memory to spare at the
    lowest cost per training token/s.
best-in-budget: the best quality class, then the fastest (the cheapest of those within a few percent of it), within
    the budget and above the speed floor, never below the recommended tier on quality-and-speed, and not full
    (policy best-max-utilization) when an option that good has room.
Options without a price take part only when no priced option qualifies: they cannot be compared on cost.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from ..knowledge.loader import Catalog
from .options import QUALITY_RANK, Option, Workload


@dataclass(frozen=True)
class Floors:
    """What the tiers promise for one workload (policy values; no speed promise for training)."""

    quality: str  # the lowest acceptable quality class
    speed: float  # tokens/s per user every tier reaches
    target: float  # tokens/s per user the recommended tier aims for
    comfortable: float  # fraction of usable memory the recommended tier prefers to stay under
    full: float  # fraction of usable memory above which the best tier counts an option as full
    speed_tie: float  # speeds closer than this fraction are the same to the best tier, which then takes the cheaper
    premium: float  # how much more than the cheapest option reaching the target the recommended tier pays for comfort
    batching: bool  # several users: the recommended tier prefers a runtime that batches them
    budget: float | None
    training: bool
    prompt_tokens: int  # the prompt a tier is timed on (policy ttft-prompt-tokens, at most half the context)
    ttft_target: float  # seconds to read it that the recommended tier aims for (infinite for training)

    @classmethod
    def of(cls, w: Workload, cat: Catalog) -> Floors:
        training = w.training
        return cls(
            quality=cat.policy.quality_floor_minimum,
            speed=0.0 if training else cat.policy.min_tokens_per_s,
            target=0.0 if training else cat.policy.target_tokens_per_s,
            comfortable=cat.policy.comfortable_utilization,
            full=cat.policy.best_max_utilization,
            speed_tie=cat.policy.best_speed_tie,
            premium=math.inf if training else cat.policy.recommended_max_premium,
            batching=not training and w.concurrency > cat.policy.serving_engine_above_users,
            budget=w.budget,
            training=training,
            prompt_tokens=min(cat.policy.ttft_prompt_tokens, w.context // 2),
            ttft_target=math.inf if training else cat.policy.target_ttft_s,
        )

    def prompt_s(self, o: Option) -> float | None:
        """Seconds ``o`` takes to read the timed prompt before its first token; None without a prefill rate."""
        return self.prompt_tokens / o.prefill_tokens_per_s if o.prefill_tokens_per_s else None

    def prompt_ok(self, o: Option) -> bool:
        """Reads the timed prompt within the target; an unknown prefill rate (no compute figure) is not held against it."""
        seconds = self.prompt_s(o)
        return seconds is None or seconds <= self.ttft_target


def _cost(o: Option) -> float:
    return o.cost.budget_usd if o.whole_price_known and o.cost.budget_usd is not None else math.inf


def _speed(o: Option) -> float:
    return o.tokens_per_s or 0.0


def _quality(o: Option) -> int:
    return QUALITY_RANK[o.quality]


def meets(o: Option, quality_floor: str, min_speed: float) -> bool:
    return QUALITY_RANK[o.quality] >= QUALITY_RANK[quality_floor] and (o.tokens_per_s or 0) >= min_speed


def priced(options: Iterable[Option]) -> list[Option]:
    return [o for o in options if o.whole_price_known]


def cheapest(options: Iterable[Option]) -> Option | None:
    """The cheapest priced option (then the better quality, then the faster)."""
    return min(priced(options), key=lambda o: (_cost(o), -_quality(o), -_speed(o), o.id), default=None)


def smallest(options: Iterable[Option]) -> Option | None:
    """The cheapest option (then the better quality, then the faster); among unpriced ones, ranked after every priced
    one, the least memory bought stands for the cost."""
    return min(options, key=lambda o: (not o.whole_price_known, _cost(o), 0 if o.whole_price_known else o.usable_bytes * o.count,
                                       -_quality(o), -_speed(o), o.id), default=None)


def _devices(o: Option) -> tuple[str, int, str | None]:
    """What an option buys: its devices and, for a hybrid rig, its host box (the same GPU on another host costs more)."""
    return o.hardware, o.count, o.host_part.host if o.host_part is not None else None


def dominates(a: Option, b: Option, f: Floors | None = None) -> bool:
    """``a`` costs no more, runs no slower and is of no lower quality class than ``b``, and is better on one of them.

    Costs and speeds compare only when both are known (the same cards with a dearer host box cost more), or when both
    are the same devices (the same unknown price).
    Within a consultation (``f``) two merits decode speed does not show count too: for several users a serving engine
    (a paged KV cache shared by the users, scheduling and chunked prefill, which keep the time to first token bounded
    under load), memory to spare (a run at 97% of memory fails on the first longer prompt or batch), and a prompt read
    within the time-to-first-token target (a CPU box decodes like a small GPU but reads a prompt 50 times slower): an
    option without one never dominates an option with it.
    """
    if f is not None and f.batching and b.serves_many and not a.serves_many:
        return False
    if f is not None and f.prompt_ok(b) and not f.prompt_ok(a):
        return False
    if f is not None and a.utilization > f.comfortable >= b.utilization:
        return False
    same_devices = _devices(a) == _devices(b)
    priced_both = a.whole_price_known and b.whole_price_known
    if (priced_both and _cost(a) > _cost(b)) or not (priced_both or same_devices):  # the same cards in a dearer host cost more
        return False
    if not same_devices and (a.tokens_per_s is None or b.tokens_per_s is None):
        return False  # an unknown speed (a device without a throughput figure) is no slower and no faster
    no_worse = _speed(a) >= _speed(b) and _quality(a) >= _quality(b)
    return no_worse and (_cost(a) < _cost(b) or _speed(a) > _speed(b) or _quality(a) > _quality(b))


def dominator(o: Option, options: Iterable[Option], f: Floors) -> Option | None:
    """The cheapest option that dominates ``o`` (then the better quality, then the faster), if any."""
    return min((d for d in options if dominates(d, o, f)), key=lambda d: (_cost(d), -_quality(d), -_speed(d), d.id), default=None)


def _eligible(options: Iterable[Option], f: Floors) -> list[Option]:
    """Options at acceptable quality above the speed floor: the priced ones, or the unpriced if no priced one is."""
    ok = [o for o in options if meets(o, f.quality, f.speed)]
    return priced(ok) or ok


def comfortable(o: Option, f: Floors) -> bool:
    """Reaches the speed target with memory to spare, without tensor parallel over PCIe, batching users if several,
    reading the timed prompt within the time-to-first-token target."""
    return (_speed(o) >= f.target and o.utilization <= f.comfortable and not o.tp_over_pcie
            and (o.serves_many or not f.batching) and f.prompt_ok(o))


def not_below(o: Option, minimum: Option, f: Floors) -> bool:
    """At least as fast as the minimum, or of a better quality class and still at the speed target (four 4-bit cards
    over PCIe may out-run two FP8 cards; the FP8 pair, lossless and fast enough, is no step down)."""
    return _speed(o) >= _speed(minimum) or (_quality(o) > _quality(minimum) and _speed(o) >= f.target)


def pick_minimum(options: list[Option], f: Floors) -> tuple[Option | None, bool]:
    """The minimum tier, and whether it meets the floors (else it is the cheapest that fits at all)."""
    meeting = [o for o in options if meets(o, f.quality, f.speed)]
    pick = smallest(meeting)
    if pick is not None and f.batching and not pick.serves_many:
        # several users: a serving engine (paged KV cache, continuous batching) at no higher cost beats a better
        # quality class served from llama.cpp's slots (500 users on 8 x A100: vLLM INT8, not llama.cpp Q8_0 at 1/4 the speed)
        pick = smallest(o for o in meeting if o.serves_many and _cost(o) <= _cost(pick)) or pick
    return (pick, True) if pick is not None else (smallest(options), False)


def pick_recommended(options: list[Option], minimum: Option | None, f: Floors) -> Option | None:
    """The recommended tier: the cheapest comfortable option within the premium over the cheapest one reaching the
    target, else the cheapest one reaching the target that reads the timed prompt within its target (within the
    premium too), else the cheapest reaching the target, else the fastest; within the budget, never slower than the
    minimum, and moved to the option that dominates it if one does. A training run has no speed target: its tier is
    the option with memory to spare at the lowest cost per training token/s."""
    if minimum is None:
        return None
    pool = [o for o in _eligible(options, f) if not_below(o, minimum, f)]
    if f.budget is not None:
        pool = [o for o in pool if _cost(o) <= f.budget]
    if not pool:
        return _fastest_below_floor(options, minimum, f) or minimum  # over the budget: the budget rules say by how much
    pick = _training_pick(pool, f) if f.training else _serving_pick(pool, f)
    while (better := dominator(pick, pool, f)) is not None:
        pick = better
    return pick


def _fastest_below_floor(options: list[Option], minimum: Option, f: Floors) -> Option | None:
    """When nothing reaches the speed floor, the fastest priced option at acceptable quality within the budget, if it is
    faster than the minimum: a 405B model on CPUs alone runs at 1.5 tok/s on a 12-channel server, not at the 0.2 of the
    cheapest box that holds it, and the buyer should see the best there is before deciding against it."""
    if meets(minimum, f.quality, f.speed):
        return None
    slow = [o for o in priced(options) if _quality(o) >= QUALITY_RANK[f.quality] and (f.budget is None or _cost(o) <= f.budget)]
    fastest = min(slow, key=lambda o: (-_speed(o), _cost(o), o.id), default=None)
    return fastest if fastest is not None and _speed(fastest) > _speed(minimum) else None


def _training_pick(pool: list[Option], f: Floors) -> Option:
    """On a device whose speed is known when one fits: memory to spare at the lowest cost per training token/s."""
    pool = [o for o in pool if o.tokens_per_s is not None] or pool
    pick = _best_value([o for o in pool if o.utilization <= f.comfortable]) or _best_value(pool) or smallest(pool)
    assert pick is not None  # the pool is not empty
    return pick


def _serving_pick(pool: list[Option], f: Floors) -> Option:
    """The cheapest comfortable option within the premium, else the cheapest reaching the target that reads the timed
    prompt in time and is not full (within the premium too), else the same full, else the cheapest reaching the
    target, else the fastest."""
    reaching = smallest(o for o in pool if _speed(o) >= f.target)
    # One user gains little from headroom, so comfort is bought only up to the premium; a service (which runs out of
    # memory, not speed, when tight) keeps it uncapped.
    limit = _cost(reaching) * f.premium if reaching is not None and not f.batching else math.inf
    # A first token within the target is comfort too: a CPU box that decodes at the target but reads a pasted page for a
    # minute gives way to a GPU within the premium; a 671B model's hybrid rig stays when nothing near its price is faster.
    # Without memory to spare, some room still: a card 99% full fails on the first longer prompt (a 930 USD P40 at 92%
    # and 59 tok/s, not an 8 GB 3060 at 99% and 15 tok/s for 16 USD less).
    return (smallest(o for o in pool if comfortable(o, f) and _cost(o) <= limit)
            or smallest(o for o in pool if _speed(o) >= f.target and f.prompt_ok(o) and o.utilization <= f.full and _cost(o) <= limit)
            or smallest(o for o in pool if _speed(o) >= f.target and f.prompt_ok(o) and _cost(o) <= limit) or reaching
            or min(pool, key=lambda o: (-_speed(o), -_quality(o), _cost(o), o.id)))


def _best_value(options: list[Option]) -> Option | None:
    """The priced option with the lowest cost per training token/s: a run's tokens cost its price (or rental) over its
    speed, so 6% more money for 60% more speed is the better buy (an RTX PRO 6000 over an A100 PCIe for a 70B QLoRA)."""
    known = [o for o in priced(options) if _speed(o) > 0]
    return min(known, key=lambda o: (_cost(o) / _speed(o), _cost(o), o.id), default=None)


def unique_share(o: Option) -> float:
    """The share of all the devices' usable memory the workload fills, counting one copy of the weights: replicas of a
    small model fill every device with the same weights, which is redundancy, not use (8 users on 8 one-GPU replicas
    leave a B200 board as idle as tensor parallel 8 would)."""
    total = (o.memory.total - o.memory.weights) * o.count + o.weights_bytes
    return total / (o.usable_bytes * o.count) if o.usable_bytes else math.inf


def pick_best(options: list[Option], recommended: Option | None, f: Floors, idle_below: float) -> tuple[Option | None, bool]:
    """The best-in-budget tier: best quality class, then fastest (the cheapest within ``speed_tie`` of the fastest),
    within the budget and above the speed floor, never below the recommended tier, not full (``Floors.full``) when an
    option has room; configurations the workload leaves mostly idle (under ``idle_below`` of their memory) only if
    nothing else qualifies (``unique_share``). Returns the pick and whether it had to be a mostly idle one."""
    pool = _eligible(options, f)
    if f.budget is not None:
        pool = [o for o in pool if _cost(o) <= f.budget]
    if recommended is not None and recommended in pool:
        pool = [o for o in pool if (_quality(o), _speed(o)) >= (_quality(recommended), _speed(recommended))]
    used = [o for o in pool if unique_share(o) >= idle_below]
    # Some room before speed: a top tier at 99% of its memory fails on the first longer prompt or extra user.
    roomy = [o for o in used or pool if o.utilization <= f.full]
    field = roomy or used or pool
    if f.batching:  # several users: the top tier runs on a serving engine (paged KV, scheduling) when one that good qualifies
        field = [o for o in field if o.serves_many] or field
    pick = min(field, key=lambda o: (-_quality(o), -_speed(o), _cost(o), o.id), default=None)
    if pick is not None:  # speeds within the tie of the fastest of its class are the same to a user: the cheapest of them
        near = [o for o in field if _quality(o) == _quality(pick) and _speed(o) >= (1 - f.speed_tie) * _speed(pick)]
        pick = min(near, key=lambda o: (_cost(o), -_speed(o), o.id))
    while pick is not None and (better := dominator(pick, pool, f)) is not None:
        pick = better  # a mostly idle option that costs no more and is no worse is still the better buy
    return pick, bool(pool) and not used
