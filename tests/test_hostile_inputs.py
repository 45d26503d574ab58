"""Nothing silently wrong: one validation for every way in, extra knowledge checked for sense, bounded reading.

Issue 17, "Silently wrong answers" and "Tracebacks": each case goes in through every door it can (CLI option,
profile file, ``Profile``, ``Consultation``, batch row, API) and must get the same one-line answer.
"""

from __future__ import annotations

import json
import math

import llmhw
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmhw import api, trace
from llmhw.batch import run_batch
from llmhw.cli import main
from llmhw.consult import Consultation
from llmhw.errors import InputError, KnowledgeError
from llmhw.knowledge.loader import load_catalog

from .test_api import EXTRA_MODELS, EXTRA_SOURCES
from .test_knowledge import GOOD_ACCEL
from .test_properties import examples

M = "deepseek-r1:7b"  # max_context 131,072
COMMA = ("expected a number with no comma, got {v!r}: a comma is a decimal point in some locales and a thousands "
         "separator in others; write 1.5 or 1500")
CONTEXT = "context: expected at most 131,072 for DeepSeek-R1-Distill-Qwen-7B (its max_context), got 200,000"


# -- one validation for every way in ---------------------------------------------------------------------------------


@pytest.mark.parametrize("field, value", [("hours_per_day", "1,5"), ("budget", "1.234,56"), ("budget", "40,000"), ("context", "8,192")])
def test_a_comma_in_a_number_is_refused_with_the_reason_everywhere(runner, tmp_path, field, value):
    message = f"{field}: " + COMMA.format(v=value)
    option = "--" + field.replace("_", "-")
    result = runner.invoke(main, ["recommend", "--model", M, option, value])
    assert result.exit_code == 2 and result.stderr == f"Error: {message}\n"
    profile = tmp_path / "p.yaml"
    profile.write_text(f"model: {M}\n{field}: '{value}'\n")
    assert runner.invoke(main, ["recommend", "--profile", str(profile)]).stderr == f"Error: {message}\n"
    with pytest.raises(InputError, match=f"^{message}$".replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        llmhw.Profile(model=M, **{field: value})
    with pytest.raises(InputError) as err:
        api.advise({"model": M, field: value})
    assert str(err.value) == message
    consult = Consultation()
    consult.answer(M)
    while (q := consult.next_question()) is not None and q.slot != field:
        consult.answer("")
    assert q is not None
    with pytest.raises(InputError) as err:
        consult.answer(value)
    assert str(err.value) == message


def test_a_base_60_yaml_number_is_refused(runner, tmp_path):
    profile = tmp_path / "p.yaml"
    profile.write_text(f"model: {M}\nbudget: 40:00\n")
    result = runner.invoke(main, ["recommend", "--profile", str(profile)])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: --profile: {profile}: not valid YAML (line 2): '40:00' is a YAML 1.1 base-60 number; "
                             "write the number itself, or quote it\n")
    profile.write_text(f"model: {M}\ncontext: 1:30.5\n")
    assert "base-60 number" in runner.invoke(main, ["recommend", "--profile", str(profile)]).stderr


