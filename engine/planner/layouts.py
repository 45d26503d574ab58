"""The parallel layouts worth trying for a device count, and the one an option runs in.

A few layouts per count, one per replica count (never a cross product): each replica is split tensor-parallel as
wide as its node, the attention heads and the KV heads allow, and pipeline-parallel over the rest (across nodes).
The planner takes the most replicas that fit and still give each user the speed target (500 users of an 8B model
run on many one-GPU replicas, not one 32-way split); below the target, the fastest layout that fits.

An MLA mixture-of-experts model on a runtime that runs its attention data-parallel (policy dp-attention-runtimes) gets
one more layout per count: attention data-parallel over all the devices, the routed experts expert-parallel over them.
It is taken over that choice when it fits and that one does not, or when it is faster.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from functools import lru_cache

from .. import scaleout, sizing
from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import Accelerator, Model
from .memo import per_catalog
from .options import Layout, Workload


def tensor_sizes(a: sizing.Arch, per_node: int) -> tuple[int, ...]:
    """Tensor-parallel sizes a runtime accepts for this model inside a node of ``per_node`` devices, largest first:
    a divisor of the attention heads (each rank its own heads) and of the node, and a divisor or a multiple of the KV
    heads (ranks above the KV-head count replicate them: vllm-kv-replication)."""
    return _tensor_sizes(a.heads, 1 if a.kv_lora_rank else a.kv_heads, per_node)


@lru_cache(maxsize=1024)
def _tensor_sizes(heads: int, kv: int, per_node: int) -> tuple[int, ...]:
    return tuple(t for t in range(min(per_node, heads), 0, -1)
                 if heads % t == 0 and per_node % t == 0 and (kv % t == 0 or t % kv == 0))


def candidates(w: Workload, a: sizing.Arch, accel: Accelerator, count: int, runtime: Runtime,
               expert_parallel: bool, dp_attention: bool = False) -> tuple[Layout, ...]:
    """The layouts to try at ``count`` devices, most replicas first, then (``dp_attention``: the runtime runs this
    model's attention data-parallel, ``dp_attention_runs``) the data-parallel-attention layout.

    Training shards data-parallel under ZeRO; a layer-split runtime (llama.cpp) gives each device consecutive layers;
    a serving engine tries one layout per replica count (no more replicas than users, unless the devices admit no
    other layout: then the extra replicas idle)."""
    nodes = math.ceil(count / accel.max_devices)
    if w.training:
        return (Layout(data_parallel=count, nodes=nodes),)
    if runtime.split != "tensor":
        return (Layout(pipeline_parallel=count, nodes=nodes),)
    kv = 1 if a.kv_lora_rank else a.kv_heads
    serving = _serving(a.heads, kv, a.layers, accel.max_devices, count, runtime.serves_many, min(w.concurrency, count),
                       expert_parallel and bool(a.experts))
    if dp_attention and 1 < count <= (a.experts or 0):  # every rank holds at least one expert
        return (*serving, dp_attention_layout(a, count, accel.max_devices))
    return serving


def dp_attention_layout(a: sizing.Arch, count: int, per_node: int) -> Layout:
    """Attention data-parallel over ``count`` devices, the routed experts expert-parallel over all of them."""
    return _dp_attention(count, math.ceil(count / per_node), a.moe_shared_fraction)


@lru_cache(maxsize=1024)
def _dp_attention(count: int, nodes: int, replicated_share: float) -> Layout:
    return Layout(data_parallel=count, expert_parallel=count, nodes=nodes, dp_attention=True, replicated_share=replicated_share)


@lru_cache(maxsize=4096)
def _serving(heads: int, kv: int, layers: int, per_node: int, count: int, replicas_allowed: bool, users: int,
             expert_parallel: bool) -> tuple[Layout, ...]:
    nodes = math.ceil(count / per_node)
    out = []
    for d in (d for d in range(count, 0, -1) if count % d == 0 and (d == 1 or replicas_allowed)):
        replica = count // d
        t = next((t for t in _tensor_sizes(heads, kv, per_node) if replica % t == 0 and replica // t <= layers), None)
        if t is not None:
            out.append(Layout(tensor_parallel=t, pipeline_parallel=replica // t, expert_parallel=t if expert_parallel else 1,
                              data_parallel=d, nodes=nodes))
    return tuple(lay for lay in out if lay.data_parallel <= max(users, 1)) or tuple(out[-1:])


def split(layout: Layout, per_node: int, micro_batches: bool) -> scaleout.Split:
    """The sizing view of a layout on nodes of ``per_node`` devices (``micro_batches``: a serving engine's): built anew,
    cheaper than looking it up by the layout (whose hash and equality are a dataclass's, interpreted)."""
    return scaleout.Split(tensor=layout.tensor_parallel, pipeline=layout.pipeline_parallel, replicas=layout.data_parallel,
                          per_node=per_node, micro_batches=micro_batches, dp_attention=layout.dp_attention)


def links(accel: Accelerator, cat: Catalog) -> scaleout.Links:
    """The device's own link inside a node and the network that joins its nodes (policy node-network): built once per
    catalog, link and link speed, not once per layout search."""
    memo = per_catalog("links", cat)
    key = (accel.interconnect, accel.interconnect_gbs)
    found: scaleout.Links | None = memo.get(key)
    if found is None:
        p = cat.policy
        network = p.node_network[accel.interconnect]
        found = memo[key] = scaleout.Links(device_gbs=accel.interconnect_gbs, device_latency_s=p.link_latency_s[accel.interconnect],
                                           node_gbs=p.node_network_gbs[network], node_latency_s=p.node_network_latency_s[network])
    return found


def network_of(accel: Accelerator, cat: Catalog) -> str:
    """The network between this device's nodes (InfiniBand for HGX-class boards, Ethernet for PCIe servers)."""
    return str(cat.policy.node_network[accel.interconnect])


def choose(layouts: Sequence[Layout], memory: Callable[[Layout], sizing.Memory], speed: Callable[[Layout], sizing.Speed],
           usable: int, target: float) -> tuple[Layout, sizing.Memory, sizing.Speed]:
    """The layout an option runs in: the most replicas that fit and reach ``target`` tokens/s per user, else the
    fastest that fits, else (nothing fits) the one needing the least memory per device. A data-parallel-attention
    layout replaces that choice when it fits and the choice does not, or when it is faster."""
    last = layouts[-1]
    if not last.dp_attention:  # ``candidates`` puts that layout last, where there is one
        return _choose(layouts, memory, speed, usable, target)
    chosen = _choose(layouts[:-1], memory, speed, usable, target)
    chosen_fits = chosen[1].total <= usable
    m = memory(last)
    if m.total > usable:
        return (last, m, speed(last)) if not chosen_fits and m.total < chosen[1].total else chosen
    s = speed(last)
    return (last, m, s) if not chosen_fits or s.decode_per_seq > chosen[2].decode_per_seq else chosen


def _choose(layouts: Sequence[Layout], memory: Callable[[Layout], sizing.Memory], speed: Callable[[Layout], sizing.Speed],
            usable: int, target: float) -> tuple[Layout, sizing.Memory, sizing.Speed]:
    best: tuple[Layout, sizing.Memory, sizing.Speed] | None = None
    smallest: tuple[Layout, sizing.Memory] | None = None
    for lay in layouts:
        m = memory(lay)
        if m.total > usable:
            smallest = smallest if smallest is not None and smallest[1].total <= m.total else (lay, m)
            continue
        s = speed(lay)
        if s.decode_per_seq >= target:
            return lay, m, s
        if best is None or s.decode_per_seq > best[2].decode_per_seq:
            best = (lay, m, s)
    if best is not None:
        return best
    assert smallest is not None
    return smallest[0], smallest[1], speed(smallest[0])


def expert_parallel_runs(model: Model, runtime: Runtime, cat: Catalog) -> bool:
    """Whether this runtime places a MoE's routed experts whole on the tensor-parallel ranks (policy
    expert-parallel-runtimes: vLLM and SGLang --enable-expert-parallel, TensorRT-LLM moe_expert_parallel_size)."""
    return model.architecture == "moe" and runtime.id in cat.policy.expert_parallel_runtimes


def dp_attention_runs(model: Model, runtime: Runtime, cat: Catalog) -> bool:
    """Whether this runtime runs this model's attention data-parallel and its experts expert-parallel over all the ranks
    (policy dp-attention-runtimes): a mixture of experts with MLA, whose single latent KV head tensor parallel cannot
    split (sglang-mla-replicated)."""
    return (model.architecture == "moe" and bool(model.kv_lora_rank) and runtime.id in cat.policy.dp_attention_runtimes)
