"""Turn a workload and the catalog into sized options, and pick tiers among them.

Rules call these functions: the arithmetic stays here and in ``sizing``, the
reasoning (what is excluded, which tier, which warning) stays in the rules. The
catalog is walked once per consultation with O(1) work per accelerator and
precision (the smallest device count is solved, not searched), so no rule ever
joins the catalog with itself.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import sizing
from .knowledge.loader import Catalog
from .knowledge.schema import Accelerator, Model, Precision, Price, Runtime
from .profile import TRAINING_TASKS

TIERS = ("minimum", "recommended", "best-in-budget")  # the ranked answer, in the order it is shown
QUALITY_RANK = {"large-loss": 0, "noticeable-loss": 1, "small-loss": 2, "near-lossless": 3, "reference": 4}
KV_BYTES_DEFAULT = 2.0  # 16-bit KV cache, the default of vLLM, llama.cpp and transformers (nv-kv-blog)

@dataclass(frozen=True)
class Workload:
    """A complete, resolved workload: every slot has a value (``None`` where optional)."""

    model: str
    task: str
    precision: str
    context: int
    concurrency: int
    batch: int
    activation_checkpointing: str | None
    lora_rank: int
    budget: float | None
    ecosystem: str
    deployment: str
    scale: str
    hours_per_day: float
    cpu_cores: int | None
    ram_gb: float | None

    @property
    def training(self) -> bool:
        return self.task in TRAINING_TASKS


@dataclass(frozen=True)
class Cost:
    """What an option costs, in USD."""

    purchase_usd: float | None
    cloud_usd_per_hour: float | None
    power_usd_per_year: float | None
    budget_usd: float | None  # the figure compared with the budget: purchase (local/edge) or a year of rental (cloud)
    basis: str  # "purchase" or "cloud"
    price_kind: str = ""
    price_date: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Option:
    """One configuration with its numbers: the payload of a Candidate or Fit fact."""

    hardware: str
    count: int
    precision: str
    runtime: str
    memory: sizing.Memory
    usable_bytes: int  # per device, after the runtime's share and the fit headroom
    fits: bool
    tokens_per_s: float | None  # per user (inference) or training tokens/s
    total_tokens_per_s: float | None
    prefill_tokens_per_s: float | None
    bound: str
    quality: str
    cost: Cost
    micro_batch: int = 0
    accumulation_steps: int = 0
    checkpointing: bool = False
    zero_stage: int = 0
    tp_over_pcie: bool = False
    serves_many: bool = False  # its runtime batches many users (continuous batching, paged KV)

    @property
    def id(self) -> str:
        return f"{self.count}x{self.hardware}@{self.precision}"

    @property
    def utilization(self) -> float:
        return self.memory.total / self.usable_bytes if self.usable_bytes else math.inf

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "hardware": self.hardware, "count": self.count, "precision": self.precision,
            "runtime": self.runtime, "memory": self.memory.as_dict(), "available": self.usable_bytes,
            "fits": self.fits, "utilization": round(self.utilization, 4),
            "tokens_per_s": _round(self.tokens_per_s), "total_tokens_per_s": _round(self.total_tokens_per_s),
            "prefill_tokens_per_s": _round(self.prefill_tokens_per_s), "bound": self.bound, "quality": self.quality,
            "cost": self.cost.as_dict(), "micro_batch": self.micro_batch, "accumulation_steps": self.accumulation_steps,
            "checkpointing": self.checkpointing, "zero_stage": self.zero_stage, "tp_over_pcie": self.tp_over_pcie,
            "serves_many": self.serves_many,
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)


def arch(model: Model) -> sizing.Arch:
    """The sizing view of a catalog model."""
    return sizing.Arch(**{f: getattr(model, f) for f in sizing.Arch.__dataclass_fields__})


def usable_bytes(accel: Accelerator, runtime: Runtime, headroom: float) -> int:
    """Memory one device offers this runtime, with the policy's headroom kept free."""
    return int((accel.usable_memory_bytes or accel.memory_bytes) * runtime.memory_fraction * headroom)


def tflops_at(accel: Accelerator, precision: Precision) -> float | None:
    """Dense throughput for a format: its native rate where the hardware has it, else the 16-bit rate."""
    native = {"fp8": accel.fp8_tflops, "fp4": accel.fp4_tflops, "int8": accel.int8_tops}.get(precision.native_feature or "")
    if native and precision.native_feature in accel.features:
        return native
    return accel.bf16_tflops or accel.int8_tops


