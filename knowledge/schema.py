"""The shape of every knowledge entry, declared as frozen dataclasses.

The loader validates YAML against these declarations: each field's type hint is
the accepted type, ``meta(...)`` adds the unit, the allowed values and whether a
number must be positive. Unknown keys are errors (curated catalogs must reject a
typo), so adding a field here is the only way to add one to a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any


def meta(
    default: Any = None,
    *,
    unit: str = "",
    choices: tuple[str, ...] = (),
    positive: bool = False,
    required: bool = False,
    cited: bool = False,
    pattern: str = "",
) -> Any:
    """Declare a field with its unit, allowed values, range, text pattern, and whether each value must cite a source."""
    info = {"unit": unit, "choices": choices, "positive": positive, "required": required, "cited": cited, "pattern": pattern}
    if isinstance(default, list):  # lists load as tuples, so that entries stay hashable; a default must too
        return field(default=tuple(default), metadata=info)
    if isinstance(default, dict):
        return field(default_factory=lambda: dict(default), metadata=info)
    if required:
        return field(metadata=info)
    return field(default=default, metadata=info)


ECOSYSTEMS = ("cuda", "rocm", "apple", "tpu", "npu", "cpu", "oneapi", "gaudi")  # oneapi (Intel Arc) and gaudi are listed; no runtime plans them yet
KINDS = ("gpu", "tpu", "npu", "unified", "cpu")
QUALITY = ("primary", "secondary", "tertiary", "derived", "assumption")
# A format's quality class, worst first (the planner ranks by position): perplexity and benchmark recovery in
# precisions.yaml; large-loss (Q2_K, 20x the Q4_K_M perplexity loss) is the part of "3 bits and below" used only
# when nothing else fits. A model's released format (Model.native_precision) is lossless for that model.
QUALITY_CLASSES = ("large-loss", "noticeable-loss", "small-loss", "near-lossless", "lossless")
# The weights a format stores at its bits_per_weight (sizing.model_weight_bytes): all of them (a GGUF mix's average),
# the linear layers (post-training FP8/INT8/AWQ/GPTQ/NVFP4/NF4), or only the routed experts' matrices (gpt-oss's MXFP4
# release); the rest stays 16-bit.
QUANTIZED_PARTS = ("all", "linear", "routed-experts")


@dataclass(frozen=True)
class Source:
    """Where a number comes from."""

    id: str = meta(required=True)
    title: str = meta(required=True)
    url: str = meta(required=True)
    accessed: str = meta(required=True)
    quality: str = meta(required=True, choices=QUALITY)


@dataclass(frozen=True)
class Model:
    """An open-weights language model, with the architecture numbers sizing needs."""

    id: str = meta(required=True)
    name: str = meta(required=True)
    family: str = meta(required=True)
    architecture: str = meta(required=True, choices=("dense", "moe"))
    params: int = meta(required=True, positive=True, unit="parameters")
    active_params: int = meta(required=True, positive=True, unit="parameters")
    layers: int = meta(required=True, positive=True)
    hidden: int = meta(required=True, positive=True)
    heads: int = meta(required=True, positive=True)
    kv_heads: int = meta(required=True, positive=True)
    head_dim: int = meta(required=True, positive=True)
    intermediate: int = meta(required=True, positive=True)
    vocab: int = meta(required=True, positive=True)
    tied_embeddings: bool = meta(required=True)
    max_context: int = meta(required=True, positive=True, unit="tokens")
    native_precision: str = meta(required=True)  # the released format (gpt-oss MXFP4, DeepSeek-V3/R1 FP8, BF16 for most)
    sources: list[str] = meta([])
    aliases: list[str] = meta([])
    experts: int | None = meta(positive=True)
    experts_active: int | None = meta(positive=True)
    shared_experts: int | None = meta()
    moe_intermediate: int | None = meta(positive=True)
    moe_layers: int | None = meta(positive=True)  # layers with routed experts, when fewer than ``layers`` (DeepSeek's first dense layers)
    kv_lora_rank: int | None = meta(positive=True)
    qk_rope_head_dim: int | None = meta(positive=True)
    sliding_window: int | None = meta(positive=True, unit="tokens")
    sliding_layers: int = meta(0)
    checkpoint_bytes: int | None = meta(positive=True, unit="bytes")
    notes: str = meta("")
    origins: list[str] = meta([])  # models read from files: "field: file, key" for every number (where it came from)

    @property
    def is_moe(self) -> bool:
        return self.architecture == "moe"


# How a price was observed. Buy kinds are per device (or per configured machine); rent kinds are per device-hour.
BUY_KINDS = ("msrp", "street-new", "used")
RENT_KINDS = ("cloud-on-demand", "cloud-spot", "community")  # community: peer marketplaces (Vast.ai-style hosts)
# Why usable_memory_bytes has its value: what the driver/OS reports, or the vendor's GB read as GiB where nothing
# better was found (the basis then says so, and the README lists it as the weaker reading).
USABLE_BASES = ("driver-reported", "metal-working-set", "vram-split", "os-reported", "vendor-gib")
DATE_PATTERN = r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?"  # YYYY, YYYY-MM or YYYY-MM-DD


@dataclass(frozen=True)
class Price:
    """One dated price of an accelerator or host, in US dollars: a purchase or a rented device-hour."""

    usd: float = meta(required=True, positive=True, unit="USD (per device, or per device-hour for rent kinds)")
    kind: str = meta(required=True, choices=BUY_KINDS + RENT_KINDS)
    date: str = meta(required=True, pattern=DATE_PATTERN)
    source: str = meta(required=True)
    region: str = meta("US", choices=("US", "EU", "global"))  # where the price was seen; amounts are always USD
    devices: int = meta(1, positive=True, unit="devices the price buys")  # 8 for an 8-GPU HGX/DGX system
    system: bool = meta(False)  # the price buys a whole machine, host included (a DGX server), not parts for one
    note: str = meta("")

    @property
    def per_device_usd(self) -> float:
        """The price of one device: a system's price shared among the devices it holds."""
        return self.usd / self.devices

    @property
    def is_rent(self) -> bool:
        return self.kind in RENT_KINDS


