"""The planner's vocabulary: a resolved workload, what an option costs, and one sized option.

The records built for every option sized (``Option``, its ``Cost`` and ``Layout``, ``costs.NodeHost``, ``sizing.Memory``,
``sizing.Speed`` and ``scaleout.Split``) are dataclasses hashed by value, as frozen ones are, but not frozen: a frozen dataclass's
``__init__`` sets each field through ``object.__setattr__``, four times the cost of a plain one, which was a fifth of a
consultation in the compiled build. Nothing assigns to their fields once built (tests/test_records.py reads the sources).
Their ``__init__`` is written out, the fields in order with their defaults (the same test checks it): mypyc compiles a
method written in the source, while the one a dataclass generates stays interpreted, and parsing an Option's 22
arguments in the interpreter was another tenth of a consultation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

from .. import hybrid, money, sizing
from ..knowledge.schema import QUALITY_CLASSES
from ..profile import TRAINING_TASKS

TIERS = ("minimum", "recommended", "best-in-budget")  # the ranked answer, in the order it is shown
QUALITY_RANK = {q: i for i, q in enumerate(QUALITY_CLASSES)}  # worst class 0, lossless highest
HOST_NOT_PRICED = "not priced"  # Cost.host when the cards need a box and no priced catalog box takes them
KV_BYTES_DEFAULT = 2.0  # 16-bit KV cache, the default of vLLM, llama.cpp and transformers (nv-kv-blog)


@dataclass(frozen=True)
class Workload:
    """A complete, resolved workload: every slot has a value (``None`` where optional)."""

    model: str
    task: str
    precision: str
    context: int
    concurrency: int
    batch: int
    activation_checkpointing: str | None
    lora_rank: int
    budget: float | None
    ecosystem: str
    deployment: str
    scale: str
    hours_per_day: float
    cpu_cores: int | None
    ram_gb: float | None
    offload: str | None = "auto"  # what may stay in host RAM, computed by the CPU: auto, experts, layers; None: never
    host: str | None = None  # the catalog host box (a CPU entry's id) that runs the offloaded part
    host_bandwidth_gbs: float | None = None  # a described host's memory bandwidth, when it is not a catalog box
    tokens: int | None = None  # training tokens of the whole run (dataset x epochs), when the user gave them

    @property
    def training(self) -> bool:
        return self.task in TRAINING_TASKS

    @property
    def hours_per_year(self) -> float:
        """The hours the deployment runs in a year: what rentals and power are paid for."""
        return self.hours_per_day * money.DAYS_PER_YEAR


@dataclass(unsafe_hash=True)  # a record built per option: hashed by value, not frozen, __init__ written out (the module docstring says why)
class Cost:
    """What an option costs, in USD."""

    purchase_usd: float | None
    cloud_usd_per_hour: float | None
    power_usd_per_year: float | None
    budget_usd: float | None  # the figure compared with the budget: purchase (local/edge) or a year of rental (cloud)
    basis: str  # "purchase" or "cloud"
    price_kind: str = ""
    price_date: str = ""
    host: str = ""  # the host box priced into the purchase ("" when none is needed or it is in the system price)
    host_usd: float | None = None  # its share of purchase_usd (all the boxes); None with a host named HOST_NOT_PRICED
    hosts: int = 1  # host boxes bought, one per node

    def __init__(self, purchase_usd: float | None, cloud_usd_per_hour: float | None, power_usd_per_year: float | None,
                 budget_usd: float | None, basis: str, price_kind: str = "", price_date: str = "", host: str = "",
                 host_usd: float | None = None, hosts: int = 1) -> None:
        self.purchase_usd, self.cloud_usd_per_hour, self.power_usd_per_year = purchase_usd, cloud_usd_per_hour, power_usd_per_year
        self.budget_usd, self.basis, self.price_kind, self.price_date = budget_usd, basis, price_kind, price_date
        self.host, self.host_usd, self.hosts = host, host_usd, hosts

    @property
    def host_unpriced(self) -> bool:
        """The cards need a host box the catalog cannot price: the purchase is the cards' alone."""
        return self.host == HOST_NOT_PRICED

    def as_dict(self) -> dict[str, Any]:
        return {f.name: (round(v, 2) if isinstance(v := getattr(self, f.name), float) else v) for f in fields(self)}


