"""Launch plans: every golden tier and fitting check carries the commands that start it, each option documented in its
runtime's launch table and each number the plan's; constructed layouts exercise the paths goldens do not reach yet."""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
from llmhw import api, planner
from llmhw.cli import main
from llmhw.errors import KnowledgeError
from llmhw.knowledge.checks import check_entries
from llmhw.knowledge.loader import load_catalog
from llmhw.knowledge.runtime_schema import LAUNCH_STYLES, LaunchFlag
from llmhw.launch import plan
from llmhw.planner import layouts
from llmhw.planner.options import Layout, Option, Workload

GOLDEN = Path(__file__).parent / "golden"
CAT = load_catalog()


def _configurations() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(golden file, profile, configuration) for every tier and every fitting check of the golden answers."""
    out = []
    for path in sorted(GOLDEN.glob("*.json")):
        doc = json.loads(path.read_text())
        if "recommendations" in doc:
            out += [(f"{path.stem}:{r['tier']}", doc["profile"], r) for r in doc["recommendations"]]
        elif doc.get("fits"):
            out.append((path.stem, doc["profile"], doc))
    return out


CONFIGURATIONS = _configurations()


def parse(command: str, runtime: str) -> dict[str, str | None]:
    """A command read back through its runtime's launch tables: role -> value (None for a switch)."""
    words = shlex.split(command)
    tools = CAT.runtimes[runtime].launch
    by_flag = {f.flag: (t.style, f) for t in tools for f in t.flags}
    heads = {tuple(shlex.split(t.command)) for t in tools}
    head = next(h for h in heads if tuple(words[: len(h)]) == h)
    words = words[len(head):]
    roles: dict[str, str | None] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if "=" in word and not word.startswith("-"):
            key, value = word.split("=", 1)
            style, flag = by_flag[key]
            roles[flag.role] = value
        elif word.startswith("-"):
            assert word in by_flag, f"{word} is not in the launch table of {runtime}"
            style, flag = by_flag[word]
            if flag.form == "switch":
                roles[flag.role] = None
            else:
                roles[flag.role] = words[i + 1]
                i += 1
        else:
            roles.setdefault("positional", word)  # the model of `vllm serve MODEL`
        i += 1
    return roles


@pytest.mark.parametrize(("name", "profile", "config"), CONFIGURATIONS, ids=[c[0] for c in CONFIGURATIONS])
def test_every_golden_configuration_has_a_launch_plan_true_to_its_numbers(name, profile, config):
    launch = config["launch"]
    runtime = CAT.runtimes[config["runtime"]]
    assert launch["runtime"] == runtime.id
    documented = {f.flag for t in runtime.launch for f in t.flags}
    assert {f["flag"] for f in launch["flags"]} <= documented
    if not runtime.launch:
        assert launch["commands"] == [] and launch["note"] == runtime.launch_note
        return
    assert all(f["why"] for f in launch["flags"])
    if not launch["commands"]:  # a Python API (Unsloth): its settings are in the file
        assert launch["files"] and all(f"{f['flag']}=" in launch["files"][0]["text"] for f in launch["flags"])
        return
    layout = config.get("layout") or {"tensor_parallel": config["count"], "pipeline_parallel": 1, "data_parallel": 1}
    roles = parse(launch["commands"][0], runtime.id)
    users, context = profile.get("concurrency") or 1, profile["context"]
    if profile["task"] != "inference":
        micro, steps = config.get("micro_batch"), config.get("accumulation_steps")
        if micro is not None:
            assert int(roles["micro_batch"]) == micro and int(roles["accumulation"]) == steps
        assert int(roles.get("processes", roles.get("fsdp"))) == config["count"]
        assert int(roles["context"]) == context
        autocasts = "bf16" in {f.role for t in runtime.launch for f in t.flags}  # MaxText's precision is its own config
        if autocasts and config["precision"] in ("bf16", "nf4"):  # 16-bit autocast in the format the device computes (a V100 has no BF16)
            has_bf16 = "bf16" in CAT.accelerators[config["hardware"]].features
            assert (roles["bf16"], roles.get("fp16", "false")) == (("true", "false") if has_bf16 else ("false", "true"))
        return
    if runtime.id == "llama-cpp":  # llama-server splits over the devices its --tensor-split lists
        devices = len(str(roles["tensor_split"]).split(",")) if "tensor_split" in roles else 1
    else:
        devices = math.prod(int(str(roles.get(r, 1))) for r in ("tensor_parallel", "pipeline_parallel", "data_parallel"))
        for role in ("tensor_parallel", "pipeline_parallel", "data_parallel"):
            assert int(str(roles.get(role, 1))) == layout[role]
    assert devices == config["count"]
    per_replica = math.ceil(users / layout["data_parallel"])  # each replica's engine schedules its share of the users
    if runtime.id == "llama-cpp":
        model = CAT.models[profile["model"]]
        assert int(roles["context"]) == context * int(roles["sequences"]) and int(roles["sequences"]) == per_replica
        placement = config.get("placement")
        if CAT.accelerators[config["hardware"]].kind == "cpu":
            assert int(roles["gpu_layers"]) == 0
        elif placement and placement["mode"] == "layers":
            assert int(roles["gpu_layers"]) == placement["layers"] - placement["offloaded_layers"]
        else:
            assert int(roles["gpu_layers"]) == model.layers + 1
        if placement and placement["mode"] == "experts":  # the hybrid placement's N is llama.cpp's --n-cpu-moe N
            assert int(roles["cpu_moe"]) == placement["offloaded_layers"]
        if config["count"] > 1:
            assert roles["split_mode"] == "layer" and roles["tensor_split"] == ",".join(["1"] * config["count"])
    else:
        assert int(roles["context"]) == context and int(roles["sequences"]) == per_replica
        assert float(roles["memory_fraction"]) == runtime.memory_fraction


