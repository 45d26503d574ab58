"""The candidate search: per device, the fewest devices that fit each format; then the options no other beats.

The catalog is walked once per consultation with O(1) work per accelerator and
precision (the smallest device count is solved, not searched), so no rule ever
joins the catalog with itself.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .. import sizing
from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import Accelerator, Model, Precision
from . import bounds, offload
from .costs import prices_of
from .evaluate import (
    LayoutSearch,
    _inference_memory,
    arch,
    device_counts,
    device_rates,
    evaluate,
    layer_split_rate_ceiling,
    offered,
    per_user_rate,
    precisions_for,
    quality_of,
    runs_at,
    trained_as,
    training_fit,
    trains_on,
    usable_bytes,
    weights_at,
)
from .measured import speed_factor
from .options import KV_BYTES_DEFAULT, QUALITY_RANK, Layout, Option, Workload
from .pareto import pareto
from .tiers import Floors, cheapest

CHEAPEST_ROUNDS = 4  # enumerations within a growing cost before the whole catalog (cheapest_meeting)


@dataclass
class _Shared:
    """What every device of one enumeration shares: the model's sizing view, the formats to try, and the
    memory needs computed so far, which depend on the format, runtime and device count, not on the device."""

    a: sizing.Arch
    precisions: list[Precision]
    memo: dict[Any, sizing.Memory]
    within_usd: float | None = None  # the options wanted cost at most this (None: any cost)
    runtimes: dict[tuple[str, str, bool, float | None, bool], list[Runtime]] = field(default_factory=dict)
    settings: dict[tuple[str, str], tuple[Any, ...]] = field(default_factory=dict)  # (device, runtime) -> what sizes and times
    weights: dict[str, int] = field(default_factory=dict)  # format id -> the model's weights in it (bytes)
    fullest: float | None = None  # the largest memory fraction of any runtime (``most_held``), once known
    kv_bytes: dict[int, int] = field(default_factory=dict)  # sequences -> their 16-bit KV cache (``kv``), once known
    built: bounds.Built | None = None  # the options built so far, where they may rule out others before sizing (``bounds``)
    plans: dict[tuple[Any, ...], list[tuple[Precision, int, list[Runtime]]]] = field(default_factory=dict)  # see ``formats``

    def __post_init__(self) -> None:
        self.weights = {p.id: weights_at(self.a, p) for p in self.precisions}

    def most_held(self, w: Workload, accel: Accelerator, counts: list[int], cat: Catalog) -> float:
        """The most bytes the most devices allowed could hold under any runtime (0: no bound): no runtime fills more of a
        device than the largest memory fraction."""
        if w.training or not counts:
            return 0.0
        if self.fullest is None:
            self.fullest = max(rt.memory_fraction for rt in cat.runtimes.values())
        most = self.fullest
        return counts[-1] * (accel.usable_memory_bytes or accel.memory_bytes) * most * cat.policy.fit_headroom

    def kv(self, w: Workload, sequences: int) -> int:
        """The 16-bit KV cache of ``sequences`` full-context sequences (one for the speed formulas, or every user)."""
        found = self.kv_bytes.get(sequences)
        if found is None:
            found = self.kv_bytes[sequences] = sizing.kv_cache_bytes(self.a, w.context, sequences, KV_BYTES_DEFAULT)
        return found

    def least_held(self, w: Workload, p: Precision) -> int:
        """The fewest bytes any layout of an inference option holds over all its devices: the format's weights (replicas
        hold copies) and every user's KV cache (tensor-parallel ranks split it or hold copies of heads)."""
        return self.weights[p.id] + self.kv(w, w.concurrency)

    def formats(self, w: Workload, model: Model, accel: Accelerator, cat: Catalog) -> list[tuple[Precision, int, list[Runtime]]]:
        """Per format to try on this device, in order: the format it holds the weights in (``trained_as``), the fewest
        bytes an inference option of it holds (``least_held``) and the runtimes offered (``offered``). Worked out once per
        ecosystem, features, compute capability and whether the device trains, which is all of the device they read."""
        key = (accel.ecosystem, tuple(accel.features), accel.compute_capability, w.training and trains_on(accel))
        found = self.plans.get(key)
        if found is None:
            stored = [trained_as(w, p, accel, cat) if w.training else p for p in self.precisions]
            found = self.plans[key] = [(q, self.least_held(w, p), self.offered(w, model, accel, q, cat))
                                       for p, q in zip(self.precisions, stored, strict=True)]
        return found

    def offered(self, w: Workload, model: Model, accel: Accelerator, p: Precision, cat: Catalog) -> list[Runtime]:
        """``evaluate.offered``, which depends only on the ecosystem, whether the device has the format's feature, its
        compute capability (old CUDA cards get fewer runtimes) and, for training, whether it has 16-bit matrix products."""
        key = (accel.ecosystem, p.id, p.native_feature in accel.features, accel.compute_capability,
               w.training and trains_on(accel))
        found = self.runtimes.get(key)
        if found is None:
            found = self.runtimes[key] = offered(w, model, accel, p, cat)
        return found

    def alike(self, model: Model, accel: Accelerator, first: Runtime, other: Runtime, cat: Catalog) -> bool:
        """Whether two runtimes size and time every inference option on this device alike (vLLM and TensorRT-LLM): the
        second would only repeat the first's numbers, which ``_serving`` drops (``_new``)."""
        return self._numbers(model, accel, first, cat) == self._numbers(model, accel, other, cat)

    def _numbers(self, model: Model, accel: Accelerator, rt: Runtime, cat: Catalog) -> tuple[Any, ...]:
        """Everything of a runtime that ``_serving`` reads on this device but its name: its settings, what sizing reads of
        the device under it (``device_rates``: its per-layer costs here, how it splits the model) and the user's
        measurements."""
        key = (accel.id, rt.id)
        if key not in self.settings:
            self.settings[key] = (rt.memory_fraction, rt.overhead_bytes, rt.prefill_chunk_tokens, rt.batches, rt.split,
                                  rt.serves_many, rt.max_devices, device_rates(model, accel, rt, cat), speed_factor(accel, rt, cat))
        return self.settings[key]


