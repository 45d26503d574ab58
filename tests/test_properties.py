"""Reliability properties (issue 6), checked with hypothesis over the whole input space.

Every property runs a fixed number of examples (the ``N_*`` constants below, listed in
docs/reliability.md). The default hypothesis profile ``ci`` is derandomized, so CI tries
the same examples on every run; ``HYPOTHESIS_PROFILE=long make test`` multiplies every
count by ``LONG_FACTOR`` and draws fresh random examples, for longer local runs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from llmhw import api, planner, sizing, training_sizing
from llmhw.errors import InputError
from llmhw.knowledge.loader import load_catalog
from llmhw.profile import DEPLOYMENTS, ECOSYSTEMS, SCALES, SLOTS, TASKS, TRAINING_TASKS

# -- hypothesis profiles ------------------------------------------------------------------------------------------

settings.register_profile(
    "ci", derandomize=True, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
settings.register_profile(
    "long", derandomize=False, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
)
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
LONG_FACTOR = 20  # `long`: 20x the examples of every property


def examples(n: int) -> int:
    """The example count of a property under the active profile (``n`` in CI)."""
    return n * LONG_FACTOR if PROFILE == "long" else n


# Examples per property in CI. A consultation costs ~30-80 ms, so the consultation properties stay in the tens;
# the pure sizing/planner properties are cheap and run hundreds.
N_VALID = 40  # valid input: advise and check answer, never raise
N_FUZZ = 150  # arbitrary input: InputError or an answer, nothing else
N_FITS = 40  # every recommendation fits, within budget, in the ecosystem
N_MONO_NEED = 300  # memory need is monotone in context, concurrency, batch, params, precision
N_MONO_FIT = 200  # more memory / more devices never breaks a fit
N_BUDGET = 25  # larger budget never worsens best-in-budget (2 consultations each)
N_DETERMINISM = 20  # same input, byte-identical JSON and trace (2 consultations each)
N_AGREE = 25  # every recommendation, checked on its own, fits

CAT = load_catalog()
MODELS = sorted(CAT.models)
HARDWARE = sorted(CAT.accelerators)
PRECISIONS = sorted(CAT.precisions)
HEADROOM = CAT.policy.fit_headroom
QUALITY = planner.QUALITY_RANK
PARTS = [f.name for f in dataclasses.fields(sizing.Memory) if f.init]  # what a memory need sums to its total

# -- strategies, bounded to the real domain -----------------------------------------------------------------------

MAX_CTX = 131_072  # context: 1..131,072 tokens, and never above the model's max_context
MAX_CONCURRENCY = 512  # concurrency: 1..512 users
MAX_BATCH = 1024  # training batch: 1..1,024 sequences
MAX_COUNT = 64  # check: 1..64 devices
budgets = st.one_of(st.none(), st.floats(100, 1e7, allow_nan=False))  # budget: none, or 100 USD..10 M USD


@st.composite
def profiles(draw: Any, model: str | None = None, task: str | None = None) -> dict[str, Any]:
    """A valid profile: the model and task always, every other field given or left to its default."""
    mid = model or draw(st.sampled_from(MODELS))
    out: dict[str, Any] = {"model": mid, "task": task or draw(st.sampled_from(TASKS))}
    max_ctx = min(MAX_CTX, CAT.models[mid].max_context)
    optional = {
        "precision": st.sampled_from(["auto", *PRECISIONS]),
        "context": st.integers(1, max_ctx),
        "concurrency": st.integers(1, MAX_CONCURRENCY),
        "batch": st.integers(1, MAX_BATCH),
        "activation_checkpointing": st.sampled_from(["auto", "on", "off"]),
        "lora_rank": st.integers(1, 256),  # LoRA rank 1..256
        "budget": budgets,
        "ecosystem": st.sampled_from(ECOSYSTEMS),
        "deployment": st.sampled_from(DEPLOYMENTS),
        "scale": st.sampled_from(SCALES),
        "hours_per_day": st.floats(0.1, 24, allow_nan=False),  # 0.1..24 h
        "cpu_cores": st.integers(1, 256),  # 1..256 cores
        "ram_gb": st.floats(0.5, 4096, allow_nan=False),  # 0.5 GB..4 TB
    }
    for name, strategy in optional.items():
        if draw(st.booleans()):
            value = draw(strategy)
            if value is not None:
                out[name] = value
    return out


def accel(hid: str) -> Any:
    return CAT.accelerators[hid]


def _dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=False, allow_nan=True, default=repr)


def _trace(result: Any) -> str:
    return _dump([e.to_dict() for e in result.trace])


# -- 1. valid input never raises; any input raises nothing but InputError -----------------------------------------


@settings(max_examples=examples(N_VALID))
@given(profile=profiles(), hardware=st.sampled_from(HARDWARE), count=st.integers(1, MAX_COUNT))
def test_valid_input_always_answers(profile, hardware, count):
    advice = api.advise(profile)
    json.dumps(advice.to_dict(), allow_nan=False)  # the JSON document is plain, finite data
    result = api.check(profile, hardware, count)
    json.dumps(result.to_dict(), allow_nan=False)
    assert isinstance(result.fits, bool)


_junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10**400), 10**400), st.floats(),
    st.text(max_size=300), st.text(alphabet=st.characters(codec="utf-8"), max_size=20),
    st.sampled_from(["", " ", "auto", "80GB", "1e400", "-0", "nan", "inf", "8k", "none", "\x00", "١٢٣", "x" * 5000]),
    st.binary(max_size=10), st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.sampled_from([*MODELS[:3], "deepseek-r1:7b", *TASKS, *ECOSYSTEMS, *DEPLOYMENTS, *SCALES, *PRECISIONS[:3]]),
)
_keys = st.one_of(st.sampled_from([s.name for s in SLOTS] + [s.name.replace("_", "-") for s in SLOTS]), st.text(max_size=30),
                  st.integers(), st.none())


@settings(max_examples=examples(N_FUZZ))
@given(data=st.one_of(
    st.dictionaries(_keys, _junk, max_size=6),
    st.fixed_dictionaries({"model": st.sampled_from(MODELS)}, optional={s.name: _junk for s in SLOTS if s.name != "model"}),
    _junk,
), hardware=_junk, count=_junk)
def test_any_input_raises_only_input_error(data, hardware, count):
    for call in (lambda: api.advise(data), lambda: api.check(data, hardware, count)):
        try:
            call()
        except InputError as exc:
            assert str(exc).startswith(f"{exc.field}: ") and "\n" not in str(exc)
            assert len(str(exc)) < 600, "an error message echoes its input unbounded"


# -- 2. every recommendation fits, within budget when it says so, in the ecosystem asked for -----------------------


def _assert_consistent(rec: dict[str, Any], profile: dict[str, Any]) -> None:
    a = accel(rec["hardware"])
    mem = rec["memory"]
    assert mem["total"] == sum(v for k, v in mem.items() if k != "total")
    runtime = CAT.runtimes[rec["runtime"]]
    assert rec["available"] == planner.usable_bytes(a, runtime, HEADROOM), "available is not the policy's usable memory"
    assert rec["available"] <= (a.usable_memory_bytes or a.memory_bytes) * HEADROOM
    assert rec["fits"] is True and mem["total"] <= rec["available"], f"{rec['id']} does not fit by its own numbers"


@settings(max_examples=examples(N_FITS))
@given(profile=profiles())
def test_every_recommendation_fits_within_budget_and_ecosystem(profile):
    advice = api.advise(profile)
    data = advice.to_dict()
    budget = profile.get("budget")
    ecosystem = profile.get("ecosystem", "any")
    deployment = profile.get("deployment", "local")
    warned_over = {w["id"] for w in data["warnings"]} & {"BUD-over-budget"}
    need = data["memory_need"]
    if need:
        assert need["total"] == sum(v for k, v in need.items() if k in PARTS)
    for rec in data["recommendations"]:
        _assert_consistent(rec, profile)
        a = accel(rec["hardware"])
        if ecosystem != "any":
            assert a.ecosystem == ecosystem, f"{rec['id']} is {a.ecosystem}, {ecosystem} was asked"
        if deployment != "cloud":
            assert a.obtain != "cloud", f"{rec['id']} cannot be bought for a {deployment} deployment"
        if deployment == "edge":
            assert a.kind not in ("gpu", "tpu")
        if profile["task"] in TRAINING_TASKS:
            assert a.kind not in ("npu", "cpu")
        cost = rec["cost"]["budget_usd"]
        if rec["tier"] == "best-in-budget" and budget is not None:
            assert cost is not None and cost <= budget + 0.01, f"best-in-budget {rec['id']} costs {cost} > {budget}"
        if rec["tier"] == "minimum" and budget is not None and cost is not None and cost > budget:
            assert warned_over, "the minimum is over budget and nothing says so"


# -- 3. monotonicity ------------------------------------------------------------------------------------------------


def _workload(model: str, task: str, precision: str, **kw: Any) -> planner.Workload:
    base = dict(model=model, task=task, precision=precision, context=8192, concurrency=1, batch=16,
                activation_checkpointing="auto", lora_rank=16, budget=None, ecosystem="any", deployment="local",
                scale="team", hours_per_day=8.0, cpu_cores=None, ram_gb=None)
    base.update(kw)
    return planner.Workload(**base)


@st.composite
def workloads(draw: Any) -> planner.Workload:
    mid = draw(st.sampled_from(MODELS))
    task = draw(st.sampled_from(TASKS))
    return _workload(
        mid, task, draw(st.sampled_from(PRECISIONS)),
        context=draw(st.integers(1, min(MAX_CTX, CAT.models[mid].max_context))),
        concurrency=1 if task in TRAINING_TASKS else draw(st.integers(1, MAX_CONCURRENCY)),
        batch=draw(st.integers(1, MAX_BATCH)), activation_checkpointing=draw(st.sampled_from(["auto", "on", "off"])),
        lora_rank=draw(st.integers(1, 256)),
    )


def _need(w: planner.Workload, model: Any = None) -> int:
    model = model or CAT.models[w.model]
    mem, _ = planner.reference_memory(w, model, CAT.precisions[w.precision], CAT)
    return mem.total


@settings(max_examples=examples(N_MONO_NEED))
@given(w=workloads(), more=st.integers(1, MAX_CTX), factor=st.floats(1.0, 16.0))
def test_memory_need_is_monotone(w, more, factor):
    model = CAT.models[w.model]
    base = _need(w)
    ctx = min(w.context + more, max(model.max_context, w.context))
    assert _need(dataclasses.replace(w, context=ctx)) >= base, "more context lowered the need"
    if not w.training:
        assert _need(dataclasses.replace(w, concurrency=min(w.concurrency + more, 10_000))) >= base, "more users lowered the need"
    assert _need(dataclasses.replace(w, batch=w.batch + more)) >= base, "a larger batch lowered the need"
    bigger = dataclasses.replace(model, params=int(model.params * factor), active_params=int(model.active_params * factor))
    assert _need(w, bigger) >= base, "more parameters lowered the need"


def test_second_user_never_lowers_the_memory_need():
    """Found by the property above: 1 user was sized under transformers (whole-prompt prefill), 2 under vLLM (chunked)."""
    one = api.advise({"model": "deepseek-r1:7b", "precision": "bf16", "context": 131072, "concurrency": 1}).memory_need
    two = api.advise({"model": "deepseek-r1:7b", "precision": "bf16", "context": 131072, "concurrency": 2}).memory_need
    assert two["total"] >= one["total"], f"1 user: {one['total']:,} B ({one['runtime']}); 2 users: {two['total']:,} B ({two['runtime']})"


@settings(max_examples=examples(N_MONO_NEED))
@given(w=workloads(), bits=st.sampled_from(sorted({p.bits_per_weight for p in CAT.precisions.values()})),
       more_bits=st.floats(0.0, 28.0), micro=st.integers(1, 64))
def test_more_bits_per_weight_never_lowers_memory(w, bits, more_bits, micro):
    """Higher precision = more bits per weight, under the same runtime and settings (sizing formulas)."""
    a = planner.arch(CAT.models[w.model])
    inf = [sizing.inference_memory(a, b, 2.0, w.context, w.concurrency, 2048, 500_000_000).total for b in (bits, bits + more_bits)]
    assert inf[1] >= inf[0]
    for mode in ("full", "lora", "qlora"):
        totals = [training_sizing.training_memory(a, training_sizing.TrainingSetup(mode=mode, micro_batch=micro, seq_len=w.context,
                                                                                   checkpointing=False, frozen_bits_per_weight=b),
                                                  500_000_000).total
                  for b in (bits, bits + more_bits)]
        assert totals[1] >= totals[0]


@settings(max_examples=examples(N_MONO_FIT))
@given(w=workloads(), hid=st.sampled_from(HARDWARE), n=st.sampled_from([1, 2, 4, 8]), k=st.floats(1.0, 8.0),
       extra=st.sampled_from([2, 4, 8]))
def test_more_memory_or_devices_never_breaks_a_fit(w, hid, n, k, extra):
    a, model, p = accel(hid), CAT.models[w.model], CAT.precisions[w.precision]
    runtimes = planner.runtimes_for(w, a, p, CAT)
    assume(bool(runtimes))
    rt = runtimes[0]
    option = planner.evaluate(w, model, a, n, p, rt, CAT)
    if not option.fits:
        return
    roomier = dataclasses.replace(a, memory_bytes=int(a.memory_bytes * k),
                                  usable_memory_bytes=int(a.usable_memory_bytes * k) if a.usable_memory_bytes else None)
    assert planner.evaluate(w, model, roomier, n, p, rt, CAT).fits, f"{option.id} stops fitting with {k:.2f}x memory"
    assert planner.evaluate(w, model, a, n * extra, p, rt, CAT).fits, f"{option.id} stops fitting on {n * extra} devices"


def _rank(rec: dict[str, Any] | None) -> tuple[float, float]:
    return (QUALITY[rec["quality_class"]], rec["tokens_per_s"] or 0.0) if rec else (-1.0, -1.0)


def _tier(data: dict[str, Any], tier: str) -> dict[str, Any] | None:
    return next((r for r in data["recommendations"] if r["tier"] == tier), None)


@settings(max_examples=examples(N_BUDGET))
@given(profile=profiles(), low=st.floats(100, 1e6), factor=st.floats(1.0, 100.0))
def test_larger_budget_never_worsens_best_in_budget(profile, low, factor):
    """best-in-budget ranks by quality class, then speed per user: a larger budget never lowers that pair."""
    small = api.advise({**profile, "budget": low}).to_dict()
    large = api.advise({**profile, "budget": low * factor}).to_dict()
    before, after = _tier(small, "best-in-budget"), _tier(large, "best-in-budget")
    if before is not None:
        assert after is not None, "a larger budget lost the best-in-budget option"
        assert _rank(after) >= _rank(before), (
            f"budget {low:.0f} -> {before['id']} {_rank(before)}; budget {low * factor:.0f} -> {after['id']} {_rank(after)}")


# -- 4. determinism -------------------------------------------------------------------------------------------------


@settings(max_examples=examples(N_DETERMINISM))
@given(profile=profiles())
def test_same_input_same_json_and_trace(profile):
    first, second = api.advise(profile), api.advise(dict(reversed(list(profile.items()))))
    assert _dump(first.to_dict()) == _dump(second.to_dict())
    assert _trace(first) == _trace(second)


_DUMP_SCRIPT = """
import json, sys
from llmhw import api
out = []
for p in json.loads(sys.argv[1]):
    a = api.advise(p)
    out.append([a.to_dict(), [e.to_dict() for e in a.trace]])
    c = api.check(p, "h100", 2)
    out.append([c.to_dict(), [e.to_dict() for e in c.trace]])
