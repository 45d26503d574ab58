"""The shape of every knowledge entry, declared as frozen dataclasses.

The loader validates YAML against these declarations: each field's type hint is
the accepted type, ``meta(...)`` adds the unit, the allowed values and whether a
number must be positive. Unknown keys are errors (curated catalogs must reject a
typo), so adding a field here is the only way to add one to a file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


def meta(
    default: Any = None,
    *,
    unit: str = "",
    choices: tuple[str, ...] = (),
    positive: bool = False,
    required: bool = False,
) -> Any:
    """Declare a field with its unit, allowed values and range."""
    info = {"unit": unit, "choices": choices, "positive": positive, "required": required}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=info)
    if required:
        return field(metadata=info)
    return field(default=default, metadata=info)


ECOSYSTEMS = ("cuda", "rocm", "apple", "tpu", "npu", "cpu")
QUALITY = ("primary", "secondary", "tertiary", "derived", "assumption")
QUALITY_CLASSES = ("reference", "near-lossless", "small-loss", "noticeable-loss", "large-loss")  # of a precision, best first


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
    native_precision: str = meta(required=True)
    sources: list[str] = meta([])
    aliases: list[str] = meta([])
    experts: int | None = meta(positive=True)
    experts_active: int | None = meta(positive=True)
    shared_experts: int | None = meta()
    moe_intermediate: int | None = meta(positive=True)
    kv_lora_rank: int | None = meta(positive=True)
    qk_rope_head_dim: int | None = meta(positive=True)
    sliding_window: int | None = meta(positive=True, unit="tokens")
    sliding_layers: int = meta(0)
    checkpoint_bytes: int | None = meta(positive=True, unit="bytes")
    notes: str = meta("")

    @property
    def is_moe(self) -> bool:
        return self.architecture == "moe"


@dataclass(frozen=True)
class Price:
    """One price of an accelerator: a purchase (MSRP or street) or a cloud hour."""

    usd: float = meta(required=True, positive=True, unit="USD")
    kind: str = meta(required=True, choices=("msrp", "street", "cloud-hour"))
    date: str = meta(required=True)
    source: str = meta(required=True)
    note: str = meta("")


@dataclass(frozen=True)
class Accelerator:
    """A device that can hold and run a model: GPU, TPU, NPU, unified-memory SoC or CPU host."""

    id: str = meta(required=True)
    name: str = meta(required=True)
    vendor: str = meta(required=True)
    kind: str = meta(required=True, choices=("gpu", "tpu", "npu", "unified", "cpu"))
    ecosystem: str = meta(required=True, choices=ECOSYSTEMS)
    memory_bytes: int = meta(required=True, positive=True, unit="bytes")
    mem_bandwidth_gbs: float = meta(required=True, positive=True, unit="GB/s")
    obtain: str = meta(required=True, choices=("buy", "cloud"))
    sources: list[str] = meta([])
    aliases: list[str] = meta([])
    usable_memory_bytes: int | None = meta(positive=True, unit="bytes")
    bf16_tflops: float | None = meta(positive=True, unit="TFLOPS dense")
    fp8_tflops: float | None = meta(positive=True, unit="TFLOPS dense")
    fp4_tflops: float | None = meta(positive=True, unit="TFLOPS dense")
    int8_tops: float | None = meta(positive=True, unit="TOPS dense")
    tdp_w: float | None = meta(positive=True, unit="W")
    interconnect: str = meta(
        "pcie",
        choices=("pcie", "nvlink", "infinity-fabric", "ici", "unified", "none"),
    )
    interconnect_gbs: float | None = meta(positive=True, unit="GB/s")
    max_devices: int = meta(1, positive=True, unit="devices per node")
    features: list[str] = meta([])
    stacks: list[str] = meta([])
    cpu_cores: int | None = meta(positive=True)
    isa: list[str] = meta([])
    prices: list[Price] = meta([])
    notes: str = meta("")


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
    runtimes: list[str] = meta([])
    kv_bytes_per_element: float | None = meta(positive=True, unit="bytes")
    notes: str = meta("")


@dataclass(frozen=True)
class Runtime:
    """A serving or training stack, with what it reserves on each device."""

    id: str = meta(required=True)
    name: str = meta(required=True)
    ecosystems: list[str] = meta(required=True)
    overhead_bytes: int = meta(required=True, unit="bytes per device")
    memory_fraction: float = meta(required=True, positive=True, unit="fraction of device memory")
    serves_many: bool = meta(required=True)
    trains: bool = meta(required=True)
    sources: list[str] = meta([])
    prefill_chunk_tokens: int | None = meta(positive=True, unit="tokens")
    split: str = meta("tensor", choices=("tensor", "layer"))  # how it spreads a model over devices: layer = one device works at a time
    notes: str = meta("")


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
    # money
    electricity_usd_per_kwh: float = _limit("USD/kWh")
    ownership_years: float = _limit("years")
    p1_max_utilization: float = _limit("fraction of memory")
    p1_min_speed_gain: float = _limit("ratio of total tokens/s")
    p1_min_waste_usd: float = _limit("USD")
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