def options_for(w: Workload, model: Model, accel: Accelerator, cat: Catalog, shared: _Shared | None = None) -> list[Option]:
    """For one device: per format and runtime, the fewest devices that fit, and the fewest that also reach the
    speed floor and the speed target (tensor parallel buys speed with devices; a layer split does not)."""
    shared = shared or _Shared(arch(model), precisions_for(w, model, cat), {})
    out: list[Option] = []
    counts = device_counts(w, accel, cat)
    if not counts:  # nothing runs on it at this scale
        return out
    training = w.training
    affordable = counts  # within a cost, the counts that may cost no more (a larger one is never sized: ``_over``)
    if shared.within_usd is not None and not training:
        affordable = [n for n in counts if not _over(w, accel, n, shared.within_usd)]
        if not affordable:
            return out
    held = shared.most_held(w, accel, affordable, cat)
    for p, least, runtimes in shared.formats(w, model, accel, cat):
        if held and least > held:  # no runtime holds the format and the KV cache on the most devices affordable
            continue
        # runtimes with identical numbers (vLLM, TensorRT-LLM): the first stands for all (None: one runtime, none to repeat)
        same: set[tuple[Any, ...]] | None = set() if len(runtimes) > 1 else None
        serving: list[Runtime] = []  # the runtimes sized for serving so far, none alike
        for rt in runtimes:
            runs = counts if rt.max_devices is None else [n for n in counts if runs_at(rt, n)]
            if training:
                first = _fewest_training(w, model, accel, p, rt, runs, cat, shared)
                if first is not None and _new((first.count, first.memory, first.usable_bytes, first.tokens_per_s,
                                               first.serves_many), same):
                    out.append(first)
            elif not (serving and any(shared.alike(model, accel, r, rt, cat) for r in serving)):  # else known to repeat one: not sized
                serving.append(rt)
                out += _serving(w, model, accel, p, rt, runs, cat, shared, same)
    return out


def _new(numbers: tuple[Any, ...], same: set[tuple[Any, ...]] | None) -> bool:
    """Whether no runtime tried before gave these numbers (an option's count, memory, usable memory, speed per user
    and batching), remembering them (``same`` None: the format has one runtime)."""
    if same is None:
        return True
    if numbers in same:
        return False
    same.add(numbers)
    return True