def bandwidth_efficiency(accel: Accelerator, cat: Catalog) -> float:
    kind = "gpu" if accel.kind == "gpu" else accel.kind
    return float(cat.value(f"bandwidth-efficiency-{kind}"))


def step_overhead(runtime: Runtime, accel: Accelerator, cat: Catalog) -> sizing.StepOverhead:
    """A runtime's calibrated per-layer decode costs, for this device's ecosystem where they differ (Metal, ROCm)."""
    def pick(key: str) -> float:
        table = cat.value(key)
        return float(table.get(f"{runtime.id}@{accel.ecosystem}", table[runtime.id]))
    return sizing.StepOverhead(pick("decode-layer-overhead-s"), pick("decode-moe-layer-overhead-s"),
                               pick("decode-sequence-layer-overhead-s"))


def runtime_for(w: Workload, accel: Accelerator, precision: Precision, cat: Catalog) -> Runtime | None:
    """The runtime that would run this format on this device: serving engines for many users, trainers for training."""
    usable = [cat.runtimes[r] for r in precision.runtimes if accel.ecosystem in cat.runtimes[r].ecosystems]
    if w.training:
        usable = [r for r in usable if r.trains]
    if not usable:
        return None
    many = w.concurrency > 1 or w.scale != "personal"
    return sorted(usable, key=lambda r: (r.serves_many != many, precision.runtimes.index(r.id)))[0]


def prices_of(accel: Accelerator) -> tuple[Price | None, Price | None]:
    """The purchase price that counts (the most recent buy price, the cheapest of that date) and the cheapest on-demand hour."""
    rents = [p for p in accel.prices if p.kind == "cloud-on-demand"]
    return accel.buy_price, min(rents, key=lambda p: p.usd) if rents else None


def cost_of(w: Workload, accel: Accelerator, count: int, cat: Catalog) -> Cost:
    """Purchase or rental cost of ``count`` devices, with power over the ownership period's years."""
    buy, rent = prices_of(accel)
    hours_year = w.hours_per_day * 365
    power = sizing.power_cost_usd(accel.tdp_w, count, hours_year, float(cat.value("electricity-usd-per-kwh")))
    if w.deployment == "cloud":
        per_hour = rent.usd * count if rent else None
        return Cost(
            purchase_usd=buy.usd * count if buy else None, cloud_usd_per_hour=per_hour, power_usd_per_year=None,
            budget_usd=per_hour * hours_year if per_hour else None, basis="cloud",
            price_kind=rent.kind if rent else "", price_date=rent.date if rent else "",
        )
    purchase = buy.usd * count if buy else None
    return Cost(
        purchase_usd=purchase, cloud_usd_per_hour=rent.usd * count if rent else None, power_usd_per_year=power,
        budget_usd=purchase, basis="purchase", price_kind=buy.kind if buy else "", price_date=buy.date if buy else "",
    )


def _inference_memory(w: Workload, a: sizing.Arch, p: Precision, rt: Runtime, n: int) -> sizing.Memory:
    return sizing.inference_memory(a, p.bits_per_weight, KV_BYTES_DEFAULT, w.context, w.concurrency,
                                   rt.prefill_chunk_tokens, rt.overhead_bytes, devices=n)


def _training_setup(w: Workload, p: Precision, n: int, micro_batch: int, checkpointing: bool) -> sizing.TrainingSetup:
    mode = {"lora": "lora", "qlora": "qlora"}.get(w.task, "full")
    return sizing.TrainingSetup(
        mode=mode, micro_batch=micro_batch, seq_len=w.context, checkpointing=checkpointing, devices=n,
        zero_stage=3 if n > 1 else 0, lora_rank=w.lora_rank, frozen_bits_per_weight=p.bits_per_weight,
    )


