"""Sizing, timing and pricing one configuration: a device, a count, a format and the runtime that runs it."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from .. import money, scaleout, sizing
from ..knowledge.loader import Catalog
from ..knowledge.schema import QUALITY_CLASSES, Accelerator, Model, Precision, Price, Runtime
from . import layouts
from .measured import speed_factor
from .options import HOST_NOT_PRICED, KV_BYTES_DEFAULT, Cost, Layout, Option, TrainingRun, Workload


def arch(model: Model) -> sizing.Arch:
    """The sizing view of a catalog model."""
    return sizing.Arch(**{f: getattr(model, f) for f in sizing.Arch.__dataclass_fields__})


def weights_at(a: sizing.Arch, p: Precision) -> int:
    """A model's weight bytes in format ``p``: the part the format quantizes at its bits, the rest 16-bit."""
    return sizing.model_weight_bytes(a, p.bits_per_weight, p.quantizes)


def average_bits(a: sizing.Arch, p: Precision) -> float:
    """The bits per parameter format ``p`` averages over this model (more than its own bits if it leaves parts 16-bit)."""
    return sizing.average_bits_per_weight(a, p.bits_per_weight, p.quantizes)


def usable_bytes(accel: Accelerator, runtime: Runtime, headroom: float) -> int:
    """Memory one device offers this runtime, with the policy's headroom kept free."""
    return int((accel.usable_memory_bytes or accel.memory_bytes) * runtime.memory_fraction * headroom)


def tflops_at(accel: Accelerator, precision: Precision) -> float | None:
    """Dense throughput for a format: its native rate where the hardware has it, else the 16-bit rate."""
    feature = precision.native_feature
    if feature in ("fp8", "fp4", "int8") and feature in accel.features:
        native = accel.fp8_tflops if feature == "fp8" else accel.fp4_tflops if feature == "fp4" else accel.int8_tops
        if native:
            return native
    return accel.bf16_tflops or accel.int8_tops


_BANDWIDTH_EFFICIENCY = {kind: f"bandwidth_efficiency_{kind}" for kind in ("gpu", "unified", "cpu", "tpu", "npu")}  # policy keys


def bandwidth_efficiency(accel: Accelerator, cat: Catalog) -> float:
    """The share of peak memory bandwidth decode reaches on this kind of device."""
    share: float = getattr(cat.policy, _BANDWIDTH_EFFICIENCY[accel.kind])
    return share


def compute_efficiency(accel: Accelerator, cat: Catalog) -> float:
    """The share of the compute figure prefill reaches: a GPU's vendor peak is discounted; a CPU's figure is already the
    rate llama.cpp measured."""
    return cat.policy.compute_efficiency_cpu if accel.kind == "cpu" else cat.policy.compute_efficiency


def step_overhead(runtime: Runtime, accel: Accelerator, cat: Catalog) -> sizing.StepOverhead:
    """A runtime's calibrated per-layer decode costs, for this device's ecosystem where they differ (Metal, ROCm):
    looked up once per catalog, runtime and ecosystem."""
    global _overheads
    if _overheads[0] is not cat:
        _overheads = (cat, {})
    key = (runtime.id, accel.ecosystem)
    found = _overheads[1].get(key)
    if found is None:
        def pick(table: Mapping[str, float]) -> float:
            return table.get(f"{runtime.id}@{accel.ecosystem}", table[runtime.id])
        p = cat.policy
        found = _overheads[1][key] = sizing.StepOverhead(pick(p.decode_layer_overhead_s), pick(p.decode_moe_layer_overhead_s),
                                                         pick(p.decode_sequence_layer_overhead_s))
    return found


_overheads: tuple[Catalog | None, dict[tuple[str, str], sizing.StepOverhead]] = (None, {})  # the last catalog asked about


def runtimes_for(w: Workload, accel: Accelerator, precision: Precision, cat: Catalog) -> list[Runtime]:
    """The runtimes that really run this format on this device's ecosystem, for this task (catalog order), from the
    compute capability each supports (a Pascal P40 or Volta V100 gets llama.cpp, never vLLM: min-compute-capability)."""
    floor = cat.policy.min_compute_capability
    cc = accel.compute_capability
    return [r for r in cat.runtimes.values()
            if r.runs(precision.id, accel.ecosystem) and (r.trains if w.training else r.infers)
            and (cc is None or accel.ecosystem != "cuda" or cc >= floor.get(r.id, 0.0))]


