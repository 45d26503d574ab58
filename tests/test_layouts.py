"""Parallel layouts are real (issue 12): tensor parallel inside a node and dividing the heads, pipeline parallel across
nodes, replicas for many users, and each rank's memory as the runtime shards it (replicated KV heads, MLA's one
latent head whole on every tensor-parallel rank).

The property sweep draws 40 configurations in ``make test``; ``LLMHW_SLOW=1 pytest -m slow tests/test_layouts.py``
draws 600 and also checks every tier and candidate of a sweep of real consultations.
"""

from __future__ import annotations

import math
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from llmhw import api, planner, scaleout, session, sizing
from llmhw.planner.evaluate import LayoutSearch, arch, layer_split_rate_ceiling, per_user_rate, usable_bytes, weights_at
from llmhw.planner.layouts import tensor_sizes
from llmhw.planner.options import KV_BYTES_DEFAULT, Layout

CAT = api.catalog()
INFERENCE_MODELS = sorted(m for m in CAT.models)
SEVERAL = sorted(a.id for a in CAT.accelerators.values() if a.max_devices > 1 or a.kind == "gpu")
SLOW = bool(os.environ.get("LLMHW_SLOW"))


def workload(model: str, users: int, context: int, scale: str = "enterprise") -> planner.Workload:
    return planner.Workload(model=model, task="inference", precision="auto", context=context, concurrency=users, batch=1,
                            activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment="local",
                            scale=scale, hours_per_day=8, cpu_cores=None, ram_gb=None)


def assert_real(o: planner.Option) -> None:
    """The layout promises of an option: its product is its count, no tensor group leaves a node or splits a head,
    no node holds more devices than its board."""
    accel = CAT.accelerators[o.hardware]
    lay = o.layout
    assert lay.tensor_parallel * lay.pipeline_parallel * lay.data_parallel == o.count, (o.id, lay)
    assert lay.tensor_parallel <= accel.max_devices and accel.max_devices % lay.tensor_parallel == 0, (o.id, lay)
    assert lay.nodes == math.ceil(o.count / accel.max_devices), (o.id, lay)
    assert math.ceil(o.count / lay.nodes) <= accel.max_devices, (o.id, lay)


def assert_divides_heads(o: planner.Option, model: str) -> None:
    heads = CAT.models[model].heads
    assert heads % o.layout.tensor_parallel == 0, (o.id, o.layout, heads)


def sweep_case(model: str, hardware: str, count: int, users: int, context: int) -> None:
    w = workload(model, users, context)
    m, accel = CAT.models[model], CAT.accelerators[hardware]
    for p in planner.precisions_for(w, m, CAT)[:2]:
        for rt in planner.offered(w, m, accel, p, CAT):
            if not planner.runs_at(rt, count):
                continue
            o = planner.evaluate(w, m, accel, count, p, rt, CAT)
            assert_real(o)
            assert_divides_heads(o, model)
            lay = o.layout
            if lay.data_parallel > max(users, 1) and lay.tensor_parallel * lay.pipeline_parallel > 1:
                # more replicas than users only where fewer would need a pipeline longer than the model has layers
                # (layouts.candidates: 1 user on 256 A10s runs a 3B model in 2 replicas of TP 8 x PP 16, not PP 32)
                fewer = max(d for d in range(1, lay.data_parallel) if count % d == 0)
                assert count // fewer // lay.tensor_parallel > m.layers, (o.id, lay)


CASES = st.tuples(st.sampled_from(INFERENCE_MODELS), st.sampled_from(SEVERAL), st.sampled_from([2, 4, 8, 16, 32, 64, 256]),
                  st.integers(1, 2000),  # 1 user to a large service; the planner caps replicas at the users
                  st.sampled_from([2048, 8192, 32768, 131072]))  # a chat turn to a long document


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(CASES)
def test_layouts_are_real_on_a_sample(case: tuple[str, str, int, int, int]) -> None:
    sweep_case(*case)


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="600 configurations and 48 consultations: LLMHW_SLOW=1")
@settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(CASES)
def test_layouts_are_real_over_the_sweep(case: tuple[str, str, int, int, int]) -> None:
    sweep_case(*case)


ANSWERS = [{"model": m, "concurrency": u, "scale": "enterprise", **({"budget": b} if b else {})}
           for m in ("llama3.1:8b", "llama3.1:70b", "deepseek-r1:671b", "qwen3:30b-a3b")
           for u in (1, 16, 500, 2000) for b in (None, 100000, 500000)]


