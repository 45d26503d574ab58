"""Hybrid CPU+GPU options: a GPU (or a few) plus a host box whose RAM holds the routed experts or whole layers and
whose CPU computes them, as llama.cpp (``--n-cpu-moe N``, ``-ot exps=CPU``, ``-ngl``) and KTransformers run them.

``with_offload`` is the one call the search makes: on ``offload=auto`` it adds hybrid options only for a device that
cannot hold the model; ``experts`` / ``layers`` force that split; ``none`` never offloads. The host is the one the
user named (``--host``), described (``--host-bandwidth``; or by its cores or RAM, ``--cpu-cores`` / ``--ram``, then
read at the reference desktop's bandwidth, policy upgrade-reference-host), or else each priced catalog host box that
takes the GPUs and holds the offloaded bytes, a dearer box kept only when its memory is faster (its bandwidth sets the
speed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from .. import hybrid, money, sizing
from ..errors import InputError
from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import Accelerator, Model, Precision
from ..units import GB
from .costs import HOSTS_KEPT, has_cores, host_boxes, host_cores, prices_of
from .evaluate import (
    _inference_memory,
    arch,
    bandwidth_efficiency,
    precisions_for,
    quality_of,
    runs_on,
    step_overhead,
    tflops_at,
    usable_bytes,
)
from .memo import per_catalog
from .options import Cost, HostPart, Layout, Option, Workload

DESCRIBED = "described"  # the host id of a host given by its bandwidth (--host-bandwidth), not a catalog box


@dataclass(frozen=True)
class Host:
    """A host that can run the offloaded part: its memory bandwidth, RAM and price (None: owned, or not priced)."""

    id: str
    name: str
    bandwidth_gbs: float
    ram_bytes: int | None  # None: not stated, the host is taken to hold what the split needs
    usd: float | None


def host_id(cat: Catalog, name: str) -> str:
    """The catalog id of a host box named by id, name or alias; ``InputError`` naming ``host`` and the accepted boxes."""
    boxes = sorted(a.id for a in cat.accelerators.values() if a.kind == "cpu")
    try:
        found = cat.resolve("hardware", name, "host")
    except InputError:
        found = ""
    if found not in boxes:
        raise InputError("host", f"expected a host box of the catalog ({', '.join(boxes)}), got {str(name)[:60]!r}")
    return found


def hosts_for(w: Workload, count: int, need_bytes: int, cat: Catalog, *, cores: int, card_w: float = 0.0) -> list[Host]:
    """The hosts that could run a split needing ``need_bytes`` of host RAM and ``cores`` CPU cores (``host_cores``) with
    ``count`` GPUs of ``card_w`` board power each (0: unknown; a catalog box's supply must feed them, see host_for) (see
    the module doc). A host the user named or described is theirs: P2 compares its cores with the need. Kept per
    catalog and these numbers: the devices of an enumeration ask again for the same splits."""
    memo = per_catalog("hybrid-hosts", cat, HOSTS_KEPT)
    key = (w.ram_gb, w.cpu_cores is not None, w.host_bandwidth_gbs, w.host, count, need_bytes, cores, card_w)
    found: list[Host] | None = memo.get(key)
    if found is None:
        found = memo[key] = _hosts_for(*key, cat)  # worked out from the key alone: the key holds all it reads
    return list(found)


def _hosts_for(ram_gb: float | None, cores_given: bool, host_bandwidth_gbs: float | None, host: str | None, count: int,
               need_bytes: int, cores: int, card_w: float, cat: Catalog) -> list[Host]:
    ram: int | None = int(ram_gb * GB) if ram_gb else None
    if ram is not None and ram < need_bytes:
        return []
    if host_bandwidth_gbs:
        return [Host(DESCRIBED, "the described host", host_bandwidth_gbs, ram, None)]
    if host:
        box = cat.accelerators[host]
        have = ram if ram is not None else box.usable_memory_bytes
        buy = box.buy_price
        return [Host(box.id, box.name, box.mem_bandwidth_gbs, have, buy.per_device_usd if buy else None)] if have >= need_bytes else []
    if ram is not None or cores_given:  # the host the user described (cost_of buys no box beside it either)
        ref = cat.accelerators[cat.policy.upgrade_reference_host]  # its memory bandwidth, which the user did not give
        return [Host(DESCRIBED, f"your host (at the memory bandwidth of a {ref.name})", ref.mem_bandwidth_gbs, ram, None)]
    out: list[Host] = []
    for box in host_boxes(cat):  # cheapest first: a dearer box is worth it only if faster
        if (box.host_gpus or 0) < count or (ram or box.usable_memory_bytes) < need_bytes or not has_cores(box, cores) \
                or not box.powers(count * card_w, cat.policy.host_psu_max_load):
            continue
        if not out or box.mem_bandwidth_gbs > out[-1].bandwidth_gbs:
            price = box.buy_price.per_device_usd if box.buy_price else None
            out.append(Host(box.id, box.name, box.mem_bandwidth_gbs, ram or box.usable_memory_bytes, price))
    return out


def modes_for(w: Workload, model: Model) -> list[str]:
    """The splits to try: the one forced, else (auto) the routed experts of a mixture of experts. A dense model's
    layers are split off only when asked: the CPU then reads whole layers every token, which ``auto`` never buys."""
    if w.offload in hybrid.MODES:
        return [w.offload]
    return ["experts"] if model.experts else []


def with_offload(w: Workload, model: Model, accel: Accelerator, cat: Catalog, gpu_only: list[Option],
                 count: int | None = None, memo: dict[str, tuple[sizing.Arch, sizing.Memory]] | None = None) -> list[Option]:
    """The options to weigh for one device: ``gpu_only`` (the options that keep everything on it), plus or instead of
    hybrid options, as ``w.offload`` says (auto: hybrid in every format one device cannot hold alone, whatever several
    of them hold, so that a device another dominates gets no hybrid option the other lacks: pruning it stays exact).
    ``memo``: the needs sized for other devices of the same workload and model (``_sized``)."""
    # None is "none" as the consultation passes it on (profile.NONE, an answer left empty on purpose, reads as None)
    if w.offload in (None, "none"):
        return gpu_only
    if w.offload == "auto":
        if not offloads(w, model, accel, count):  # no hybrid option: the formats held need not be known
            return gpu_only
        held = {o.precision for o in gpu_only if o.fits and o.count == 1}
        return gpu_only + hybrid_options(w, model, accel, cat, count, skip=held, memo=memo)
    return hybrid_options(w, model, accel, cat, count, memo=memo) or gpu_only


def offloads(w: Workload, model: Model, accel: Accelerator, count: int | None) -> bool:
    """Whether this device may get hybrid options: not for training, rented or edge devices, nor a device bought only as
    a whole system, nor where no split is tried (``modes_for``)."""
    bought_whole = count is None and accel.purchase_unit > 1
    return bool(modes_for(w, model)) and not (w.training or w.deployment != "local" or accel.kind != "gpu" or bought_whole)


def hybrid_options(w: Workload, model: Model, accel: Accelerator, cat: Catalog, count: int | None = None,
                   skip: frozenset[str] | set[str] = frozenset(),
                   memo: dict[str, tuple[sizing.Arch, sizing.Memory]] | None = None) -> list[Option]:
    """Every hybrid option of this GPU (one, or ``count`` for a named configuration) with each host worth offering
    (the cheapest only for a named one), per format the hybrid runtime runs on it but for those in ``skip``. None for
    training, rented or edge devices, or a device bought only as a whole system. ``memo``: as for ``with_offload``."""
    if not offloads(w, model, accel, count):
        return []
    modes = modes_for(w, model)
    rt = cat.runtimes[cat.policy.hybrid_runtime]
    n = count or 1
    memo = {} if memo is None else memo
    out: list[Option] = []
    precisions = precisions_for(w, model, cat)
    if modes == ["experts"] and precisions:  # the GPUs keep every user's KV cache, whatever the format (hybrid.place)
        _, need = _sized(w, model, precisions[0], rt, memo)
        if need.kv_cache + need.activations + rt.overhead_bytes * n > usable_bytes(accel, rt, cat.policy.fit_headroom) * n:
            return out
    for p in precisions:
        if p.id in skip or not (runs_on(p, accel, model) and rt.runs(p.id, accel.ecosystem)):
            continue
        for mode in modes:
            placement = place(w, model, accel, n, p, rt, mode, cat, memo)
            if placement is None:
                continue
            cores = host_cores(w, accel, rt, n, hybrid_layout(n, placement), cat)
            hosts = hosts_for(w, n, placement.host_ram_bytes, cat, cores=cores, card_w=accel.tdp_w or 0.0)
            # A named configuration (check) gets the cheapest host that holds it; the search weighs the faster ones too.
            out += evaluate_hosts(w, model, accel, n, p, rt, placement, hosts[:1] if count else hosts, cat, memo)
    return out


def _sized(w: Workload, model: Model, p: Precision, rt: Runtime, memo: dict[str, tuple[sizing.Arch, sizing.Memory]] | None
           ) -> tuple[sizing.Arch, sizing.Memory]:
    """The model's sizing view and its whole need on one device at ``p`` (kept in ``memo``: the GPU does not change it)."""
    memo = {} if memo is None else memo
    if p.id not in memo:
        a = arch(model)
        memo[p.id] = (a, _inference_memory(w, a, p, rt, 1))
    return memo[p.id]