def test_every_role_of_every_style_has_a_documented_option_in_some_runtime():
    used = {(t.style, f.role) for r in CAT.runtimes.values() for t in r.launch for f in t.flags}
    assert {(s, role) for s, roles in LAUNCH_STYLES.items() for role in roles} == used


def test_a_launch_table_missing_a_role_is_a_load_error():
    vllm = CAT.runtimes["vllm"]
    tool = vllm.launch[0]
    renamed = dataclasses.replace(tool, flags=tuple(f for f in tool.flags if f.role != "context"))
    with pytest.raises(KnowledgeError) as err:
        check_entries("runtimes.yaml", "runtime", [dataclasses.replace(vllm, launch=(renamed,))])
    assert str(err.value) == ("runtimes.yaml: runtime 'vllm', key 'launch 'vllm-serve'': expected an option for role "
                              "'context' (the launch plans set it), got none")
    misspelt = dataclasses.replace(tool, flags=(*tool.flags[1:], LaunchFlag(role=tool.flags[0].role, flag="tensor parallel size")))
    with pytest.raises(KnowledgeError, match="expected a option spelled like"):
        check_entries("runtimes.yaml", "runtime", [dataclasses.replace(vllm, launch=(misspelt,))])


def _option(runtime: str, count: int, layout: Layout, precision: str = "bf16", hardware: str = "h100-sxm") -> tuple[Option, Workload]:
    w = Workload(model="llama-3.1-70b", task="inference",
                 precision=precision, context=16384, concurrency=64, batch=16, activation_checkpointing=None, lora_rank=16,
                 budget=None, ecosystem="any", deployment="cloud", scale="enterprise", hours_per_day=8, cpu_cores=None, ram_gb=None)
    base = api.check({"model": w.model, "precision": "fp8", "context": 16384, "concurrency": 64}, "h100-sxm", 8)  # its memory
    assert base.fits
    option = Option(hardware=hardware, count=count, precision=precision, runtime=runtime, memory=_memory(base),
                    usable_bytes=base.configuration["available"], fits=True, tokens_per_s=1.0, total_tokens_per_s=1.0,
                    prefill_tokens_per_s=1.0, bound="memory", quality="lossless", cost=_cost(), layout=layout)
    return option, w


def _memory(result: Any) -> Any:
    from llmhw.sizing import Memory

    return Memory(**{k: v for k, v in result.configuration["memory"].items() if k != "total"})


def _cost() -> Any:
    from llmhw.planner.options import Cost

    return Cost(purchase_usd=None, cloud_usd_per_hour=None, power_usd_per_year=None, budget_usd=None, basis="cloud")


def test_vllm_takes_pipeline_across_nodes_data_parallel_replicas_and_expert_parallel_from_the_layout():
    layout = Layout(tensor_parallel=8, pipeline_parallel=2, expert_parallel=32, data_parallel=2, nodes=4)
    option, w = _option("vllm", 32, layout, precision="fp8")
    launch = plan(option, w, CAT)
    roles = parse(launch.commands[0], "vllm")
    assert (roles["tensor_parallel"], roles["pipeline_parallel"], roles["data_parallel"]) == ("8", "2", "2")
    assert "expert_parallel" in roles and roles["expert_parallel"] is None
    assert roles["sequences"] == str(math.ceil(64 / 2)) and roles["context"] == "16384"
    assert "Ray cluster" in launch.note and launch.numbers["data_parallel"] == 2


