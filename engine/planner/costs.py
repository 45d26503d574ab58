"""What an option costs: its devices' purchase or rental, the host boxes the cards are bought with (one per node, with
the CPU cores its runtime needs, room for the cards' width and power, RAM for the weights), power, and a training run's
time and cost."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .. import host_sizing, money
from ..knowledge.loader import Catalog
from ..knowledge.runtime_schema import Runtime
from ..knowledge.schema import Accelerator, Price
from .memo import per_catalog
from .options import HOST_NOT_PRICED, Cost, Layout, TrainingRun, Workload


def prices_of(accel: Accelerator) -> tuple[Price | None, Price | None]:
    """The purchase price that counts and the cheapest on-demand hour (``Accelerator.counted_prices``)."""
    return accel.counted_prices


def needs_host(accel: Accelerator, buy: Price | None) -> bool:
    """A PCIe card (or a module on a carrier board) sits in a host box bought beside it; a Mac, a CPU box, an NPU
    laptop or a whole DGX/HGX server (a ``system`` price) is the box itself."""
    return accel.kind == "gpu" and not (buy is not None and buy.system)


def buys_host_box(w: Workload, accel: Accelerator, buy: Price | None) -> bool:
    """Whether a purchase of this device adds a host box beside it (``cost_of``): it has a purchase price and needs a
    box (``needs_host``), and the user did not describe the host they have (--cpu-cores / --ram)."""
    return buy is not None and needs_host(accel, buy) and w.cpu_cores is None and w.ram_gb is None


def device_power_w(accel: Accelerator, buy: Price | None) -> float | None:
    """The power one device draws as bought: its share of a whole system's rated power (CPUs, switches, NICs and fans
    beside the GPUs) where the purchase is a system whose power the catalog knows, else its own rated power."""
    if buy is not None and buy.system and accel.system_power_w is not None:
        return accel.system_power_w / accel.purchase_unit
    return accel.tdp_w


SELF_HOSTED = ("cpu", "unified", "npu")  # kinds whose own CPU runs the model: a CPU box, a Mac or Strix Halo, an NPU laptop


def host_cores(w: Workload, accel: Accelerator, runtime: Runtime, count: int, layout: Layout, cat: Catalog) -> int:
    """The CPU cores the host of this configuration needs (pitfall P2 states it; ``host_for`` buys a box that has it).

    The runtime's own processes (``Runtime.host_cores``: vLLM's API server and engine core per replica and a worker per
    GPU, llama.cpp's one thread, a training process per GPU and the system's share), else policy host-cores-per-device
    per device; the CPU's share of a hybrid option (host-min-cores-cpu-inference); the whole model's minimum where the
    CPU runs it; then one core per host-users-per-core concurrent users served."""
    p = cat.policy
    if accel.kind in SELF_HOSTED:
        base = p.host_min_cores_cpu_inference
    else:
        own = runtime.host_cores
        base = own.cores(count, layout.data_parallel) if own else count * p.host_cores_per_device
        base += p.host_min_cores_cpu_inference if layout.offload != "none" else 0
    return host_sizing.host_cores(base, 0 if w.training else w.concurrency, p.host_users_per_core)


def has_cores(box: Accelerator, cores: int) -> bool:
    """Whether a host box has ``cores`` CPU cores. A box listed by its chassis (CPUs not in the catalog: an 8-GPU server
    whose two sockets are chosen when it is ordered) is taken at the CPUs P2 asks for."""
    return box.cpu_cores is None or box.cpu_cores >= cores


def host_for(count: int, ram_bytes: float, cores: int, cat: Catalog, card: Accelerator) -> Accelerator | None:
    """The cheapest priced host box that physically takes ``count`` of ``card`` (their number and width), holds
    ``ram_bytes`` of RAM, has ``cores`` CPU cores and whose supply feeds their board power (unknown: 0) (None: no such
    box). Kept per catalog: a box depends only on these numbers and the card's width and power, which the options of
    many devices and formats share."""
    memo = per_catalog("host-for", cat, HOSTS_KEPT)
    key = (count, ram_bytes, cores, card.width_slots, card.tdp_w)
    if key in memo:
        return memo[key]  # type: ignore[no-any-return]
    cards_w = count * (card.tdp_w or 0.0)
    found = memo[key] = next((h for h in host_boxes(cat) if h.takes(card, count) and h.usable_memory_bytes >= ram_bytes
                                   and has_cores(h, cores) and h.powers(cards_w, cat.policy.host_psu_max_load)), None)
    return found


HOSTS_KEPT = 4096  # answers remembered before starting afresh (a consultation asks a few hundred)


def host_boxes(cat: Catalog) -> list[Accelerator]:
    """The catalog's priced host boxes that take GPUs, cheapest first (the faster of two at one price first, then by
    id): sorted once per catalog, not once per option."""
    memo = per_catalog("host-boxes", cat)
    if "boxes" not in memo:
        memo["boxes"] = sorted((h for h in cat.accelerators.values() if h.kind == "cpu" and h.host_gpus is not None and h.buy_price),
                               key=lambda h: (h.buy_price.per_device_usd if h.buy_price else math.inf, -h.mem_bandwidth_gbs, h.id))
    return memo["boxes"]  # type: ignore[no-any-return]


@dataclass(unsafe_hash=True)  # a record built per option: hashed by value, not frozen, __init__ written out (planner/options.py says why)
class NodeHost:
    """What the host box of each node of a configuration needs: P2 states it, ``cost_of`` buys it."""

    boxes: int  # one per node
    cards: int  # in each box
    cores: int  # in each box (``host_cores`` shared among the nodes)
    ram_bytes: float  # in each box: the weights its node loads, staged through RAM, and the system's share
    weights_bytes: int  # the weights each node loads

    def __init__(self, boxes: int, cards: int, cores: int, ram_bytes: float, weights_bytes: int) -> None:
        self.boxes, self.cards, self.cores, self.ram_bytes, self.weights_bytes = boxes, cards, cores, ram_bytes, weights_bytes


def node_host(w: Workload, accel: Accelerator, runtime: Runtime, count: int, layout: Layout, weights_bytes: int,
              cat: Catalog) -> NodeHost:
    """The host of each node of ``count`` devices in ``layout`` loading ``weights_bytes`` of weights in all: a replica
    within a node loads all of them (replicas of one node share the checkpoint in the page cache), one spread over nodes
    its nodes' share."""
    boxes, cards, staged = 1, count, weights_bytes
    if layout.nodes > 1:
        boxes, cards = layout.nodes, math.ceil(count / layout.nodes)
        staged = math.ceil(weights_bytes * min(1.0, cards / (layout.tensor_parallel * layout.pipeline_parallel)))
    p = cat.policy
    return NodeHost(boxes, cards, math.ceil(host_cores(w, accel, runtime, count, layout, cat) / boxes),
                    host_sizing.host_ram_bytes(staged, p.host_ram_per_weights, p.host_os_reserve_bytes), staged)