def place(w: Workload, model: Model, accel: Accelerator, count: int, p: Precision, rt: Runtime, mode: str,
          cat: Catalog, memo: dict[str, tuple[sizing.Arch, sizing.Memory]] | None = None) -> hybrid.Placement | None:
    """The split that leaves the GPUs' part within their usable memory, offloading the fewest layers."""
    a, need = _sized(w, model, p, rt, memo)
    usable = usable_bytes(accel, rt, cat.policy.fit_headroom)
    return hybrid.place(a, mode, need.weights, need.kv_cache, need.activations + rt.overhead_bytes * count, usable * count,
                        cat.policy.host_os_reserve_bytes)


def hybrid_layout(count: int, placement: hybrid.Placement) -> Layout:
    """A hybrid option's layout: its GPUs take consecutive layers (one works at a time), the host computes the rest."""
    return Layout(pipeline_parallel=count, offload=placement.mode)


def evaluate(w: Workload, model: Model, accel: Accelerator, count: int, p: Precision, rt: Runtime, placement: hybrid.Placement,
             host: Host, cat: Catalog, memo: dict[str, tuple[sizing.Arch, sizing.Memory]] | None = None) -> Option:
    """Size, time and price one hybrid option: ``count`` GPUs (a layer split, one at a time) and ``host``."""
    return evaluate_hosts(w, model, accel, count, p, rt, placement, [host], cat, memo)[0]