def test_vllm_runs_data_parallel_attention_with_one_rank_per_device_and_the_experts_spread_over_all():
    """The golden 1,000-user DeepSeek-R1 tier on 8 x MI300X: --data-parallel-size 8 --enable-expert-parallel and no
    tensor parallel, each rank scheduling its eighth of the users, every setting saying why."""
    data = json.loads((GOLDEN / "r1-671b-1000-users-rack.json").read_text())
    low = data["recommendations"][0]
    assert low["layout"]["dp_attention"]
    launch = low["launch"]
    roles = parse(launch["commands"][0], "vllm")
    assert roles["data_parallel"] == "8" and "tensor_parallel" not in roles and roles["expert_parallel"] is None
    assert roles["sequences"] == str(math.ceil(1000 / 8))
    why = {s["flag"]: s["why"] for s in launch["flags"]}
    assert why["--data-parallel-size"] == "layout: attention data-parallel over 8 ranks, each holding only its own users' MLA cache"
    assert why["--max-num-seqs"] == "workload: 1000 concurrent user(s) over 8 data-parallel attention ranks"


def test_trtllm_serve_runs_data_parallel_attention_from_its_options_file():
    """TensorRT-LLM's DeepSeek-R1 max-throughput recipe on 8 x H200 (trtllm-r1-best-perf): one trtllm-serve with
    --tp_size 8 --ep_size 8, enable_attention_dp in its LLM API options file and --max_batch_size per rank."""
    w = dataclasses.replace(_option("vllm", 8, Layout())[1], model="deepseek-r1", context=3072, concurrency=1024)
    model = CAT.models["deepseek-r1"]
    option = planner.evaluate(w, model, CAT.accelerators["h200"], 8, CAT.precisions["fp8"], CAT.runtimes["tensorrt-llm"], CAT,
                              layout=layouts.dp_attention_layout(planner.arch(model), 8, 8))
    launch = plan(option, w, CAT)
    assert launch.commands == ("trtllm-serve deepseek-ai/DeepSeek-R1 --tp_size 8 --ep_size 8 --max_batch_size 128 "
                               "--max_seq_len 3072 --max_num_tokens 8192 --kv_cache_free_gpu_memory_fraction 0.9 "
                               "--extra_llm_api_options extra-llm-api-config.yml",)
    assert [(f.name, f.text) for f in launch.files] == [("extra-llm-api-config.yml", "enable_attention_dp: true\n")]


def test_llama_server_keeps_experts_in_host_ram_and_starts_one_server_per_replica():
    option, w = _option("llama-cpp", 2, Layout(data_parallel=2, offload="experts"), precision="q4_k_m", hardware="rtx-4090")
    launch = plan(option, w, CAT)
    model = CAT.models[w.model]
    assert len(launch.commands) == 2
    first, second = (parse(c, "llama-cpp") for c in launch.commands)
    assert first["cpu_moe"] == str(model.layers) and first["gpu_layers"] == str(model.layers + 1)
    assert (first["port"], second["port"]) == ("8080", "8081")
    assert first["sequences"] == "32" and first["context"] == str(16384 * 32)
    assert "2 replicas" in launch.note


