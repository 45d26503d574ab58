"""The speed model against published decode speeds (knowledge/calibration.yaml).

Every run is estimated through the planner's own ``evaluate`` (the function that times each option of a
consultation), with the run's hardware, device count, format, runtime, users and context. The table of estimate
against published figure prints with ``pytest -s`` and is written to the file named by LLMHW_CALIBRATION_REPORT
(``make calibration`` writes benchmarks/CALIBRATION.md).
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from llmhw import planner
from llmhw.errors import KnowledgeError
from llmhw.knowledge.loader import Catalog, load_catalog
from llmhw.knowledge.schema import CalibrationRun
from llmhw.planner import layouts, offload
from llmhw.planner.options import Layout

BAND = (0.75, 1.33)  # an estimate within x0.75-1.33 of the published figure counts as calibrated
MIN_SHARE_IN_BAND = 0.85
MIN_HELD_OUT_SHARE_IN_BAND = 0.75  # the rows the constants were not fitted on must do about as well
OVERHEAD_TABLES = ("decode-layer-overhead-s", "decode-moe-layer-overhead-s", "decode-sequence-layer-overhead-s")


@dataclass(frozen=True)
class Comparison:
    run: CalibrationRun
    estimate: float
    bound: str

    @property
    def ratio(self) -> float:
        return self.estimate / self.run.published_tok_s

    @property
    def in_band(self) -> bool:
        return BAND[0] <= self.ratio <= BAND[1]


def estimate(run: CalibrationRun, cat: Catalog) -> Comparison:
    """Our decode rate for a published run, the same quantity as published (per user, else total)."""
    w = planner.Workload(
        model=run.model, task="inference", precision=run.precision, context=run.context, concurrency=run.users,
        batch=1, activation_checkpointing=None, lora_rank=16, budget=None, ecosystem="any", deployment="local",
        scale="enterprise" if run.count > 8 else "team", hours_per_day=8, cpu_cores=None, ram_gb=None,
    )
    model, accel, precision, runtime = cat.models[run.model], cat.accelerators[run.hardware], cat.precisions[run.precision], cat.runtimes[run.runtime]
    if run.offload:  # a hybrid run: the host's bandwidth (its catalog box, or as published) and the split it ran
        w = dataclasses.replace(w, offload=run.offload, host=run.host, host_bandwidth_gbs=run.host_bandwidth_gbs)
        placement = offload.place(w, model, accel, run.count, precision, runtime, run.offload, cat)
        assert placement is not None, run.id
        host = offload.hosts_for(w, run.count, 0, cat, cores=0)[0]  # the run's own host, named or described
        option = offload.evaluate(w, model, accel, run.count, precision, runtime, placement, host, cat)
    else:
        option = planner.evaluate(w, model, accel, run.count, precision, runtime, cat, layout=stated_layout(run, cat))
    assert option.tokens_per_s and option.total_tokens_per_s
    per_user, total = option.tokens_per_s, option.total_tokens_per_s
    if run.prompt_tokens and option.prefill_tokens_per_s:  # the published rate counts every user's prefill too
        generated = run.context - run.prompt_tokens
        seconds = run.users * run.prompt_tokens / option.prefill_tokens_per_s + generated / per_user
        per_user, total = generated / seconds, run.users * generated / seconds
    return Comparison(run, per_user if run.per_user_tok_s is not None else total, option.bound)


def stated_layout(run: CalibrationRun, cat: Catalog) -> Layout | None:
    """The layout a published run states, when it states one (else the planner chooses, as for a user)."""
    if not (run.tensor_parallel or run.pipeline_parallel or run.data_parallel):
        return None
    tp, pp, dp = run.tensor_parallel or 1, run.pipeline_parallel or 1, run.data_parallel or 1
    moe = cat.models[run.model].architecture == "moe" and run.runtime in cat.policy.expert_parallel_runtimes
    per_node = cat.accelerators[run.hardware].max_devices
    if run.dp_attention:  # attention data-parallel over the ranks, the experts expert-parallel over all of them
        return layouts.dp_attention_layout(planner.arch(cat.models[run.model]), dp, per_node)
    return Layout(tensor_parallel=tp, pipeline_parallel=pp, expert_parallel=tp if moe else 1, data_parallel=dp,
                  nodes=math.ceil(run.count / per_node))


def report(comparisons: list[Comparison]) -> str:
    """A markdown table of every run, then the share within the band (all runs and held-out runs)."""
    lines = [
        "| run | model | hardware | n | format | engine | users | context | published tok/s | estimate | ratio | bound |",
        "|---|---|---|--:|---|---|--:|--:|--:|--:|--:|---|",
    ]
    for c in comparisons:
        r = c.run
        kind = "per user" if r.per_user_tok_s is not None else "total"
        flag = "" if c.in_band else " **out**"
        lines.append(
            f"| {r.id}{' (held out)' if r.held_out else ''} | {r.model} | {r.hardware} | {r.count} | {r.precision} "
            f"| {r.engine} | {r.users} | {r.context} | {r.published_tok_s:,.1f} {kind} | {c.estimate:,.1f} "
            f"| {c.ratio:.2f}{flag} | {c.bound} |"
        )
    held = [c for c in comparisons if c.run.held_out]
    lines += [
        "",
        f"Within x{BAND[0]}-{BAND[1]}: {sum(c.in_band for c in comparisons)} of {len(comparisons)} runs "
        f"({share(comparisons):.0%}); held out: {sum(c.in_band for c in held)} of {len(held)} ({share(held):.0%}).",
        f"Geometric mean ratio {math.exp(sum(math.log(c.ratio) for c in comparisons) / len(comparisons)):.2f}.",
    ]
    return "\n".join(lines) + "\n"


def share(comparisons: list[Comparison]) -> float:
    return sum(c.in_band for c in comparisons) / len(comparisons)


@pytest.fixture(scope="module")
def comparisons(catalog: Catalog) -> list[Comparison]:
    return [estimate(run, catalog) for run in catalog.calibration.values()]


def test_speed_model_matches_published_runs(comparisons):
    text = report(comparisons)
    print("\n" + text)
    target = os.environ.get("LLMHW_CALIBRATION_REPORT")
    if target:
        Path(target).write_text("# Speed calibration: estimate against published decode speeds\n\n"
                                "Generated by `make calibration` from knowledge/calibration.yaml.\n\n" + text)
    assert share(comparisons) >= MIN_SHARE_IN_BAND, text


def test_held_out_runs_are_as_good_as_the_fitted_ones(comparisons):
    held = [c for c in comparisons if c.run.held_out]
    assert len(held) >= 5
    assert share(held) >= MIN_HELD_OUT_SHARE_IN_BAND, report(held)


def test_calibration_covers_what_people_run(catalog):
    runs = list(catalog.calibration.values())
    assert len(runs) >= 40
    assert {catalog.models[r.model].architecture for r in runs} == {"dense", "moe"}
    assert min(r.count for r in runs) == 1 and max(r.count for r in runs) >= 16
    assert {"llama-cpp", "vllm", "mlx"} <= {r.runtime for r in runs}
    assert {"gpu", "unified"} <= {catalog.accelerators[r.hardware].kind for r in runs}
    assert {r.users == 1 for r in runs} == {True, False}  # single-stream and batched


def test_every_runtime_has_decode_overheads(catalog):
    inferring = {r.id for r in catalog.runtimes.values() if r.infers}  # a training-only stack never decodes for users
    for key in OVERHEAD_TABLES:
        assert inferring <= set(catalog.policy_entries[key].value), key


def test_moe_single_stream_is_set_by_fixed_costs_not_bandwidth(comparisons):
    """The issue's two cases: gpt-oss-20b on an RTX 5090 (~205 published) and DeepSeek-R1 on 8 x H200."""
    by_id = {c.run.id: c for c in comparisons}
    gpt_oss = by_id["rtx5090-gptoss20b-ollama-b1"]
    assert gpt_oss.in_band and gpt_oss.bound == "overhead"
    assert by_id["h200x8-r1-fp8-sglang-c8"].estimate < 100  # tens of tokens per second per user, not hundreds