def evaluate_hosts(w: Workload, model: Model, accel: Accelerator, count: int, p: Precision, rt: Runtime,
                   placement: hybrid.Placement, hosts: list[Host], cat: Catalog,
                   memo: dict[str, tuple[sizing.Arch, sizing.Memory]] | None = None) -> list[Option]:
    """``evaluate`` with each of ``hosts``: what does not depend on the host is worked out once."""
    a, need = _sized(w, model, p, rt, memo)
    policy = cat.policy
    memory = sizing.Memory(weights=math.ceil(placement.gpu_weight_bytes / count), kv_cache=math.ceil(placement.gpu_kv_bytes / count),
                           activations=math.ceil(need.activations / count), overhead=rt.overhead_bytes)
    usable = usable_bytes(accel, rt, policy.fit_headroom)
    batch = w.concurrency if rt.batches else 1
    efficiency, overhead, tflops = bandwidth_efficiency(accel, cat), step_overhead(rt, accel, cat), tflops_at(accel, p)
    turns = w.concurrency / batch
    quality, layout = quality_of(p, model), hybrid_layout(count, placement)
    links = [hybrid.HostLink(host.bandwidth_gbs, policy.hybrid_cpu_bandwidth_efficiency, policy.hybrid_layer_overhead_s,
                             policy.moe_offload_link_gbs, policy.hybrid_prefill_batch_tokens) for host in hosts]
    speeds = hybrid.decode_speeds(a, placement, batch, accel.mem_bandwidth_gbs, efficiency, overhead, links, tflops,
                                  policy.compute_efficiency)
    out = []
    for host, speed in zip(hosts, speeds, strict=True):
        out.append(Option(
            hardware=accel.id, count=count, precision=p.id, runtime=rt.id, memory=memory, usable_bytes=usable,
            fits=memory.total <= usable, tokens_per_s=speed.decode_per_seq / turns, total_tokens_per_s=speed.decode_total,
            prefill_tokens_per_s=speed.prefill, bound=speed.bound, quality=quality, cost=cost_of(w, accel, count, host, cat),
            serves_many=rt.serves_many, layout=layout, host_part=HostPart(placement, host.id, host.name, host.bandwidth_gbs, host.ram_bytes),
        ))
    return out


