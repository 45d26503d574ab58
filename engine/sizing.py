"""Memory and speed formulas: pure functions over numbers, no project imports (money is in ``money``).

Everything is integer bytes inside. The formulas are the published ones (keys in
knowledge/sources.yaml are named beside each constant); where a coefficient is
calibrated, it is calibrated on ``measured-h200`` and the test suite holds it to
that measurement.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from functools import cached_property

# -- constants of the formulas (not thresholds: those live in knowledge/policy.yaml) --

GIGA = 1e9  # catalog bandwidths are GB/s with GB = 10^9 bytes (units of knowledge/schema.py)
TERA = 1e12  # catalog throughputs are TFLOPS (10^12 operations per second)
BYTES_16BIT = 2  # bf16/fp16 activations and KV cache (nv-kv-blog)
ADAM_STATE_BYTES = 12  # fp32 master copy + Adam m + v per trainable parameter (zero-paper: K = 12)
WORKING_WEIGHT_BYTES = 2  # bf16 working copy in mixed-precision training (zero-paper)
GRADIENT_BYTES = 2  # bf16 gradients (zero-paper)
# torch AdamW (foreach) allocates one fp32 temporary per parameter at step time (measured-h200: 1.5B full peak = 20 B/param)
ADAM_STEP_WORKSPACE_BYTES = 4
MIXED_PRECISION_STATE_BYTES = WORKING_WEIGHT_BYTES + GRADIENT_BYTES + ADAM_STATE_BYTES  # 16 per parameter (zero-paper)
ADAPTER_STATE_BYTES = 16  # LoRA adapters train in fp32: weight 4 + grad 4 + Adam m, v 8 (measured-h200 lora-bf16)
INFER_FFN_VALUES = 3  # per token in one layer's prefill: gate, up and their product live at once (measured-h200 prefill, within 1%)
INFER_HIDDEN_VALUES = 4  # per token: residual, normed input, attention output, projection (measured-h200 prefill)
TRAIN_LAYER_FACTOR = 2.45  # training keeps ~2.45x one layer's inference transient per layer (measured-h200 7B LoRA, no recompute)
LOGIT_BYTES_PER_VOCAB = 8  # bf16 logits + fp32 upcast for the loss + fp32 gradient, per vocab entry per token (measured-h200, fit within 6%)
CHECKPOINT_BYTES_PER_HIDDEN = 2  # full recompute keeps each layer's 16-bit input: 2sbh per layer (korthikanti)


@dataclass(frozen=True)
class Memory:
    """A memory breakdown in bytes, per device."""

    weights: int = 0
    kv_cache: int = 0
    activations: int = 0
    gradients: int = 0
    optimizer: int = 0
    overhead: int = 0

    @cached_property  # asked for again and again by the layout search and the tiers: summed once
    def total(self) -> int:
        return self.weights + self.kv_cache + self.activations + self.gradients + self.optimizer + self.overhead

    def as_dict(self) -> dict[str, int]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["total"] = self.total
        return out


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

    @property
    def ffn_width(self) -> int:
        """Width of the feed-forward work one token does in one layer."""
        if self.experts and self.moe_intermediate:
            return (self.experts_active or 1) * self.moe_intermediate + (self.shared_experts or 0) * self.moe_intermediate
        return self.intermediate


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


def training_activation_bytes(arch: Arch, tokens: int, checkpointing: bool, hidden_bytes: int = BYTES_16BIT) -> int:
    """Activations kept for the backward pass over ``tokens`` (micro-batch x sequence), plus the logits.

    Without recomputation every layer keeps its activations; with full activation
    checkpointing each layer keeps only its input and one layer is recomputed at a
    time (korthikanti: 2sbh per layer). The loss over the full vocabulary adds the logits.
    """
    layer = TRAIN_LAYER_FACTOR * inference_activation_bytes(arch, tokens)
    if checkpointing:
        kept = arch.layers * arch.hidden * hidden_bytes * tokens + layer
    else:
        kept = arch.layers * layer
    return math.ceil(kept + LOGIT_BYTES_PER_VOCAB * arch.vocab * tokens)


LORA_TARGETS = ("q", "k", "v", "o", "gate", "up", "down")


def lora_params(arch: Arch, rank: int, targets: tuple[str, ...] = LORA_TARGETS) -> int:
    """Trainable parameters of LoRA adapters: rank x (in + out) per targeted matrix per layer (MoE: every expert)."""
    q_out = arch.heads * arch.head_dim
    kv_out = arch.kv_heads * arch.head_dim
    ffn = arch.moe_intermediate if arch.experts and arch.moe_intermediate else arch.intermediate
    ffn_copies = (arch.experts or 1) + (arch.shared_experts or 0)
    shapes = {
        "q": (arch.hidden, q_out, 1),
        "k": (arch.hidden, kv_out, 1),
        "v": (arch.hidden, kv_out, 1),
        "o": (q_out, arch.hidden, 1),
        "gate": (arch.hidden, ffn, ffn_copies),
        "up": (arch.hidden, ffn, ffn_copies),
        "down": (ffn, arch.hidden, ffn_copies),
    }
    per_layer = sum(rank * (i + o) * n for i, o, n in (shapes[t] for t in targets))
    return per_layer * arch.layers


@dataclass(frozen=True)
class TrainingSetup:
    """What a training run keeps on the devices."""

    mode: str  # "full" (also pretrain), "lora", "qlora"
    micro_batch: int
    seq_len: int
    checkpointing: bool
    devices: int = 1
    zero_stage: int = 0  # 0: plain data parallel, 1-3: ZeRO stages (3 = FSDP full shard)
    offload_optimizer: bool = False
    lora_rank: int = 16
    frozen_bits_per_weight: float = 16.0  # LoRA: the base weights' precision; QLoRA: NF4
    offloaded_activation_fraction: float = 1.0  # with recompute, the share of checkpointed activations left on the device (unsloth-class stacks)


def training_memory(arch: Arch, setup: TrainingSetup, overhead_bytes: int) -> Memory:
    """Peak memory per device of one training step (zero-paper model states, korthikanti activations)."""
    n = setup.devices
    tokens = setup.micro_batch * setup.seq_len
    if setup.mode == "full":
        psi = arch.params
        weights = WORKING_WEIGHT_BYTES * psi / (n if setup.zero_stage >= 3 else 1)
        grads = GRADIENT_BYTES * psi / (n if setup.zero_stage >= 2 else 1)
        optimizer = 0 if setup.offload_optimizer else ADAM_STATE_BYTES * psi / (n if setup.zero_stage >= 1 else 1)
        workspace = 0 if setup.offload_optimizer else ADAM_STEP_WORKSPACE_BYTES * psi / (n if setup.zero_stage >= 1 else 1)
        hidden_bytes = 4  # fp32 master weights under autocast keep the residual stream in fp32 (measured-h200 full-mixed)
    else:
        trainable = lora_params(arch, setup.lora_rank)
        # A quantized frozen base (QLoRA) quantizes the linear layers only: bitsandbytes replaces torch.nn.Linear modules
        # (the embedding table is an nn.Embedding) and leaves the output head out ("keep the lm_head in full precision",
        # transformers quantizers/base.py get_keys_to_not_convert), so both stay 16-bit: ~4.2 GB of a 70B's ~37 GB.
        frozen = model_weight_bytes(arch, setup.frozen_bits_per_weight, "linear")
        weights = frozen / (n if setup.zero_stage >= 3 else 1)
        grads = 0
        optimizer = ADAPTER_STATE_BYTES * trainable
        workspace = 0
        hidden_bytes = BYTES_16BIT
    activations = training_activation_bytes(arch, tokens, setup.checkpointing, hidden_bytes)
    if setup.checkpointing:  # an offloading stack keeps the checkpoints in host RAM and never builds the full logits
        activations = math.ceil(activations * setup.offloaded_activation_fraction)
    # The optimizer step runs after the backward pass has freed the activations: the peak is the larger of the two.
    return Memory(
        weights=math.ceil(weights),
        gradients=math.ceil(grads),
        optimizer=math.ceil(optimizer),
        activations=math.ceil(max(activations, workspace)),
        overhead=overhead_bytes,
    )


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


def moe_shared_fraction(arch: Arch) -> float:
    """Share of a MoE model's weights outside its routed experts (attention, embeddings, shared experts).

    Active parameters are the shared part plus k of E experts' share: active/total = shared + (1 - shared) k/E.
    """
    if not (arch.experts and arch.experts_active):
        return 1.0
    if arch.experts_active >= arch.experts:  # every expert active: the split is undefined; count all as routed (all are read)
        return 0.0
    k_over_e = arch.experts_active / arch.experts
    return min(max((arch.active_params / arch.params - k_over_e) / (1.0 - k_over_e), 0.0), 1.0)


def experts_touched(arch: Arch, sequences: int) -> float:
    """Share of the routed experts one decode step of ``sequences`` tokens visits: 1 - (1 - k/E)^B (uniform routing)."""
    if not (arch.experts and arch.experts_active):
        return 1.0
    return 1.0 - (1.0 - arch.experts_active / arch.experts) ** max(sequences, 1)


def moe_weight_fraction_read(arch: Arch, sequences: int) -> float:
    """Share of the weights one decode step reads: all of a dense model; a MoE's shared part plus the experts routed to."""
    shared = moe_shared_fraction(arch)
    return shared + (1.0 - shared) * experts_touched(arch, sequences)