def prices_of(accel: Accelerator) -> tuple[Price | None, Price | None]:
    """The purchase price that counts and the cheapest on-demand hour (``Accelerator.counted_prices``)."""
    return accel.counted_prices


def needs_host(accel: Accelerator, buy: Price | None) -> bool:
    """A PCIe card (or a module on a carrier board) sits in a host box bought beside it; a Mac, a CPU box, an NPU
    laptop or a whole DGX/HGX server (a ``system`` price) is the box itself."""
    return accel.kind == "gpu" and not (buy is not None and buy.system)


def device_power_w(accel: Accelerator, buy: Price | None) -> float | None:
    """The power one device draws as bought: its share of a whole system's rated power (CPUs, switches, NICs and fans
    beside the GPUs) where the purchase is a system whose power the catalog knows, else its own rated power."""
    if buy is not None and buy.system and accel.system_power_w is not None:
        return accel.system_power_w / accel.purchase_unit
    return accel.tdp_w


SELF_HOSTED = ("cpu", "unified", "npu")  # kinds whose own CPU runs the model: a CPU box, a Mac or Strix Halo, an NPU laptop


def host_cores(w: Workload, accel: Accelerator, runtime: Runtime, count: int, layout: Layout, cat: Catalog) -> int:
    """The CPU cores the host of this configuration needs (pitfall P2 states it; ``host_for`` buys a box that has it).

    The runtime's own processes (``Runtime.host_cores``: vLLM's API server and engine core per replica and a worker per
    GPU, llama.cpp's one thread, a training process per GPU and the system's share), else policy host-cores-per-device
    per device; the CPU's share of a hybrid option (host-min-cores-cpu-inference); the whole model's minimum where the
    CPU runs it; then one core per host-users-per-core concurrent users served."""
    p = cat.policy
    if accel.kind in SELF_HOSTED:
        base = p.host_min_cores_cpu_inference
    else:
        own = runtime.host_cores
        base = own.cores(count, layout.data_parallel) if own else count * p.host_cores_per_device
        base += p.host_min_cores_cpu_inference if layout.offload != "none" else 0
    return sizing.host_cores(base, 0 if w.training else w.concurrency, p.host_users_per_core)


def has_cores(box: Accelerator, cores: int) -> bool:
    """Whether a host box has ``cores`` CPU cores. A box listed by its chassis (CPUs not in the catalog: an 8-GPU server
    whose two sockets are chosen when it is ordered) is taken at the CPUs P2 asks for."""
    return box.cpu_cores is None or box.cpu_cores >= cores


def host_for(count: int, ram_bytes: float, cores: int, cat: Catalog, card: Accelerator) -> Accelerator | None:
    """The cheapest priced host box that physically takes ``count`` of ``card`` (their number and width), holds
    ``ram_bytes`` of RAM, has ``cores`` CPU cores and whose supply feeds their board power (unknown: 0) (None: no such
    box). Kept per catalog: a box depends only on these numbers and the card's width and power, which the options of
    many devices and formats share."""
    global _hosts
    if _hosts[0] is not cat or len(_hosts[1]) >= _HOSTS_KEPT:
        _hosts = (cat, {})
    key = (count, ram_bytes, cores, card.width_slots, card.tdp_w)
    if key in _hosts[1]:
        return _hosts[1][key]
    cards_w = count * (card.tdp_w or 0.0)
    found = _hosts[1][key] = next((h for h in host_boxes(cat) if h.takes(card, count) and h.usable_memory_bytes >= ram_bytes
                                   and has_cores(h, cores) and h.powers(cards_w, cat.policy.host_psu_max_load)), None)
    return found