def _serving(w: Workload, model: Model, accel: Accelerator, p: Precision, rt: Runtime, counts: list[int], cat: Catalog,
             shared: _Shared, same: set[tuple[Any, ...]] | None) -> list[Option]:
    """The fewest of ``counts`` devices that hold the model (unless another runtime gave the same numbers), then per
    speed (the floor, then the target) it does not reach, the fewest more devices that reach it, then the fewest that
    leave memory to spare if the last one does not.

    Memory per device is (weights + KV + activations)/n + overhead: the fewest devices is solved, not searched. A
    count's layout is worked out once, whichever question asks; an option is built only for a count that answers one.
    """
    key = (p.id, rt.id)
    if key not in shared.memo:
        shared.memo[key] = _inference_memory(w, shared.a, p, rt, 1)
    one = shared.memo[key]
    usable = usable_bytes(accel, rt, cat.policy.fit_headroom)
    room = usable - rt.overhead_bytes
    if room <= 0:
        return []
    need = math.ceil((one.total - rt.overhead_bytes) / room)
    tried = [n for n in counts if n >= need][:2]
    if not tried or _over(w, accel, tried[0], shared.within_usd):
        return []
    weights = shared.weights[p.id]
    if rt.split != "tensor" and shared.built is not None and bounds.beaten(w, model, accel, p, rt, counts, tried[0],
                                                                            least_cost(w, accel), cat, shared):
        return []
    at = LayoutSearch(w, model, shared.a, accel, p, rt, cat, KV_BYTES_DEFAULT, usable, shared.memo, weights, shared.kv(w, 1))
    laid: dict[int, tuple[Layout, sizing.Memory, sizing.Speed]] = {}

    def option(n: int) -> Option:
        return evaluate(w, model, accel, n, p, rt, cat, shared.a, shared.memo, laid=laid[n], weights=weights)

    for n in tried:
        laid[n] = at(n, None)
        if laid[n][1].total <= usable:
            break
    else:
        return []
    rates = {n: per_user_rate(w, laid[n][2], accel, rt, cat)}
    if not _new((n, laid[n][1], usable, rates[n], rt.serves_many), same):  # a twin runtime's: no option built
        return []
    out = [option(n)]
    reached = out[0].tokens_per_s or 0
    # a layer split gets no faster with more devices: a speed over its ceiling is not looked for (slack for rounding)
    ceiling = (layer_split_rate_ceiling(w, shared.a, accel, p, rt, cat, KV_BYTES_DEFAULT, weights, shared.kv(w, 1))
               if reached < cat.policy.target_tokens_per_s else None)
    for speed in (cat.policy.min_tokens_per_s, cat.policy.target_tokens_per_s):
        if reached >= speed or (ceiling is not None and ceiling * (1 + 1e-9) < speed):  # reached, or out of reach
            continue
        for m in (m for m in counts if m > out[-1].count and reached < speed):
            if m not in rates:
                laid[m] = at(m, None)
                rates[m] = per_user_rate(w, laid[m][2], accel, rt, cat)
            if rates[m] >= speed:
                out.append(option(m))
                reached = out[-1].tokens_per_s or 0
                break
    # Memory to spare is a merit of its own (the recommended tier wants it): when the last count fills more than the
    # comfortable share, the fewest more devices that leave room (500 users on 16 A100s at 49%, not only 8 at 97%).
    roomy = cat.policy.comfortable_utilization * usable
    if out[-1].memory.total > roomy:
        for m in (m for m in counts if m > out[-1].count):
            if m not in laid:
                laid[m] = at(m, None)
            if laid[m][1].total <= roomy:
                out.append(option(m))
                break
    if shared.built is not None:
        for o in out:
            shared.built.add(o)
    return out


def _over(w: Workload, accel: Accelerator, count: int, within_usd: float | None) -> bool:
    """Whether every option of ``count`` or more of this device costs more than ``within_usd``: each device costs at
    least ``least_cost`` (a relative slack keeps the comparison exact where the products round differently)."""
    return within_usd is not None and count * least_cost(w, accel) > within_usd * (1 + 1e-9)


def _fewest_training(w: Workload, model: Model, accel: Accelerator, p: Precision, rt: Runtime, counts: list[int], cat: Catalog,
                     shared: _Shared) -> Option | None:
    """The fewest of ``counts`` devices the training run fits on: its need is memoized, only that count is timed and priced."""
    usable = usable_bytes(accel, rt, cat.policy.fit_headroom)
    fewest = next((n for n in counts if training_fit(w, shared.a, p, rt, n, usable, shared.memo)[0].total <= usable), None)
    if fewest is None:
        return None
    option = evaluate(w, model, accel, fewest, p, rt, cat, shared.a, shared.memo)
    return option if option.fits else None


