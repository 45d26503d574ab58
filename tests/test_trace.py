"""Traces: written, validated against the published schema, explained, audited; tampering and bad files caught."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
from llmhw import api, trace
from llmhw.cli import main
from llmhw.knowledge import loader

CHECK_P1 = ["check", "--model", "deepseek-r1:7b", "--hardware", "A100 80GB", "--precision", "q4_k_m"]
REC = ["recommend", "--model", "deepseek-r1:70b", "--concurrency", "20", "--budget", "40000"]


def validated(path: Path) -> dict:
    """Read a trace the way `llmhw` does, and check it against the schema with the reference validator too."""
    doc = trace.read(path)
    jsonschema.Draft202012Validator.check_schema(trace.schema())
    jsonschema.validate(doc, trace.schema(), cls=jsonschema.Draft202012Validator)
    return doc


def write_cli(runner, tmp_path: Path, args: list[str], name: str = "t.json") -> tuple[Path, dict]:
    path = tmp_path / name
    result = runner.invoke(main, [*args, "--trace", str(path)])
    assert result.exit_code == 0, result.output
    return path, validated(path)


@pytest.fixture
def changed_policy(monkeypatch, tmp_path):
    """Today's knowledge with one policy threshold changed (a copy of the built-in directory)."""

    def change(key: str, old: str, new: str) -> None:
        copy = tmp_path / "builtin"
        shutil.copytree(loader.BUILTIN_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
        policy = copy / "policy.yaml"
        text = policy.read_text()
        line = next(ln for ln in text.splitlines() if f"id: {key}," in ln)
        assert f"value: {old}," in line
        policy.write_text(text.replace(line, line.replace(f"value: {old},", f"value: {new},")))
        monkeypatch.setattr(loader, "BUILTIN_DIR", copy)
        loader.load_catalog.cache_clear()

    yield change
    monkeypatch.undo()
    loader.load_catalog.cache_clear()


def test_recommend_trace_is_complete_and_valid(runner, tmp_path):
    path, doc = write_cli(runner, tmp_path, REC)
    assert doc["format"] == "llmhw-trace" and doc["schema_version"] == 1 and doc["command"] == "recommend"
    assert doc["inputs"] == {"model": "deepseek-r1:70b", "concurrency": 20, "budget": 40000.0}
    assert doc["defaults"]["task"] == "inference" and "model" not in doc["defaults"]
    assert set(doc["knowledge"]["files"]) >= {"models.yaml", "accelerators.yaml", "policy.yaml", "sources.yaml"}
    assert any(name.startswith("rules/") for name in doc["rulebase"]["files"])
    assert len(doc["rulebase"]["sha256"]) == 64 and doc["digest"] == trace.digest(doc)
    facts = {f["id"]: f for f in doc["facts"]}
    assert facts[1]["type"] == "Answers" and facts[1]["fields"]["concurrency"] == 20
    # Every firing: rule id, matched facts (recorded with their values), bindings, asserted facts.
    assert [f["seq"] for f in doc["firings"]] == list(range(1, len(doc["firings"]) + 1))
    for firing in doc["firings"]:
        assert firing["rule_id"] and firing["statement"] and isinstance(firing["bindings"], dict)
        assert all(fid in facts for fid in firing["matched"] + firing["asserted"])
    tiers = [c["key"] for c in doc["conclusions"] if c["kind"] == "recommendation"]
    assert tiers == ["best-in-budget", "minimum", "recommended"]
    rec = next(c for c in doc["conclusions"] if c["key"] == "recommended")
    assert facts[rec["fact"]]["type"] == "Recommendation"
    assert doc["answer"] == json.loads(runner.invoke(main, [*REC, "--format", "json"]).stdout)
    assert trace.reference_problems(doc) == []
    entry = doc["knowledge"]["entries"]["model:deepseek-r1-distill-llama-70b"]
    assert entry["file"] == "models.yaml" and all(s in doc["knowledge"]["sources"] for s in entry["sources"])


def test_check_trace_and_every_written_trace_validates(runner, tmp_path):
    _, doc = write_cli(runner, tmp_path, CHECK_P1)
    assert doc["command"] == "check" and doc["proposal"] == {"hardware": "a100-80gb-sxm", "count": 1}
    fit = next(c for c in doc["conclusions"] if c["kind"] == "fit")
    assert fit["key"] == "a100-80gb-sxm" and fit["value"]["fits"] is True
    assert any(c["key"] == "P1-oversized-vram" for c in doc["conclusions"])
    for i, args in enumerate([["recommend", "--model", "qwen2.5:7b", "--task", "lora", "--batch", "32"],
                              ["recommend", "--model", "deepseek-r1:7b", "--deployment", "cloud", "--ecosystem", "tpu"],
                              ["check", "--model", "llama-3.1-70b", "--hardware", "h100-sxm", "--count", "2"]]):
        write_cli(runner, tmp_path, args, f"t{i}.json")


def test_same_input_gives_byte_identical_trace_apart_from_created(tmp_path):
    profile = {"model": "qwen2.5:7b", "task": "lora", "batch": 32}
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    trace.write(a, api.advise(profile), created="2026-01-01T00:00:00Z")
    trace.write(b, api.advise(dict(profile)), created="2026-01-01T00:00:00Z")
    assert a.read_bytes() == b.read_bytes()
    # ... and in another process, where string hashing (and so experta's set order) differs.
    code = ("import sys, llmhw; from llmhw import trace; "
            "trace.write(sys.argv[1], llmhw.advise({'model': 'qwen2.5:7b', 'task': 'lora', 'batch': 32}), "
            "created='2026-01-01T00:00:00Z')")
    for seed in ("1", "2"):
        c = tmp_path / f"c{seed}.json"
        out = subprocess.run([sys.executable, "-c", code, str(c)], capture_output=True, text=True, timeout=120,
                             env={**os.environ, "PYTHONHASHSEED": seed})
        assert out.returncode == 0, out.stderr
        assert c.read_bytes() == a.read_bytes()
    trace.write(b, api.advise(profile))
    da, db = json.loads(a.read_text()), json.loads(b.read_text())
    assert da.pop("created") != db.pop("created") and da == db


def test_explain_prints_derivations_back_to_inputs_and_knowledge(runner, tmp_path):
    path, doc = write_cli(runner, tmp_path, CHECK_P1)
    result = runner.invoke(main, ["explain", str(path), "--conclusion", "P1-oversized-vram"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "Warning P1-oversized-vram" in out and "[P1-oversized-vram]" in out
    assert "[CAND-proposal]" in out and "[IN-workload]" in out
    assert "your inputs (model=deepseek-r1:7b, precision=q4_k_m)" in out and "the defaults (" in out
    assert "knowledge: hardware NVIDIA A100 SXM4 80GB (accelerators.yaml), sources:" in out
    assert "Knowledge sources:" in out
    whole = runner.invoke(main, ["explain", str(path)])
    assert whole.exit_code == 0 and whole.stdout.count("\nWarning ") + whole.stdout.count("\nTip ") >= 1
    assert "Fit a100-80gb-sxm: fits" in whole.stdout
    missing = runner.invoke(main, ["explain", str(path), "--conclusion", "nope"])
    assert missing.exit_code == 2 and "--conclusion" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_audit_same_result_exits_0(runner, tmp_path):
    path, _ = write_cli(runner, tmp_path, REC)
    result = runner.invoke(main, ["audit", str(path)])
    assert result.exit_code == 0, result.output
    assert "Same conclusions" in result.stdout and "Rulebase: unchanged" in result.stdout
    data = json.loads(runner.invoke(main, ["audit", str(path), "--format", "json"]).stdout)
    assert data["verdict"] == "same" and data["differences"] == [] and data["parted_at"] is None


def test_audit_changed_policy_threshold_exits_1_naming_the_rule(runner, tmp_path, changed_policy):
    path, _ = write_cli(runner, tmp_path, CHECK_P1)
    changed_policy("p1-min-waste-usd", "500", "50000")  # 11,221 USD at stake is no longer worth a warning
    result = runner.invoke(main, ["audit", str(path)])
    assert result.exit_code == 1, result.output
    out = result.stdout
    assert "removed warning P1-oversized-vram" in out
    assert "The runs part at firing #" in out and "trace: [P1-oversized-vram]" in out
    assert "Knowledge: changed since the trace was written (policy.yaml changed)" in out
    assert "Rulebase: unchanged" in out and "INCONSISTENT" not in out
    report = trace.audit(trace.read(path))
    assert report.verdict == "changed" and report.parted_at["recorded"]["rule_id"] == "P1-oversized-vram"
    assert report.knowledge_changed == ("policy.yaml changed",)


def test_audit_changed_threshold_that_changes_a_tier(tmp_path, changed_policy):
    path = tmp_path / "t.json"
    trace.write(path, api.advise({"model": "deepseek-r1:70b", "concurrency": 20, "budget": 40000}))
    changed_policy("comfortable-utilization", "0.85", "0.5")
    report = trace.audit(trace.read(path))
    assert report.verdict == "changed" and report.exit_code == 1
    assert any(d["change"] == "changed" and d["kind"] == "recommendation" for d in report.differences)
    assert report.parted_at is not None


def tamper(path: Path, edit, keep_digest: bool = False) -> None:
    doc = json.loads(path.read_text())
    edit(doc)
    if not keep_digest:  # a careful forger recomputes the digest too
        doc["digest"] = trace.digest(doc)
    path.write_text(trace.dumps(doc))


@pytest.mark.parametrize("how", ["statement", "conclusion", "inputs", "digest-only", "dangling-fact"])
def test_audit_tampered_trace_is_inconsistent(runner, tmp_path, how):
    path, doc = write_cli(runner, tmp_path, CHECK_P1)
    p1 = next(i for i, f in enumerate(doc["firings"]) if f["rule_id"] == "P1-oversized-vram")

    def edit(d: dict) -> None:
        if how == "statement":
            d["firings"][p1]["statement"] = "the A100 is exactly right for this workload"
        elif how == "conclusion":
            c = next(c for c in d["conclusions"] if c["key"] == "P1-oversized-vram")
            c["value"]["at_stake_usd"] = 1.0
        elif how == "inputs":
            d["inputs"]["context"] = 4096
        elif how == "digest-only":
            d["answer"]["fits"] = False
        else:
            d["firings"][p1]["matched"].append(9999)

    tamper(path, edit, keep_digest=how == "digest-only")
    result = runner.invoke(main, ["audit", str(path)])
    assert result.exit_code == 1, result.output
    assert "INCONSISTENT" in result.stdout
    report = trace.audit(trace.read(path))
    assert report.verdict == "inconsistent" and report.problems
    if how == "dangling-fact":
        assert any("matched fact 9999" in p for p in report.problems)
    if how == "digest-only":
        assert any("digest" in p for p in report.problems)
    if how in ("statement", "inputs"):
        assert any("do not give its recorded" in p for p in report.problems)


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON (line 1)"),
    ("[]", "not a valid llmhw trace: $: expected object, got list"),
    ('{"format": "llmhw-trace"}', "not a valid llmhw trace: $: missing key 'schema_version'"),
    ('{"format": "llmhw-trace", "schema_version": 1}', "not a valid llmhw trace: $: missing key 'llmhw_version'"),
    ("", "not valid JSON (line 1)"),
])
def test_malformed_trace_exits_2_with_one_line(runner, tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    for command in ("audit", "explain"):
        result = runner.invoke(main, [command, str(path)])
        assert result.exit_code == 2, result.output
        assert result.stderr == f"Error: trace: {path}: {message}\n"
        assert isinstance(result.exception, SystemExit), repr(result.exception)


def test_malformed_trace_fields_exit_2(runner, tmp_path):
    path, doc = write_cli(runner, tmp_path, REC)
    doc["firings"][0]["matched"] = ["one"]
    path.write_text(json.dumps(doc))
    result = runner.invoke(main, ["audit", str(path)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: trace: {path}: not a valid llmhw trace: $.firings[0].matched[0]: expected integer, got str\n"
    with pytest.raises(jsonschema.ValidationError):  # the published schema agrees
        jsonschema.validate(doc, trace.schema())
    missing = runner.invoke(main, ["audit", str(tmp_path / "nope.json")])
    assert missing.exit_code == 2
    assert missing.stderr == f"Error: trace: {tmp_path / 'nope.json'}: cannot read: No such file or directory\n"


def test_trace_file_that_cannot_be_written_exits_2(runner, tmp_path):
    result = runner.invoke(main, [*REC, "--trace", str(tmp_path / "no" / "such" / "dir.json")])
    assert result.exit_code == 2 and result.stderr.startswith("Error: --trace:")


def test_trace_with_extra_knowledge_replays_from_the_recorded_directory(runner, tmp_path):
    from .test_api import write_extra

    extra = write_extra(tmp_path / "extra")
    path, doc = write_cli(runner, tmp_path, ["recommend", "--model", "acme/chat-7b", "--knowledge", str(extra)])
    assert doc["knowledge_dirs"] == [str(extra.resolve())]
    assert {"extra[0]/accelerators.yaml", "extra[0]/models.yaml"} <= set(doc["knowledge"]["files"])
    assert doc["knowledge"]["entries"]["model:acme-chat-7b"]["sources"] == ["acme-datasheet"]
    assert runner.invoke(main, ["audit", str(path)]).exit_code == 0
    moved = tmp_path / "moved"
    extra.rename(moved)
    loader.load_catalog.cache_clear()  # a fresh process, as `llmhw audit` is
    lost = runner.invoke(main, ["audit", str(path)])
    assert lost.exit_code == 2 and "--knowledge" in lost.stderr
    assert runner.invoke(main, ["audit", str(path), "--knowledge", str(moved)]).exit_code == 0


def test_the_rulebase_hash_covers_every_module_that_sizes_or_plans():
    # the planner became a package and the sizing formulas three modules: a hash naming "planner.py" covered neither
    from llmhw.trace.document import rulebase_files

    engine = Path(rulebase_files()["engine/sizing.py"]).parent
    covered = set(rulebase_files())
    wanted = {f"engine/{p.relative_to(engine).as_posix()}" for p in [*engine.glob("planner/*.py"), *engine.glob("*sizing.py"),
                                                                   engine / "scaleout.py", engine / "hybrid.py"]}
    assert wanted <= covered, sorted(wanted - covered)
