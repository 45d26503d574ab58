"""Memory per device and decode speed of a parallel layout: pure formulas over ``sizing``'s single-device ones.

A layout runs ``replicas`` copies of the model, each split ``tensor`` ways inside a node (every layer divided, two
all-reduces per layer) and ``pipeline`` ways by consecutive layers (stages, across nodes when they do not share one).
Each replica serves its share of the users; replicas add throughput, not speed per user.

Data-parallel attention (``Split.dp_attention``) is the other shape, for MLA mixture-of-experts models whose cache
tensor parallel cannot split: the ranks form one model, each running the attention of its own users (their MLA cache
only, the attention and shared weights whole), the routed experts spread over all of them, the tokens exchanged with
the experts' ranks by two all-to-alls per MoE layer (vllm-dp-deploy, sglang-dp-attention).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from functools import lru_cache

from . import sizing


@dataclass(unsafe_hash=True)  # a record built per layout timed: hashed by value, not frozen, __init__ written out (planner/options.py says why)
class Split:
    """The shape of a layout: ``tensor x pipeline x replicas`` devices, ``per_node`` of them to a node."""

    tensor: int = 1
    pipeline: int = 1
    replicas: int = 1
    per_node: int = 1
    micro_batches: bool = True  # a serving engine keeps every stage busy with micro-batches; a layer split does not
    dp_attention: bool = False  # the ``replicas`` ranks are one model: attention data-parallel, experts expert-parallel

    def __init__(self, tensor: int = 1, pipeline: int = 1, replicas: int = 1, per_node: int = 1, micro_batches: bool = True,
                 dp_attention: bool = False) -> None:
        self.tensor, self.pipeline, self.replicas, self.per_node = tensor, pipeline, replicas, per_node
        self.micro_batches, self.dp_attention = micro_batches, dp_attention

    @property
    def devices(self) -> int:
        return self.tensor * self.pipeline * self.replicas

    @property
    def tensor_across_nodes(self) -> bool:
        """A tensor-parallel group wider than a node (only a published run states such a layout; the planner never)."""
        return self.tensor > self.per_node


@dataclass(frozen=True)
class Links:
    """The links a layout's traffic crosses: the devices' own inside a node, the node network between nodes."""

    device_gbs: float | None
    device_latency_s: float
    node_gbs: float
    node_latency_s: float


def kv_share_per_rank(arch: sizing.Arch, tensor: int) -> float:
    """The share of a replica's KV cache one tensor-parallel rank holds.

    Ranks split the KV heads; above the KV-head count each rank keeps a replicated head (vLLM replicates KV heads
    when TP exceeds them: vllm-kv-replication). MLA caches one latent per token, a single head TP cannot split: every
    rank holds all of it (sglang-mla-replicated, vllm-mla-dp).
    """
    heads = 1 if arch.kv_lora_rank else arch.kv_heads
    return math.ceil(heads / tensor) / heads


def users_per_replica(users: int, replicas: int) -> int:
    """The most users one replica serves when the users are spread evenly over the replicas."""
    return math.ceil(max(users, 1) / replicas)


def rank_memory(arch: sizing.Arch, weight_total_bytes: int, kv_bytes_per_element: float, context: int, users: int,
                prefill_chunk: int | None, overhead_bytes: int, split: Split) -> sizing.Memory:
    """Memory on one device of the layout: its share of the weights and of its replica's KV cache, with the KV heads
    a tensor-parallel rank must replicate (``kv_share_per_rank``)."""
    per_replica = users_per_replica(users, split.replicas)
    in_flight = context * per_replica if prefill_chunk is None else min(context * per_replica, prefill_chunk)
    if split.dp_attention:  # a rank: the attention and shared weights whole, its share of the experts, its users' cache
        return sizing.Memory(weights=math.ceil(weight_total_bytes * rank_weight_share(arch, split.replicas)),
                             kv_cache=sizing.kv_cache_bytes(arch, context, per_replica, kv_bytes_per_element),
                             activations=sizing.inference_activation_bytes(arch, in_flight), overhead=overhead_bytes)
    shards = split.tensor * split.pipeline
    kv = sizing.kv_cache_bytes(arch, context, per_replica, kv_bytes_per_element) * kv_share_per_rank(arch, split.tensor)
    return sizing.Memory(weights=math.ceil(weight_total_bytes / shards),
                         kv_cache=math.ceil(kv / split.pipeline),
                         activations=math.ceil(sizing.inference_activation_bytes(arch, in_flight) / shards),
                         overhead=overhead_bytes)


def rank_weight_share(arch: sizing.Arch, ranks: int) -> float:
    """The share of a MoE's weights one of ``ranks`` data-parallel-attention ranks holds: the part outside the routed
    experts (attention, embeddings, shared experts: ``sizing.Arch.moe_shared_fraction``) whole, the routed experts divided."""
    shared = arch.moe_shared_fraction
    return shared + (1 - shared) / ranks


def decode_speed(arch: sizing.Arch, weight_total_bytes: int, kv_bytes_per_sequence: float, users: int, split: Split,
                 bandwidth_gbs: float, bandwidth_efficiency: float, tflops: float | None, compute_efficiency: float,
                 links: Links, overhead: sizing.StepOverhead) -> sizing.Speed:
    """Decode speed of a layout: one pipeline stage timed by ``sizing.decode_speed``, the stages in turn per token.

    A token passes every stage one after another, each reading its layers' weights and KV cache at its tensor-parallel
    devices' bandwidth, then crosses to the next stage (a hop over the node network, or the devices' link inside a
    node). A serving engine splits a replica's users into one micro-batch per stage so that every stage is busy: each
    user still waits for the whole pass, but the stages work at once. Replicas multiply the users served, not the
    speed each sees. ``kv_bytes_per_sequence`` is a full-context sequence's KV cache over all layers.
    """
    if split.dp_attention:
        return _dp_attention_speed(arch, weight_total_bytes, kv_bytes_per_sequence, users, split, bandwidth_gbs,
                                   bandwidth_efficiency, tflops, compute_efficiency, links, overhead)
    per_replica = users_per_replica(users, split.replicas)
    stages = split.pipeline
    micro = math.ceil(per_replica / stages) if split.micro_batches else per_replica
    stage_arch = arch if stages == 1 else _stage_arch(arch, stages)
    kv_read = kv_bytes_per_sequence * micro * kv_share_per_rank(arch, split.tensor) * split.tensor / stages
    link_gbs, latency = ((links.node_gbs, links.node_latency_s) if split.tensor_across_nodes
                         else (links.device_gbs, links.device_latency_s))
    step, stage_prefill, stage_bound = sizing.decode_step(
        stage_arch, math.ceil(weight_total_bytes / stages), math.ceil(kv_read), micro, bandwidth_gbs, bandwidth_efficiency,
        tflops, compute_efficiency, split.tensor, link_gbs, latency, overhead)
    t_stages = stages / (1 / step)  # the stage's speed per sequence, 1 / step, as sizing.decode_speed gives it
    t_hops = (stages - 1) * _hop_s(arch, micro, split, links) if stages > 1 else 0.0  # a hop's time is finite: 0 x it is 0
    t_pass = t_stages + t_hops
    served = min(max(users, 1), per_replica * split.replicas)
    # Stages take a prompt's chunks in turn when the engine pipelines them; a layer split runs one device at a time.
    spread = split.replicas if split.micro_batches else split.replicas / stages
    prefill = stage_prefill * spread if stage_prefill is not None else None
    return sizing.Speed(decode_per_seq=1 / t_pass, decode_total=served / t_pass, prefill=prefill,
                        bound="interconnect" if t_hops > t_stages else stage_bound)


def _dp_attention_speed(arch: sizing.Arch, weight_total_bytes: int, kv_bytes_per_sequence: float, users: int, split: Split,
                        bandwidth_gbs: float, bandwidth_efficiency: float, tflops: float | None, compute_efficiency: float,
                        links: Links, overhead: sizing.StepOverhead) -> sizing.Speed:
    """Decode speed under data-parallel attention: every rank steps at once, timed by ``sizing.decode_step`` on its own
    users, plus the step's expert all-to-alls.

    A rank reads its attention and shared weights whole, and of its share of the routed experts those that any token of
    the step, from every rank, is routed to; its own users' KV cache; it computes its users' tokens (balanced routing
    gives it as many expert tokens as it sends out)."""
    ranks = split.replicas
    per_rank = users_per_replica(users, ranks)
    served = min(max(users, 1), per_rank * ranks)
    shared = arch.moe_shared_fraction
    read = weight_total_bytes * (shared + (1 - shared) / ranks * sizing.experts_touched(arch, served))
    # decode_step reads moe_weight_fraction_read(arch, per_rank) of the weights it is given: give it those whose share
    # that is the rank's read (no tensor parallel: one device, no all-reduce)
    given = math.ceil(read / sizing.moe_weight_fraction_read(arch, per_rank))
    step, rank_prefill, bound = sizing.decode_step(
        arch, given, math.ceil(kv_bytes_per_sequence * per_rank), per_rank, bandwidth_gbs, bandwidth_efficiency, tflops,
        compute_efficiency, 1, None, 0.0, overhead)
    t_exchange = _all_to_all_s(arch, per_rank, split, links)
    t_step = step + t_exchange
    return sizing.Speed(decode_per_seq=1 / t_step, decode_total=served / t_step,
                        prefill=rank_prefill * ranks if rank_prefill is not None else None,
                        bound="interconnect" if t_exchange > step else bound)


def _all_to_all_s(arch: sizing.Arch, sequences: int, split: Split, links: Links) -> float:
    """Seconds of one decode step's expert all-to-alls: two per MoE layer (the tokens to their experts' ranks and the
    results back), each rank sending each of its ``sequences`` tokens' hidden state once to every other rank that holds
    one of the token's k experts (uniform routing: a given rank holds one with chance 1 - (1 - 1/ranks)^k). Ranks in
    the node take the devices' link, the others the node network, both at once."""
    ranks = split.replicas
    message = sequences * arch.hidden * sizing.BYTES_16BIT * (1 - (1 - 1 / ranks) ** (arch.experts_active or 1))
    in_node = min(ranks, split.per_node) - 1
    off_node = ranks - 1 - in_node
    t_in = in_node * message / (links.device_gbs * sizing.GIGA) if links.device_gbs else 0.0
    t_off = off_node * message / (links.node_gbs * sizing.GIGA)
    latency = links.node_latency_s if off_node else links.device_latency_s
    return 2 * (arch.moe_layers or arch.layers) * (latency + max(t_in, t_off))


