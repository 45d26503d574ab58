"""Training formulas: model states (mixed-precision AdamW, ZeRO sharding, LoRA adapters), the activations kept for the
backward pass, training throughput, and the figures the technique rules state (recompute, ZeRO-3); pure functions over
the numbers of ``sizing``, no other project imports.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .sizing import BYTES_16BIT, TERA, Arch, Memory, inference_activation_bytes, model_weight_bytes

# -- constants of the formulas (not thresholds: those live in knowledge/policy.yaml) --

ADAM_STATE_BYTES = 12  # fp32 master copy + Adam m + v per trainable parameter (zero-paper: K = 12)
WORKING_WEIGHT_BYTES = 2  # bf16 working copy in mixed-precision training (zero-paper)
GRADIENT_BYTES = 2  # bf16 gradients (zero-paper)
# torch AdamW (foreach) allocates one fp32 temporary per parameter at step time (measured-h200: 1.5B full peak = 20 B/param)
ADAM_STEP_WORKSPACE_BYTES = 4
MIXED_PRECISION_STATE_BYTES = WORKING_WEIGHT_BYTES + GRADIENT_BYTES + ADAM_STATE_BYTES  # 16 per parameter (zero-paper)
ADAPTER_STATE_BYTES = 16  # LoRA adapters train in fp32: weight 4 + grad 4 + Adam m, v 8 (measured-h200 lora-bf16)
TRAIN_LAYER_FACTOR = 2.45  # training keeps ~2.45x one layer's inference transient per layer (measured-h200 7B LoRA, no recompute)
LOGIT_BYTES_PER_VOCAB = 8  # bf16 logits + fp32 upcast for the loss + fp32 gradient, per vocab entry per token (measured-h200, fit within 6%)


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
        grads = 0.0
        optimizer = ADAPTER_STATE_BYTES * trainable
        workspace = 0.0
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


# -- the figures the technique rules state (TRN, ART) --


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
