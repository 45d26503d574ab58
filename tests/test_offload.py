"""Hybrid CPU+GPU offload: experts or layers in host RAM, computed by the host CPU (engine/hybrid.py, planner/offload.py)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmhw import planner
from llmhw.cli import main
from llmhw.knowledge.loader import load_catalog
from llmhw.planner import offload

from .conftest import run_json

XEON6 = "Server box Xeon 6 6980P (128-core) + 768GB DDR5-6400 12-channel"
REPRO = ["check", "--model", "deepseek-r1:671b", "--hardware", "RTX 4090", "--host", XEON6, "--ram", "768", "--precision", "q4_k_m"]
CATALOG = load_catalog()
KT_BAND = (9.0 * 0.75, 14.0 * 1.33)  # the published 1-GPU DeepSeek-R1/V3 Q4 class (9-14 tok/s), within the calibration band


def workload(model: str, **fields) -> planner.Workload:
    base = dict(model=model, task="inference", precision="q4_k_m", context=8192, concurrency=1, batch=1,
                activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment="local", scale="personal",
                hours_per_day=8, cpu_cores=None, ram_gb=None)
    return planner.Workload(**{**base, **fields})


def test_r1_on_one_4090_and_a_12_channel_server_fits_with_experts_in_ram_at_the_published_speed(runner):
    got = run_json(runner, *REPRO)
    placement = got["placement"]
    assert got["fits"] and placement["mode"] == "experts" and placement["host"] == "cpu-server-xeon6-6980p-768gb"
    assert KT_BAND[0] <= got["tokens_per_s"] <= KT_BAND[1], got["tokens_per_s"]
    assert placement["host_ram_bytes"] <= placement["host_ram_available_bytes"]
    assert got["memory"]["total"] <= got["available"]
    assert got["cost"]["host_usd"] == 24350 and got["cost"]["purchase_usd"] == got["cost"]["host_usd"] + 2500


def test_text_names_the_split_and_the_llama_cpp_flags(runner):
    result = runner.invoke(main, REPRO)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("FITS: DeepSeek-R1 (671B) on 1 x NVIDIA GeForce RTX 4090 24GB at q4_k_m with llama-cpp\n")
    assert f"of routed experts (60 of 61 layers) on {XEON6.replace(' 12-channel', '')}" in result.stdout.replace("\n", " ")
    # the tip quotes the tier's own launch line: every layer and the output layer on the GPU, the experts of 60 on the CPU
    assert ("Run: llama-server -m ./DeepSeek-R1-671B-Q4_K_M.gguf -ngl 62 --n-cpu-moe 60 -c 8192 --parallel 1 (KTransformers"
            in " ".join(result.stdout.split()))


@pytest.mark.parametrize("args", [REPRO, ["recommend", "--model", "deepseek-r1:671b", "--budget", "15000"]])
def test_the_hybrid_tip_runs_the_command_of_its_own_launch_plan(runner, args):
    got = run_json(runner, *args)
    launches = {r["tier"]: r["launch"] for r in got["recommendations"]} if "recommendations" in got else {"proposed": got["launch"]}
    tips = [t["message"] for t in got["tips"] if t["id"] == "OFF-hybrid-tier"]
    assert tips
    for tip in tips:
        tier = tip[1:tip.index(")")].split(", ")[0]
        assert f"Run: {launches[tier]['commands'][0]} (KTransformers" in tip, (tier, tip)


@pytest.mark.parametrize("model, mode", [("deepseek-r1", "experts"), ("gpt-oss-120b", "experts"), ("qwen3-235b-a22b", "experts"),
                                         ("llama-3.1-70b", "layers")])
def test_placement_bytes_add_up_to_the_model(catalog, model, mode):
    w = workload(model, offload=mode)
    m, gpu = catalog.models[model], catalog.accelerators["rtx-4090"]
    p, rt = catalog.precisions["q4_k_m"], catalog.runtimes["llama-cpp"]
    placement = offload.place(w, m, gpu, 1, p, rt, mode, catalog)
    assert placement is not None
    need = planner.evaluate(w, m, gpu, 1, p, rt, catalog).memory
    assert placement.gpu_weight_bytes + placement.host_weight_bytes == need.weights
    assert placement.gpu_kv_bytes + placement.host_kv_bytes == need.kv_cache
    cores = planner.host_cores(w, gpu, rt, 1, offload.hybrid_layout(1, placement), catalog)
    option = offload.evaluate(w, m, gpu, 1, p, rt, placement, offload.hosts_for(w, 1, placement.host_ram_bytes, catalog, cores=cores)[0],
                              catalog)
    assert option.fits and option.memory.weights == placement.gpu_weight_bytes and option.layout.offload == mode


@settings(max_examples=30, deadline=None)
# hosts from desktop dual-channel DDR4 to 2-socket 24-channel DDR5; up to 8 users at 8k, what one 24 GB card's KV cache holds
@given(bandwidth=st.floats(20, 2000), users=st.integers(1, 8))
def test_a_faster_host_never_decodes_slower(bandwidth, users):
    catalog = CATALOG
    w = workload("deepseek-r1", offload="experts", concurrency=users)
    m, gpu = catalog.models["deepseek-r1"], catalog.accelerators["rtx-4090"]
    p, rt = catalog.precisions["q4_k_m"], catalog.runtimes["llama-cpp"]
    placement = offload.place(w, m, gpu, 1, p, rt, "experts", catalog)
    speeds = [offload.evaluate(w, m, gpu, 1, p, rt, placement, offload.Host("described", "h", bw, None, None), catalog).tokens_per_s
              for bw in (bandwidth, bandwidth * 1.5)]
    assert speeds[0] < speeds[1]


def test_offload_none_never_yields_a_hybrid_option(runner):
    for args in (["recommend", "--model", "deepseek-r1:671b", "--budget", "15000"],
                 ["check", "--model", "deepseek-r1:671b", "--hardware", "RTX 4090", "--precision", "q4_k_m"],
                 ["recommend", "--model", "qwen3-235b-a22b", "--concurrency", "4"]):
        got = run_json(runner, *args, "--offload", "none")
        options = got.get("recommendations") or [got]
        assert all("placement" not in o and o.get("layout", {}).get("offload", "none") == "none" for o in options), args


def test_the_r1_budget_buys_a_hybrid_rig_or_a_512_gb_mac(runner):
    got = run_json(runner, "recommend", "--model", "deepseek-r1:671b", "--budget", "15000")
    tiers = {r["tier"]: r for r in got["recommendations"]}
    recommended = tiers["recommended"]
    assert "placement" in recommended or "512" in recommended["hardware_name"], recommended["id"]
    assert recommended["layout"]["offload"] == "experts" and recommended["cost"]["budget_usd"] <= 15000
    assert any(t["id"] == "OFF-hybrid-tier" for t in got["tips"])


def test_auto_keeps_what_fits_on_the_gpus(runner):
    got = run_json(runner, "check", "--model", "gpt-oss-20b", "--hardware", "RTX 5090")
    assert got["fits"] and "placement" not in got


def test_a_described_host_is_the_users_own_and_sets_the_speed(runner):
    slow = run_json(runner, *REPRO[:5], "--host-bandwidth", "89.6", "--precision", "q4_k_m")
    fast = run_json(runner, *REPRO[:5], "--host-bandwidth", "614.4", "--precision", "q4_k_m")
    assert slow["placement"]["host"] == "described" and slow["cost"]["host_usd"] is None
    assert slow["cost"]["purchase_usd"] == 2500 and slow["tokens_per_s"] < fast["tokens_per_s"]


def test_a_host_described_by_its_ram_is_the_users_own_read_at_the_reference_desktops_bandwidth(runner):
    # --ram describes the host the cards go into: a hybrid tier runs its experts there, buying no box with somebody else's
    # RAM (a 32 GB desktop box was priced in, with the user's 64 GB standing for its RAM)
    got = run_json(runner, "recommend", "--model", "gpt-oss-120b", "--ram", "64")
    hybrid = [r for r in got["recommendations"] if r.get("placement")]
    reference = CATALOG.accelerators[CATALOG.policy.upgrade_reference_host]
    assert hybrid, got["recommendations"]
    for r in hybrid:
        assert r["placement"]["host"] == "described" and r["placement"]["host_bandwidth_gbs"] == reference.mem_bandwidth_gbs
        assert r["placement"]["host_ram_available_bytes"] == 64e9 and not r["cost"]["host_usd"] and not r["cost"]["host"]
    text = runner.invoke(main, ["recommend", "--model", "gpt-oss-120b", "--ram", "64"]).stdout
    assert f"on your host (at the memory bandwidth of a {reference.name})" in " ".join(text.split())


def test_too_little_host_ram_is_no_hybrid(runner):
    got = run_json(runner, "check", "--model", "deepseek-r1:671b", "--hardware", "RTX 4090", "--precision", "q4_k_m", "--ram", "256")
    assert not got["fits"] and "placement" not in got


def test_a_dense_model_offloads_layers_only_when_asked(runner):
    args = ["check", "--model", "llama-3.1-70b", "--hardware", "RTX 4090", "--precision", "q4_k_m"]
    auto = run_json(runner, *args)
    asked = run_json(runner, *args, "--offload", "layers", "--host-bandwidth", "89.6")
    placement = asked["placement"]
    assert not auto["fits"] and asked["fits"] and placement["mode"] == "layers"
    run = next(t["message"] for t in asked["tips"] if t["id"] == "OFF-hybrid-tier")
    assert run.endswith(f"Run: {asked['launch']['commands'][0]}.")
    assert f" -ngl {placement['layers'] - placement['offloaded_layers']} " in asked["launch"]["commands"][0]


@pytest.mark.parametrize("args, message", [
    (["--offload", "sometimes"], "Error: offload: expected one of auto, experts, layers, none; got 'sometimes'\n"),
    (["--host-bandwidth", "0"], "Error: host_bandwidth_gbs: expected a number from 1 to 10,000, got '0'\n"),
    (["--host", "Xeon 9"], "Error: host: expected a host box of the catalog (cpu-desktop-5700x-64gb, cpu-desktop-7900x-128gb, "
     "cpu-desktop-7900x-192gb, cpu-desktop-7900x-64gb, cpu-desktop-7900x-96gb, cpu-desktop-ddr4-i5-12400, "
     "cpu-desktop-ddr5-7700x, cpu-epyc-7252-romed8-256gb, cpu-epyc-7252-romed8-32gb, cpu-epyc-7302p-romed8-256gb, "
     "cpu-epyc-7302p-romed8-32gb, cpu-epyc-7402p-romed8-256gb, cpu-epyc-7402p-romed8-32gb, cpu-server-8gpu-421ge-tnrt-1tb, "
     "cpu-server-epyc-9554, "
     "cpu-server-xeon-8480, cpu-server-xeon6-6980p-1536gb, cpu-server-xeon6-6980p-384gb, "
     "cpu-server-xeon6-6980p-768gb, cpu-trpro-7975wx-1024gb, cpu-trpro-7975wx-256gb, cpu-trpro-7975wx-512gb, "
     "cpu-trpro-7975wx-512gb-4000w, cpu-trpro-7975wx-768gb, cpu-workstation-trpro-7985wx), got 'Xeon 9'\n"),
    (["--host", "RTX 4090"], None),
])
def test_bad_offload_and_host_values_name_the_field_and_what_is_accepted(runner, args, message):
    result = runner.invoke(main, ["check", "--model", "deepseek-r1:671b", "--hardware", "RTX 4090", *args])
    assert result.exit_code == 2
    if message is None:  # a GPU is not a host box: the same message, naming what was typed
        assert result.stderr.startswith("Error: host: expected a host box of the catalog (") and result.stderr.endswith(
            "got 'RTX 4090'\n")
    else:
        assert result.stderr == message
