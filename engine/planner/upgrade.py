"""Upgrade arithmetic: what the hardware a user owns runs, and what each addition to it reaches and costs.

The rules of ``rules/upgrade.py`` reason over these: the owned configuration (the format ``check --precision auto``
would run), more cards of the same kind, host RAM for the layers (or a MoE's experts) the GPUs cannot hold, another
card, and renting instead. Prices are the cost of the addition alone: the host the user has is not bought again,
and what their card would sell for is not assumed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .. import host_sizing, hybrid, money, sizing
from ..knowledge.loader import Catalog
from ..knowledge.schema import Accelerator, Model
from . import offload
from .check import choose, configurations
from .costs import host_cores, host_for, prices_of
from .evaluate import arch, device_counts, evaluate, precisions_for, quality_of, runs_on, weights_at
from .options import QUALITY_RANK, Option, Workload
from .tiers import Floors, meets


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
                weights = weights_at(arch(model), cat.precisions[option.precision])
                ram = host_sizing.host_ram_bytes(weights, cat.policy.host_ram_per_weights, cat.policy.host_os_reserve_bytes)
                cores = host_cores(w, accel, cat.runtimes[option.runtime], n, option.layout, cat)
                host = host_for(n, ram, cores, cat, accel)
            host_usd = host.buy_price.per_device_usd if host and host.buy_price else (0.0 if host is None else None)
            cost = card_usd * (n - count) + host_usd if card_usd is not None and host_usd is not None else None
            return MoreCards(option, n - count, card_usd, host, cost)
    return None


def reference_host(w: Workload, count: int, cat: Catalog) -> offload.Host:
    """The host the offloaded part runs on: the one the user named (``--host``) or described (``--host-bandwidth``),
    else the policy's reference desktop (upgrade-reference-host); its RAM is ``--ram``, checked by the caller."""
    named = replace(w, host=w.host or cat.policy.upgrade_reference_host)
    return offload.hosts_for(named, count, 0, cat, cores=0)[0]  # the named host: its cores are P2's to compare


@dataclass(frozen=True)
class HostRun:
    """The owned GPUs with the weights they cannot hold in host RAM (a hybrid option of the planner), or with no GPU
    the host's CPU alone; and the host RAM that takes, with the system's share."""

    option: Option
    host: offload.Host
    ram_need_bytes: int

    @property
    def ram_weights_bytes(self) -> int:
        """Weights in host RAM: the hybrid split's host part, or all of them on the CPU alone."""
        part = self.option.host_part
        return part.placement.host_weight_bytes if part else self.option.memory.weights


def host_run(w: Workload, model: Model, accel: Accelerator | None, count: int, cat: Catalog) -> HostRun | None:
    """The smallest format at the quality floor that the owned GPUs (none: the CPU alone) run with the rest in host RAM,
    sized and timed by the planner's hybrid model: a MoE's routed experts, else whole layers (``--offload`` forces
    either; ``none`` offers nothing). None when no format qualifies or the GPUs cannot hold what must stay on them."""
    if w.offload is None or w.offload == "none":
        return None
    rt = cat.runtimes[cat.policy.hybrid_runtime]
    host = reference_host(w, count, cat)
    floor = QUALITY_RANK[cat.policy.quality_floor_minimum]
    device = accel or cat.accelerators[host.id if host.id != offload.DESCRIBED else cat.policy.upgrade_reference_host]
    formats = sorted((p for p in precisions_for(w, model, cat) if QUALITY_RANK[quality_of(p, model)] >= floor
                      and runs_on(p, device, model) and rt.runs(p.id, device.ecosystem)), key=lambda p: (p.bits_per_weight, p.id))
    if accel is None:  # the CPU alone: the planner's model of the host box as the device, at the host's bandwidth
        if not formats:
            return None
        option = evaluate(w, model, replace(device, mem_bandwidth_gbs=host.bandwidth_gbs), 1, formats[0], rt, cat)
        return HostRun(option, host, option.memory.total + cat.policy.host_os_reserve_bytes)
    mode = w.offload if w.offload in hybrid.MODES else "experts" if model.experts else "layers"
    for p in formats:
        placement = offload.place(w, model, accel, count, p, rt, mode, cat)
        if placement is not None:
            return HostRun(offload.evaluate(w, model, accel, count, p, rt, placement, host, cat), host, placement.host_ram_bytes)
    return None


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
    return money.power_cost_usd(accel.tdp_w, added, w.hours_per_year, cat.policy.electricity_usd_per_kwh)