@dataclass(frozen=True)
class Accelerator:
    """A device that can hold and run a model: GPU, TPU, NPU, unified-memory SoC or CPU host.

    memory_bytes is the installed capacity, the vendor's GB read as GiB (GPU and DIMM "GB" are binary);
    usable_memory_bytes is what the driver or OS lets a model use, on the basis ``usable_memory_basis`` names.
    Every number declared ``cited`` that an entry gives must name its source in ``cites``.
    """

    id: str = meta(required=True)
    name: str = meta(required=True)
    vendor: str = meta(required=True)
    kind: str = meta(required=True, choices=KINDS)
    ecosystem: str = meta(required=True, choices=ECOSYSTEMS)
    memory_bytes: int = meta(required=True, positive=True, cited=True, unit="bytes")
    usable_memory_bytes: int = meta(required=True, positive=True, cited=True, unit="bytes")
    usable_memory_basis: str = meta(required=True, choices=USABLE_BASES)
    mem_bandwidth_gbs: float = meta(required=True, positive=True, cited=True, unit="GB/s")
    obtain: str = meta(required=True, choices=("buy", "cloud"))
    cites: dict[str, str] = meta({})  # number field -> the source id that gives (or, with 'derived', computes) it
    sources: list[str] = meta([])
    aliases: list[str] = meta([])
    bf16_tflops: float | None = meta(positive=True, cited=True, unit="TFLOPS dense")
    fp8_tflops: float | None = meta(positive=True, cited=True, unit="TFLOPS dense")
    fp4_tflops: float | None = meta(positive=True, cited=True, unit="TFLOPS dense")
    int8_tops: float | None = meta(positive=True, cited=True, unit="TOPS dense")
    tdp_w: float | None = meta(positive=True, cited=True, unit="W")
    interconnect: str = meta(
        "pcie",
        choices=("pcie", "nvlink", "infinity-fabric", "ici", "unified", "none"),
    )
    interconnect_gbs: float | None = meta(positive=True, cited=True, unit="GB/s")
    max_devices: int = meta(1, positive=True, unit="devices per node")
    min_devices: int = meta(1, positive=True, unit="devices")  # the smallest unit sold (a TPU v5p slice is 4 chips)
    # devices under one operating system where a node is larger: an NVL72 rack is one NVLink domain of 72 GPUs but 18
    # compute trays of 4, each its own host (None: the node is one host)
    devices_per_host: int | None = meta(positive=True, cited=True, unit="devices per host")
    # SXM/OAM modules are bought as whole 8-GPU boards or servers (HGX, DGX, MI300X platforms): purchases come in
    # multiples of the unit (None: bought singly); a rented device-hour is still per device.
    unit: int | None = meta(positive=True, cited=True, unit="devices per purchase")
    # The rated power of one whole system of ``unit`` devices (a DGX server's 10.2 kW, an NVL72 rack's 120 kW): its CPUs,
    # switches, NICs and fans beside the GPUs. A system purchase draws this, not ``unit`` x tdp_w (None: not known).
    system_power_w: float | None = meta(positive=True, cited=True, unit="W per whole system of `unit` devices")
    # CUDA compute capability where a runtime's minimum matters (Pascal 6.x, Volta 7.0); None = not limiting
    compute_capability: float | None = meta(positive=True, cited=True, unit="CUDA compute capability")
    host_gpus: int | None = meta(positive=True, cited=True, unit="full-size GPUs the box takes")  # host boxes only
    host_power_w: float | None = meta(positive=True, cited=True, unit="W, the power supply's rating")  # host boxes only
    # a PCIe card's thickness, the reference (Founders Edition) board's where partner boards run wider: a buyer can buy it
    width_slots: float | None = meta(positive=True, cited=True, unit="expansion slots")
    # the widest card a host box takes when it holds host_gpus of them (host boxes only; None: any width, the cards sit on
    # riser cables in an open frame). Each box cites where it is read, also when None, so that every box states it.
    max_card_slots: float | None = meta(positive=True, cited=True, unit="expansion slots per card")
    features: list[str] = meta([])
    stacks: list[str] = meta([])
    cpu_cores: int | None = meta(positive=True)
    isa: list[str] = meta([])
    prices: list[Price] = meta([])
    notes: str = meta("")

    @property
    def purchase_unit(self) -> int:
        """How many devices one purchase brings: a whole 8-GPU system for SXM/OAM parts, else one."""
        return self.unit or 1

    @property
    def host_only(self) -> bool:
        """A box whose CPUs the catalog does not know (a GPU server listed by its chassis) hosts GPUs but is never
        offered to run a model on its CPUs: their speed would be a guess."""
        return self.kind == "cpu" and self.cpu_cores is None

    def takes(self, card: Accelerator, count: int) -> bool:
        """Whether this host box physically takes ``count`` cards like ``card``: no more than its GPU count, each no wider
        than its widest card (a chassis spaced for double-width cards has no room for a 3-slot one). A box with no width
        limit takes any card; a limited one refuses a card whose width is unknown (a module on its own carrier board).
        The limit is the one at the box's full GPU count: fewer, wider cards are not offered it (a cautious reading)."""
        fits = self.max_card_slots is None or (card.width_slots is not None and card.width_slots <= self.max_card_slots)
        return (self.host_gpus or 0) >= count and fits

    def powers(self, cards_w: float, max_load: float) -> bool:
        """Whether this host box's supply feeds ``cards_w`` of GPU board power beside its own CPU (its rated power where
        the catalog knows it) within ``max_load`` of its rating; a box whose supply is unknown feeds nothing."""
        return self.host_power_w is not None and cards_w + (self.tdp_w or 0.0) <= max_load * self.host_power_w

    @cached_property
    def buy_price(self) -> Price | None:
        """The newest purchase price, the cheapest of that date: what a buyer pays today, as far as the catalog knows.
        (Cached on the entry, which is immutable: the planner asks for it hundreds of thousands of times.)"""
        buys = [p for p in self.prices if not p.is_rent]
        return max(buys, key=lambda p: (p.date, -p.usd)) if buys else None

    @cached_property
    def counted_prices(self) -> tuple[Price | None, Price | None]:
        """The purchase price that counts and the cheapest on-demand hour. A part bought in whole systems (``unit``) counts
        a system's price when one is known, else the newest per-device price, the cheapest of that date."""
        rents = [p for p in self.prices if p.kind == "cloud-on-demand"]
        systems = [p for p in self.prices if not p.is_rent and p.devices == self.purchase_unit > 1]
        buy = max(systems, key=lambda p: (p.date, -p.usd)) if systems else self.buy_price
        return buy, min(rents, key=lambda p: p.usd) if rents else None