@dataclass(frozen=True)
class Speed:
    """Expected decode and prefill rates."""

    decode_per_seq: float  # tokens/s one user sees
    decode_total: float  # tokens/s across all concurrent sequences
    prefill: float | None  # prompt tokens/s, None without a compute figure
    bound: str  # what sets the step time: "memory", "compute", "overhead" (per-layer fixed costs) or "interconnect"


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


TRAIN_FLOPS_PER_PARAM = 6  # forward 2 + backward 4 FLOPs per parameter per token (eleuther-tm101)
RECOMPUTE_FLOPS_PER_PARAM = 8  # full recompute runs the forward pass once more: 2 more (korthikanti)


def recompute_extra_compute() -> float:
    """The share of compute full activation recomputation adds to a training step (one more forward pass)."""
    return RECOMPUTE_FLOPS_PER_PARAM / TRAIN_FLOPS_PER_PARAM - 1


def training_tokens_per_s(arch: Arch, tflops: float | None, mfu: float, devices: int, recompute: bool) -> float | None:
    """Training throughput: 6 FLOPs per parameter per token (8 with full recompute), at a model-FLOPs utilisation."""
    if not tflops:
        return None
    flops_per_token = (RECOMPUTE_FLOPS_PER_PARAM if recompute else TRAIN_FLOPS_PER_PARAM) * arch.active_params
    return tflops * TERA * mfu * devices / flops_per_token