def test_llama_server_offloading_layers_keeps_on_the_gpu_only_the_layers_that_fit():
    option, w = _option("llama-cpp", 1, Layout(offload="layers"), precision="q4_k_m", hardware="rtx-4090")
    small = dataclasses.replace(option, usable_bytes=option.memory.total - option.memory.weights // 2)
    roles = parse(plan(small, w, CAT).commands[0], "llama-cpp")
    model = CAT.models[w.model]
    assert 0 < int(roles["gpu_layers"]) < model.layers
    assert int(roles["gpu_layers"]) == math.floor(model.layers * (small.usable_bytes - option.memory.total + option.memory.weights)
                                                  / option.memory.weights)


def test_trtllm_serve_sets_its_parallel_sizes_and_the_kv_caches_share():
    option, w = _option("tensorrt-llm", 8, Layout(tensor_parallel=4, pipeline_parallel=2, expert_parallel=8), precision="fp8")
    roles = parse(plan(option, w, CAT).commands[0], "tensorrt-llm")
    assert (roles["tensor_parallel"], roles["pipeline_parallel"], roles["expert_parallel"]) == ("4", "2", "8")
    assert roles["memory_fraction"] == "0.9" and roles["context"] == "16384" and roles["sequences"] == "64"


def test_recommend_text_shows_each_tiers_command_and_check_shows_its_own(runner):
    result = runner.invoke(main, ["check", "--model", "llama-3.1-70b", "--hardware", "RTX 4090", "--count", "2",
                                  "--precision", "q4_k_m"])
    assert result.exit_code == 0
    assert ("Launch  [RUN-launch-proposal]\n  $ llama-server -m ./Llama-3.1-70B-Q4_K_M.gguf -ngl 81 -c 8192 --parallel 1 "
            "--split-mode layer --tensor-split 1,1\n") in result.stdout
    data = json.loads(runner.invoke(main, ["check", "--model", "llama-3.1-70b", "--hardware", "RTX 4090", "--count", "1",
                                           "--precision", "bf16", "--format", "json"]).stdout)
    assert data["fits"] is False and data["launch"] is None


def test_the_trace_ties_each_number_to_the_launch_rule():
    advice = api.advise({"model": "deepseek-r1:70b", "concurrency": 20, "budget": 40000})
    events = [e for e in advice.trace if e.rule_id == "RUN-launch-tier"]
    assert len(events) == len(advice.recommendations)
    recommended = next(e for e in events if e.bindings["tier"] == "recommended")
    rec = advice.recommendations[1]
    layout = rec["layout"]
    for role in ("tensor_parallel", "pipeline_parallel", "data_parallel"):  # a size of 1 is vLLM's default, not written
        assert recommended.bindings.get(role, 1) == layout[role]
    replicas = layout["data_parallel"]
    assert recommended.bindings["context"] == 8192 and recommended.bindings["sequences"] == math.ceil(20 / replicas)
    assert recommended.statement == f"the recommended tier starts on vllm with: {rec['launch']['commands'][0]}"


RUNTIME_FLAG_TIPS = ("NET-tensor-parallel", "NET-pipeline-across-nodes", "MOE-expert-parallel", "QNT-fp8-kv", "MOE-expert-offload")


def test_tips_quote_runtime_options_from_the_launch_tables():
    documented = {f.flag for r in CAT.runtimes.values() for t in r.launch for f in t.flags}
    quoted: set[str] = set()
    for path in GOLDEN.glob("*.json"):
        doc = json.loads(path.read_text())
        for item in (*doc.get("tips", ()), *doc.get("warnings", ())):
            if item["id"] in RUNTIME_FLAG_TIPS:
                quoted |= set(re.findall(r"(?<![\w-])--[a-z][\w-]*", item["message"]))
    assert quoted and quoted <= documented, sorted(quoted - documented)
    assert {"--tensor-parallel-size", "--n-cpu-moe"} <= quoted


def test_explain_shows_a_launch_plan_with_the_rule_that_set_it(runner, tmp_path):
    trace = tmp_path / "run.json"
    args = ["recommend", "--model", "deepseek-r1:70b", "--concurrency", "20", "--budget", "40000", "--trace", str(trace)]
    assert runner.invoke(main, args).exit_code == 0
    result = runner.invoke(main, ["explain", str(trace), "--conclusion", "launch:recommended"])
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    command = api.advise({"model": "deepseek-r1:70b", "concurrency": 20, "budget": 40000}).recommendations[1]["launch"]["commands"][0]
    assert f"Launch recommended: {command}" in lines
    assert f"  - [RUN-launch-tier] the recommended tier starts on vllm with: {command}" in lines
    assert runner.invoke(main, ["audit", str(trace)]).exit_code == 0


def test_mlx_server_takes_the_model_and_says_what_it_has_no_option_for():
    option, w = _option("mlx", 1, Layout(), hardware="apple-m4-max-128gb")
    launch = plan(option, w, CAT)
    assert launch.commands == ("mlx_lm.server --model meta-llama/Llama-3.1-70B-Instruct",)
    assert launch.note.startswith("mlx_lm.server takes no context, users or memory option")


def test_a_runtime_without_a_launch_table_says_so_and_gives_its_documented_entry_point():
    option, w = _option("npu-runtime", 1, Layout(), precision="int8", hardware="apple-m4-max-128gb")
    launch = plan(option, w, CAT)
    assert launch.commands == () and launch.note == CAT.runtimes["npu-runtime"].launch_note


def test_a_rack_is_one_nvlink_node_but_its_compute_trays_are_separate_hosts_in_one_ray_cluster():
    option, w = _option("vllm", 72, Layout(tensor_parallel=2, pipeline_parallel=3, data_parallel=12), precision="fp8",
                        hardware="gb200")
    launch = plan(option, w, CAT)
    assert option.layout.nodes == 1 and CAT.accelerators["gb200"].devices_per_host == 4
    assert "The 18 hosts form one Ray cluster" in launch.note
    one_tray, _ = _option("vllm", 4, Layout(tensor_parallel=4), precision="fp8", hardware="gb200")
    assert "Ray" not in plan(one_tray, w, CAT).note