_hosts: tuple[Catalog | None, dict[tuple[Any, ...], Accelerator | None]] = (None, {})  # the last catalog asked about
_HOSTS_KEPT = 4096  # boxes remembered before starting afresh (a consultation asks a few hundred)
_boxes: tuple[Catalog, list[Accelerator]] | None = None  # the last catalog asked about, and its boxes


def host_boxes(cat: Catalog) -> list[Accelerator]:
    """The catalog's priced host boxes that take GPUs, cheapest first (the faster of two at one price first, then by
    id): sorted once per catalog, not once per option."""
    global _boxes
    last = _boxes
    if last is not None and last[0] is cat:
        return last[1]
    boxes = sorted((h for h in cat.accelerators.values() if h.kind == "cpu" and h.host_gpus is not None and h.buy_price),
                   key=lambda h: (h.buy_price.per_device_usd if h.buy_price else math.inf, -h.mem_bandwidth_gbs, h.id))
    _boxes = (cat, boxes)
    return boxes


def cost_of(w: Workload, accel: Accelerator, count: int, cat: Catalog, weights_bytes: float, cores: int,
            layout: Layout | None = None) -> Cost:
    """Purchase or rental cost of ``count`` devices, with power over the ownership period's years: a whole system's
    rated power where one is bought (an NVL72 rack draws 120 kW, not 72 GPUs' 86 kW: ``device_power_w``).

    A purchase of PCIe cards adds the cheapest host box that takes them, holds the weights in RAM and has the ``cores``
    their runtime needs (P2: ``host_cores``), and its power; cards over several nodes (``layout``) take one such box per
    node, each with its share of the cards and cores and the weights its node loads (``per_node``). Not when the user
    described the host they have (--cpu-cores / --ram): the whole system a buyer pays for, also the figure a rented
    deployment's buy-vs-rent compares with. A device without a purchase price gets no box (there is no purchase to add
    it to); a rented device-hour is per device, its host included."""
    buy, rent = prices_of(accel)
    hours_year = w.hours_per_year
    policy = cat.policy
    power = money.power_cost_usd(device_power_w(accel, buy), count, hours_year, policy.electricity_usd_per_kwh)
    purchase = buy.per_device_usd * count if buy else None
    host_name, host_usd, boxes = "", None, 1
    if purchase is not None and needs_host(accel, buy) and w.cpu_cores is None and w.ram_gb is None:
        boxes, cards, staged = per_node(count, weights_bytes, layout)
        ram = staged * policy.host_ram_per_weights + policy.host_os_reserve_bytes
        host = host_for(cards, ram, math.ceil(cores / boxes), cat, accel)
        host_name = host.name if host else HOST_NOT_PRICED
        host_usd = host.buy_price.per_device_usd * boxes if host and host.buy_price else None
        purchase = purchase + host_usd if host_usd is not None else purchase
        # the box draws power too: its CPU's rated power where the catalog knows it
        host_power = money.power_cost_usd(host.tdp_w, boxes, hours_year, policy.electricity_usd_per_kwh) if host else None
        power = power + host_power if power is not None and host_power is not None else power
    per_hour = rent.usd * count if rent else None
    if w.deployment == "cloud":
        return Cost(
            purchase_usd=purchase, cloud_usd_per_hour=per_hour, power_usd_per_year=None,
            budget_usd=per_hour * hours_year if per_hour else None, basis="cloud",
            price_kind=rent.kind if rent else "", price_date=rent.date if rent else "", host=host_name, host_usd=host_usd,
            hosts=boxes,
        )
    return Cost(
        purchase_usd=purchase, cloud_usd_per_hour=per_hour, power_usd_per_year=power,
        budget_usd=purchase, basis="purchase", price_kind=buy.kind if buy else "", price_date=buy.date if buy else "",
        host=host_name, host_usd=host_usd, hosts=boxes,
    )


def per_node(count: int, weights_bytes: float, layout: Layout | None) -> tuple[int, int, float]:
    """The host boxes ``count`` cards need (one per node of the layout), the cards in each, and the weight bytes each
    node loads through its RAM: a replica within a node loads all of them (replicas of one node share the checkpoint
    in the page cache), one spread over nodes its nodes' share."""
    if layout is None or layout.nodes <= 1:
        return 1, count, weights_bytes
    cards = math.ceil(count / layout.nodes)
    replica = layout.tensor_parallel * layout.pipeline_parallel
    return layout.nodes, cards, weights_bytes * min(1.0, cards / replica)


