"""Memory and speed formulas: pure functions over numbers, no project imports (money is in ``money``, training in
``training_sizing``, the host around the accelerators in ``host_sizing``).

Everything is integer bytes inside. The formulas are the published ones (keys in
knowledge/sources.yaml are named beside each constant); where a coefficient is
calibrated, it is calibrated on ``measured-h200`` and the test suite holds it to
that measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

# -- constants of the formulas (not thresholds: those live in knowledge/policy.yaml) --

GIGA = 1e9  # catalog bandwidths are GB/s with GB = 10^9 bytes (units of knowledge/schema.py)
TERA = 1e12  # catalog throughputs are TFLOPS (10^12 operations per second)
BYTES_16BIT = 2  # bf16/fp16 activations and KV cache (nv-kv-blog)
INFER_FFN_VALUES = 3  # per token in one layer's prefill: gate, up and their product live at once (measured-h200 prefill, within 1%)
INFER_HIDDEN_VALUES = 4  # per token: residual, normed input, attention output, projection (measured-h200 prefill)


@dataclass(unsafe_hash=True)  # a record built per option: hashed by value, not frozen, __init__ written out (planner/options.py says why)
class Memory:
    """A memory breakdown in bytes, per device."""

    weights: int = 0
    kv_cache: int = 0
    activations: int = 0
    gradients: int = 0
    optimizer: int = 0
    overhead: int = 0
    # read again and again by the layout search and the tiers: summed once, when made (a field, so that compiled code
    # reads it as fast as the parts; not an argument, nor compared: it follows from them)
    total: int = field(init=False, repr=False, compare=False)

    def __init__(self, weights: int = 0, kv_cache: int = 0, activations: int = 0, gradients: int = 0, optimizer: int = 0,
                 overhead: int = 0) -> None:
        self.weights, self.kv_cache, self.activations, self.gradients, self.optimizer, self.overhead = (
            weights, kv_cache, activations, gradients, optimizer, overhead)
        self.total = weights + kv_cache + activations + gradients + optimizer + overhead

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class Arch:
    """The architecture numbers the formulas read (a view of a knowledge Model)."""

    params: int
    active_params: int
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    experts: int | None = None
    experts_active: int | None = None
    shared_experts: int | None = None
    moe_intermediate: int | None = None
    moe_layers: int | None = None  # layers with routed experts when fewer than ``layers``; None: every layer of a MoE
    kv_lora_rank: int | None = None
    qk_rope_head_dim: int | None = None
    sliding_window: int | None = None
    sliding_layers: int = 0
    tied_embeddings: bool = False
    # read by every decode step a layout search times: worked out once per model (or stage) view (``_moe_shared_fraction``)
    moe_shared_fraction: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "moe_shared_fraction", _moe_shared_fraction(self))

    @classmethod
    def of(cls, entry: Any) -> Arch:
        """The view of a catalog model: any object with these fields' names (``moe_shared_fraction`` follows)."""
        return cls(**{f.name: getattr(entry, f.name) for f in fields(cls) if f.init})

    @property
    def ffn_width(self) -> int:
        """Width of the feed-forward work one token does in one layer."""
        if self.experts and self.moe_intermediate:
            return (self.experts_active or 1) * self.moe_intermediate + (self.shared_experts or 0) * self.moe_intermediate
        return self.intermediate


def _moe_shared_fraction(arch: Arch) -> float:
    """Share of a MoE model's weights outside its routed experts (attention, embeddings, shared experts).

    Active parameters are the shared part plus k of E experts' share: active/total = shared + (1 - shared) k/E.
    """
    if not (arch.experts and arch.experts_active):
        return 1.0
    if arch.experts_active >= arch.experts:  # every expert active: the split is undefined; count all as routed (all are read)
        return 0.0
    k_over_e = arch.experts_active / arch.experts
    return min(max((arch.active_params / arch.params - k_over_e) / (1.0 - k_over_e), 0.0), 1.0)


def weight_bytes(params: int, bits_per_weight: float) -> int:
    """Bytes of the weights at an effective bits-per-weight (transformer-math: params x bytes)."""
    return math.ceil(params * bits_per_weight / 8)


def embedding_params(arch: Arch) -> int:
    """Parameters of the input embedding table and, unless tied to it, the output head."""
    return arch.vocab * arch.hidden * (1 if arch.tied_embeddings else 2)


def routed_expert_weights(arch: Arch) -> int:
    """Elements of the routed experts' weight matrices: gate, up and down (3 x hidden x moe_intermediate) per expert
    in each MoE layer; their biases, the router and any shared expert are not among them. 0 for a dense model."""
    if not (arch.experts and arch.moe_intermediate):
        return 0
    return (arch.moe_layers or arch.layers) * arch.experts * 3 * arch.hidden * arch.moe_intermediate


def router_params(arch: Arch) -> int:
    """Elements of the MoE routers' weight matrices (hidden x experts in each MoE layer); 0 for a dense model."""
    if not arch.experts:
        return 0
    return (arch.moe_layers or arch.layers) * arch.experts * arch.hidden