def enumerate_options(w: Workload, model: Model, accelerators: Iterable[Accelerator], cat: Catalog,
                      within_usd: float | None = None, quality_at_least: str | None = None) -> list[Option]:
    """Every fitting option over the given devices, pruned to the ones no other option beats on cost, quality and speed;
    with ``within_usd``, only the priced ones that cost at most that; with ``quality_at_least``, only the ones of that
    quality class or a better one.

    Keeping the options within a cost or a quality class before the pruning gives the same ones as after it (an option
    that beats another costs no more and is no worse), and neither a device whose least cost is over the cost
    (``least_cost``), nor a format whose fewest devices already cost more, nor a format below the class is sized."""
    precisions = precisions_for(w, model, cat)
    if quality_at_least is not None:
        precisions = [p for p in precisions if QUALITY_RANK[quality_of(p, model)] >= QUALITY_RANK[quality_at_least]]
    # within a quality class the narrowest format first: the faster options, which rule out the wider ones (``bounds.beaten``)
    precisions.sort(key=lambda p: (-QUALITY_RANK[quality_of(p, model)], p.bits_per_weight))
    floors = Floors.of(w, cat)
    # an option built may rule out another before it is sized, unless hybrid options replace the ones built (``bounds.beaten``)
    built = bounds.Built(cat.policy.comfortable_utilization, floors.prompt_ok) if w.offload in (None, "none", "auto") else None
    shared = _Shared(arch(model), precisions, {}, within_usd, built=built)
    hybrid_memo: dict[str, tuple[sizing.Arch, sizing.Memory]] = {}
    if within_usd is not None:
        accelerators = [a for a in accelerators if least_cost(w, a) <= within_usd]
    devices = undominated(w, accelerators)
    if built is not None and not w.training:  # the devices whose fewest hold the model cheapest first (``_holding_cost``)
        least = min((shared.least_held(w, p) for p in precisions), default=0)
        devices.sort(key=lambda a: _holding_cost(w, a, least, shared, cat))
    options = [o for accel in devices
               for o in offload.with_offload(w, model, accel, cat, options_for(w, model, accel, cat, shared), memo=hybrid_memo)]
    if within_usd is not None:
        options = [o for o in options if o.cost.budget_usd is not None and o.cost.budget_usd <= within_usd]
    if quality_at_least is not None:  # hybrid options too
        options = [o for o in options if QUALITY_RANK[o.quality] >= QUALITY_RANK[quality_at_least]]
    return pareto(options, cat.policy.comfortable_utilization, floors.prompt_ok)


def cheapest_meeting(w: Workload, model: Model, accelerators: Iterable[Accelerator], cat: Catalog,
                     quality_at_least: str) -> Option | None:
    """``tiers.cheapest`` of the enumerated options of this quality class or a better one, enumerating within a cost
    that grows fourfold from the least any option could cost (the cheapest within a cost is the cheapest of all when it
    exists), the whole catalog after a few rounds."""
    accels = list(accelerators)
    precisions = [p for p in precisions_for(w, model, cat) if QUALITY_RANK[quality_of(p, model)] >= QUALITY_RANK[quality_at_least]]
    shared = _Shared(arch(model), precisions, {})
    least = min((shared.least_held(w, p) for p in precisions), default=0)
    # what a hybrid option keeps on its GPU: all but the routed experts of the narrowest format (hybrid.place)
    on_gpu = least - (1 - shared.a.moe_shared_fraction) * min(shared.weights.values(), default=0)
    floors = [c for c in (_least_option_cost(w, model, a, least, on_gpu, shared, cat) for a in accels) if c < math.inf]
    ceilings = [min(floors) * 4 ** k for k in range(1, CHEAPEST_ROUNDS + 1)] if floors else []
    for within_usd in [*ceilings, None]:
        found = cheapest(enumerate_options(w, model, accels, cat, within_usd, quality_at_least))
        if found is not None:
            return found
    return None


def _holding_cost(w: Workload, accel: Accelerator, least_bytes: int, shared: _Shared, cat: Catalog) -> float:
    """About what the fewest of this device that hold ``least_bytes`` cost: the order in which an enumeration walks the
    devices, so that the options that rule out others before they are sized (``bounds.beaten``) come first. A device
    cheaper each but needed by the dozen (128 A100s for a 671B model) comes after one that holds it with half as many.
    Any order gives the same options, so this is an estimate, not ``_least_option_cost`` (the floor the budget rounds of
    ``cheapest_meeting`` need, which walks the allowed counts and counts hybrid options at one device)."""
    per_device = shared.most_held(w, accel, [1], cat)
    return least_cost(w, accel) * max(1, math.ceil(least_bytes / per_device)) if per_device else math.inf


def _least_option_cost(w: Workload, model: Model, accel: Accelerator, least_bytes: int, on_gpu_bytes: float, shared: _Shared,
                       cat: Catalog) -> float:
    """A floor under the cost of every option of this device: ``least_cost`` for the fewest of its counts that could hold
    ``least_bytes`` (``_Shared.least_held`` of the narrowest format wanted; infinite if none can), or for one device
    where a hybrid option may keep the rest in host RAM (its routed experts only: one GPU holds ``on_gpu_bytes``, the
    shared weights and every user's KV cache, ``hybrid.place``), or where the need is a training run's."""
    if w.training:
        return least_cost(w, accel)
    if offload.offloads(w, model, accel, None) and (w.offload == "layers" or shared.most_held(w, accel, [1], cat) >= on_gpu_bytes):
        return least_cost(w, accel)
    counts = device_counts(w, accel, cat)
    fewest = next((n for n in counts if shared.most_held(w, accel, [n], cat) >= least_bytes), None)
    return math.inf if fewest is None else fewest * least_cost(w, accel)


