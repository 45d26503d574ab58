"""The CPU cores a host needs (planner.host_cores): per runtime, as each documents it, and the same number in the P2
advice and in the host box each tier is priced with."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest
from llmhw import planner
from llmhw.knowledge.loader import load_catalog
from llmhw.planner.costs import host_boxes, host_for
from llmhw.planner.options import Layout

CAT = load_catalog()
GOLDEN = Path(__file__).parent / "golden"
BOXES = {a.name: a for a in CAT.accelerators.values() if a.kind == "cpu"}


def workload(task: str = "inference", users: int = 1) -> planner.Workload:
    return planner.Workload(model="llama-3.1-70b", task=task, precision="auto", context=8192, concurrency=users, batch=1,
                            activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment="local",
                            scale="team", hours_per_day=8, cpu_cores=None, ram_gb=None)


def need(runtime: str, count: int, users: int = 1, task: str = "inference", hardware: str = "rtx-3090", **layout: object) -> int:
    return planner.host_cores(workload(task, users), CAT.accelerators[hardware], CAT.runtimes[runtime], count, Layout(**layout), CAT)


@pytest.mark.parametrize("count, replicas, users, cores", [
    (1, 1, 1, 2 + 1 + 1),  # vllm-cpu-resources: 2 + N, then one core per 16 users
    (4, 1, 16, 2 + 4 + 1),  # tensor parallel 4: one API server, one engine core, four workers
    (2, 2, 20, 2 * 2 + 2 + 1 + 2),  # two replicas: A + DP + N + the DP coordinator
    (8, 8, 500, 8 * 2 + 8 + 1 + 32),  # "Minimum physical cores = A + DP + N + (1 if DP > 1 else 0)"
])
def test_vllm_counts_its_processes_as_its_docs_do(count, replicas, users, cores):
    assert need("vllm", count, users, data_parallel=replicas, tensor_parallel=count // replicas) == cores


def test_llama_cpp_with_every_layer_on_the_gpus_needs_one_thread_however_many_gpus():
    assert need("llama-cpp", 1) == need("llama-cpp", 4, pipeline_parallel=4) == 1 + 1  # llamacpp-pr-2915, plus the user's core


def test_a_hybrid_option_adds_the_cores_that_compute_the_host_part():
    assert need("llama-cpp", 1, offload="experts") == 1 + CAT.policy.host_min_cores_cpu_inference + 1


@pytest.mark.parametrize("runtime", ["transformers", "unsloth"])
def test_training_needs_a_core_per_gpu_process_and_the_systems_four(runtime):
    # mle-cpu-cores: 1 core per process tied to an accelerator, "let's say 4" for the OS; no users' share in training
    assert need(runtime, 1, users=64, task="lora", data_parallel=1) == 1 + 4
    assert need(runtime, 4, users=64, task="lora", data_parallel=4) == 4 + 4


def test_a_runtime_without_a_published_figure_takes_the_dgx_share_per_device():
    assert CAT.runtimes["tensorrt-llm"].host_cores is None
    assert need("tensorrt-llm", 2, users=1, hardware="l40s") == 2 * CAT.policy.host_cores_per_device + 1


def test_a_machine_whose_own_cpu_runs_the_model_needs_the_cpu_minimum():
    assert need("llama-cpp", 1, hardware="cpu-desktop-ddr5-7700x") == CAT.policy.host_min_cores_cpu_inference + 1


@pytest.mark.parametrize("cores", [1, 6, 8, 9, 12, 13, 16, 17, 24, 25, 32, 33])
def test_the_box_bought_is_the_cheapest_with_the_cores_or_none(cores):
    card = dataclasses.replace(CAT.accelerators["rtx-pro-6000-blackwell"], tdp_w=None)  # double-width, power not asked
    box = host_for(2, 0, cores, CAT, card)
    takes_two = [b for b in host_boxes(CAT) if b.takes(card, 2) and b.host_power_w]
    enough = [b for b in takes_two if b.cpu_cores is not None and b.cpu_cores >= cores]
    assert box is None or box.cpu_cores is None or box.cpu_cores >= cores, (cores, box)
    if enough:
        assert box is not None and box.buy_price and enough[0].buy_price
        assert box.buy_price.per_device_usd <= enough[0].buy_price.per_device_usd, (cores, box.id, enough[0].id)
    else:  # only a chassis whose CPUs are ordered to the need is left (or nothing: the host is "not priced")
        assert box is None or box.cpu_cores is None, (cores, box.id)


def _priced(tier: dict) -> bool:
    return bool(tier.get("cost")) and tier["cost"].get("host") in BOXES


def _tiers(answer: dict) -> list[dict]:
    """The configurations of an answer priced with a catalog host box: the tiers of `recommend`, the proposal of `check`."""
    return [t for t in answer.get("recommendations") or ([answer] if "hardware" in answer else []) if _priced(t)]


def _subject(answer: dict) -> dict | None:
    """The configuration the P2 advice is about: the recommended tier, or the proposal `check` was asked about."""
    return next((t for t in _tiers(answer) if t.get("tier", "recommended") == "recommended"), None)


def _need(answer: dict, tier: dict) -> int:
    profile = answer["profile"]
    w = workload(profile["task"], profile.get("concurrency", 1))
    lay = tier["layout"]
    return planner.host_cores(w, CAT.accelerators[tier["hardware"]], CAT.runtimes[tier["runtime"]], tier["count"],
                              Layout(**{k: lay[k] for k in ("tensor_parallel", "pipeline_parallel", "data_parallel", "offload")}), CAT)


def test_every_golden_configuration_is_priced_with_a_box_that_has_the_cores_p2_asks_for():
    """The advice never contradicts the price: each priced configuration's host box has the cores it needs, and the
    P2-host-sizing tip asks for exactly the need of the configuration it is about."""
    checked = tips = 0
    for path in sorted(GOLDEN.glob("*.json")):
        answer = json.loads(path.read_text())
        if "profile" not in answer:
            continue
        for tier in _tiers(answer):
            box, cores = BOXES[tier["cost"]["host"]], _need(answer, tier)
            assert box.cpu_cores is None or box.cpu_cores >= cores, (path.name, tier.get("tier"), box.id, box.cpu_cores, cores)
            checked += 1
        tip = next((t["message"] for t in answer.get("tips", ()) if t["id"] == "P2-host-sizing"), None)
        subject = _subject(answer)
        if tip and subject:
            match = re.search(r"at least (\d+) CPU cores", tip)
            assert match, tip
            asked = int(match.group(1))
            assert asked == _need(answer, subject), (path.name, tip)
            box = BOXES[subject["cost"]["host"]]
            assert box.cpu_cores is None or box.cpu_cores >= asked, (path.name, box.id, asked)
            tips += 1
    assert checked >= 40 and tips >= 20, (checked, tips)  # the walk reads the pinned answers (a renamed key would make it vacuous)


def test_a_four_core_host_feeds_two_gpus_under_llama_cpp_but_not_vllm_for_twenty_users(runner):
    from llmhw.cli import main

    def warned(*extra: str) -> set[str]:
        result = runner.invoke(main, ["check", "--model", "deepseek-r1:70b", "--hardware", "H100 SXM", "--count", "2",
                                      "--cpu-cores", "4", "--format", "json", *extra])
        assert result.exit_code == 0, result.output
        return {w["id"] for w in json.loads(result.stdout)["warnings"]}

    assert "P2-weak-cpu" not in warned()  # one user: llama.cpp, one thread drives both GPUs
    assert "P2-weak-cpu" in warned("--concurrency", "20")  # vLLM: API server, engine core, 2 workers, 2 cores for users


GOOD_RUNTIME = """schema_version: 1
runtimes:
  - id: my-server
    name: My Server
    ecosystems: [cuda]
    overhead_bytes: 1000000000
    memory_fraction: 0.9
    serves_many: true
    batches: true
    trains: false
    infers: true
    host_cores: {per_device: 1, per_replica: 2, sources: [vllm-cpu-resources]}
    sources: [derived]