def training_run(w: Workload, accel: Accelerator, count: int, tokens_per_s: float | None, cost: Cost,
                 usd_per_kwh: float) -> TrainingRun | None:
    """The time to train on the user's tokens and its cost: rental hours x price in the cloud, electricity for owned
    hardware (the purchase is the tier's cost already). None when no token budget was given."""
    if not (w.training and w.tokens):
        return None
    seconds = money.training_seconds(w.tokens, tokens_per_s) if tokens_per_s else None
    if w.deployment == "cloud":
        rent = cost.cloud_usd_per_hour
        return TrainingRun(w.tokens, seconds, money.rental_cost_usd(seconds, rent) if seconds and rent else None, "rental")
    watts = device_power_w(accel, prices_of(accel)[0])
    power = money.power_cost_usd(watts, count, seconds / 3600, usd_per_kwh) if seconds else None
    return TrainingRun(w.tokens, seconds, power, "power")


def _inference_memory(w: Workload, a: sizing.Arch, p: Precision, rt: Runtime, n: int,
                      kv_bytes: float = KV_BYTES_DEFAULT) -> sizing.Memory:
    return sizing.inference_memory(a, p.bits_per_weight, kv_bytes, w.context, w.concurrency,
                                   rt.prefill_chunk_tokens, rt.overhead_bytes, devices=n, quantizes=p.quantizes)


def _training_setup(w: Workload, p: Precision, rt: Runtime, n: int, micro_batch: int, checkpointing: bool) -> sizing.TrainingSetup:
    mode = {"lora": "lora", "qlora": "qlora"}.get(w.task, "full")
    return sizing.TrainingSetup(
        mode=mode, micro_batch=micro_batch, seq_len=w.context, checkpointing=checkpointing, devices=n,
        zero_stage=3 if n > 1 else 0, lora_rank=w.lora_rank, frozen_bits_per_weight=p.bits_per_weight,
        offloaded_activation_fraction=rt.activation_device_fraction,
    )


def runs_at(rt: Runtime, count: int) -> bool:
    """Whether this stack runs on ``count`` devices (unsloth-class stacks train on one GPU)."""
    return rt.max_devices is None or count <= rt.max_devices


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
            memo[key] = sizing.training_memory(a, _training_setup(w, p, rt, n, mb, ckpt), rt.overhead_bytes)
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
             a: sizing.Arch | None = None, memo: dict[Any, sizing.Memory] | None = None,
             kv: Precision | None = None, layout: Layout | None = None,
             laid: tuple[Layout, sizing.Memory, sizing.Speed] | None = None, weights: int | None = None) -> Option:
    """Size, time and price one configuration (``a``, ``memo`` and ``weights``, the model's weights in ``precision``:
    what the caller already computed for this model; ``kv``: a KV-cache format other than 16-bit, for inference;
    ``layout``: the layout a published run states, instead of the one the planner would choose; ``laid``: the layout,
    memory and speed a ``layout_search`` of this configuration found)."""
    kv_bytes = kv.kv_bytes_per_element if kv is not None and kv.kv_bytes_per_element else KV_BYTES_DEFAULT
    a = a or arch(model)
    weights = weights_at(a, precision) if weights is None else weights
    usable = usable_bytes(accel, runtime, cat.policy.fit_headroom)
    micro, steps, ckpt = 0, 0, False
    if w.training:
        layout = Layout(data_parallel=count, nodes=math.ceil(count / accel.max_devices))  # ZeRO shards data-parallel ranks
        mem, micro, ckpt = training_fit(w, a, precision, runtime, count, usable, memo)
        steps = math.ceil(w.batch / micro)
        rate = sizing.training_tokens_per_s(a, accel.bf16_tflops, cat.policy.training_mfu, count, ckpt)
        per_user, total, prefill, bound = rate, rate, None, "compute"
    else:
        layout, mem, speed = laid or _inference_layout(w, model, a, accel, count, precision, runtime, cat, kv_bytes, usable, layout, memo)
        measured = speed_factor(accel, runtime, cat)  # 1.0 unless the user measured this device (llmhw calibrate)
        per_user = speed.decode_per_seq / (w.concurrency / _batch(w, runtime)) * measured  # per_user_rate
        total, prefill, bound = speed.decode_total * measured, speed.prefill, speed.bound
    cost = cost_of(w, accel, count, cat, weights, host_cores(w, accel, runtime, count, layout, cat), layout)
    return Option(
        hardware=accel.id, count=count, precision=precision.id, runtime=runtime.id, memory=mem, usable_bytes=usable,
        fits=mem.total <= usable, tokens_per_s=per_user, total_tokens_per_s=total, prefill_tokens_per_s=prefill,
        bound=bound, quality=quality_of(precision, model), cost=cost, micro_batch=micro,
        accumulation_steps=steps, checkpointing=ckpt, zero_stage=3 if (w.training and count > 1) else 0,
        tp_over_pcie=layout.tensor_parallel > cat.policy.tp_over_pcie_max and accel.interconnect == "pcie",
        serves_many=runtime.serves_many,
        run=training_run(w, accel, count, per_user, cost, cat.policy.electricity_usd_per_kwh),
        layout=layout,
    )


