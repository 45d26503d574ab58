"""The shape of every knowledge entry, declared as frozen dataclasses.

The loader validates YAML against these declarations: each field's type hint is
the accepted type, ``meta(...)`` adds the unit, the allowed values and whether a
number must be positive. Unknown keys are errors (curated catalogs must reject a
typo), so adding a field here is the only way to add one to a file.

This module holds ``meta`` and the entries of sources, models, accelerators (with their prices), precisions and
calibration runs; runtimes.yaml's entries are declared in ``runtime_schema``, policy.yaml's in ``policy_schema``.
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
    if isinstance(default, list):  # a YAML list loads as a tuple (``tuple[X, ...]``), so that entries stay hashable; a default too
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
    sources: tuple[str, ...] = meta([])
    aliases: tuple[str, ...] = meta([])
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
    origins: tuple[str, ...] = meta([])  # models read from files: "field: file, key" for every number (where it came from)

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
    sources: tuple[str, ...] = meta([])
    aliases: tuple[str, ...] = meta([])
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
    features: tuple[str, ...] = meta([])
    stacks: tuple[str, ...] = meta([])
    cpu_cores: int | None = meta(positive=True)
    isa: tuple[str, ...] = meta([])
    prices: tuple[Price, ...] = meta([])
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
    sources: tuple[str, ...] = meta([])
    aliases: tuple[str, ...] = meta([])
    native_feature: str | None = meta()
    kv_bytes_per_element: float | None = meta(positive=True, unit="bytes")
    quantizes: str = meta("all", choices=QUANTIZED_PARTS)
    variant_of: str | None = meta()  # a file's own mix of a catalog format (a GGUF's tensors): runtimes run it where they run that one
    notes: str = meta("")


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
    sources: tuple[str, ...] = meta([])
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