"""


def test_an_extra_runtime_brings_its_core_need(tmp_path):
    (tmp_path / "runtimes.yaml").write_text(GOOD_RUNTIME)
    cat = load_catalog((str(tmp_path),))
    need = cat.runtimes["my-server"].host_cores
    assert need is not None and need.cores(devices=4, replicas=1) == 4 + 2


@pytest.mark.parametrize("change, message", [
    ("sources: [vllm-cpu-resources]", "runtimes.yaml: runtime 'my-server', key 'host_cores': unknown source 'nowhere'"),
    ("per_device: 1", "runtimes.yaml: runtime 'my-server', key 'host_cores': expected per_device of zero or more cores, got -1"),
    ("per_device: 1, ", "runtime #1 'my-server', key 'host_cores', key 'per_device': missing"),
])
def test_a_core_need_without_a_source_or_below_zero_is_refused(tmp_path, change, message):
    from llmhw.errors import KnowledgeError

    broken = {"sources: [vllm-cpu-resources]": "sources: [nowhere]", "per_device: 1": "per_device: -1", "per_device: 1, ": ""}[change]
    (tmp_path / "runtimes.yaml").write_text(GOOD_RUNTIME.replace(change, broken))
    with pytest.raises(KnowledgeError) as err:
        load_catalog((str(tmp_path),))
    assert str(err.value).endswith(message), str(err.value)


def test_four_r9700_serve_a_32b_at_fp8_in_two_replicas_on_the_16_core_epyc_box(runner):
    """The two vLLM replicas of TP 2 on four cards need 10 cores (2 API servers + 2 engine cores + 4 workers + the
    DP coordinator + 1 for 4 users): the 8-core EPYC 7252 frame cannot host them, the same frame with a 16-core EPYC
    7302P can, priced as the 7252 box with the CPU swapped at AMD's list prices (348 -> 825 USD, cpuspec-epyc-rome)."""
    from llmhw.cli import main

    result = runner.invoke(main, ["recommend", "--model", "qwen2.5-32b", "--concurrency", "4", "--precision", "fp8",
                                  "--context", "32768", "--budget", "5000", "--format", "json"])
    assert result.exit_code == 0, result.output
    minimum = json.loads(result.stdout)["recommendations"][0]
    assert (minimum["tier"], minimum["count"], minimum["hardware"]) == ("minimum", 4, "radeon-ai-pro-r9700")
    assert (minimum["layout"]["tensor_parallel"], minimum["layout"]["data_parallel"]) == (2, 2)
    box, eight_core = CAT.accelerators["cpu-epyc-7302p-romed8-256gb"], CAT.accelerators["cpu-epyc-7252-romed8-256gb"]
    assert need("vllm", 4, users=4, hardware="radeon-ai-pro-r9700", tensor_parallel=2, data_parallel=2) == 10
    assert eight_core.cpu_cores == 8 and box.cpu_cores == 16
    assert eight_core.buy_price and box.buy_price
    assert box.buy_price.per_device_usd == eight_core.buy_price.per_device_usd - 348 + 825
    card = CAT.accelerators["radeon-ai-pro-r9700"].buy_price
    assert card is not None
    cost = minimum["cost"]
    assert (cost["host"], cost["host_usd"]) == (box.name, box.buy_price.per_device_usd)
    assert cost["purchase_usd"] == 4 * card.per_device_usd + box.buy_price.per_device_usd  # 7,841 USD
