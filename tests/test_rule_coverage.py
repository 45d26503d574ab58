"""Every rule is seen firing in one consultation and staying silent in another.

The consultations are real engine runs over a set of workloads chosen so that each rule meets a case
where it applies and one where it does not.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from llmhw import api, session
from llmhw.knowledge.loader import load_catalog
from llmhw.profile import SLOTS

CAT = load_catalog()

# name: (profile, proposal for `check` or None)
WORKLOADS = {
    "r1-1.5b-personal": ({"model": "deepseek-r1:1.5b"}, None),
    "r1-7b-smb": ({"model": "deepseek-r1:7b", "concurrency": 10, "budget": 5000}, None),
    "r1-7b-big-budget": ({"model": "deepseek-r1:7b", "budget": 60000}, None),
    "r1-32b": ({"model": "deepseek-r1:32b", "concurrency": 8, "budget": 20000}, None),
    "r1-70b-demo": ({"model": "deepseek-r1:70b", "concurrency": 20, "context": 8192, "budget": 40000}, None),
    "r1-70b-over-budget": ({"model": "deepseek-r1:70b", "concurrency": 4, "budget": 1000}, None),
    "r1-671b-enterprise": ({"model": "deepseek-r1:671b", "concurrency": 100, "scale": "enterprise", "budget": 2000000}, None),
    "cpu-only-1.5b": ({"model": "deepseek-r1:1.5b", "ecosystem": "cpu"}, None),
    "cpu-only-405b": ({"model": "llama3.1:405b", "ecosystem": "cpu", "scale": "team"}, None),
    "npu-1.5b-edge": ({"model": "deepseek-r1:1.5b", "ecosystem": "npu", "deployment": "edge"}, None),
    "apple-70b": ({"model": "deepseek-r1:70b", "ecosystem": "apple"}, None),
    "tpu-local": ({"model": "deepseek-r1:7b", "ecosystem": "tpu", "deployment": "local"}, None),
    "cloud-7b": ({"model": "qwen2.5:7b", "deployment": "cloud", "concurrency": 50}, None),
    "rocm-70b-100-users": ({"model": "llama3.1:70b", "ecosystem": "rocm", "concurrency": 100}, None),
    "lora-7b": ({"model": "deepseek-r1:7b", "task": "lora", "batch": 32, "context": 4096}, None),
    "qlora-70b": ({"model": "llama3.1:70b", "task": "qlora", "context": 2048}, None),
    "finetune-7b": ({"model": "deepseek-r1:7b", "task": "finetune", "context": 4096, "batch": 16}, None),
    "finetune-70b-enterprise": ({"model": "llama3.1:70b", "task": "finetune", "scale": "enterprise", "context": 4096}, None),
    "moe-qwen3-235b-small-host": ({"model": "qwen3:235b-a22b", "ram_gb": 64, "cpu_cores": 16}, None),
    "gemma-long-context": ({"model": "gemma3:27b", "context": 131072, "concurrency": 4}, None),
    "gpt-oss-120b": ({"model": "gpt-oss:120b", "concurrency": 16}, None),
    "check-7b-on-a100": ({"model": "deepseek-r1:7b", "precision": "q4_k_m"}, ("a100-80gb-sxm", 1)),
    "check-8b-finetune-one-h100": ({"model": "llama3.1:8b", "task": "finetune"}, ("h100-sxm", 1)),
    "check-7b-qlora-12gb": ({"model": "qwen2.5:7b", "task": "qlora"}, ("rtx-3060-12gb", 1)),
    "check-70b-weak-host": ({"model": "deepseek-r1:70b", "cpu_cores": 4, "ram_gb": 16, "concurrency": 20}, ("h100-sxm", 2)),
    "check-32b-bf16": ({"model": "deepseek-r1:32b", "precision": "bf16", "concurrency": 4}, ("h100-sxm", 2)),
    "check-70b-4x4090": ({"model": "deepseek-r1:70b", "precision": "q4_k_m", "concurrency": 4}, ("rtx-4090", 4)),
    "check-70b-3bit": ({"model": "deepseek-r1:70b", "precision": "q3_k_m"}, ("rtx-4090", 2)),
    "check-70b-bf16-one-4090": ({"model": "deepseek-r1:70b", "precision": "bf16"}, ("rtx-4090", 1)),
    "check-671b-hybrid-4090": ({"model": "deepseek-r1:671b", "precision": "q4_k_m", "host": "cpu-server-xeon6-6980p-768gb"},
                               ("rtx-4090", 1)),
    # one copy of R1 at FP8 across two HGX H100 nodes: pipeline parallel between the nodes
    "check-r1-16xh100-two-nodes": ({"model": "deepseek-r1:671b", "precision": "fp8"}, ("h100-sxm", 16)),
}

# A committed-use TPU price (an embedding app's private knowledge) makes a TPU the cheapest hour.
TPU_DEAL = """schema_version: 1
accelerators:
  - id: tpu-v5e-committed
    name: Google TPU v5e (3-year committed use)
    vendor: google
    kind: tpu
    ecosystem: tpu
    memory_bytes: 17179869184
    usable_memory_bytes: 17179869184
    usable_memory_basis: vendor-gib
    mem_bandwidth_gbs: 819
    bf16_tflops: 197
    int8_tops: 393
    interconnect: ici
    interconnect_gbs: 400
    cites: {memory_bytes: gcp-tpu-v5e, usable_memory_bytes: gcp-tpu-v5e, mem_bandwidth_gbs: gcp-tpu-v5e, bf16_tflops: gcp-tpu-v5e,
      int8_tops: gcp-tpu-v5e, interconnect_gbs: gcp-tpu-v5e}
    max_devices: 256
    features: [bf16, int8]
    obtain: cloud
    prices: [{usd: 0.3, kind: cloud-on-demand, date: "2026-11", source: llmhw-assumption,
              note: "a negotiated test price (committed use, read as the hour this app pays)"}]
    sources: [gcp-tpu-v5e]