@dataclass(frozen=True)
class Precision:
    """A numeric format for weights (and optionally the KV cache)."""

    id: str = meta(required=True)
    name: str = meta(required=True)
    bits_per_weight: float = meta(required=True, positive=True, unit="bits")
    family: str = meta(required=True, choices=("float", "int", "gguf", "fp8", "fp4"))
    quality: str = meta(required=True, choices=QUALITY_CLASSES)
    trainable: bool = meta(required=True)
    sources: list[str] = meta([])
    aliases: list[str] = meta([])
    native_feature: str | None = meta()
    kv_bytes_per_element: float | None = meta(positive=True, unit="bytes")
    quantizes: str = meta("all", choices=QUANTIZED_PARTS)
    variant_of: str | None = meta()  # a file's own mix of a catalog format (a GGUF's tensors): runtimes run it where they run that one
    notes: str = meta("")


@dataclass(frozen=True)
class RuntimeFormat:
    """A format a runtime runs, and on which ecosystems (vendors) it really runs it."""

    precision: str = meta(required=True)
    ecosystems: list[str] = meta(required=True)
    sources: list[str] = meta([])
    notes: str = meta("")


# How each kind of launcher is driven (engine/launch.py builds its commands), with the roles of the options it sets.
# A runtime's launch table names each role's documented option for its style (checked on load), so that an option the
# runtime renames changes in one line of runtimes.yaml, for the launch plans and for the tips that quote it alike.
LAUNCH_STYLES: dict[str, tuple[str, ...]] = {
    "vllm-serve": ("tensor_parallel", "pipeline_parallel", "data_parallel", "expert_parallel", "context", "sequences",
                   "memory_fraction", "kv_dtype", "quantization", "dtype"),
    "llama-server": ("model_file", "gpu_layers", "context", "sequences", "kv_dtype_k", "kv_dtype_v", "cpu_moe", "split_mode",
                     "tensor_split", "port"),
    "trtllm-serve": ("tensor_parallel", "pipeline_parallel", "expert_parallel", "sequences", "context", "batched_tokens",
                     "memory_fraction", "port", "llm_api_options"),
    "mlx-lm-server": ("model", "port"),
    "accelerate": ("processes", "machines", "module"),
    "trl-sft": ("model", "dataset", "micro_batch", "accumulation", "checkpointing", "bf16", "fp16", "context", "peft", "lora_rank",
                "four_bit", "deepspeed"),
    "deepspeed-config": ("micro_batch", "accumulation", "zero_stage", "bf16", "fp16", "offload_optimizer", "offload_param"),
    "unsloth": ("model", "context", "four_bit", "lora_rank", "checkpointing", "micro_batch", "accumulation", "full_finetuning"),
    "maxtext": ("run_name", "context", "micro_batch", "accumulation", "checkpointing", "fsdp"),
}
# How an option is written: `--flag VALUE`, `--flag` alone, `key=value` (MaxText), a key of a JSON config file
# (DeepSpeed, dotted path) or a keyword argument of a Python API (Unsloth).
FLAG_FORMS = ("option", "switch", "setting", "config-key", "keyword")