RUN = """schema_version: 1
calibration:
  - {id: bad-run, model: MODEL, hardware: rtx-4090, count: 1, precision: q4_k_m, runtime: llama-cpp, engine: x,
     users: 1, context: 512, RATE quote: "x", sources: [xiongjiedai-bench]}
"""


@pytest.mark.parametrize("model, rate, message", [
    ("llama-9b", "per_user_tok_s: 1,", "calibration run 'bad-run', key 'model': unknown model 'llama-9b'"),
    ("llama-3.1-8b", "", "calibration run 'bad-run', key 'per_user_tok_s': one of per_user_tok_s and total_tok_s is required"),
    ("llama-3.1-8b", "per_user_tok_s: 1, prompt_tokens: 512,",
     "calibration run 'bad-run', key 'prompt_tokens': expected fewer than context (512) tokens"),
    ("llama-3.1-8b", "per_user_tok_s: 0,", "calibration run #1 'bad-run', key 'per_user_tok_s': expected a number above 0, got 0"),
])
def test_broken_calibration_run_names_file_entry_and_field(tmp_path, model, rate, message):
    (tmp_path / "calibration.yaml").write_text(RUN.replace("MODEL", model).replace("RATE", rate))
    with pytest.raises(KnowledgeError, match=re.escape(message)):
        load_catalog((str(tmp_path),))
