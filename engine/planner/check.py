"""A named configuration: which format and runtime it would run, and, when nothing fits, what would.

``auto`` means the model's released format when it fits (gpt-oss MXFP4, DeepSeek-V3/R1 FP8, BF16 for most), else
the best quality class the device and its runtimes really run, then the fastest. The remedies are the nearest
changes that fit: another format, more devices, a shorter context, a smaller model of the same family.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from ..knowledge.loader import Catalog
from ..knowledge.schema import Accelerator, Model
from . import offload
from .evaluate import device_counts, evaluate, kv_formats, offered, precisions_for, runs_at, trained_as
from .frontier import enumerate_options
from .options import QUALITY_RANK, Option, Workload
from .tiers import Floors, pick_minimum

MIN_CONTEXT = 512  # the shortest context worth proposing: a short chat turn (llama.cpp's default batch is 512 tokens)


def configurations(w: Workload, model: Model, accel: Accelerator, count: int, cat: Catalog) -> list[Option]:
    """Every format and runtime this device runs the workload with, at ``count`` devices, released format first."""
    formats = [trained_as(w, p, accel, cat) for p in precisions_for(w, model, cat)]
    gpu_only = [evaluate(w, model, accel, count, p, rt, cat) for p in formats
                for rt in offered(w, model, accel, p, cat) if runs_at(rt, count)]
    return offload.with_offload(w, model, accel, cat, gpu_only, count)


def choose(tried: list[Option], model: Model) -> Option | None:
    """The configuration ``auto`` runs: the released format if it fits, else the best quality class that fits, then the
    fastest; when none fits, the first tried (the released or asked format) with the least memory over."""
    fitting = [o for o in tried if o.fits]
    if not fitting:
        first = [o for o in tried if o.precision == tried[0].precision] if tried else []
        return min(first, key=lambda o: (o.utilization, o.id), default=None)
    pool = [o for o in fitting if o.precision == model.native_precision] or fitting
    order = {id(o): i for i, o in enumerate(tried)}
    return max(pool, key=lambda o: (QUALITY_RANK[o.quality], o.tokens_per_s or 0.0, -order[id(o)]))


@dataclass(frozen=True)
class Remedies:
    """What would make a configuration that does not fit, fit (``None`` where that change is not enough)."""

    precision: Option | None  # another format at the same device count
    kv: tuple[str, Option] | None  # a smaller KV-cache format (its id) at the same format and devices
    count: Option | None  # the fewest devices that fit
    context: int | None  # the longest context that fits at the same devices, in tokens


def remedies(w: Workload, model: Model, accel: Accelerator, count: int, cat: Catalog) -> Remedies:
    """The changes that fit a configuration that does not: each on its own, the rest of the workload kept."""
    auto = replace(w, precision="auto")
    precision = choose(configurations(auto, model, accel, count, cat), model) if w.precision != "auto" else None
    more = [n for n in device_counts(replace(w, scale="enterprise"), accel, cat) if n > count]
    by_count = next((o for n in more if (o := choose(configurations(w, model, accel, n, cat), model)) and o.fits), None)
    context = longest_context(w, lambda v: _fits_any(configurations(v, model, accel, count, cat)))
    return Remedies(precision=precision if precision and precision.fits else None, kv=_smaller_kv(w, model, accel, count, cat),
                    count=by_count, context=context)


def _smaller_kv(w: Workload, model: Model, accel: Accelerator, count: int, cat: Catalog) -> tuple[str, Option] | None:
    """The configuration (released or asked format first) that fits with an 8-bit KV cache, if one does."""
    if w.training:
        return None
    for p in precisions_for(w, model, cat):
        for rt in offered(w, model, accel, p, cat):
            for kv in kv_formats(rt, accel, cat):
                option = evaluate(w, model, accel, count, p, rt, cat, kv=kv)
                if option.fits:
                    return kv.id, option
    return None


def _fits_any(options: Iterable[Option]) -> bool:
    return any(o.fits for o in options)


def longest_context(w: Workload, fits: Callable[[Workload], bool]) -> int | None:
    """The longest context, halving from the one asked down to ``MIN_CONTEXT``, for which ``fits(workload)`` holds."""
    context = w.context // 2
    while context >= MIN_CONTEXT:
        if fits(replace(w, context=context)):
            return context
        context //= 2
    return None


def closest_context(w: Workload, model: Model, accels: list[Accelerator], cat: Catalog) -> int | None:
    """The longest shorter context at which some configuration of these devices holds the workload."""
    return longest_context(w, lambda v: bool(enumerate_options(v, model, accels, cat)))


def largest_smaller_model(w: Workload, model: Model, accels: list[Accelerator], cat: Catalog,
                          floors_only: bool = False) -> tuple[Model, Option] | None:
    """The largest smaller model of the same family that fits these devices within the workload's budget, with the
    configuration the minimum tier would pick for it (one below the quality and speed floors only if ``floors_only``
    is off and nothing meets them)."""
    f = Floors.of(w, cat)
    family = sorted((m for m in cat.models.values() if m.family == model.family and m.params < model.params),
                    key=lambda m: (-m.params, m.id))
    for other in family:
        options = enumerate_options(replace(w, model=other.id), other, accels, cat, within_usd=f.budget,
                                    quality_at_least=f.quality if floors_only else None)
        pick, meets_floors = pick_minimum(options, f)
        if pick is not None and (meets_floors or not floors_only):
            return other, pick
    return None
