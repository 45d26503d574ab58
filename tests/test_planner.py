"""The planner's shortcuts change no answer: they only skip work whose result would be thrown away."""

from __future__ import annotations

import dataclasses
import random
import types

import pytest
from llmhw import api, planner
from llmhw.planner import bounds, offload
from llmhw.planner.bounds import PRICED, Built

from .conftest import run_json

PROFILES = [
    {"model": "deepseek-r1:70b", "concurrency": 20, "budget": 40000},
    {"model": "deepseek-r1:7b", "deployment": "cloud", "concurrency": 30},
    {"model": "qwen2.5:7b", "task": "lora", "batch": 32},
    {"model": "deepseek-r1:671b", "scale": "enterprise"},
    {"model": "deepseek-r1:1.5b", "deployment": "edge"},
    {"model": "gpt-oss:120b", "budget": 10000},
]


def crowded(cat):
    """The catalog plus a copy of every device with specs and prices moved a little, so many devices dominate others."""
    rng = random.Random(7)
    accels = dict(cat.accelerators)
    for a in cat.accelerators.values():
        f = rng.uniform(0.95, 1.05)
        prices = tuple(dataclasses.replace(p, usd=round(p.usd * rng.uniform(0.8, 1.2), 2)) for p in a.prices)
        accels[a.id + "-copy"] = dataclasses.replace(a, id=a.id + "-copy", aliases=(), prices=prices,
                                                     mem_bandwidth_gbs=a.mem_bandwidth_gbs * f)
    return dataclasses.replace(cat, accelerators=types.MappingProxyType(accels))


# A wheel compiles the planner (setup.py): its functions then call one another directly, past a monkeypatch, and check
# the type of every argument. The tests that rely on either run on the pure build (`make test` runs the suite on both).
COMPILED = not planner.frontier.__file__.endswith(".py")


def only_pure(why: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(COMPILED, reason=f"{why}: run on the pure build")


@only_pure("swaps out a planner function, which compiled code calls directly")
@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p["model"])
def test_skipping_dominated_devices_changes_no_answer(monkeypatch, profile):
    cat = crowded(api.catalog())
    monkeypatch.setattr(api, "catalog", lambda dirs=(): cat)
    pruned = api.advise(profile).to_dict()
    monkeypatch.setattr(planner.frontier, "undominated", lambda w, accels: list(accels))
    assert api.advise(profile).to_dict() == pruned


RULED_OUT = [
    {"model": "llama-3.1-8b", "deployment": "cloud"},
    {"model": "qwen2.5-14b", "concurrency": 4, "budget": 5000},
    {"model": "gemma-3-27b", "concurrency": 20, "context": 32768},
    {"model": "qwen3-32b", "concurrency": 4, "context": 4096},  # cards whose box is not priced compare only among themselves
    {"model": "mixtral-8x7b", "concurrency": 4},  # GPUs that also get hybrid options, where several of them hold the model
]


@only_pure("swaps out a planner function, which compiled code calls directly")
@pytest.mark.parametrize("profile", PROFILES + RULED_OUT, ids=lambda p: f"{p['model']}-{p.get('deployment', 'local')}")
def test_ruling_options_out_before_sizing_changes_no_answer(monkeypatch, profile):
    """An option built that beats every option of a device, format and layer-split runtime spares their sizing
    (``bounds.beaten``): the answer and every candidate compared are the same as when all are sized."""
    beaten, calls = [], []
    rule_out = bounds.beaten

    def counted(*args):
        calls.append(args)
        beaten.append(rule_out(*args))
        return beaten[-1]

    monkeypatch.setattr(bounds, "beaten", counted)
    ruled_out = api.advise(profile)
    # ruled out from two devices up on a GPU that also gets hybrid options (args: w, model, accel, ..., fewest at 6)
    beside_hybrid = [hit and args[6] > 1 and offload.offloads(*args[:3], None) for args, hit in zip(calls, beaten, strict=True)]
    monkeypatch.setattr(bounds, "beaten", lambda *args: False)
    sized = api.advise(profile)
    assert ruled_out.to_dict() == sized.to_dict()
    assert list(ruled_out.compared) == list(sized.compared)
    if profile in RULED_OUT:  # the shortcut is taken here, not only allowed
        assert any(beaten)
    if profile["model"] == "mixtral-8x7b":  # hybrid options read only one-device options: several devices' are ruled out
        assert any(beside_hybrid)


