"""Sizing and timing one configuration (a device, a count, a format and the runtime that runs it), priced by ``costs``."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

from .. import scaleout, sizing, training_sizing
from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import QUALITY_CLASSES, Accelerator, Model, Precision
from . import layouts
from .costs import cost_of, node_host, training_run
from .measured import speed_factor
from .memo import per_catalog
from .options import KV_BYTES_DEFAULT, Layout, Option, Workload


def arch(model: Model) -> sizing.Arch:
    """The sizing view of a catalog model."""
    return sizing.Arch.of(model)


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
    memo = per_catalog("step-overhead", cat)
    key = (runtime.id, accel.ecosystem)
    found: sizing.StepOverhead | None = memo.get(key)
    if found is None:
        def pick(table: Mapping[str, float]) -> float:
            return table.get(f"{runtime.id}@{accel.ecosystem}", table[runtime.id])
        p = cat.policy
        found = memo[key] = sizing.StepOverhead(pick(p.decode_layer_overhead_s), pick(p.decode_moe_layer_overhead_s),
                                                pick(p.decode_sequence_layer_overhead_s))
    return found


def runtimes_for(w: Workload, accel: Accelerator, precision: Precision, cat: Catalog) -> list[Runtime]:
    """The runtimes that really run this format on this device's ecosystem, for this task (catalog order), from the
    compute capability each supports (a Pascal P40 or Volta V100 gets llama.cpp, never vLLM: min-compute-capability).
    Kept per catalog and the four things it reads: every enumeration asks again for the same."""
    memo = per_catalog("runtimes-for", cat)
    cc = accel.compute_capability
    key = (w.training, precision.id, accel.ecosystem, cc)
    found: list[Runtime] | None = memo.get(key)
    if found is None:
        floor = cat.policy.min_compute_capability
        found = memo[key] = [r for r in cat.runtimes.values()
                             if r.runs(precision.id, accel.ecosystem) and (r.trains if w.training else r.infers)
                             and (cc is None or accel.ecosystem != "cuda" or cc >= floor.get(r.id, 0.0))]
    return list(found)


def _inference_memory(w: Workload, a: sizing.Arch, p: Precision, rt: Runtime, n: int,
                      kv_bytes: float = KV_BYTES_DEFAULT) -> sizing.Memory:
    return sizing.inference_memory(a, p.bits_per_weight, kv_bytes, w.context, w.concurrency,
                                   rt.prefill_chunk_tokens, rt.overhead_bytes, devices=n, quantizes=p.quantizes)


def _training_setup(w: Workload, p: Precision, rt: Runtime, n: int, micro_batch: int, checkpointing: bool) -> training_sizing.TrainingSetup:
    mode = {"lora": "lora", "qlora": "qlora"}.get(w.task, "full")
    return training_sizing.TrainingSetup(
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
            memo[key] = training_sizing.training_memory(a, _training_setup(w, p, rt, n, mb, ckpt), rt.overhead_bytes)
        return memo[key]

    choices = {"on": (True,), "off": (False,)}.get(w.activation_checkpointing or "auto", (False, True))
    least = need(1, choices[-1])  # micro-batch 1, recompute on where allowed: the least memory of any choice
    if least.total > limit:  # nothing fits: that one, without trying each micro-batch
        return least, 1, choices[-1]
    sizes = [1 << k for k in range(max(w.batch, 1).bit_length() - 1, -1, -1)]  # powers of two, the largest within the batch first
    return next((mem, mb, ckpt) for ckpt in choices for mb in sizes if (mem := need(mb, ckpt)).total <= limit)


def evaluate(w: Workload, model: Model, accel: Accelerator, count: int, precision: Precision, runtime: Runtime, cat: Catalog,
             a: sizing.Arch | None = None, memo: dict[Any, sizing.Memory] | None = None,
             kv: Precision | None = None, layout: Layout | None = None,
             laid: tuple[Layout, sizing.Memory, sizing.Speed] | None = None, weights: int | None = None) -> Option:
    """Size, time and price one configuration (``a``, ``memo`` and ``weights``, the model's weights in ``precision``:
    what the caller already computed for this model; ``kv``: a KV-cache format other than 16-bit, for inference;
    ``layout``: the layout a published run states, instead of the one the planner would choose; ``laid``: the layout,
    memory and speed a ``LayoutSearch`` of this configuration found)."""
    kv_bytes = kv.kv_bytes_per_element if kv is not None and kv.kv_bytes_per_element else KV_BYTES_DEFAULT
    a = a or arch(model)
    weights = weights_at(a, precision) if weights is None else weights
    usable = usable_bytes(accel, runtime, cat.policy.fit_headroom)
    micro, steps, ckpt = 0, 0, False
    if w.training:
        layout = Layout(data_parallel=count, nodes=math.ceil(count / accel.max_devices))  # ZeRO shards data-parallel ranks
        mem, micro, ckpt = training_fit(w, a, precision, runtime, count, usable, memo)
        steps = math.ceil(w.batch / micro)
        rate = training_sizing.training_tokens_per_s(a, accel.bf16_tflops, cat.policy.training_mfu, count, ckpt)
        per_user, total, prefill, bound = rate, rate, None, "compute"
    else:
        layout, mem, speed = laid or _inference_layout(w, model, a, accel, count, precision, runtime, cat, kv_bytes, usable, layout, memo)
        measured = speed_factor(accel, runtime, cat)  # 1.0 unless the user measured this device (llmhw calibrate)
        per_user = speed.decode_per_seq / (w.concurrency / _batch(w, runtime)) * measured  # per_user_rate
        total, prefill, bound = speed.decode_total * measured, speed.prefill, speed.bound
    cost = cost_of(w, accel, count, cat, node_host(w, accel, runtime, count, layout, weights, cat))
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
    return LayoutSearch(w, model, a, accel, precision, runtime, cat, kv_bytes, usable, memo)(count, forced)


class LayoutSearch:
    """``_inference_layout`` for any device count of one device, format and runtime: what does not depend on the count
    (the device's rates and links, the runtime's costs) is looked up once. ``memo`` keeps the memory per rank, which
    depends on the format, runtime and split, not on the device; ``weights`` and ``per_sequence`` (a full-context
    sequence's KV cache): ``weights_at`` of the format and what the caller already knows of the workload.

    A class, not a function returning closures: compiled closures share their enclosing function's frame in a reference
    cycle, which only the garbage collector frees (a batch worker collected every few consultations, 2.5% of its time).
    """

    def __init__(self, w: Workload, model: Model, a: sizing.Arch, accel: Accelerator, precision: Precision, runtime: Runtime,
                 cat: Catalog, kv_bytes: float, usable: int, memo: dict[Any, sizing.Memory] | None = None,
                 weights: int | None = None, per_sequence: float | None = None) -> None:
        self.w, self.a, self.accel, self.runtime, self.kv_bytes, self.usable = w, a, accel, runtime, kv_bytes, usable
        self.batch = _batch(w, runtime)
        self.weights = weights_at(a, precision) if weights is None else weights
        self.per_sequence = sizing.kv_cache_bytes(a, w.context, 1, kv_bytes) if per_sequence is None else per_sequence
        self.bandwidth, self.tflops, self.target = accel.mem_bandwidth_gbs, tflops_at(accel, precision), cat.policy.target_tokens_per_s
        self.rates = device_rates(model, accel, runtime, cat)
        self.per_node, self.micro_batches = accel.max_devices, runtime.split == "tensor"
        # a rank's memory reads the split's tensor, pipeline and replica counts only, not the node size
        self.memory_key = ("rank", precision.bits_per_weight, precision.quantizes, kv_bytes, runtime.prefill_chunk_tokens,
                           runtime.overhead_bytes)
        self.memo: dict[Any, sizing.Memory] = {} if memo is None else memo

    def memory(self, lay: Layout) -> sizing.Memory:
        key = (*self.memory_key, lay.tensor_parallel, lay.pipeline_parallel, lay.data_parallel, lay.dp_attention)
        mem = self.memo.get(key)
        if mem is None:
            rt = self.runtime
            mem = self.memo[key] = scaleout.rank_memory(self.a, self.weights, self.kv_bytes, self.w.context, self.w.concurrency,
                                                        rt.prefill_chunk_tokens, rt.overhead_bytes,
                                                        layouts.split(lay, self.per_node, self.micro_batches))
        return mem

    def speed(self, lay: Layout) -> sizing.Speed:
        r = self.rates
        return scaleout.decode_speed(self.a, self.weights, self.per_sequence, self.batch,
                                     layouts.split(lay, self.per_node, self.micro_batches), self.bandwidth,
                                     r.bandwidth_efficiency, self.tflops, r.compute_efficiency, r.links, r.overhead)

    def __call__(self, count: int, forced: Layout | None = None) -> tuple[Layout, sizing.Memory, sizing.Speed]:
        if forced is not None:
            return forced, self.memory(forced), self.speed(forced)
        r = self.rates
        options = layouts.candidates(self.w, self.a, self.accel, count, self.runtime, r.expert_parallel, r.dp_attention)
        return layouts.choose(options, self.memory, self.speed, self.usable, self.target)


class DeviceRates(NamedTuple):
    """What sizing and timing read of a device under one runtime, whatever the format and count."""

    bandwidth_efficiency: float
    overhead: sizing.StepOverhead  # the runtime's per-layer decode costs on this ecosystem
    links: scaleout.Links
    compute_efficiency: float
    expert_parallel: bool  # the runtime places this model's routed experts whole on the ranks
    dp_attention: bool  # the runtime runs this model's attention data-parallel


def device_rates(model: Model, accel: Accelerator, runtime: Runtime, cat: Catalog) -> DeviceRates:
    """``DeviceRates`` of this device under this runtime for this model. Kept per catalog: an enumeration searches
    every format of a device, and compares its runtimes (``frontier._Shared.alike``)."""
    memo = per_catalog("device-rates", cat)
    key = (accel.id, runtime.id, model.architecture, bool(model.kv_lora_rank))
    found: DeviceRates | None = memo.get(key)
    if found is None:
        found = memo[key] = DeviceRates(bandwidth_efficiency(accel, cat), step_overhead(runtime, accel, cat),
                                        layouts.links(accel, cat), compute_efficiency(accel, cat),
                                        layouts.expert_parallel_runs(model, runtime, cat),
                                        layouts.dp_attention_runs(model, runtime, cat))
    return found


def layer_split_rate_ceiling(w: Workload, a: sizing.Arch, accel: Accelerator, precision: Precision, runtime: Runtime,
                             cat: Catalog, kv_bytes: float, weights: int | None = None,
                             per_sequence: float | None = None) -> float | None:
    """For a runtime that splits by layers, a ceiling on the speed per user at any count of this device
    (``scaleout.layer_split_speed_ceiling``); None for a tensor-parallel one, which buys speed with devices. ``weights``
    and ``per_sequence`` (a full-context sequence's KV cache): what the caller already knows of the format and workload."""
    if runtime.split == "tensor":
        return None
    batch = _batch(w, runtime)
    per_sequence = sizing.kv_cache_bytes(a, w.context, 1, kv_bytes) if per_sequence is None else per_sequence
    speed = scaleout.layer_split_speed_ceiling(a, weights_at(a, precision) if weights is None else weights, per_sequence,
                                               batch, accel.mem_bandwidth_gbs, bandwidth_efficiency(accel, cat),
                                               step_overhead(runtime, accel, cat))
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
    memo = per_catalog("device-counts", cat)
    key = (w.scale, w.deployment, accel.host_only, accel.kind, accel.max_devices, accel.purchase_unit, accel.min_devices)
    found: list[int] | None = memo.get(key)
    if found is None:
        found = memo[key] = _device_counts(w, accel, cat)
    return list(found)


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
        return training_sizing.training_memory(arch(model), _training_setup(w, precision, runtime, 1, 1, ckpt), runtime.overhead_bytes), runtime
    return _inference_memory(w, arch(model), precision, runtime, 1), runtime