@pytest.mark.slow
@pytest.mark.skipif(not SLOW, reason="48 consultations: LLMHW_SLOW=1")
@pytest.mark.parametrize("profile", ANSWERS, ids=lambda p: "-".join(str(v) for v in p.values()))
def test_every_answer_has_a_real_layout(profile) -> None:
    check_answer(profile)


@pytest.mark.parametrize("profile", ANSWERS[::12], ids=lambda p: "-".join(str(v) for v in p.values()))
def test_answers_have_real_layouts(profile) -> None:
    check_answer(profile)


def check_answer(profile) -> None:
    """Every option a consultation sized (its candidates and tiers) has a real layout."""
    run, _ = session.run_with_defaults(CAT, api.resolve(profile, CAT))
    model = CAT.model(profile["model"]).id
    assert run.options
    for o in run.options.values():
        assert_real(o)
        assert_divides_heads(o, model)


def test_tensor_sizes_divide_the_heads_and_the_node() -> None:
    """Llama 3.1 70B (64 heads, 8 KV heads) on an 8-GPU board: 8, 4, 2, 1; DeepSeek-R1-Distill-Qwen-1.5B (12 heads)
    on a 4-card workstation: 4, 2, 1 (4 ranks over 2 KV heads replicate them); never 3 or 6 (not a node divisor)."""
    assert tensor_sizes(planner.arch(CAT.models["llama-3.1-70b"]), 8) == (8, 4, 2, 1)
    assert tensor_sizes(planner.arch(CAT.models["deepseek-r1-distill-qwen-1.5b"]), 4) == (4, 2, 1)


def test_many_users_of_a_small_model_run_on_replicas() -> None:
    """500 users of Llama 3.1 8B on 8 x B200: eight one-GPU replicas of ~63 users each, not one 8-way split."""
    got = api.check({"model": "llama3.1:8b", "concurrency": 500}, "B200", 8).to_dict()
    assert got["fits"]
    assert got["layout"] == {"tensor_parallel": 1, "pipeline_parallel": 1, "expert_parallel": 1, "data_parallel": 8,
                             "nodes": 1, "offload": "none"}
    assert got["total_tokens_per_s"] == pytest.approx(500 * got["tokens_per_s"], rel=1e-3)


def test_the_8b_for_500_users_answer_is_built_of_replicas() -> None:
    data = api.advise({"model": "llama3.1:8b", "concurrency": 500}).to_dict()
    assert all(r["layout"]["data_parallel"] > 1 for r in data["recommendations"]), [r["id"] for r in data["recommendations"]]
    assert "NET-data-parallel-replicas" in {t["id"] for t in data["tips"]}


def test_one_user_gets_every_device_of_a_node() -> None:
    """DeepSeek-R1 at FP8 on 8 x H200 for one user: tensor parallel 8 with the experts spread (expert parallel 8)."""
    got = api.check({"model": "deepseek-r1", "precision": "fp8"}, "H200", 8).to_dict()
    assert got["layout"]["tensor_parallel"] == 8 and got["layout"]["expert_parallel"] == 8
    assert got["layout"]["data_parallel"] == 1


def test_mla_cache_is_whole_on_every_tensor_parallel_rank() -> None:
    """DeepSeek-R1 at 128k for 8 users on 8 x A100 under vLLM tensor parallel 8: the latent cache, one head, is on every
    GPU (73.7 GB), so AWQ weights (44 GB) plus the cache need ~120 GB per 80 GB GPU: it does not fit."""
    w = workload("deepseek-r1", 8, 131072)
    m, accel = CAT.models["deepseek-r1"], CAT.accelerators["a100-80gb-sxm"]
    o = planner.evaluate(w, m, accel, 8, CAT.precisions["awq-int4"], CAT.runtimes["vllm"], CAT,
                         layout=Layout(tensor_parallel=8, expert_parallel=8))
    assert o.memory.kv_cache == sizing.kv_cache_bytes(planner.arch(m), 131072, 8, 2.0)  # whole, not an eighth
    assert o.memory.total > 115e9 and not o.fits