@only_pure("stands simple namespaces in for options, which compiled code type-checks")
def test_built_options_keep_the_fastest_within_each_cost():
    """``bounds.Built`` answers "the fastest option of this quality or a better one costing at most X" from the options
    with nothing else against them (roomy, no TP over PCIe, the prompt read in time, not cards without their box); an
    unpriced device's options answer for that device alone, by device count."""
    def option(cost, speed, quality="near-lossless", utilization=0.5, host="", hardware="a", count=1):
        return types.SimpleNamespace(cost=types.SimpleNamespace(budget_usd=cost), whole_price_known=cost is not None and host == "",
                                     utilization=utilization, tp_over_pcie=False, tokens_per_s=speed, quality=quality,
                                     serves_many=False, hardware=hardware, count=count)

    built = Built(comfortable=0.8, prompt_ok=lambda o: True)
    for o in (option(1000, 20), option(2000, 15), option(3000, 40), option(500, 90, utilization=0.95),
              option(400, 90, host="not priced"), option(2500, 60, quality="small-loss"),
              option(None, 30, hardware="b", count=2), option(None, 50, hardware="b", count=4)):
        built.add(o)
    assert built.fastest(PRICED, "near-lossless", False, 999) == 0.0  # the roomy-less and the box-less ones do not count
    assert built.fastest(PRICED, "near-lossless", False, 2999) == 20  # the dearer one at 15 tok/s never will
    assert built.fastest(PRICED, "near-lossless", False, 3000) == 40
    assert built.fastest(PRICED, "small-loss", False, 2600) == 60  # a better class counts for a worse one, not the other way
    assert built.fastest(PRICED, "lossless", False, 1e9) == 0.0
    assert built.fastest(PRICED, "near-lossless", True, 1e9) == 0.0  # no batching runtime built
    assert (built.fastest("b", "near-lossless", False, 3), built.fastest("b", "near-lossless", False, 4)) == (30, 50)
    assert built.fastest("a", "near-lossless", False, 8) == 0.0  # device a is priced: it has no group of its own


def test_dominated_device_is_skipped(catalog):
    w = planner.Workload(model="deepseek-r1-distill-qwen-7b", task="inference", precision="auto", context=4096, concurrency=1,
                         batch=1, activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment="local",
                         scale="personal", hours_per_day=8, cpu_cores=None, ram_gb=None)
    h100 = catalog.accelerators["h100-sxm"]
    worse = dataclasses.replace(h100, id="h100-worse", mem_bandwidth_gbs=h100.mem_bandwidth_gbs / 2)
    kept = planner.undominated(w, [h100, worse])
    assert kept == [h100]
    # the answer is kept per list of device objects, not per id: a device changed under the same id gets its own
    better = dataclasses.replace(h100, id="h100-worse", mem_bandwidth_gbs=h100.mem_bandwidth_gbs * 2)
    assert planner.undominated(w, [h100, better]) == [better]
    assert planner.undominated(w, [h100, worse]) == [h100]


def test_workload_has_one_field_per_input_slot():
    """planner.Workload is the typed view of the slot table: a slot added to profile.SLOTS must appear here too."""
    from llmhw.profile import SLOTS

    assert list(planner.Workload.__dataclass_fields__) == [s.name for s in SLOTS]


@pytest.mark.parametrize("rack", ["gb200", "gb300"])
def test_an_nvl72_rack_is_bought_whole_and_rented_per_gpu(catalog, rack):
    """GB200/GB300 GPUs are sold only as 72-GPU NVL72 racks: a purchase is one or two racks (policy system-counts; four
    would pass the enterprise limit), never a power-of-two count, and no rack below enterprise scale; a rented GPU-hour
    comes in the usual device counts."""
    accel = catalog.accelerators[rack]

    def counts(scale: str, deployment: str) -> list[int]:
        w = planner.Workload(model="deepseek-r1", task="inference", precision="auto", context=8192, concurrency=1000,
                             batch=1, activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any",
                             deployment=deployment, scale=scale, hours_per_day=8, cpu_cores=None, ram_gb=None)
        return planner.device_counts(w, accel, catalog)
    assert counts("enterprise", "local") == [72, 144]
    assert counts("team", "local") == [] and counts("personal", "local") == []
    assert counts("enterprise", "cloud") == list(catalog.policy.device_counts)
    assert counts("team", "cloud") == [1, 2, 4, 8]