@dataclass(frozen=True)
class LaunchFlag:
    """One documented option of a launcher: the role the launch plans give it, and how it is written."""

    role: str = meta(required=True)
    flag: str = meta(required=True)
    form: str = meta("option", choices=FLAG_FORMS)


@dataclass(frozen=True)
class LaunchTool:
    """A launcher of a runtime (a command, a config file or an API) and its options, as published in one version."""

    style: str = meta(required=True, choices=tuple(LAUNCH_STYLES))
    command: str = meta(required=True)  # the documented entry point ("vllm serve"; a file name for a config file)
    version: str = meta(required=True)  # the release whose documentation the options were read from
    read: str = meta(required=True, pattern=DATE_PATTERN)  # when they were read
    sources: list[str] = meta([])
    flags: list[LaunchFlag] = meta([])

    def flag(self, role: str) -> LaunchFlag:
        """The option that plays ``role`` (the loader guarantees one for every role of the tool's style)."""
        return next(f for f in self.flags if f.role == role)


@dataclass(frozen=True)
class HostCores:
    """The CPU cores a runtime keeps busy on the host of its accelerators, as its documentation counts them (pitfall P2):
    its processes per device and per copy of the model it serves, and what it leaves the operating system."""

    per_device: int = meta(required=True, unit="cores per accelerator")  # 0: one process drives every device
    sources: list[str] = meta(required=True)
    per_replica: int = meta(0, unit="cores per copy of the model served")
    coordinator: int = meta(0, unit="cores more when it serves several copies")
    system: int = meta(0, unit="cores for the operating system")
    notes: str = meta("")

    def cores(self, devices: int, replicas: int) -> int:
        """Cores for ``devices`` accelerators serving ``replicas`` copies of the model (before the users' share)."""
        return self.per_device * devices + self.per_replica * replicas + (self.coordinator if replicas > 1 else 0) + self.system