def _batch(w: Workload, runtime: Runtime) -> int:
    """Users decoded together: a runtime that does not batch decode serves one request at a time, the users taking
    turns at its single-stream speed. llama-server's parallel slots do batch (runtimes.yaml, calibration.yaml)."""
    return w.concurrency if runtime.batches else 1


def _inference_layout(w: Workload, model: Model, a: sizing.Arch, accel: Accelerator, count: int, precision: Precision,
                      runtime: Runtime, cat: Catalog, kv_bytes: float, usable: int,
                      forced: Layout | None = None, memo: dict[Any, sizing.Memory] | None = None,
                      ) -> tuple[Layout, sizing.Memory, sizing.Speed]:
    """The layout this inference option runs in (``layouts.choose``, or ``forced``), its memory per device and speed."""
    return layout_search(w, model, a, accel, precision, runtime, cat, kv_bytes, usable, memo)(count, forced)


LayoutAt = Callable[[int, "Layout | None"], tuple[Layout, sizing.Memory, sizing.Speed]]


def layout_search(w: Workload, model: Model, a: sizing.Arch, accel: Accelerator, precision: Precision, runtime: Runtime,
                  cat: Catalog, kv_bytes: float, usable: int, memo: dict[Any, sizing.Memory] | None = None,
                  weights: int | None = None) -> LayoutAt:
    """``_inference_layout`` for any device count of one device, format and runtime: what does not depend on the count
    (the device's rates and links, the runtime's costs) is looked up once. ``memo`` keeps the memory per rank, which
    depends on the format, runtime and split, not on the device; ``weights``: ``weights_at`` of the format, when the
    caller knows it."""
    batch = _batch(w, runtime)
    weights = weights_at(a, precision) if weights is None else weights
    per_sequence = sizing.kv_cache_bytes(a, w.context, 1, kv_bytes)
    bandwidth, efficiency = accel.mem_bandwidth_gbs, bandwidth_efficiency(accel, cat)
    tflops, overhead, net = tflops_at(accel, precision), step_overhead(runtime, accel, cat), layouts.links(accel, cat)
    compute, target = compute_efficiency(accel, cat), cat.policy.target_tokens_per_s
    per_node, micro_batches = accel.max_devices, runtime.split == "tensor"
    chunk, overhead_bytes = runtime.prefill_chunk_tokens, runtime.overhead_bytes
    # a rank's memory reads the split's tensor, pipeline and replica counts only, not the node size
    memory_key = ("rank", precision.bits_per_weight, precision.quantizes, kv_bytes, chunk, overhead_bytes)
    memo = {} if memo is None else memo
    expert_parallel = layouts.expert_parallel_runs(model, runtime, cat)
    split_of = layouts.split

    def memory(lay: Layout) -> sizing.Memory:
        key = (*memory_key, lay.tensor_parallel, lay.pipeline_parallel, lay.data_parallel)
        mem = memo.get(key)
        if mem is None:
            mem = memo[key] = scaleout.rank_memory(a, weights, kv_bytes, w.context, w.concurrency, chunk, overhead_bytes,
                                                   split_of(lay, per_node, micro_batches))
        return mem

    def speed(lay: Layout) -> sizing.Speed:
        return scaleout.decode_speed(a, weights, per_sequence, batch, split_of(lay, per_node, micro_batches), bandwidth,
                                     efficiency, tflops, compute, net, overhead)

    def at(count: int, forced: Layout | None = None) -> tuple[Layout, sizing.Memory, sizing.Speed]:
        if forced is not None:
            return forced, memory(forced), speed(forced)
        options = layouts.candidates(w, a, accel, count, runtime, expert_parallel)
        return layouts.choose(options, memory, speed, usable, target)

    return at