def test_a_rack_is_its_own_host_bought_or_rented(runner):
    """The rack's system price buys its 36 Grace CPUs with it: no host box is added to a bought rack, nor to the purchase
    a rented GB200 GPU is compared with (it got a 900 USD desktop box before); and the rack draws its whole power, CPUs,
    switches and fans with its GPUs."""
    bought = run_json(runner, "check", "--model", "deepseek-r1:671b", "--hardware", "GB200", "--count", "72",
                      "--concurrency", "1000", "--scale", "enterprise")["cost"]
    assert (bought["host"], bought["host_usd"], bought["purchase_usd"]) == ("", None, 2_500_000)
    # the rack's 120 kW (sth-gb200-nvl72-power) for 8 h a day, a year, at 0.13 USD/kWh: not its 72 GPUs' 86.4 kW alone
    assert bought["power_usd_per_year"] == round(120_000 * 8 * 365 / 1000 * 0.13, 2)
    rented = run_json(runner, "check", "--model", "qwen2.5:7b", "--hardware", "GB200", "--deployment", "cloud")["cost"]
    assert (rented["host"], rented["host_usd"], rented["purchase_usd"]) == ("", None, round(2_500_000 / 72, 2))


@pytest.mark.parametrize("model,deployment", [("deepseek-r1-distill-llama-70b", "local"), ("qwen3-30b-a3b", "cloud")])
def test_an_enumeration_within_a_cost_or_quality_keeps_the_same_options(catalog, model, deployment):
    w = planner.Workload(model=model, task="inference", precision="auto", context=8192, concurrency=20, batch=1,
                         activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment=deployment,
                         scale="team", hours_per_day=8, cpu_cores=None, ram_gb=None)
    accels = list(catalog.accelerators.values())
    every = planner.enumerate_options(w, catalog.models[model], accels, catalog)
    costs = sorted({o.cost.budget_usd for o in every if o.cost.budget_usd is not None})
    for ceiling in (costs[0] / 2, costs[0], costs[len(costs) // 2], costs[-1]):  # on an option's cost exactly, too
        within = [o for o in every if o.cost.budget_usd is not None and o.cost.budget_usd <= ceiling]
        assert planner.enumerate_options(w, catalog.models[model], accels, catalog, within_usd=ceiling) == within
    for floor in ("noticeable-loss", "small-loss", "lossless"):
        good = [o for o in every if planner.QUALITY_RANK[o.quality] >= planner.QUALITY_RANK[floor]]
        assert planner.enumerate_options(w, catalog.models[model], accels, catalog, quality_at_least=floor) == good


@pytest.mark.parametrize("model,deployment,floor", [("qwen3-235b-a22b", "cloud", "near-lossless"), ("qwen2.5-72b", "local", "lossless"),
                                                    ("deepseek-r1-distill-qwen-7b", "local", "small-loss")])
def test_the_cheapest_within_a_growing_cost_is_the_cheapest_of_all(catalog, model, deployment, floor):
    w = planner.Workload(model=model, task="inference", precision="auto", context=32768, concurrency=20, batch=1,
                         activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="tpu", deployment=deployment,
                         scale="enterprise", hours_per_day=8, cpu_cores=None, ram_gb=None)
    gpus = [a for a in catalog.accelerators.values() if a.ecosystem == "cuda"]
    every = planner.enumerate_options(w, catalog.models[model], gpus, catalog)
    cheapest = planner.cheapest(o for o in every if planner.meets(o, floor, 0))
    assert planner.cheapest_meeting(w, catalog.models[model], gpus, catalog, floor) == cheapest
    one_small_card = [catalog.accelerators["rtx-3060-12gb"]]  # nothing fits: every round and the whole catalog, then None
    r1 = dataclasses.replace(w, model="deepseek-r1")
    assert planner.cheapest_meeting(r1, catalog.models["deepseek-r1"], one_small_card, catalog, floor) is None