def test_data_parallel_attention_holds_each_ranks_own_users_cache() -> None:
    """The same 8 users on the same 8 x A100: the planner runs the attention data-parallel (vLLM --data-parallel-size 8
    --enable-expert-parallel), so each GPU holds one user's cache, the attention and shared weights whole and an eighth of
    the routed experts, and it fits where tensor parallel 8 does not."""
    w = workload("deepseek-r1", 8, 131072)
    m, accel = CAT.models["deepseek-r1"], CAT.accelerators["a100-80gb-sxm"]
    p = CAT.precisions["awq-int4"]
    o = planner.evaluate(w, m, accel, 8, p, CAT.runtimes["vllm"], CAT)
    a = planner.arch(m)
    assert o.layout.dp_attention and (o.layout.data_parallel, o.layout.expert_parallel, o.layout.tensor_parallel) == (8, 8, 1)
    assert o.memory.kv_cache == sizing.kv_cache_bytes(a, 131072, 1, 2.0)
    assert o.memory.weights == math.ceil(weights_at(a, p) * (a.moe_shared_fraction + (1 - a.moe_shared_fraction) / 8))
    assert o.fits and o.weights_bytes == pytest.approx(weights_at(a, p), rel=1e-9)  # one copy of the model, not eight
    assert planner.evaluate(w, m, accel, 8, p, CAT.runtimes["llama-cpp"], CAT).layout.dp_attention is False  # vLLM's


MLA_MOE = sorted(m.id for m in CAT.models.values() if m.kv_lora_rank and m.architecture == "moe")


@settings(max_examples=60, deadline=None, derandomize=True)
@given(st.sampled_from(MLA_MOE), st.sampled_from([2, 4, 8, 16, 32, 64]), st.integers(1, 4000),
       st.sampled_from([2048, 8192, 32768, 131072]))