def layer_split_rate_ceiling(w: Workload, a: sizing.Arch, accel: Accelerator, precision: Precision, runtime: Runtime,
                             cat: Catalog, kv_bytes: float, weights: int | None = None) -> float | None:
    """For a runtime that splits by layers, a ceiling on the speed per user at any count of this device
    (``scaleout.layer_split_speed_ceiling``); None for a tensor-parallel one, which buys speed with devices. ``weights``:
    ``weights_at`` of the format, when the caller knows it."""
    if runtime.split == "tensor":
        return None
    batch = _batch(w, runtime)
    speed = scaleout.layer_split_speed_ceiling(a, weights_at(a, precision) if weights is None else weights,
                                               sizing.kv_cache_bytes(a, w.context, 1, kv_bytes), batch, accel.mem_bandwidth_gbs,
                                               bandwidth_efficiency(accel, cat), step_overhead(runtime, accel, cat))
    return speed / (w.concurrency / batch) * speed_factor(accel, runtime, cat)


def per_user_rate(w: Workload, speed: sizing.Speed, accel: Accelerator, runtime: Runtime, cat: Catalog) -> float:
    """The decode speed each user sees: the users take turns on a runtime that does not batch, and a device the user
    measured (llmhw calibrate) is scaled by its measurement."""
    turns = w.concurrency / _batch(w, runtime)
    return speed.decode_per_seq / turns * speed_factor(accel, runtime, cat)


def quality_of(precision: Precision, model: Model) -> str:
    """A format's quality class for this model: its released format is the model itself, hence lossless."""
    return QUALITY_CLASSES[-1] if precision.id == model.native_precision else precision.quality


def precisions_for(w: Workload, model: Model, cat: Catalog) -> list[Precision]:
    """The formats worth trying, released format first: the user's, or every format no wider than the released one.

    "No wider" compares whole bits per weight (fp8 8, int8 8 and q8_0 8.5 are all 8-bit): upcasting a released
    checkpoint (BF16 for an FP8 model) costs memory and gains nothing, while Q8_0 is how llama.cpp runs an 8-bit model.
    """
    if w.precision != "auto":
        return [cat.precisions[w.precision]]
    if w.task == "qlora":
        return [p for p in cat.precisions.values() if p.id == "nf4"]
    if w.training:
        return [cat.precisions["bf16"]]
    native = cat.precisions[model.native_precision]
    wanted = [native] + [cat.precisions[p] for p in cat.policy.auto_inference_precisions if p != native.id]
    return [p for p in wanted if math.floor(p.bits_per_weight) <= math.floor(native.bits_per_weight)]


def runs_on(precision: Precision, accel: Accelerator, model: Model) -> bool:
    """FP8 and FP4 formats need the hardware feature, except a model released in FP4 (vLLM and llama.cpp dequantize
    gpt-oss MXFP4 elsewhere: vllm-gptoss-recipe); FP8 MoE models need FP8 hardware in vLLM (vllm-fp8-w8a16)."""
    if precision.native_feature not in ("fp8", "fp4") or precision.native_feature in accel.features:
        return True
    return precision.family == "fp4" and precision.id == model.native_precision