@dataclass(frozen=True)
class TrainingRun:
    """The time and cost of training on ``tokens`` tokens: None where the device has no speed figure or no price."""

    tokens: int
    seconds: float | None
    cost_usd: float | None
    cost_basis: str  # "rental" (cloud hours x price) or "power" (owned hardware: electricity over the run)

    def as_dict(self) -> dict[str, Any]:
        return {"tokens": self.tokens, "seconds": _round(self.seconds),
                "hours": _round(self.seconds / 3600 if self.seconds is not None else None),
                "cost_usd": _round(self.cost_usd), "cost_basis": self.cost_basis}


@dataclass(unsafe_hash=True)  # a record built per option: hashed by value, not frozen, __init__ written out (the module docstring says why)
class Layout:
    """How an option spreads over its devices: ``tensor_parallel x pipeline_parallel x data_parallel`` devices.

    Tensor parallel splits every layer across the devices of one node; pipeline parallel gives each stage
    consecutive layers (a layer split, where one stage works at a time for a token); expert parallel spreads a
    MoE's routed experts over the ranks that hold them; data-parallel replicas each serve their own users.
    ``offload`` says what stays in host RAM and runs on the host CPU ("none", "experts" or "layers").

    ``dp_attention``: the ``data_parallel`` ranks are no whole replicas but one model: each runs the attention (and
    holds the MLA cache) of its own users, with the attention and shared weights whole, the routed experts spread
    expert-parallel over all of them (``replicated_share``: the share of the weights every rank holds whole).
    """

    tensor_parallel: int = 1
    pipeline_parallel: int = 1
    expert_parallel: int = 1
    data_parallel: int = 1
    nodes: int = 1
    offload: str = "none"
    dp_attention: bool = False
    replicated_share: float = 0.0

    def __init__(self, tensor_parallel: int = 1, pipeline_parallel: int = 1, expert_parallel: int = 1, data_parallel: int = 1,
                 nodes: int = 1, offload: str = "none", dp_attention: bool = False, replicated_share: float = 0.0) -> None:
        self.tensor_parallel, self.pipeline_parallel, self.expert_parallel = tensor_parallel, pipeline_parallel, expert_parallel
        self.data_parallel, self.nodes, self.offload = data_parallel, nodes, offload
        self.dp_attention, self.replicated_share = dp_attention, replicated_share

    @property
    def devices(self) -> int:
        return self.tensor_parallel * self.pipeline_parallel * self.data_parallel

    @property
    def weight_copies(self) -> float:
        """How many copies of the model's weights the devices hold together: one per replica; under DP attention one,
        and the replicated share once more on every other rank."""
        if self.dp_attention:
            return 1 + self.replicated_share * (self.data_parallel - 1)
        return self.data_parallel

    def as_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("dp_attention", "replicated_share")}
        if self.dp_attention:  # only then: the other layouts' answers keep their shape
            out.update(dp_attention=True, replicated_share=round(self.replicated_share, 4))
        return out


ONE_DEVICE = Layout()  # the layout of an option on one device, nothing offloaded


@dataclass(frozen=True)
class HostPart:
    """The host side of a hybrid CPU+GPU option: what its RAM holds and the host box whose CPU computes it."""

    placement: hybrid.Placement
    host: str  # a catalog host box's id, or "described" for --host-bandwidth
    host_name: str
    host_bandwidth_gbs: float
    host_ram_bytes: int | None  # the host's RAM (the box's, or --ram); None: not stated

    def as_dict(self) -> dict[str, Any]:
        return {**self.placement.as_dict(), "host": self.host, "host_name": self.host_name,
                "host_bandwidth_gbs": self.host_bandwidth_gbs, "host_ram_available_bytes": self.host_ram_bytes}