def cost_of(w: Workload, accel: Accelerator, count: int, cat: Catalog, need: NodeHost) -> Cost:
    """Purchase or rental cost of ``count`` devices, with power over the ownership period's years: a whole system's
    rated power where one is bought (an NVL72 rack draws 120 kW, not 72 GPUs' 86 kW: ``device_power_w``).

    A purchase of PCIe cards adds, for each node, the cheapest host box that takes its cards and has what ``need`` says
    (RAM for the weights, the cores their runtime needs: P2), and its power. Not when the user described the host they
    have (--cpu-cores / --ram): the whole system a buyer pays for, also the figure a rented deployment's buy-vs-rent
    compares with. A device without a purchase price gets no box (there is no purchase to add it to); a rented
    device-hour is per device, its host included."""
    buy, rent = prices_of(accel)
    hours_year = w.hours_per_year
    policy = cat.policy
    power = money.power_cost_usd(device_power_w(accel, buy), count, hours_year, policy.electricity_usd_per_kwh)
    purchase = buy.per_device_usd * count if buy else None
    host_name, host_usd, boxes = "", None, 1
    if purchase is not None and buys_host_box(w, accel, buy):
        boxes = need.boxes
        host = host_for(need.cards, need.ram_bytes, need.cores, cat, accel)
        host_name = host.name if host else HOST_NOT_PRICED
        host_usd = host.buy_price.per_device_usd * boxes if host and host.buy_price else None
        purchase = purchase + host_usd if host_usd is not None else purchase
        # the box draws power too: its CPU's rated power where the catalog knows it
        host_power = money.power_cost_usd(host.tdp_w, boxes, hours_year, policy.electricity_usd_per_kwh) if host else None
        power = power + host_power if power is not None and host_power is not None else power
    per_hour = rent.usd * count if rent else None
    if w.deployment == "cloud":
        return Cost(
            purchase_usd=purchase, cloud_usd_per_hour=per_hour, power_usd_per_year=None,
            budget_usd=per_hour * hours_year if per_hour else None, basis="cloud",
            price_kind=rent.kind if rent else "", price_date=rent.date if rent else "", host=host_name, host_usd=host_usd,
            hosts=boxes,
        )
    return Cost(
        purchase_usd=purchase, cloud_usd_per_hour=per_hour, power_usd_per_year=power,
        budget_usd=purchase, basis="purchase", price_kind=buy.kind if buy else "", price_date=buy.date if buy else "",
        host=host_name, host_usd=host_usd, hosts=boxes,
    )


def training_run(w: Workload, accel: Accelerator, count: int, tokens_per_s: float | None, cost: Cost,
                 usd_per_kwh: float) -> TrainingRun | None:
    """The time to train on the user's tokens and its cost: rental hours x price in the cloud, electricity for owned
    hardware (the purchase is the tier's cost already). None when no token budget was given."""
    if not (w.training and w.tokens):
        return None
    seconds = money.training_seconds(w.tokens, tokens_per_s) if tokens_per_s else None
    if w.deployment == "cloud":
        rent = cost.cloud_usd_per_hour
        return TrainingRun(w.tokens, seconds, money.rental_cost_usd(seconds, rent) if seconds and rent else None, "rental")
    watts = device_power_w(accel, prices_of(accel)[0])
    power = money.power_cost_usd(watts, count, seconds / 3600, usd_per_kwh) if seconds else None
    return TrainingRun(w.tokens, seconds, power, "power")