def _price(w: Workload, accel: Accelerator) -> float:
    """The price the budget is compared with for this deployment (rental for cloud), infinite when unknown."""
    buy, rent = prices_of(accel)
    price = rent if w.deployment == "cloud" else buy
    return price.per_device_usd if price else math.inf


def least_cost(w: Workload, accel: Accelerator) -> float:
    """A floor under the budget cost of every option of this device (infinite when it has no price for this deployment).

    An option costs at least one device: its purchase (a host box only adds), or its rental over the year's hours
    (``costs.cost_of``, ``offload.cost_of``). It rises with ``_price``, so a device ``undominated`` would drop for a
    dearer one is never kept because the dearer one went over a budget."""
    return _price(w, accel) * (w.hours_per_year if w.deployment == "cloud" else 1)


def _specs(accel: Accelerator) -> tuple[float, ...]:
    """Every number that sizes or times a device, larger is better; a missing throughput counts as none."""
    return (accel.usable_memory_bytes or accel.memory_bytes, accel.mem_bandwidth_gbs, accel.bf16_tflops or 0,
            accel.fp8_tflops or 0, accel.fp4_tflops or 0, accel.int8_tops or 0, accel.interconnect_gbs or 0, accel.max_devices)


def undominated(w: Workload, accelerators: Iterable[Accelerator]) -> list[Accelerator]:
    """Drop devices that another device of the same class beats on every sizing number and on price; the rest cheapest
    first (an inference enumeration then walks them by what the fewest holding the model cost, ``_holding_cost``, so
    that it builds the options that rule out dearer ones before those: ``bounds.beaten``).

    A device without a price is kept: nothing is known to cost no more than it.

    Exact: the same count and format on the better device fits at least as well, runs at least as fast and
    costs no more, so ``pareto`` would drop the worse device's options anyway; sizing them is wasted work.
    Devices compare only within one class (kind, ecosystem, link, features, ISA, how obtained, which throughput
    figures are known), where the runtime and the speed formula are the same, and with the same width and power, so
    that the same host boxes take them.

    Kept per deployment and list of devices (the same objects, kept alive with the answer so that their ids stay
    theirs): later enumerations of a consultation and later consultations ask again for the same devices.
    """
    accels = list(accelerators)
    key = (w.deployment, tuple(map(id, accels)))
    found = _UNDOMINATED.get(key)
    if found is None:
        if len(_UNDOMINATED) >= _UNDOMINATED_KEPT:
            _UNDOMINATED.clear()
        found = _UNDOMINATED[key] = (accels, _undominated(w, accels))
    return list(found[1])


_UNDOMINATED: dict[tuple[str, tuple[int, ...]], tuple[list[Accelerator], list[Accelerator]]] = {}  # see undominated
_UNDOMINATED_KEPT = 64  # device lists remembered (a consultation asks one to a few)


def _undominated(w: Workload, accelerators: list[Accelerator]) -> list[Accelerator]:
    """``undominated``, worked out."""
    groups: dict[tuple[Any, ...], list[Accelerator]] = {}
    for a in accelerators:
        known = tuple(x is not None for x in (a.bf16_tflops, a.fp8_tflops, a.fp4_tflops, a.int8_tops))
        buy = prices_of(a)[0]
        bought_as = (a.purchase_unit, a.compute_capability, bool(buy and buy.system))  # counts, runtimes, host priced in
        boxed = (a.width_slots, a.tdp_w)  # which host boxes take and feed it
        groups.setdefault((a.kind, a.ecosystem, a.interconnect, a.obtain, tuple(a.features), tuple(a.isa), known, bought_as, boxed),
                          []).append(a)
    keep = []
    for group in groups.values():
        scored = [(_specs(a), -_price(w, a), a) for a in group]
        for specs, price, a in scored:
            beaten = price != -math.inf and any(
                b is not a and price_b >= price and all(map(operator.ge, specs_b, specs))
                and (price_b > price or specs_b != specs or b.id < a.id)
                for specs_b, price_b, b in scored
            )
            if not beaten:
                keep.append(a)
    return sorted(keep, key=lambda a: _price(w, a))