def training_fit(w: Workload, a: sizing.Arch, p: Precision, rt: Runtime, n: int, limit: int,
                 memo: dict[Any, sizing.Memory] | None = None) -> tuple[sizing.Memory, int, bool]:
    """The largest micro-batch (power of two, at most the effective batch) that fits, and whether recompute is on.

    Activation checkpointing follows the user's choice; on ``auto`` it is used only
    when micro-batch 1 does not fit without it. ``memo`` keeps the needs, which do not depend on the device.
    """
    memo = {} if memo is None else memo

    def need(mb: int, ckpt: bool) -> sizing.Memory:
        key = (p.id, rt.id, n, mb, ckpt)
        if key not in memo:
            memo[key] = sizing.training_memory(a, _training_setup(w, p, n, mb, ckpt), rt.overhead_bytes)
        return memo[key]

    choices = {"on": (True,), "off": (False,)}.get(w.activation_checkpointing or "auto", (False, True))
    best: tuple[sizing.Memory, int, bool] | None = None
    for ckpt in choices:
        mb = 1
        while mb * 2 <= w.batch:
            mb *= 2
        while mb >= 1:
            mem = need(mb, ckpt)
            if mem.total <= limit:
                return mem, mb, ckpt
            best = best or (mem, mb, ckpt)
            mb //= 2
        best = (need(1, ckpt), 1, ckpt)
    assert best is not None
    return best


def evaluate(w: Workload, model: Model, accel: Accelerator, count: int, precision: Precision, runtime: Runtime, cat: Catalog,
             a: sizing.Arch | None = None, memo: dict[Any, sizing.Memory] | None = None) -> Option:
    """Size, time and price one configuration (``a`` and ``memo``: what the caller already computed for this model)."""
    a = a or arch(model)
    usable = usable_bytes(accel, runtime, float(cat.value("fit-headroom")))
    tflops = tflops_at(accel, precision)
    micro, steps, ckpt = 0, 0, False
    if w.training:
        mem, micro, ckpt = training_fit(w, a, precision, runtime, count, usable, memo)
        steps = math.ceil(w.batch / micro)
        rate = sizing.training_tokens_per_s(a, accel.bf16_tflops, float(cat.value("training-mfu")), count, ckpt)
        per_user, total, prefill, bound = rate, rate, None, "compute"
    else:
        mem = _inference_memory(w, a, precision, runtime, count)
        working = count if runtime.split == "tensor" else 1  # a layer split runs one device at a time per token
        speed = sizing.decode_speed(
            a, sizing.weight_bytes(a.params, precision.bits_per_weight),
            sizing.kv_cache_bytes(a, w.context, w.concurrency, KV_BYTES_DEFAULT), w.concurrency,
            accel.mem_bandwidth_gbs, bandwidth_efficiency(accel, cat), tflops, float(cat.value("compute-efficiency")),
            working, accel.interconnect_gbs, float(cat.value("link-latency-s")[accel.interconnect]),
            step_overhead(runtime, accel, cat),
        )
        per_user, total, prefill, bound = speed.decode_per_seq, speed.decode_total, speed.prefill, speed.bound
    return Option(
        hardware=accel.id, count=count, precision=precision.id, runtime=runtime.id, memory=mem, usable_bytes=usable,
        fits=mem.total <= usable, tokens_per_s=per_user, total_tokens_per_s=total, prefill_tokens_per_s=prefill,
        bound=bound, quality=precision.quality, cost=cost_of(w, accel, count, cat), micro_batch=micro,
        accumulation_steps=steps, checkpointing=ckpt, zero_stage=3 if (w.training and count > 1) else 0,
        tp_over_pcie=(not w.training and runtime.split == "tensor" and count > int(cat.value("tp-over-pcie-max"))
                      and accel.interconnect == "pcie"),
        serves_many=runtime.serves_many,
    )


def precisions_for(w: Workload, model: Model, cat: Catalog) -> list[Precision]:
    """The formats worth trying: the user's, or every format no wider than the model's native one."""
    if w.precision != "auto":
        return [cat.precisions[w.precision]]
    if w.task == "qlora":
        return [p for p in cat.precisions.values() if p.id == "nf4"]
    if w.training:
        return [cat.precisions["bf16"]]
    native = cat.precisions[model.native_precision]
    wanted = [cat.precisions[p] for p in cat.value("auto-inference-precisions") if p != native.id] + [native]
    return [p for p in wanted if p.bits_per_weight <= native.bits_per_weight + 1e-9]


def runs_on(precision: Precision, accel: Accelerator, model: Model) -> bool:
    """FP4 formats need FP4 tensor cores, except a model's own release format (gpt-oss MXFP4 is dequantized elsewhere)."""
    return precision.family != "fp4" or precision.native_feature in accel.features or precision.id == model.native_precision