def cost_of(w: Workload, accel: Accelerator, count: int, host: Host, cat: Catalog) -> Cost:
    """The GPUs' purchase plus the host box's (a described host is the user's own: nothing added), with the GPUs' power."""
    buy = prices_of(accel)[0]
    power = money.power_cost_usd(accel.tdp_w, count, w.hours_per_year, cat.policy.electricity_usd_per_kwh)
    gpus = buy.per_device_usd * count if buy else None
    owned = host.id == DESCRIBED
    purchase = gpus + (host.usd or 0.0) if gpus is not None and (owned or host.usd is not None) else None
    return Cost(purchase_usd=purchase, cloud_usd_per_hour=None, power_usd_per_year=power, budget_usd=purchase, basis="purchase",
                price_kind=buy.kind if buy else "", price_date=buy.date if buy else "",
                host="" if owned else (host.name if host.usd is not None else f"{host.name} (not priced)"), host_usd=host.usd)


def expert_offload_plan(w: Workload, model: Model, cat: Catalog, precision: str) -> Option | None:
    """A reference hybrid rig for a MoE model (the MOE-expert-offload tip): the purchasable GPU with the least memory
    that holds everything but the routed experts of all layers, at ``precision``, on the host the user named or
    described, else the cheapest catalog host box that holds the experts. None when no such GPU or host exists."""
    p = cat.precisions[precision]
    rt = cat.runtimes[cat.policy.hybrid_runtime]
    # The host's RAM is what the tip sizes (P2-offload-ram compares it with --ram), so --ram does not limit the choice.
    forced = replace(w, offload="experts", deployment="local", ram_gb=None)
    gpus = sorted((g for g in cat.accelerators.values() if g.kind == "gpu" and g.obtain == "buy" and rt.runs(p.id, g.ecosystem)),
                  key=lambda g: (g.memory_bytes, g.id))
    memo: dict[str, tuple[sizing.Arch, sizing.Memory]] = {}  # the need does not depend on the GPU: sized once
    for gpu in gpus:
        placement = place(forced, model, gpu, 1, p, rt, "experts", cat, memo)
        hosts = hosts_for(forced, 1, placement.host_ram_bytes, cat, cores=host_cores(forced, gpu, rt, 1, hybrid_layout(1, placement), cat),
                          card_w=gpu.tdp_w or 0.0) if placement else []
        if placement and hosts:
            return evaluate(forced, model, gpu, 1, p, rt, placement, hosts[0], cat)
    return None