def linear_weights(arch: Arch) -> int:
    """The parameters post-training quantizers convert: the linear layers inside the transformer blocks, that is every
    parameter but the embedding table, the output head and the MoE routers. The norms' few vectors (< 0.01%) are
    counted with them."""
    return arch.params - embedding_params(arch) - router_params(arch)


def quantized_params(arch: Arch, quantizes: str) -> int:
    """The parameters a format stores at its own bits (``model_weight_bytes``): all of them, the linear layers, or the
    routed experts' matrices (on a model without routed experts, its linear layers)."""
    if quantizes == "all":
        return arch.params
    if quantizes == "routed-experts" and routed_expert_weights(arch):
        return routed_expert_weights(arch)
    return linear_weights(arch)


def model_weight_bytes(arch: Arch, bits_per_weight: float, quantizes: str = "all") -> int:
    """Bytes of a model's weights in a format that stores ``quantizes`` of them at ``bits_per_weight``, the rest 16-bit.

    "all": every parameter at the format's bits (a GGUF mix's whole-file average). "linear": the linear layers at the
    format's own bits with its scales, the embeddings, output head and MoE routers 16-bit, as FP8/INT8/AWQ/GPTQ/NVFP4
    checkpoints store them (llm-compressor recipes ignore lm_head, vLLM builds the DeepSeek-V3 router unquantized, an
    nn.Embedding is no linear layer). "routed-experts": the routed experts' matrices only, as gpt-oss's MXFP4 release
    and transformers' Mxfp4HfQuantizer do (modules_to_not_convert: attention, router, embeddings, output head); a model
    without routed experts has its linear layers at the format's bits.
    """
    quantized = quantized_params(arch, quantizes)
    return weight_bytes(quantized, bits_per_weight) + BYTES_16BIT * (arch.params - quantized)


def average_bits_per_weight(arch: Arch, bits_per_weight: float, quantizes: str = "all") -> float:
    """The bits per parameter a format averages over this model: its own bits when it stores every weight at them, else
    ``model_weight_bytes`` x 8 / params to the hundredth."""
    if quantizes == "all":
        return bits_per_weight
    return round(model_weight_bytes(arch, bits_per_weight, quantizes) * 8 / arch.params, 2)


def kv_bytes_per_token_layer(arch: Arch, bytes_per_element: float) -> float:
    """KV cache bytes one token adds in one layer: MLA caches its latent, others K and V per KV head (GQA)."""
    if arch.kv_lora_rank:
        return (arch.kv_lora_rank + (arch.qk_rope_head_dim or 0)) * bytes_per_element  # mla-kv-tests
    return 2 * arch.kv_heads * arch.head_dim * bytes_per_element  # nv-kv-blog


def kv_cache_bytes(arch: Arch, tokens: int, sequences: int, bytes_per_element: float) -> int:
    """KV cache for ``sequences`` sequences of ``tokens`` each; sliding-window layers stop at their window."""
    per_layer = kv_bytes_per_token_layer(arch, bytes_per_element)
    sliding = min(arch.sliding_layers, arch.layers) if arch.sliding_window else 0
    full_layers = arch.layers - sliding
    windowed = min(tokens, arch.sliding_window or tokens)
    return math.ceil(per_layer * sequences * (full_layers * tokens + sliding * windowed))


def inference_activation_bytes(arch: Arch, tokens_in_flight: int) -> int:
    """Transient memory of one layer's forward pass over ``tokens_in_flight`` prefill tokens (16-bit)."""
    per_token = BYTES_16BIT * (INFER_FFN_VALUES * arch.ffn_width + INFER_HIDDEN_VALUES * arch.hidden)
    return per_token * tokens_in_flight


def inference_memory(
    arch: Arch,
    bits_per_weight: float,
    kv_bytes_per_element: float,
    context: int,
    sequences: int,
    prefill_chunk: int | None,
    overhead_bytes: int,
    devices: int = 1,
    quantizes: str = "all",
) -> Memory:
    """Memory per device to serve ``sequences`` concurrent sequences of ``context`` tokens.

    Weights (``model_weight_bytes``: ``quantizes`` is the format's) and KV cache split evenly across ``devices`` (tensor/pipeline parallel);
    the prefill transient is one layer's worth of the tokens in flight, capped by
    the runtime's prefill chunk when it has one.
    """
    in_flight = context * sequences if prefill_chunk is None else min(context * sequences, prefill_chunk)
    return Memory(
        weights=math.ceil(model_weight_bytes(arch, bits_per_weight, quantizes) / devices),
        kv_cache=math.ceil(kv_cache_bytes(arch, context, sequences, kv_bytes_per_element) / devices),
        activations=math.ceil(inference_activation_bytes(arch, in_flight) / devices),
        overhead=overhead_bytes,
    )


def experts_touched(arch: Arch, sequences: int) -> float:
    """Share of the routed experts one decode step of ``sequences`` tokens visits: 1 - (1 - k/E)^B (uniform routing)."""
    if not (arch.experts and arch.experts_active):
        return 1.0
    return 1.0 - (1.0 - arch.experts_active / arch.experts) ** max(sequences, 1)