@dataclass(unsafe_hash=True)  # a record built per option: hashed by value, not frozen, __init__ written out (the module docstring says why)
class Option:
    """One configuration with its numbers: the payload of a Candidate or Fit fact."""

    hardware: str
    count: int
    precision: str
    runtime: str
    memory: sizing.Memory
    usable_bytes: int  # per device, after the runtime's share and the fit headroom
    fits: bool
    tokens_per_s: float | None  # per user (inference) or training tokens/s
    total_tokens_per_s: float | None
    prefill_tokens_per_s: float | None
    bound: str
    quality: str  # the format's quality class for this model (its released format is lossless)
    cost: Cost
    micro_batch: int = 0
    accumulation_steps: int = 0
    checkpointing: bool = False
    zero_stage: int = 0
    tp_over_pcie: bool = False
    serves_many: bool = False  # its runtime batches many users (continuous batching, paged KV)
    run: TrainingRun | None = None  # training: the time and cost of the user's token budget (--tokens)
    layout: Layout = ONE_DEVICE
    host_part: HostPart | None = None  # hybrid CPU+GPU: experts or layers in host RAM, computed by the host CPU

    def __init__(self, hardware: str, count: int, precision: str, runtime: str, memory: sizing.Memory, usable_bytes: int,
                 fits: bool, tokens_per_s: float | None, total_tokens_per_s: float | None, prefill_tokens_per_s: float | None,
                 bound: str, quality: str, cost: Cost, micro_batch: int = 0, accumulation_steps: int = 0,
                 checkpointing: bool = False, zero_stage: int = 0, tp_over_pcie: bool = False, serves_many: bool = False,
                 run: TrainingRun | None = None, layout: Layout = ONE_DEVICE, host_part: HostPart | None = None) -> None:
        self.hardware, self.count, self.precision, self.runtime = hardware, count, precision, runtime
        self.memory, self.usable_bytes, self.fits = memory, usable_bytes, fits
        self.tokens_per_s, self.total_tokens_per_s, self.prefill_tokens_per_s = tokens_per_s, total_tokens_per_s, prefill_tokens_per_s
        self.bound, self.quality, self.cost = bound, quality, cost
        self.micro_batch, self.accumulation_steps, self.checkpointing = micro_batch, accumulation_steps, checkpointing
        self.zero_stage, self.tp_over_pcie, self.serves_many = zero_stage, tp_over_pcie, serves_many
        self.run, self.layout, self.host_part = run, layout, host_part

    @property
    def id(self) -> str:
        host = f"+{self.host_part.host}" if self.host_part else ""
        return f"{self.count}x{self.hardware}{host}@{self.precision}/{self.runtime}"

    @property
    def price_known(self) -> bool:
        """Whether the catalog prices this configuration for the deployment (purchase, or rental in the cloud)."""
        return self.cost.budget_usd is not None

    @property
    def whole_price_known(self) -> bool:
        """Whether the whole purchase is known. Cards whose host box the catalog cannot price are not: ranked by the cards
        alone they would undercut whole systems (4 x H200 NVL at 140,000 USD + an unpriced 2.4 kW box against a 141,538
        USD HGX server)."""
        return self.price_known and not self.cost.host_unpriced

    @property
    def weights_bytes(self) -> int:
        """The model's weights over all devices, counted once however many serving replicas hold a copy (training's
        data-parallel ranks shard them under ZeRO instead)."""
        copies = self.layout.weight_copies if self.zero_stage == 0 else 1
        return int(self.memory.weights * self.count // copies)

    @property
    def checkpoint_bytes(self) -> int:
        """The model's weights as one copy of it loads them: ``weights_bytes``, and the part a hybrid option keeps in
        host RAM."""
        return self.weights_bytes + (self.host_part.placement.host_weight_bytes if self.host_part else 0)

    @property
    def utilization(self) -> float:
        return self.memory.total / self.usable_bytes if self.usable_bytes else math.inf

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "hardware": self.hardware, "count": self.count, "precision": self.precision,
            "runtime": self.runtime, "memory": self.memory.as_dict(), "available": self.usable_bytes,
            "fits": self.fits, "utilization": round(self.utilization, 4),
            # a configuration that does not fit cannot run: it has no speed to show
            "tokens_per_s": _round(self.tokens_per_s) if self.fits else None,
            "total_tokens_per_s": _round(self.total_tokens_per_s) if self.fits else None,
            "prefill_tokens_per_s": _round(self.prefill_tokens_per_s) if self.fits else None, "bound": self.bound,
            "quality_class": self.quality, "price_known": self.price_known,
            "cost": self.cost.as_dict(), "micro_batch": self.micro_batch, "accumulation_steps": self.accumulation_steps,
            "checkpointing": self.checkpointing, "zero_stage": self.zero_stage, "tp_over_pcie": self.tp_over_pcie,
            "serves_many": self.serves_many, "layout": self.layout.as_dict(),
            **({"training_run": self.run.as_dict()} if self.run else {}),
            **({"placement": self.host_part.as_dict()} if self.host_part else {}),
        }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)