def device_counts(w: Workload, accel: Accelerator, cat: Catalog) -> list[int]:
    """Device counts allowed for this scale: one node's worth, unless the scale is a cluster of server-class nodes."""
    limit = int(cat.value(f"max-devices-{w.scale}"))
    server_class = accel.kind in ("gpu", "tpu") and accel.max_devices >= int(cat.value("max-devices-team"))
    if w.scale != "enterprise" or not server_class:
        limit = min(limit, accel.max_devices)
    return [n for n in cat.value("device-counts") if n <= limit]


@dataclass
class _Shared:
    """What every device of one enumeration shares: the model's sizing view, the formats to try, and the
    memory needs computed so far, which depend on the format, runtime and device count, not on the device."""

    a: sizing.Arch
    precisions: list[Precision]
    memo: dict[Any, sizing.Memory]


def options_for(w: Workload, model: Model, accel: Accelerator, cat: Catalog, shared: _Shared | None = None) -> list[Option]:
    """For one device: per precision, the fewest devices that fit, and the fewest that also meet the speed target."""
    shared = shared or _Shared(arch(model), precisions_for(w, model, cat), {})
    out: list[Option] = []
    counts = device_counts(w, accel, cat)
    target = float(cat.value("target-tokens-per-s"))
    for p in shared.precisions:
        rt = runtime_for(w, accel, p, cat) if runs_on(p, accel, model) else None
        if rt is None or not counts:
            continue
        first = _fewest_fitting(w, model, accel, p, rt, counts, cat, shared)
        if first is None:
            continue
        out.append(first)
        if not w.training and (first.tokens_per_s or 0) < target:
            for n in counts:
                if n > first.count:
                    faster = evaluate(w, model, accel, n, p, rt, cat, shared.a, shared.memo)
                    if (faster.tokens_per_s or 0) >= target:
                        out.append(faster)
                        break
    return out


def _fewest_fitting(w: Workload, model: Model, accel: Accelerator, p: Precision, rt: Runtime, counts: list[int], cat: Catalog,
                    shared: _Shared) -> Option | None:
    if not w.training:
        # Memory per device is (weights + KV + activations)/n + overhead: solve for n instead of trying each count.
        key = (p.id, rt.id)
        if key not in shared.memo:
            shared.memo[key] = _inference_memory(w, shared.a, p, rt, 1)
        one = shared.memo[key]
        room = usable_bytes(accel, rt, float(cat.value("fit-headroom"))) - rt.overhead_bytes
        if room <= 0:
            return None
        need = math.ceil((one.total - rt.overhead_bytes) / room)
        counts = [n for n in counts if n >= need][:2]
    for n in counts:
        option = evaluate(w, model, accel, n, p, rt, cat, shared.a, shared.memo)
        if option.fits:
            return option
    return None


def enumerate_options(w: Workload, model: Model, accelerators: Iterable[Accelerator], cat: Catalog) -> list[Option]:
    """Every fitting option over the given devices, pruned to the ones no other option beats on cost, quality and speed."""
    shared = _Shared(arch(model), precisions_for(w, model, cat), {})
    options = [o for accel in undominated(w, accelerators) for o in options_for(w, model, accel, cat, shared)]
    return pareto(options, float(cat.value("comfortable-utilization")))


def _price(w: Workload, accel: Accelerator) -> float:
    """The price the budget is compared with for this deployment (rental for cloud), infinite when unknown."""
    buy, rent = prices_of(accel)
    price = rent if w.deployment == "cloud" else buy
    return price.usd if price else math.inf


def _specs(accel: Accelerator) -> tuple[float, ...]:
    """Every number that sizes or times a device, larger is better; a missing throughput counts as none."""
    return (accel.usable_memory_bytes or accel.memory_bytes, accel.mem_bandwidth_gbs, accel.bf16_tflops or 0,
            accel.fp8_tflops or 0, accel.fp4_tflops or 0, accel.int8_tops or 0, accel.interconnect_gbs or 0, accel.max_devices)


