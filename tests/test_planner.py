"""The planner's shortcuts change no answer: they only skip work whose result would be thrown away."""

from __future__ import annotations

import dataclasses
import random
import types

import pytest
from llmhw import api, planner

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


@pytest.mark.parametrize("profile", PROFILES, ids=lambda p: p["model"])
def test_skipping_dominated_devices_changes_no_answer(monkeypatch, profile):
    cat = crowded(api.catalog())
    monkeypatch.setattr(api, "catalog", lambda dirs=(): cat)
    pruned = api.advise(profile).to_dict()
    monkeypatch.setattr(planner.frontier, "undominated", lambda w, accels: list(accels))
    assert api.advise(profile).to_dict() == pruned


def test_dominated_device_is_skipped(catalog):
    w = planner.Workload(model="deepseek-r1-distill-qwen-7b", task="inference", precision="auto", context=4096, concurrency=1,
                         batch=1, activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment="local",
                         scale="personal", hours_per_day=8, cpu_cores=None, ram_gb=None)
    h100 = catalog.accelerators["h100-sxm"]
    worse = dataclasses.replace(h100, id="h100-worse", mem_bandwidth_gbs=h100.mem_bandwidth_gbs / 2)
    kept = planner.undominated(w, [h100, worse])
    assert kept == [h100]


def test_workload_has_one_field_per_input_slot():
    """planner.Workload is the typed view of the slot table: a slot added to profile.SLOTS must appear here too."""
    from llmhw.profile import SLOTS

    assert list(planner.Workload.__dataclass_fields__) == [s.name for s in SLOTS]