@dataclass(frozen=True)
class Runtime:
    """A serving or training stack, with what it reserves on each device and the formats it runs where."""

    id: str = meta(required=True)
    name: str = meta(required=True)
    ecosystems: list[str] = meta(required=True)
    overhead_bytes: int = meta(required=True, unit="bytes per device")
    memory_fraction: float = meta(required=True, positive=True, unit="fraction of device memory")
    serves_many: bool = meta(required=True)
    batches: bool = meta(required=True)  # decodes concurrent requests in one batch; else users take turns
    trains: bool = meta(required=True)
    infers: bool = meta(required=True)  # offered for inference (HF transformers is a training stack here)
    formats: list[RuntimeFormat] = meta([])
    kv_formats: list[str] = meta([])  # precisions it accepts as the KV-cache dtype instead of 16-bit
    sources: list[str] = meta([])
    prefill_chunk_tokens: int | None = meta(positive=True, unit="tokens")
    split: str = meta("tensor", choices=("tensor", "layer"))  # how it spreads a model over devices: layer = one device works at a time
    # Training stacks: the share of checkpointed activations left on the device when the stack offloads the
    # checkpoints to host RAM and never materialises the logits (unsloth-class), and the most devices it trains on.
    activation_device_fraction: float = meta(1.0, positive=True, unit="fraction of checkpointed activations")
    max_devices: int | None = meta(positive=True, unit="devices")
    # the host's CPU cores it needs (None: no published figure; policy host-cores-per-device, from DGX H100, stands in)
    host_cores: HostCores | None = meta()
    launch: list[LaunchTool] = meta([])  # how it is started; empty where no single launcher exists (launch_note says why)
    launch_note: str = meta("")
    notes: str = meta("")

    def tool(self, style: str) -> LaunchTool | None:
        """This runtime's launcher of one style, if it has one."""
        return next((t for t in self.launch if t.style == style), None)

    def runs(self, precision: str, ecosystem: str) -> bool:
        """Whether this runtime runs ``precision`` on hardware of ``ecosystem``."""
        return (precision, ecosystem) in self._runs

    @cached_property
    def _runs(self) -> frozenset[tuple[str, str]]:
        """Every (precision, ecosystem) it runs: asked for each device and format of every enumeration."""
        return frozenset((f.precision, e) for f in self.formats for e in f.ecosystems)


@dataclass(frozen=True)
class CalibrationRun:
    """A published decode speed: one configuration, the engine that ran it and the rate it reached."""

    id: str = meta(required=True)
    model: str = meta(required=True)
    hardware: str = meta(required=True)
    count: int = meta(required=True, positive=True, unit="devices")
    precision: str = meta(required=True)
    runtime: str = meta(required=True)  # the catalog runtime that models the engine (SGLang as vllm, Ollama as llama-cpp)
    engine: str = meta(required=True)  # what was published: software, version, parallel layout
    users: int = meta(required=True, positive=True, unit="concurrent sequences")
    context: int = meta(required=True, positive=True, unit="tokens per sequence at the end of the run")
    quote: str = meta(required=True)
    sources: list[str] = meta([])
    per_user_tok_s: float | None = meta(positive=True, unit="tokens/s per user")
    total_tok_s: float | None = meta(positive=True, unit="tokens/s over all users")
    prompt_tokens: int | None = meta(positive=True, unit="tokens")  # given when the published rate counts prefill time too
    held_out: bool = meta(False)  # not used to fit the speed constants
    # the parallel layout the run states (None: the planner's own choice); tensor x pipeline x data = count
    tensor_parallel: int | None = meta(positive=True, unit="devices")
    pipeline_parallel: int | None = meta(positive=True, unit="devices")
    data_parallel: int | None = meta(positive=True, unit="replicas")
    dp_attention: bool = meta(False)  # the data_parallel ranks run the attention of one model, the experts spread over all
    notes: str = meta("")
    local: bool = meta(False)  # measured on the user's machine (`llmhw calibrate`): corrects that device and runtime's estimates
    # hybrid CPU+GPU runs (engine/hybrid.py): what stayed in host RAM, and the host (a catalog CPU box, or its bandwidth)
    offload: str | None = meta(choices=("experts", "layers"))
    host: str | None = meta()
    host_bandwidth_gbs: float | None = meta(positive=True, unit="GB/s")

    @property
    def published_tok_s(self) -> float:
        """The figure compared with the estimate: per user when published, else the total."""
        rate = self.per_user_tok_s if self.per_user_tok_s is not None else self.total_tok_s
        assert rate is not None  # the loader requires one of the two
        return rate


