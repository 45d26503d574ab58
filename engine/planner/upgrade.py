"""Upgrade arithmetic: what the hardware a user owns runs, and what each addition to it reaches and costs.

The rules of ``rules/upgrade.py`` reason over these: the owned configuration (the format ``check --precision auto``
would run), more cards of the same kind, host RAM for the layers (or a MoE's experts) the GPUs cannot hold, another
card, and renting instead. Prices are the cost of the addition alone: the host the user has is not bought again,
and what their card would sell for is not assumed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .. import sizing
from ..knowledge.loader import Catalog
from ..knowledge.schema import Accelerator, Model
from .check import choose, configurations
from .evaluate import (
    _inference_memory,
    arch,
    bandwidth_efficiency,
    device_counts,
    host_for,
    offered,
    precisions_for,
    prices_of,
    quality_of,
    step_overhead,
    tflops_at,
    usable_bytes,
)
from .options import QUALITY_RANK, Option, Workload
from .tiers import Floors, meets

OFFLOAD_RUNTIME = "llama-cpp"  # the runtime that keeps layers (-ngl) or experts (--n-cpu-moe) in host RAM


def owned_option(w: Workload, model: Model, accel: Accelerator, count: int, cat: Catalog) -> Option | None:
    """The configuration the owned devices run (``check --precision auto``'s choice); when nothing fits, the format
    that comes closest (the least memory per device), so the answer can say by how much it misses."""
    tried = configurations(w, model, accel, count, cat)
    picked = choose(tried, model)
    if picked is None or picked.fits:
        return picked
    return min(tried, key=lambda o: (o.memory.total, o.id))


def reaches(option: Option | None, floors: Floors) -> bool:
    """Whether a configuration fits and meets the tiers' quality and speed floors: the goal an addition must reach."""
    return option is not None and option.fits and meets(option, floors.quality, floors.speed)


@dataclass(frozen=True)
class MoreCards:
    """The fewest cards of the owned kind that reach the goal, and what the addition costs."""

    option: Option
    added: int
    card_usd: float | None  # one card's purchase price (None: not priced)
    host: Accelerator | None  # a new host box, when the owned host cannot take that many cards
    cost_usd: float | None  # the added cards plus the new host, if any


def more_cards(w: Workload, model: Model, accel: Accelerator, count: int, cat: Catalog) -> MoreCards | None:
    """The fewest devices of the owned kind (more than ``count``, within the scale's device counts) that reach the goal."""
    floors = Floors.of(w, cat)
    for n in (n for n in device_counts(w, accel, cat) if n > count):
        option = choose(configurations(w, model, accel, n, cat), model)
        if option is not None and reaches(option, floors):
            buy, _ = prices_of(accel)
            card_usd = buy.per_device_usd if buy else None
            host = None
            if accel.kind == "gpu" and n > cat.policy.upgrade_host_gpus:
                weights = sizing.weight_bytes(model.params, cat.precisions[option.precision].bits_per_weight)
                host = host_for(n, sizing.host_ram_bytes(weights, cat.policy.host_ram_per_weights, cat.policy.host_os_reserve_bytes), cat,
                                accel.tdp_w or 0.0)
            host_usd = host.buy_price.per_device_usd if host and host.buy_price else (0.0 if host is None else None)
            cost = card_usd * (n - count) + host_usd if card_usd is not None and host_usd is not None else None
            return MoreCards(option, n - count, card_usd, host, cost)
    return None


@dataclass(frozen=True)
class Offload:
    """The owned GPUs with the weights they cannot hold in host RAM, computed there by the CPU (llama.cpp)."""

    precision: str
    what: str  # "layers" (dense) or "experts" (MoE: the routed experts, read only where tokens route)
    gpu_weights_bytes: int  # weights kept on the GPUs
    ram_weights_bytes: int  # weights in host RAM
    ram_need_bytes: int  # RAM the host needs: the offloaded weights and the system's share
    host_bandwidth_gbs: float
    tokens_per_s: float  # per user


def offload(w: Workload, model: Model, accel: Accelerator | None, count: int, host: Accelerator, cat: Catalog) -> Offload | None:
    """The owned GPUs (none: the CPU alone) holding what they can of the smallest format at the quality floor, the rest
    of the weights in ``host``'s RAM; one decode step reads the GPU part at GPU bandwidth and the RAM part at the host's
    (a layer split: one device works at a time). None when no format qualifies or the GPUs cannot even hold the KV cache."""
    rt = cat.runtimes[OFFLOAD_RUNTIME]
    floor = QUALITY_RANK[cat.policy.quality_floor_minimum]
    formats = [p for p in precisions_for(w, model, cat) if QUALITY_RANK[quality_of(p, model)] >= floor
               and (accel is None or rt in offered(w, model, accel, p, cat)) and rt.runs(p.id, host.ecosystem)]
    if not formats:
        return None
    p = min(formats, key=lambda f: (f.bits_per_weight, f.id))
    a = arch(model)
    need = _inference_memory(w, a, p, rt, 1)
    weights = need.weights
    gpu_room = 0
    if accel is not None:
        gpu_room = usable_bytes(accel, rt, cat.policy.fit_headroom) * count - (need.total - weights) - rt.overhead_bytes * (count - 1)
        if gpu_room <= 0:
            return None
    on_gpu = min(weights, gpu_room)
    in_ram = weights - on_gpu
    users = w.concurrency
    read = sizing.moe_weight_fraction_read(a, users)
    host_eff = bandwidth_efficiency(host, cat)
    ram_s = in_ram * read / (host.mem_bandwidth_gbs * sizing.GIGA * host_eff)
    device = accel or host
    gpu = sizing.decode_speed(a, on_gpu, need.kv_cache, users, device.mem_bandwidth_gbs, bandwidth_efficiency(device, cat),
                              tflops_at(device, p), cat.policy.compute_efficiency, 1, None, 0.0, step_overhead(rt, device, cat))
    step_s = 1 / gpu.decode_per_seq + ram_s
    return Offload(precision=p.id, what="experts" if model.is_moe else "layers", gpu_weights_bytes=on_gpu, ram_weights_bytes=in_ram,
                   ram_need_bytes=int(in_ram + cat.policy.host_os_reserve_bytes), host_bandwidth_gbs=host.mem_bandwidth_gbs,
                   tokens_per_s=1 / step_s)


def ram_addition(need_bytes: int, have_bytes: int | None, usd_per_gb: float) -> tuple[int | None, float | None]:
    """RAM to add to a host (bytes, rounded up to whole GB) and its cost; (None, None) when the host's RAM is unknown."""
    if have_bytes is None:
        return None, None
    short = max(0, need_bytes - have_bytes)
    whole_gb = -(-short // int(sizing.GIGA))
    return int(whole_gb * sizing.GIGA), whole_gb * usd_per_gb


def card_only_usd(option: Option, cat: Catalog) -> float | None:
    """What the cards of a configuration cost without a host box (the user's host takes them)."""
    buy, _ = prices_of(cat.accelerators[option.hardware])
    return buy.per_device_usd * option.count if buy else None


def other_card(options: Iterable[Option], owned: Accelerator | None, owned_count: int, w: Workload, cat: Catalog) -> Option | None:
    """The cheapest configuration of a bigger PCIe card (more memory each than the owned one, no more cards than are owned;
    with no GPU owned, as many as the host takes: ``upgrade-host-gpus``) that reaches the goal, priced by its cards alone."""
    floors = Floors.of(w, cat)
    most = owned_count if owned is not None else cat.policy.upgrade_host_gpus
    least_memory = owned.memory_bytes if owned is not None else 0
    fitting = [o for o in options if o.count <= most and reaches(o, floors) and _pcie_card(cat.accelerators[o.hardware])
               and cat.accelerators[o.hardware].memory_bytes > least_memory and card_only_usd(o, cat) is not None]
    return min(fitting, key=lambda o: (card_only_usd(o, cat) or 0.0, -(o.tokens_per_s or 0.0), o.id), default=None)


def _pcie_card(accel: Accelerator) -> bool:
    """A GPU sold as one PCIe card, which a desktop or workstation host takes (not an SXM/OAM module of a server board)."""
    return accel.kind == "gpu" and accel.interconnect == "pcie" and accel.purchase_unit == 1 and accel.obtain == "buy"


def cheapest_rental(options: Iterable[Option], w: Workload, cat: Catalog) -> Option | None:
    """The cheapest hour of a configuration that reaches the goal and is rented by the hour."""
    floors = Floors.of(w, cat)
    rented = [o for o in options if o.cost.cloud_usd_per_hour is not None and reaches(o, floors)]
    return min(rented, key=lambda o: (o.cost.cloud_usd_per_hour or 0.0, o.id), default=None)


def addition_power_usd_per_year(accel: Accelerator, added: int, w: Workload, cat: Catalog) -> float | None:
    """Electricity for the added devices over a year of the workload's hours."""
    return sizing.power_cost_usd(accel.tdp_w, added, w.hours_per_day * 365, cat.policy.electricity_usd_per_kwh)