def test_dp_attention_never_holds_more_kv_per_rank_than_tensor_parallel(model: str, count: int, users: int,
                                                                        context: int) -> None:
    """For an MLA model, a data-parallel-attention rank never holds more KV cache than a rank of any tensor-parallel
    layout of the same devices (TP t, count / t replicas): TP keeps the whole latent cache of its replica's users."""
    a = planner.arch(CAT.models[model])
    dp = scaleout.rank_memory(a, 10**12, 2.0, context, users, None, 0, scaleout.Split(replicas=count, per_node=8, dp_attention=True))
    for t in (t for t in (1, 2, 4, 8) if count % t == 0):
        tp = scaleout.rank_memory(a, 10**12, 2.0, context, users, None, 0,
                                  scaleout.Split(tensor=t, replicas=count // t, per_node=8))
        assert dp.kv_cache <= tp.kv_cache, (t, dp.kv_cache, tp.kv_cache)


def test_a_thousand_r1_users_get_a_serving_engine_on_one_8_gpu_node() -> None:
    """DeepSeek-R1 for 1,000 users at 8k on 5 M USD: tensor parallel replicates the 576 GB MLA cache on every GPU, so
    without data-parallel attention the cheapest tier was llama.cpp on 8 x MI300X; with it, the cheapest is a serving
    engine on one 8-GPU node (inspur-r1-sglang: 1000+ users on 8 x H200 with SGLang)."""
    data = api.advise({"model": "deepseek-r1:671b", "scale": "enterprise", "concurrency": 1000, "budget": 5000000}).to_dict()
    low = data["recommendations"][0]
    assert low["tier"] == "minimum" and low["serves_many"] and low["runtime"] == "vllm", low["id"]
    assert low["count"] == 8 and low["layout"]["nodes"] == 1 and low["layout"]["dp_attention"], low["layout"]
    assert "NET-dp-attention" in {t["id"] for t in data["tips"]}


def test_replicated_kv_heads_are_counted_per_rank() -> None:
    """DeepSeek-R1-Distill-Qwen-1.5B (2 KV heads) split 4 ways: each rank holds one KV head, half the cache, not a
    quarter (vLLM replicates KV heads above their count)."""
    w = workload("deepseek-r1-distill-qwen-1.5b", 1, 32768)
    m, accel = CAT.models["deepseek-r1-distill-qwen-1.5b"], CAT.accelerators["h100-sxm"]
    o = planner.evaluate(w, m, accel, 4, CAT.precisions["bf16"], CAT.runtimes["vllm"], CAT)
    assert o.layout.tensor_parallel == 4
    assert o.memory.kv_cache == math.ceil(sizing.kv_cache_bytes(planner.arch(m), 32768, 1, 2.0) / 2)


def test_more_than_a_node_is_pipelined_across_nodes() -> None:
    """DeepSeek-R1 at FP8 for one user on 16 x H100: tensor parallel 8 inside each node, two pipeline stages over
    InfiniBand; each token passes both stages, so the speed per user is no higher than on one node."""
    got = api.check({"model": "deepseek-r1", "precision": "fp8"}, "H100 SXM", 16).to_dict()
    assert {k: got["layout"][k] for k in ("tensor_parallel", "pipeline_parallel", "nodes")} == {
        "tensor_parallel": 8, "pipeline_parallel": 2, "nodes": 2}
    one_node = api.check({"model": "deepseek-r1", "precision": "fp8", "context": 2048}, "H200", 8).to_dict()
    assert got["tokens_per_s"] <= one_node["tokens_per_s"]
    tip = next(t["message"] for t in got["tips"] if t["id"] == "NET-pipeline-across-nodes")
    assert "--tensor-parallel-size 8 --pipeline-parallel-size 2" in tip and "over InfiniBand" in tip


def test_every_interconnect_names_a_network_with_its_speed_and_latency() -> None:
    p = CAT.policy
    assert set(p.node_network) >= {a.interconnect for a in CAT.accelerators.values()}
    assert set(p.node_network.values()) <= set(p.node_network_gbs) == set(p.node_network_latency_s)


@pytest.mark.parametrize("model, users", [("deepseek-r1", 1), ("deepseek-r1", 1000), ("llama-3.1-405b", 64)])
def test_an_nvl72_rack_is_one_nvlink_domain(model: str, users: int) -> None:
    """A GB200 NVL72 rack's 72 GPUs share one NVLink domain across its compute trays (nv-bcm-nvlink-gb): tensor parallel
    stays inside it and divides both the heads and 72 (DeepSeek-R1 and Llama 3.1 405B, 128 heads: at most 8); a second
    rack is a second node, reached by pipeline stages over InfiniBand."""
    w, m = workload(model, users, 8192), CAT.models[model]
    for count in (72, 144):
        o = planner.evaluate(w, m, CAT.accelerators["gb200"], count, CAT.precisions["fp8"], CAT.runtimes["vllm"], CAT)
        assert_real(o)
        assert_divides_heads(o, model)
        assert o.fits and o.layout.tensor_parallel in (1, 2, 4, 8) and o.layout.nodes == count // 72, (o.id, o.layout)
        if users == 1 and count == 72:  # one user gets the whole rack as one replica: TP 8 over two trays, 9 stages
            assert (o.layout.tensor_parallel, o.layout.pipeline_parallel, o.layout.data_parallel) == (8, 9, 1)


def test_a_pipeline_stage_is_sized_from_the_model_it_is_given() -> None:
    """The stages of a layout are kept between consultations (``scaleout._stage_arch``): a model that differs only in
    its layers, timed after another, gets its own stages, as if timed first."""
    from dataclasses import replace

    from llmhw import scaleout

    m, accel = CAT.models["llama-3.1-70b"], CAT.accelerators["h100-sxm"]
    a, deeper = planner.arch(m), replace(planner.arch(m), layers=planner.arch(m).layers * 2)
    split = scaleout.Split(tensor=1, pipeline=2, per_node=8)
    links = scaleout.Links(900.0, 1e-5, 50.0, 5e-6)

    def speed(arch: sizing.Arch) -> float:
        return scaleout.decode_speed(arch, 140_000_000_000, 1e9, 1, split, accel.mem_bandwidth_gbs, 0.8, 989.0, 0.5, links,
                                     sizing.StepOverhead(1e-4)).decode_per_seq

    first = speed(a)
    after = speed(deeper)
    scaleout._stage_arch.cache_clear()
    assert after == speed(deeper) < first


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(CASES, st.sampled_from(["bf16", "q8_0", "q4_k_m", "q2_k"]))
def test_a_layer_split_is_never_faster_than_its_ceiling(case: tuple[str, str, int, int, int], fmt: str) -> None:
    """The planner stops looking for a speed above this ceiling: no count of devices may reach it."""
    model, device, count, users, context = case
    w, m, accel = workload(model, users, context), CAT.models[model], CAT.accelerators[device]
    p, rt = CAT.precisions[fmt], CAT.runtimes["llama-cpp"]
    a, usable = arch(m), usable_bytes(accel, rt, CAT.policy.fit_headroom)
    ceiling = layer_split_rate_ceiling(w, a, accel, p, rt, CAT, KV_BYTES_DEFAULT)
    assert ceiling is not None
    at = LayoutSearch(w, m, a, accel, p, rt, CAT, KV_BYTES_DEFAULT, usable)
    for n in (1, 2, 3, count):
        assert per_user_rate(w, at(n, None)[2], accel, rt, CAT) <= ceiling
