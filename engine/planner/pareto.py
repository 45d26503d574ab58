"""The options no other beats: on cost, quality, speed, memory to spare, the link under tensor parallel, batching and the
time to first token, each group of comparable options on its own (priced whole, cards priced without their box, each
unpriced device)."""

from __future__ import annotations

import operator
from collections.abc import Callable

from .options import QUALITY_RANK, Option


def _no_prompt_target(o: Option) -> bool:
    """Every option reads its prompt in time: the front of a caller that sets no time-to-first-token target."""
    return True


def merits(o: Option, comfortable: float = 1.0, prompt_ok: Callable[[Option], bool] = _no_prompt_target) -> tuple[float, ...]:
    """What makes an option better, every axis oriented so that larger is better (an unpriced option's cost axis
    is its device count: it is compared only with the same device, where fewer devices cost less)."""
    cost = o.cost.budget_usd if o.cost.budget_usd is not None else o.count
    roomy = o.utilization <= comfortable
    return (-cost, QUALITY_RANK[o.quality], o.tokens_per_s or 0.0, float(roomy), float(not o.tp_over_pcie), float(o.serves_many),
            float(prompt_ok(o)))


def pareto(options: list[Option], comfortable: float, prompt_ok: Callable[[Option], bool] = _no_prompt_target) -> list[Option]:
    """The priced options no other priced option beats, the cards-only ones no other cards-only one beats, and per
    unpriced device the options no fewer of it beat.

    An option without a price is never dropped for a priced one: nobody knows which costs less. Nor are cards whose
    host box the catalog cannot price dropped for a whole system, or the other way round; they compare among
    themselves, each still needing a box. ``prompt_ok`` says which options read the timed prompt within the
    time-to-first-token target (``Floors.prompt_ok``): a merit the recommended tier asks for, which decode speed does
    not show.
    """
    whole: list[Option] = []
    cards_only: list[Option] = []
    by_device: dict[str, list[Option]] = {}
    for o in options:
        if not o.price_known:
            by_device.setdefault(o.hardware, []).append(o)
        elif o.whole_price_known:
            whole.append(o)
        else:
            cards_only.append(o)
    # ranked whole prices first, then cards only, then unpriced (not whole_price_known, not price_known), then by cost,
    # quality and speed (the first merits, which prompt time does not change)
    front = [(unknown, -m[0], -m[1], -m[2], o_id, o)
             for unknown, groups in (((False, False), (whole,)), ((True, False), (cards_only,)), ((True, True), by_device.values()))
             for group in groups for m, o_id, o in _front(group, comfortable, prompt_ok)]
    front.sort(key=lambda ranked: ranked[:5])
    return [ranked[5] for ranked in front]


def _front(options: list[Option], comfortable: float,
           prompt_ok: Callable[[Option], bool]) -> list[tuple[tuple[float, ...], str, Option]]:
    """Drop options that another option equals or beats on every axis (cost, quality, speed, headroom, link, batching,
    prompt time); the ones kept with their merits and id.

    Sorted best-first (cheapest first), an option can only be dominated by one kept before it, and every kept
    option is already no dearer; so it is enough to know, for each combination of the discrete axes (quality,
    headroom, link, batching, prompt time: a few dozen at most), the fastest option kept so far.
    """
    ranked = sorted(((merits(o, comfortable, prompt_ok), o.id, o) for o in options), key=lambda mo: mo[1])
    ranked.sort(key=lambda mo: mo[0], reverse=True)  # best first; equal options keep the first id
    fastest: dict[tuple[float, ...], float] = {}  # discrete merits -> the fastest kept option with them
    front: list[tuple[tuple[float, ...], str, Option]] = []
    ge = operator.ge
    for m, o_id, o in ranked:
        discrete, speed = (m[1], *m[3:]), m[2]
        if any(s >= speed and all(map(ge, d, discrete)) for d, s in fastest.items()):
            continue
        front.append((m, o_id, o))
        fastest[discrete] = max(speed, fastest.get(discrete, speed))
    return front
