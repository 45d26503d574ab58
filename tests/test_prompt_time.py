"""Prompt processing on CPU boxes, and the time to first token the tiers weigh (knowledge/accelerators.yaml compute
figures of the CPU entries; policy ttft-prompt-tokens, target-ttft-s; planner.tiers)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from .conftest import run_json

GOLDEN = Path(__file__).parent / "golden"


def test_every_cpu_box_has_a_derived_prompt_processing_rate(catalog):
    cpus = [a for a in catalog.accelerators.values() if a.kind == "cpu" and not a.host_only]
    assert len(cpus) >= 19
    for a in cpus:
        assert a.bf16_tflops and a.cites.get("bf16_tflops") == "derived", a.id
        assert "Compute:" in a.notes and "pp512" in a.notes, a.id  # the note gives the measurement it is derived from


@pytest.mark.parametrize("hardware, measured", [
    ("Core i5-12400", 35.43),  # normiebench-i5-9500: Llama-3.1-8B pp512 on 6 AVX2 cores, taken for the i5-12400's 6
    ("7700X", 170 / 2),  # ik-llama-533: 170 t/s on the 16 Zen 4 cores of a 7950X, scaled to the 7700X's 8
])
def test_a_cpu_box_reads_a_prompt_at_the_published_llama_bench_rate(runner, hardware, measured):
    got = run_json(runner, "check", "--model", "llama3.1:8b", "--hardware", hardware, "--precision", "q4_k_m")
    assert got["prefill_tokens_per_s"] == pytest.approx(measured, rel=0.02)


def test_gpt_oss_20b_for_one_user_is_not_recommended_on_a_cpu_box_that_takes_a_minute_per_prompt(runner, catalog):
    got = run_json(runner, "recommend", "--model", "gpt-oss-20b")
    tiers = {r["tier"]: r for r in got["recommendations"]}
    prompt, target = catalog.policy.ttft_prompt_tokens, catalog.policy.target_ttft_s
    recommended = tiers["recommended"]
    assert catalog.accelerators[recommended["hardware"]].kind != "cpu"
    assert prompt / recommended["prefill_tokens_per_s"] <= target
    minimum = tiers["minimum"]  # the cheapest that works is still the CPU box, and says what its prompts cost
    assert catalog.accelerators[minimum["hardware"]].kind == "cpu"
    seconds = prompt / minimum["prefill_tokens_per_s"]
    assert seconds > target
    assert f"a 4,096-token prompt takes ~{seconds:,.0f} s before the first token" in minimum["because"]


def _recommend_cases() -> list[str]:
    cases = yaml.safe_load((GOLDEN / "cases.yaml").read_text())["cases"]
    return [c["name"] for c in cases if c["args"][0] == "recommend" and "--task" not in c["args"]]


@pytest.mark.parametrize("name", _recommend_cases())
def test_every_golden_tier_slower_than_the_target_says_how_long_its_prompt_takes(catalog, name):
    got = json.loads((GOLDEN / f"{name}.json").read_text())
    context = got["profile"]["context"]
    prompt = min(catalog.policy.ttft_prompt_tokens, context // 2)
    for tier in got.get("recommendations", []):
        rate = tier.get("prefill_tokens_per_s")
        if rate and prompt / rate > catalog.policy.target_ttft_s:
            assert f"a {prompt:,}-token prompt takes ~" in tier["because"], (name, tier["tier"])
        else:
            assert "prompt takes ~" not in tier["because"], (name, tier["tier"])