@dataclass(frozen=True)
class PolicyValue:
    """A threshold or constant that a rule or formula uses."""

    id: str = meta(required=True)
    value: Any = meta(required=True)
    unit: str = meta(required=True)
    why: str = meta(required=True)
    sources: list[str] = meta([])


def _limit(unit: str, positive: bool = True) -> Any:
    return meta(required=True, unit=unit, positive=positive)


@dataclass(frozen=True)
class Policy:
    """Every entry of policy.yaml as one typed field (the entry id with ``-`` as ``_``).

    The loader requires each field once and rejects entries no field declares; rules match
    these values in their patterns (a ``Policy`` fact) and read them as ``self.policy``.
    """

    # defaults for inputs the user did not give
    default_task: str = meta(required=True)
    default_precision: str = meta(required=True)
    default_context: int = _limit("tokens")
    default_concurrency: int = _limit("sequences")
    default_batch: int = _limit("sequences per optimizer step")
    default_activation_checkpointing: str = meta(required=True, choices=("auto", "on", "off"))
    default_lora_rank: int = _limit("rank")
    default_ecosystem: str = meta(required=True)
    default_deployment: str = meta(required=True)
    default_hours_per_day: int = _limit("hours/day")
    scale_team_min_params: int = _limit("parameters")
    scale_enterprise_min_params: int = _limit("parameters")
    team_max_concurrency: int = _limit("sequences")
    # what fits
    fit_headroom: float = _limit("fraction of usable memory")
    comfortable_utilization: float = _limit("fraction of usable memory")
    best_max_utilization: float = _limit("fraction of usable memory")
    best_speed_tie: float = _limit("fraction of decode speed")
    device_counts: tuple[int, ...] = _limit("devices")
    max_devices_personal: int = _limit("devices")
    max_devices_team: int = _limit("devices")
    max_devices_enterprise: int = _limit("devices")
    auto_inference_precisions: tuple[str, ...] = meta(required=True)
    serving_engine_above_users: int = _limit("concurrent users")
    quality_floor_minimum: str = meta(required=True, choices=QUALITY_CLASSES)
    quality_floor_recommended: str = meta(required=True, choices=QUALITY_CLASSES)
    low_bit_warning_bits: float = _limit("bits per weight")
    # speed
    bandwidth_efficiency_gpu: float = _limit("fraction of peak bandwidth")
    bandwidth_efficiency_unified: float = _limit("fraction of peak bandwidth")
    bandwidth_efficiency_cpu: float = _limit("fraction of peak bandwidth")
    bandwidth_efficiency_tpu: float = _limit("fraction of peak bandwidth")
    bandwidth_efficiency_npu: float = _limit("fraction of peak bandwidth")
    compute_efficiency: float = _limit("fraction of dense peak")
    training_mfu: float = _limit("fraction of dense peak")
    link_latency_s: dict[str, float] = meta(required=True, unit="seconds per all-reduce")
    min_tokens_per_s: float = _limit("tokens/s per user")
    target_tokens_per_s: float = _limit("tokens/s per user")
    tp_over_pcie_max: int = _limit("devices")
    min_compute_capability: dict[str, float] = meta(required=True, unit="CUDA compute capability per runtime")
    # fixed decode costs per runtime (or "runtime@ecosystem"), fitted on calibration.yaml: sizing.StepOverhead
    decode_layer_overhead_s: dict[str, float] = meta(required=True, unit="seconds per layer per decode step")
    decode_moe_layer_overhead_s: dict[str, float] = meta(required=True, unit="seconds per MoE layer per decode step")
    decode_sequence_layer_overhead_s: dict[str, float] = meta(required=True, unit="seconds per layer per sequence")
    # money
    electricity_usd_per_kwh: float = _limit("USD/kWh")
    ownership_years: float = _limit("years")
    p1_max_utilization: float = _limit("fraction of memory")
    p1_min_speed_gain: float = _limit("ratio of total tokens/s")
    p1_min_waste_usd: float = _limit("USD")
    recommended_max_premium: float = _limit("ratio of purchase or rental cost")
    price_max_age_months: int = _limit("months")
    max_check_devices: int = _limit("devices")
    # host: CPU, RAM, storage (pitfall P2)
    host_cores_per_device: int = _limit("CPU cores per accelerator")
    host_users_per_core: int = _limit("concurrent users per core")
    host_min_cores_cpu_inference: int = _limit("cores")
    host_os_reserve_bytes: int = _limit("bytes")
    host_ram_per_weights: float = _limit("times weight bytes")
    host_isa_required: str = meta(required=True)
    nvme_gbs: float = _limit("GB/s")
    sata_gbs: float = _limit("GB/s")
    slow_load_seconds: float = _limit("seconds")
    # processor roles
    cpu_max_params_interactive: int = _limit("parameters")
    npu_max_params: int = _limit("parameters")
    fp8_kv_min_share: float = _limit("fraction of the memory need")
    checkpointing_min_saving_share: float = _limit("fraction of the peak")
    p3_alternative_min_speed_share: float = _limit("fraction of the TPU option's speed")
    article_4bit_bits: tuple[float, float] = _limit("bits per weight")
    moe_offload_link_gbs: float = _limit("GB/s")
    # the article's claims that the product checks
    article_70b_claim_bytes: int = _limit("bytes")
    article_70b_params: tuple[int, int] = _limit("parameters")
    article_32b_claim_bytes: int = _limit("bytes")
    article_32b_params: tuple[int, int] = _limit("parameters")
    article_7b_claim_bytes: int = _limit("bytes")
    article_7b_params: tuple[int, int] = _limit("parameters")
    article_4bit_saving: float = _limit("fraction")
    article_zero3_saving: float = _limit("fraction")
    article_mac_bytes: int = _limit("bytes")
    # upgrade advice (recommend --have)
    upgrade_host_gpus: int = _limit("GPUs")
    upgrade_reference_host: str = meta(required=True)
    upgrade_ram_usd_per_gb: float = _limit("USD/GB")
    # scale-out: the network between nodes (planner.layouts) and the runtimes that place experts whole on devices
    node_network: dict[str, str] = meta(required=True, unit="network name per device interconnect")
    node_network_gbs: dict[str, float] = meta(required=True, unit="GB/s per direction")
    node_network_latency_s: dict[str, float] = meta(required=True, unit="seconds per message")
    expert_parallel_runtimes: tuple[str, ...] = meta(required=True)
    dp_attention_runtimes: tuple[str, ...] = meta(required=True)
    # hybrid CPU+GPU: routed experts or whole layers in host RAM, computed by the host CPU (engine/hybrid.py)
    default_offload: str = meta(required=True, choices=("auto", "none", "experts", "layers"))
    hybrid_runtime: str = meta(required=True)
    hybrid_cpu_bandwidth_efficiency: float = _limit("fraction of peak host memory bandwidth")
    hybrid_layer_overhead_s: float = _limit("seconds per offloaded layer per decode step")
    hybrid_prefill_batch_tokens: int = _limit("tokens")
    # the host box's power supply: the GPUs' board power and its CPU's within this share of its rating (planner host_for)
    host_psu_max_load: float = _limit("fraction of the power supply's rating")
    # prompt processing: a CPU's compute figure is an achieved llama.cpp rate; the prompt the tiers time, and its target
    compute_efficiency_cpu: float = _limit("fraction of the CPU's compute figure")
    ttft_prompt_tokens: int = _limit("tokens")
    target_ttft_s: float = _limit("seconds to the first token")
    # whole systems (HGX servers, NVL72 racks): how many of them a purchase of a part sold only that way brings
    system_counts: tuple[int, ...] = _limit("whole systems per purchase")