# -- the host around the accelerators, loading and offload (pitfall P2 and the technique rules) --


def host_cores(base_cores: int, users: int, users_per_core: int) -> int:
    """CPU cores a host needs: ``base_cores`` for the devices it drives plus one per ``users_per_core`` concurrent users.

    :param base_cores: what the runtime keeps busy for its devices (runtimes.yaml host_cores: vllm-cpu-resources,
        llamacpp-pr-2915, mle-cpu-cores; else policy host-cores-per-device per device, gk-h100), with
        host-min-cores-cpu-inference for what the CPU computes itself (article); see planner.host_cores.
    :param users: concurrent users served (0 for training).
    :param users_per_core: policy host-users-per-core (llmhw-assumption).
    """
    return base_cores + math.ceil(users / users_per_core)


def host_ram_bytes(weights_bytes: float, ram_per_weights: float, os_reserve_bytes: float) -> float:
    """RAM to stage a checkpoint through host memory (policy host-ram-per-weights, article) plus the system's share
    (policy host-os-reserve-bytes, llmhw-assumption)."""
    return weights_bytes * ram_per_weights + os_reserve_bytes


def load_seconds(n_bytes: float, read_gbs: float) -> float:
    """Seconds to read ``n_bytes`` from a drive reading ``read_gbs`` GB/s (policy sata-gbs, nvme-gbs)."""
    return n_bytes / (read_gbs * GIGA)


def streamed_steps_per_s(bytes_per_step: float, link_gbs: float) -> float:
    """Decode steps per second when each step streams ``bytes_per_step`` over a ``link_gbs`` GB/s link
    (policy moe-offload-link-gbs: PCIe Gen4 x16, l40s-datasheet-copy)."""
    return link_gbs * GIGA / bytes_per_step


def training_hidden_bytes(full_training: bool) -> int:
    """Bytes per value of the residual stream kept for the backward pass: fp32 under autocast with fp32 master weights
    (measured-h200 full-mixed), 16-bit for adapters over frozen weights (as in ``training_memory``)."""
    return 4 if full_training else BYTES_16BIT


def zero3_sharded_bytes(state_bytes: float, devices: int) -> float:
    """Model states per device under ZeRO-3 / FSDP full sharding: divided by the devices (zero-paper)."""
    return state_bytes / devices


def zero3_saving(devices: int) -> float:
    """The share of model states ZeRO-3 saves per device over ``devices`` (1 - 1/N, zero-paper)."""
    return 1 - 1 / devices