def undominated(w: Workload, accelerators: Iterable[Accelerator]) -> list[Accelerator]:
    """Drop devices that another device of the same class beats on every sizing number and on price.

    Exact: the same count and format on the better device fits at least as well, runs at least as fast and
    costs no more, so ``pareto`` would drop the worse device's options anyway; sizing them is wasted work.
    Devices compare only within one class (kind, ecosystem, link, features, ISA, how obtained, which throughput
    figures are known), where the runtime and the speed formula are the same.
    """
    groups: dict[tuple[Any, ...], list[Accelerator]] = {}
    for a in accelerators:
        known = tuple(x is not None for x in (a.bf16_tflops, a.fp8_tflops, a.fp4_tflops, a.int8_tops))
        groups.setdefault((a.kind, a.ecosystem, a.interconnect, a.obtain, tuple(a.features), tuple(a.isa), known), []).append(a)
    keep = []
    for group in groups.values():
        scored = [(_specs(a), -_price(w, a), a) for a in group]
        for specs, price, a in scored:
            beaten = any(
                b is not a and price_b >= price and all(map(operator.ge, specs_b, specs))
                and (price_b > price or specs_b != specs or b.id < a.id)
                for specs_b, price_b, b in scored
            )
            if not beaten:
                keep.append(a)
    return keep


def _merits(o: Option, comfortable: float = 1.0) -> tuple[float, ...]:
    """What makes an option better, every axis oriented so that larger is better."""
    cost = o.cost.budget_usd if o.cost.budget_usd is not None else math.inf
    roomy = o.utilization <= comfortable
    return (-cost, QUALITY_RANK[o.quality], o.tokens_per_s or 0.0, float(roomy), float(not o.tp_over_pcie), float(o.serves_many))


def pareto(options: list[Option], comfortable: float) -> list[Option]:
    """Drop options that another option equals or beats on every axis (cost, quality, speed, headroom, link, batching).

    Sorted best-first (cheapest first), an option can only be dominated by one kept before it, and every kept
    option is already no dearer; so it is enough to know, for each combination of the discrete axes (quality,
    headroom, link, batching: a few dozen at most), the fastest option kept so far.
    """
    ranked = sorted(((_merits(o, comfortable), o) for o in options), key=lambda mo: mo[1].id)
    ranked.sort(key=lambda mo: mo[0], reverse=True)  # best first; equal options keep the first id
    fastest: dict[tuple[float, ...], float] = {}  # discrete merits -> the fastest kept option with them
    front: list[tuple[tuple[float, ...], Option]] = []
    ge = operator.ge
    for m, o in ranked:
        discrete, speed = (m[1], *m[3:]), m[2]
        if any(s >= speed and all(map(ge, d, discrete)) for d, s in fastest.items()):
            continue
        front.append((m, o))
        fastest[discrete] = max(speed, fastest.get(discrete, speed))
    return [o for _, o in sorted(front, key=lambda mo: (-mo[0][0], -mo[0][1], -mo[0][2], mo[1].id))]


def priced(options: Iterable[Option]) -> list[Option]:
    return [o for o in options if o.cost.budget_usd is not None]


def cheapest(options: Iterable[Option]) -> Option | None:
    return min(priced(options), key=lambda o: (o.cost.budget_usd, -QUALITY_RANK[o.quality], -(o.tokens_per_s or 0), o.id), default=None)


def best(options: Iterable[Option]) -> Option | None:
    """The best on quality, then on total throughput, then the cheaper."""
    return max(priced(options), key=lambda o: (QUALITY_RANK[o.quality], o.total_tokens_per_s or 0, -(o.cost.budget_usd or 0), o.id), default=None)


def meets(o: Option, quality_floor: str, min_speed: float) -> bool:
    return QUALITY_RANK[o.quality] >= QUALITY_RANK[quality_floor] and (o.tokens_per_s or 0) >= min_speed


def reference_precision(w: Workload, model: Model) -> str:
    """The precision the memory need is shown at: the user's, else the model's native format (training: bf16/nf4)."""
    if w.precision != "auto":
        return w.precision
    if w.task == "qlora":
        return "nf4"
    return "bf16" if w.training else model.native_precision


def reference_memory(w: Workload, model: Model, precision: Precision, cat: Catalog) -> tuple[sizing.Memory, Runtime]:
    """The need on one device with unbounded memory, under the runtime that would usually run it.

    The runtime depends on the task only (a serving engine for inference, a trainer such as transformers for
    training), never on the number of users, so that more users can never lower the need.
    """
    runtimes = [cat.runtimes[r] for r in precision.runtimes if cat.runtimes[r].trains or not w.training]
    runtime = sorted(runtimes or list(cat.runtimes.values()), key=lambda r: r.serves_many == w.training)[0]
    if w.training:
        ckpt = w.activation_checkpointing == "on"
        return sizing.training_memory(arch(model), _training_setup(w, precision, 1, 1, ckpt), runtime.overhead_bytes), runtime
    return _inference_memory(w, arch(model), precision, runtime, 1), runtime