def kv_formats(runtime: Runtime, accel: Accelerator, cat: Catalog) -> list[Precision]:
    """The smaller KV-cache formats this runtime offers on this device (FP8 only where the device computes FP8)."""
    kvs = [cat.precisions[k] for k in runtime.kv_formats]
    return [k for k in kvs if k.native_feature not in ("fp8", "fp4") or k.native_feature in accel.features]


TRAINING_MATMUL_FEATURES = ("bf16", "fp16")  # mixed-precision training runs its matrix products in one of these


def trains_on(accel: Accelerator) -> bool:
    """Whether the device has 16-bit matrix products to train with: a Tesla P40 (FP16 at 1/64 rate, no Tensor Cores:
    its catalog notes) is for inference."""
    return any(f in accel.features for f in TRAINING_MATMUL_FEATURES)


def trained_as(w: Workload, precision: Precision, accel: Accelerator, cat: Catalog) -> Precision:
    """The format a run holds its weights in on this device: a training run's 16-bit weights are FP16 (with loss
    scaling) where the device has FP16 matrix products but no BF16 (a V100); otherwise the format asked for."""
    if (not w.training or precision.family != "float" or precision.bits_per_weight != 16
            or precision.native_feature in accel.features):
        return precision
    computed = [p for p in cat.precisions.values()
                if p.family == "float" and p.bits_per_weight == 16 and p.native_feature in accel.features]
    return computed[0] if computed else precision


def offered(w: Workload, model: Model, accel: Accelerator, precision: Precision, cat: Catalog) -> list[Runtime]:
    """The runtimes that run this format on this device for this workload (none where the device cannot)."""
    if w.training and not trains_on(accel):
        return []
    return runtimes_for(w, accel, precision, cat) if runs_on(precision, accel, model) else []


def device_counts(w: Workload, accel: Accelerator, cat: Catalog) -> list[int]:
    """Device counts allowed for this scale: one node's worth, unless the scale is a cluster of server-class nodes.
    A purchase of parts sold as whole systems (HGX boards, quad V100 kits, NVL72 racks) comes in whole systems
    (policy system-counts: a 72-GPU rack is no power-of-two count); a rented device-hour in any of the device counts.
    A box that only hosts GPUs (its CPUs unknown) runs nothing itself: no count. Kept per catalog and the numbers it
    reads (every enumeration asks for every device)."""
    global _counts
    if _counts[0] is not cat:
        _counts = (cat, {})
    key = (w.scale, w.deployment, accel.host_only, accel.kind, accel.max_devices, accel.purchase_unit, accel.min_devices)
    found = _counts[1].get(key)
    if found is None:
        found = _counts[1][key] = _device_counts(w, accel, cat)
    return list(found)


_counts: tuple[Catalog | None, dict[tuple[Any, ...], list[int]]] = (None, {})  # the last catalog asked about


def _device_counts(w: Workload, accel: Accelerator, cat: Catalog) -> list[int]:
    if accel.host_only:
        return []
    policy = cat.policy
    limit = {"personal": policy.max_devices_personal, "team": policy.max_devices_team,
             "enterprise": policy.max_devices_enterprise}[w.scale]
    server_class = accel.kind in ("gpu", "tpu") and accel.max_devices >= policy.max_devices_team
    if w.scale != "enterprise" or not server_class:
        limit = min(limit, accel.max_devices)
    unit = 1 if w.deployment == "cloud" else accel.purchase_unit
    counts = policy.device_counts if unit == 1 else [unit * k for k in policy.system_counts]
    return [n for n in counts if accel.min_devices <= n <= limit]  # TPU v5p from 4 chips


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
    runtimes = [r for r in cat.runtimes.values() if any(f.precision == precision.id for f in r.formats)
                and (r.trains if w.training else r.infers)]
    runtime = sorted(runtimes or list(cat.runtimes.values()), key=lambda r: r.serves_many == w.training)[0]
    if w.training:
        ckpt = w.activation_checkpointing == "on"
        return sizing.training_memory(arch(model), _training_setup(w, precision, runtime, 1, 1, ckpt), runtime.overhead_bytes), runtime
    return _inference_memory(w, arch(model), precision, runtime, 1), runtime