def test_a_context_above_the_models_limit_is_refused_naming_the_limit(runner, tmp_path):
    for args in (["recommend", "--model", M, "--context", "200000"],
                 ["check", "--model", M, "--hardware", "h100", "--context", "200000"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2 and result.stderr == f"Error: {CONTEXT}\n"
    with pytest.raises(InputError) as err:
        api.check(llmhw.Profile(model=M, context=200_000), "h100")
    assert str(err.value) == CONTEXT
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps({"model": M, "context": 200_000}) + "\n")
    out = tmp_path / "out.jsonl"
    assert runner.invoke(main, ["batch", str(src), "--out", str(out), "--jobs", "1"]).exit_code == 1
    assert json.loads(out.read_text())["error"] == CONTEXT
    assert api.advise({"model": M, "context": 131_072}).profile["context"] == 131_072  # the limit itself is answered


@pytest.mark.parametrize("count, ok", [("256", True), ("257", False), ("100000", False)])
def test_check_count_is_bounded_by_the_policy(runner, count, ok):
    result = runner.invoke(main, ["check", "--model", M, "--hardware", "h100", "--count", count])
    if ok:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2
        assert result.stderr == f"Error: count: expected a whole number from 1 to 256, got {count}\n"


def test_the_device_bound_is_a_sourced_policy_entry(catalog):
    entry = catalog.policy_entries["max-check-devices"]
    assert entry.value == max(catalog.policy.device_counts) and entry.why and entry.sources


# -- extra knowledge, validated like the built-in catalog ------------------------------------------------------------

RUNTIME = """schema_version: 1
runtimes:
  - id: my-runtime
    name: My Runtime
    ecosystems: [cuda]
    overhead_bytes: 1000000000
    memory_fraction: 0.9
    serves_many: true
    batches: true
    trains: false
    infers: true
    sources: [article]
"""
MOE = EXTRA_MODELS.replace("architecture: dense", "architecture: moe").replace(
    "  max_context: 32768\n", "  max_context: 32768\n  experts: 8\n  experts_active: 2\n  moe_intermediate: 2048\n").replace(
    "active_params: 7615616512", "active_params: 2000000000")
ACME = "model 'acme-chat-7b', key "
SLIDING = EXTRA_MODELS.replace("  max_context: 32768\n", "  max_context: 32768\n  sliding_window: 4096\n  sliding_layers: 14\n")


@pytest.mark.parametrize("file, text, message", [
    ("models.yaml", EXTRA_MODELS.replace("kv_heads: 4", "kv_heads: 5"), ACME + "'kv_heads': expected a divisor of heads (28), got 5"),
    ("models.yaml", MOE.replace("experts_active: 2", "experts_active: 9"), ACME + "'experts_active': expected at most experts (8), got 9"),
    ("models.yaml", SLIDING.replace("sliding_layers: 14", "sliding_layers: 29"), ACME + "'sliding_layers': expected 0 to layers (28), got 29"),
    ("models.yaml", SLIDING.replace("sliding_layers: 14", "sliding_layers: -1"), ACME + "'sliding_layers': expected 0 to layers (28), got -1"),
    ("models.yaml", SLIDING.replace("  sliding_window: 4096\n", ""), ACME + "'sliding_window': required when sliding_layers is set (14)"),
    ("models.yaml", SLIDING.replace("sliding_window: 4096", "sliding_window: 65536"),
     ACME + "'sliding_window': expected at most max_context (32,768), got 65,536"),
    ("models.yaml", MOE.replace("  experts: 8\n", "  shared_experts: -1\n  experts: 8\n"), ACME + "'shared_experts': expected zero or more, got -1"),
    ("accelerators.yaml", GOOD_ACCEL.replace("usable_memory_bytes: 47000000000", "usable_memory_bytes: 60000000000"),
     "accelerator 'my-card', key 'usable_memory_bytes': expected at most memory_bytes (48,000,000,000), got 60,000,000,000"),
    ("runtimes.yaml", RUNTIME.replace("memory_fraction: 0.9", "memory_fraction: 50"),
     "runtime 'my-runtime', key 'memory_fraction': expected a fraction in (0, 1], got 50"),
    ("runtimes.yaml", RUNTIME.replace("overhead_bytes: 1000000000", "overhead_bytes: -5"),
     "runtime 'my-runtime', key 'overhead_bytes': expected zero or more, got -5"),
])
def test_inconsistent_extra_knowledge_names_file_entry_and_key(runner, tmp_path, file, text, message):
    (tmp_path / "sources.yaml").write_text(EXTRA_SOURCES)
    (tmp_path / file).write_text(text)
    with pytest.raises(KnowledgeError) as err:
        load_catalog((str(tmp_path),))
    assert str(err.value) == f"{tmp_path / file}: {message}"
    result = runner.invoke(main, ["models", "--knowledge", str(tmp_path)])
    assert result.exit_code == 2 and result.stderr == f"Error: {tmp_path / file}: {message}\n"


def test_consistent_extra_knowledge_loads(tmp_path):
    (tmp_path / "sources.yaml").write_text(EXTRA_SOURCES)
    (tmp_path / "models.yaml").write_text(SLIDING)
    (tmp_path / "runtimes.yaml").write_text(RUNTIME)
    cat = load_catalog((str(tmp_path),))
    assert cat.models["acme-chat-7b"].sliding_layers == 14 and "my-runtime" in cat.runtimes


def test_a_moe_with_every_expert_active_is_answered(runner, tmp_path):
    (tmp_path / "sources.yaml").write_text(EXTRA_SOURCES)
    (tmp_path / "models.yaml").write_text(MOE.replace("experts_active: 2", "experts_active: 8").replace(
        "active_params: 2000000000", "active_params: 7615616512"))
    for args in (["recommend", "--model", "acme-chat-7b"], ["check", "--model", "acme-chat-7b", "--hardware", "h100", "--count", "2"]):
        result = runner.invoke(main, [*args, "--knowledge", str(tmp_path), "--format", "json"])
        assert result.exit_code == 0, result.output
        json.dumps(json.loads(result.stdout), allow_nan=False)


# -- bounded reading: each bad batch row fails alone ------------------------------------------------------------------


GOOD = json.dumps({"model": M}).encode() + b"\n"
BAD_ROWS = {
    "non-utf8": (b'{"model": "\xff"}\n', "not UTF-8: byte 0xff at character 12"),
    "huge-int": (b'{"model": "' + M.encode() + b'", "context": ' + b"9" * 5000 + b"}\n", "not valid JSON here: a number with too many digits"),
    "deep": (b"[" * 100_000 + b"]" * 100_000 + b"\n", "not valid JSON here: nested too deeply"),
    "not-json": (b"{model: x}\n", "not valid JSON: Expecting property name enclosed in double quotes (column 2)"),
}


@pytest.mark.parametrize("name", sorted(BAD_ROWS))
def test_a_bad_jsonl_row_is_reported_with_its_line_and_the_run_goes_on(runner, tmp_path, name):
    row, error = BAD_ROWS[name]
    src = tmp_path / "in.jsonl"
    src.write_bytes(GOOD + row + GOOD)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main, ["batch", str(src), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 1, result.output
    assert result.stderr.splitlines()[0] == f"row 2, line 2: {error}"
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["ok"] for r in records] == [True, False, True] and records[1]["error"] == error


def test_a_csv_cell_over_128_kib_fails_its_row_only(runner, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(f"model,precision\n{M},{'x' * 140_000}\n{M},auto\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main, ["batch", str(src), "--out", str(out), "--jobs", "1"])
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == "row 1, line 2: not a valid CSV record: field larger than field limit (131072)"
    assert [json.loads(line)["ok"] for line in out.read_text().splitlines()] == [False, True]


def test_batch_input_that_is_not_a_regular_file_is_refused(runner, tmp_path):
    import os

    fifo = tmp_path / "in.jsonl"
    os.mkfifo(fifo)
    result = runner.invoke(main, ["batch", str(fifo), "--out", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 2
    assert result.stderr == f"Error: INPUT: {fifo}: cannot read: not a regular file (a FIFO, device or socket)\n"
    assert not (tmp_path / "out.jsonl").exists()


# Lines of arbitrary bytes (bounded at 300 bytes a line: every parser branch is reached well below it).
@settings(max_examples=examples(30), deadline=None)
@given(lines=st.lists(st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" ")), min_size=1, max_size=6))
def test_any_bytes_give_one_record_per_row_and_no_exception(tmp_path_factory, lines):
    import io

    folder = tmp_path_factory.mktemp("bytes")
    src = folder / "in.jsonl"
    src.write_bytes(b"\n".join(lines) + b"\n")
    out = io.StringIO()
    summary = run_batch(src, out, jobs=1, progress=False)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    text = src.read_bytes().decode("utf-8-sig", "surrogateescape")  # as the reader sees it: blank lines are skipped
    assert len(records) == summary.rows == sum(1 for line in text.split("\n") if line.strip())
    for r in records:
        assert r["ok"] or ("\n" not in r["error"] and len(r["error"]) < 600)


# Numbers as typed anywhere, in any locale (bounded: the slot ranges of engine/profile.py).
@settings(max_examples=examples(60), deadline=None)
@given(text=st.from_regex(r"\A-?[0-9]{1,7}([.,][0-9]{1,3}){0,2}\Z"))
def test_a_number_is_read_as_typed_or_refused_never_guessed(text):
    try:
        profile = llmhw.Profile(hours_per_day=text)
    except InputError as exc:
        assert "," in text or text.count(".") > 1 or not 0.1 <= float(text) <= 24, str(exc)
        return
    assert "," not in text and math.isclose(profile.hours_per_day, float(text))


def test_reading_a_trace_stops_at_its_size_limit(tmp_path):
    from llmhw.trace.document import MAX_TRACE_BYTES

    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(MAX_TRACE_BYTES + 1)
    with pytest.raises(InputError) as err:
        trace.read(big)
    assert str(err.value) == f"trace: {big}: file is {MAX_TRACE_BYTES + 1:,} bytes, over the {MAX_TRACE_BYTES:,}-byte limit"


def test_the_console_script_handler_is_reached_before_anything_heavy_is_imported():
    """Ctrl-C in the first ~100 ms: `import llmhw` loads only the errors and the shim, so `_entry` catches it soon."""
    import subprocess
    import sys

    code = "import sys, llmhw._entry; print(sorted(m for m in sys.modules if m.startswith('llmhw')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "['llmhw', 'llmhw._compat', 'llmhw._entry', 'llmhw.errors']"