print(json.dumps(out, default=repr))
"""


def test_same_input_same_output_across_processes_and_hash_seeds():
    """Set and dict order must not leak into the output: two processes with different hash seeds agree byte for byte."""
    cases = [{"model": "deepseek-r1:70b", "concurrency": 20, "budget": 40000},
             {"model": "qwen3:30b-a3b", "task": "lora", "ecosystem": "cuda", "deployment": "cloud"},
             {"model": "gpt-oss:20b", "ecosystem": "apple", "scale": "personal", "cpu_cores": 4, "ram_gb": 8}]
    outs = []
    for seed in ("0", "12345"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", _DUMP_SCRIPT, json.dumps(cases)], capture_output=True, text=True,
                              env=env, timeout=120)
        assert proc.returncode == 0, proc.stderr
        outs.append(proc.stdout)
    assert outs[0] == outs[1]


# -- 5. check and recommend agree -----------------------------------------------------------------------------------


@settings(max_examples=examples(N_AGREE))
@given(profile=profiles())
def test_every_recommendation_checked_on_its_own_fits(profile):
    advice = api.advise(profile)
    seen = set()
    for rec in advice.to_dict()["recommendations"]:
        if rec["id"] in seen:
            continue
        seen.add(rec["id"])
        checked = api.check({**profile, "precision": rec["precision"]}, rec["hardware"], rec["count"])
        assert checked.fits, f"recommended {rec['id']} does not fit when checked"
        got = checked.to_dict()
        assert got["memory"] == rec["memory"] and got["available"] == rec["available"], f"{rec['id']}: check and recommend disagree"