def moe_weight_fraction_read(arch: Arch, sequences: int) -> float:
    """Share of the weights one decode step reads: all of a dense model; a MoE's shared part plus the experts routed to."""
    shared = arch.moe_shared_fraction
    return shared + (1.0 - shared) * experts_touched(arch, sequences)


@dataclass(unsafe_hash=True)  # a record built per option: hashed by value, not frozen, __init__ written out (planner/options.py says why)
class Speed:
    """Expected decode and prefill rates."""

    decode_per_seq: float  # tokens/s one user sees
    decode_total: float  # tokens/s across all concurrent sequences
    prefill: float | None  # prompt tokens/s, None without a compute figure
    bound: str  # what sets the step time: "memory", "compute", "overhead" (per-layer fixed costs) or "interconnect"

    def __init__(self, decode_per_seq: float, decode_total: float, prefill: float | None, bound: str) -> None:
        self.decode_per_seq, self.decode_total, self.prefill, self.bound = decode_per_seq, decode_total, prefill, bound


@dataclass(frozen=True)
class StepOverhead:
    """Fixed time a runtime spends per layer in every decode step, whatever the bytes (calibrated, policy.yaml).

    Kernel launches, norms, rotary and attention set-up cost the same for one token as for a few; a
    mixture-of-experts layer adds the router, top-k and the gather/scatter of tokens to experts; a serving engine
    also pays a little per sequence in the batch (its attention call, sampling, scheduling). When a token reads
    only a few GB these fixed costs, not bandwidth, set the speed.
    """

    layer_s: float = 0.0  # seconds per layer per step
    moe_layer_s: float = 0.0  # extra seconds per mixture-of-experts layer per step
    sequence_layer_s: float = 0.0  # extra seconds per layer per step for each sequence in the batch

    def per_step_s(self, arch: Arch, sequences: int) -> float:
        """The fixed part of one decode step of ``sequences`` tokens."""
        per_layer = self.layer_s + (self.moe_layer_s if arch.experts else 0.0) + self.sequence_layer_s * sequences
        return arch.layers * per_layer


def decode_speed(
    arch: Arch,
    weight_total_bytes: int,
    kv_total_bytes: int,
    sequences: int,
    bandwidth_gbs: float,
    bandwidth_efficiency: float,
    tflops: float | None,
    compute_efficiency: float,
    devices: int,
    link_gbs: float | None,
    link_latency_s: float,
    overhead: StepOverhead = StepOverhead(),
) -> Speed:
    """Time one decode step from first principles: max(bytes / bandwidth, FLOPs / compute) + fixed costs + links.

    A step reads the share of the weights the batch routes to (batching amortises the weight reads) plus, for
    every sequence, on average half of its KV cache (sequences grow from prompt to full context; KV reads do not
    amortise). Every layer costs the runtime's fixed per-layer time (``StepOverhead``). Tensor parallel adds
    two all-reduces of the hidden state per layer per step, each paying the link's latency.
    """
    step, prefill, bound = decode_step(arch, weight_total_bytes, kv_total_bytes, sequences, bandwidth_gbs, bandwidth_efficiency,
                                       tflops, compute_efficiency, devices, link_gbs, link_latency_s, overhead)
    return Speed(decode_per_seq=1 / step, decode_total=sequences / step, prefill=prefill, bound=bound)


def decode_step(arch: Arch, weight_total_bytes: int, kv_total_bytes: int, sequences: int, bandwidth_gbs: float,
                bandwidth_efficiency: float, tflops: float | None, compute_efficiency: float, devices: int,
                link_gbs: float | None, link_latency_s: float, overhead: StepOverhead) -> tuple[float, float | None, str]:
    """``decode_speed``'s step time in seconds, prefill rate and bound (for a caller that builds its own ``Speed``)."""
    read = weight_total_bytes * moe_weight_fraction_read(arch, sequences) + kv_total_bytes / 2
    t_memory = read / (bandwidth_gbs * GIGA * bandwidth_efficiency * devices)
    flops_step = 2 * arch.active_params * sequences
    t_compute = flops_step / (tflops * TERA * compute_efficiency * devices) if tflops else 0.0
    t_fixed = overhead.per_step_s(arch, sequences)
    t_link = 0.0
    if devices > 1 and link_gbs:
        message = sequences * arch.hidden * BYTES_16BIT
        ring = 2 * (devices - 1) / devices  # ring all-reduce moves 2(N-1)/N of the message
        t_link = 2 * arch.layers * (link_latency_s + ring * message / (link_gbs * GIGA))
    step = max(t_memory, t_compute) + t_fixed + t_link
    bound, longest = "memory", t_memory  # the largest part, the first named on a tie
    for part, t in (("compute", t_compute), ("overhead", t_fixed), ("interconnect", t_link)):
        if t > longest:
            bound, longest = part, t
    prefill = (tflops * TERA * compute_efficiency * devices) / (2 * arch.active_params) if tflops else None
    return step, prefill, bound