def layer_split_speed_ceiling(arch: sizing.Arch, weight_total_bytes: int, kv_bytes_per_sequence: float, users: int,
                              bandwidth_gbs: float, bandwidth_efficiency: float, overhead: sizing.StepOverhead) -> float:
    """A ceiling on ``decode_speed``'s speed per sequence for a layer split (one replica, no tensor parallel, no
    micro-batches) over any number of stages: more devices taking turns do not make a token faster.

    The stages in turn pay at least every layer's fixed costs once and read at least all the weights the batch is
    routed to (at least the share of the routed experts it visits) and half of each sequence's KV cache, at one
    device's bandwidth; links, compute and rounding up only add time."""
    sequences = max(users, 1)
    read = weight_total_bytes * sizing.experts_touched(arch, sequences) + kv_bytes_per_sequence * sequences * kv_share_per_rank(arch, 1) / 2
    return 1 / (overhead.per_step_s(arch, sequences) + read / (bandwidth_gbs * sizing.GIGA * bandwidth_efficiency))


@lru_cache(maxsize=1024)
def _stage_arch(arch: sizing.Arch, stages: int) -> sizing.Arch:
    """The part of the model one of ``stages`` pipeline stages holds (kept: every layout of a search asks again)."""
    return replace(arch, layers=math.ceil(arch.layers / stages), params=max(arch.params // stages, 1),
                   active_params=max(arch.active_params // stages, 1))


def _hop_s(arch: sizing.Arch, sequences: int, split: Split, links: Links) -> float:
    """Seconds to hand one micro-batch's hidden states to the next stage: over the node network when the stages sit
    in different nodes (a replica wider than a node), else over the devices' own link."""
    message = sequences * arch.hidden * sizing.BYTES_16BIT
    if split.tensor * split.pipeline > split.per_node:
        return links.node_latency_s + message / (links.node_gbs * sizing.GIGA)
    if not links.device_gbs:
        return links.device_latency_s
    return links.device_latency_s + message / (links.device_gbs * sizing.GIGA)