"""


def fired(profile, proposal=None, knowledge_dirs=(), owned=None):
    cat = load_catalog(tuple(knowledge_dirs))
    result, _ = session.run_with_defaults(cat, api.resolve(profile, cat), proposal, owned)
    return {e.rule_id for e in result.events}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {name: fired(profile, proposal) for name, (profile, proposal) in WORKLOADS.items()}
    deal = tmp_path_factory.mktemp("tpu-deal")
    (deal / "accelerators.yaml").write_text(TPU_DEAL)
    out["tpu-deal-cloud"] = fired({"model": "deepseek-r1:1.5b", "deployment": "cloud"}, None, (str(deal),))
    # a speed measured with llama-bench and stored by `llmhw calibrate` (tests/data/measurements)
    measured = Path(__file__).parent / "data" / "measurements" / "knowledge"
    out["measured-4080"] = fired({"model": "qwen2.5-7b", "precision": "q4_k_m"}, ("rtx-4080", 1), (str(measured),))
    # `recommend --have`: one RTX 3090 for a 70B model (every addition), and a machine with no GPU
    out["have-3090-70b"] = fired({"model": "llama-3.1-70b"}, owned={"hardware": "rtx-3090", "kind": "gpu", "count": 1, "ram_bytes": None,
                                                                       "cpu": ""})
    out["have-no-gpu-8b"] = fired({"model": "llama-3.1-8b"}, owned={"hardware": "none", "kind": "none", "count": 0, "ram_bytes": 32 * 10**9,
                                                                      "cpu": "Ryzen 7 7700X"})
    # With the model unanswered, only question rules fire: the pipeline waits.
    out["model-missing"] = {e.rule_id for e in session.run(CAT, {}).events}
    return out


PIPELINE_RULES = sorted(m.id for m in session.RULES if not m.id.startswith("IN-ask"))


@pytest.mark.parametrize("rule_id", PIPELINE_RULES)
def test_rule_fires_somewhere_and_stays_silent_elsewhere(runs, rule_id):
    firing = [name for name, ids in runs.items() if rule_id in ids]
    silent = [name for name, ids in runs.items() if rule_id not in ids]
    assert firing, f"{rule_id} never fires"
    assert silent, f"{rule_id} fires everywhere"


@pytest.mark.parametrize("slot", [s for s in SLOTS if s.name != "model"], ids=lambda s: s.name)
def test_question_rule_asks_only_when_needed(slot):
    answers = {"model": "deepseek-r1-distill-qwen-7b", "task": "lora", "deployment": "local"}
    answers.pop(slot.name, None)
    if slot.when:
        answers[slot.when[0]] = slot.when[1][0]
    rule_id = f"IN-ask-{slot.name.replace('_', '-')}"
    assert rule_id in {e.rule_id for e in session.run(CAT, answers).events}
    answers[slot.name] = "none" if slot.optional else session.default_for(slot.name, answers, CAT)
    assert rule_id not in {e.rule_id for e in session.run(CAT, answers).events}


def test_model_question_fires_first_and_only_without_a_model():
    assert session.run(CAT, {}).questions[0] == "model"
    assert "IN-ask-model" not in {e.rule_id for e in session.run(CAT, {"model": "phi-4"}).events}


def test_conditional_questions_are_not_asked_when_irrelevant():
    asked = session.run(CAT, {"model": "phi-4", "task": "inference", "deployment": "cloud"}).questions
    assert "concurrency" in asked
    assert not {"batch", "lora_rank", "activation_checkpointing", "cpu_cores", "ram_gb"} & set(asked)


def test_at_least_forty_rules_each_with_a_source():
    assert len(session.RULES) >= 40
    assert all(m.sources for m in session.RULES)


@pytest.mark.parametrize("hardware", ["apple-m3-max-128gb", "dgx-spark", "ryzen-ai-max-395-128gb", "cpu-desktop-ddr5-7700x"])
def test_a_device_that_is_its_own_host_gets_no_host_advice(hardware):
    result = api.check({"model": "deepseek-r1:1.5b", "ram_gb": 16}, hardware, 1)
    assert not {"P2-host-sizing", "P2-small-ram"} & {i["id"] for i in (*result.warnings, *result.tips)}


def test_host_advice_holds_whether_the_proposal_fits_or_not():
    for count, fits in ((1, False), (8, True)):
        result = api.check({"model": "llama-3.1-70b", "precision": "bf16"}, "rtx-4090", count)
        assert result.to_dict()["fits"] is fits
        assert "P2-host-sizing" in {t["id"] for t in result.tips}


def test_check_speaks_only_of_the_configuration_checked():
    result = api.check({"model": "deepseek-r1:671b", "precision": "fp8"}, "h200", 8)
    shown = " ".join(i["message"] for i in (*result.warnings, *result.tips))
    assert "(minimum)" not in shown and "L4" not in shown
