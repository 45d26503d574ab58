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
# A format's quality class, worst first (the planner ranks by position): perplexity and benchmark recovery in
# precisions.yaml; large-loss (Q2_K, 20x the Q4_K_M perplexity loss) is the part of "3 bits and below" used only
# when nothing else fits. A model's released format (Model.native_precision) is lossless for that model.
QUALITY_CLASSES = ("large-loss", "noticeable-loss", "small-loss", "near-lossless", "lossless")


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
    kv_bytes_per_element: float | None = meta(positive=True, unit="bytes")
    notes: str = meta("")


@dataclass(frozen=True)
class RuntimeFormat:
    """A format a runtime runs, and on which ecosystems (vendors) it really runs it."""

    precision: str = meta(required=True)
    ecosystems: list[str] = meta(required=True)
    sources: list[str] = meta([])
    notes: str = meta("")


@dataclass(frozen=True)
class Runtime:
    """A serving or training stack, with what it reserves on each device and the formats it runs where."""

    id: str = meta(required=True)
    name: str = meta(required=True)
    ecosystems: list[str] = meta(required=True)
    overhead_bytes: int = meta(required=True, unit="bytes per device")
    memory_fraction: float = meta(required=True, positive=True, unit="fraction of device memory")
    serves_many: bool = meta(required=True)
    trains: bool = meta(required=True)
    infers: bool = meta(required=True)  # offered for inference (HF transformers is a training stack here)
    formats: list[RuntimeFormat] = meta([])
    kv_formats: list[str] = meta([])  # precisions it accepts as the KV-cache dtype instead of 16-bit
    sources: list[str] = meta([])
    prefill_chunk_tokens: int | None = meta(positive=True, unit="tokens")
    split: str = meta("tensor", choices=("tensor", "layer"))  # how it spreads a model over devices: layer = one device works at a time
    notes: str = meta("")

    def runs(self, precision: str, ecosystem: str) -> bool:
        """Whether this runtime runs ``precision`` on hardware of ``ecosystem``."""
        return any(f.precision == precision and ecosystem in f.ecosystems for f in self.formats)


@dataclass(frozen=True)
class PolicyValue:
    """A threshold or constant that a rule or formula uses."""

    id: str = meta(required=True)
    value: Any = meta(required=True)
    unit: str = meta(required=True)
    why: str = meta(required=True)
    sources: list[str] = meta([])
