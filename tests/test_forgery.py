"""Nothing forged: a trace edited with its digest recomputed fails `audit`, and a signed one fails its signature check.

Issue 17, "Forgery". The digest detects accidents; ``--sign KEYFILE`` (HMAC-SHA256) detects deliberate edits by
anyone without the key. Every leaf of a real trace is edited in turn (a derandomized sample in CI, every leaf
with LLMHW_SLOW=1), the digest recomputed as a forger would.
"""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from llmhw import api, trace
from llmhw.cli import main
from llmhw.errors import TraceError

from .test_properties import examples

KEY = b"0123456789abcdef0123456789abcdef"
SLOW = pytest.mark.skipif(not os.environ.get("LLMHW_SLOW"), reason="every leaf of a trace: set LLMHW_SLOW=1")
# What a replay cannot refute, because it is about the run rather than its content: without a key, an edit here
# passes audit; with one, the signature catches it (docs/trace.md says so).
UNREFUTABLE = {("created",), ("llmhw_version",), ("signature",)}


@pytest.fixture(scope="module")
def signed(tmp_path_factory) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("signed") / "t.json"
    return trace.write(path, api.advise({"model": "deepseek-r1:70b", "concurrency": 20, "budget": 40000}), key=KEY)


def leaves(doc: dict[str, Any]) -> list[tuple[Any, ...]]:
    """Every leaf a forger could edit (the digest is recomputed by ``forge``)."""
    return [p for p in _leaves(doc) if p != ("digest",)]


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k in sorted(value) for p in _leaves(value[k], (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))] or [path]
    return [path]


def _edited(value: Any) -> Any:
    """A different value of the same kind, as a forger would write it."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value * 1.5 + 1
    if isinstance(value, str):
        return value + "x" if not value.isdigit() else str(int(value) + 1)
    if isinstance(value, list):
        return [*value, "x"]
    if isinstance(value, dict):
        return {**value, "x": 1}
    return "x"


def forge(doc: dict[str, Any], path: tuple[Any, ...]) -> dict[str, Any]:
    """``doc`` with the leaf at ``path`` edited and the digest recomputed (the signature kept as it was)."""
    out = copy.deepcopy(doc)
    parent = out
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = _edited(parent[path[-1]])
    out["digest"] = trace.digest(out)
    return out


def caught(doc: dict[str, Any], key: bytes | None) -> bool:
    """Whether llmhw refuses the document: not a valid trace (exit 2) or an audit verdict other than same (exit 1)."""
    try:
        return trace.audit(trace.loads(trace.dumps(doc)), key=key).exit_code == 1
    except TraceError:  # not a valid trace, or its knowledge directories cannot be loaded: exit 2
        return True


def _check_leaf(signed: dict[str, Any], path: tuple[Any, ...]) -> None:
    forged = forge(signed, path)
    assert caught(forged, KEY), f"an edit of {path} passes audit --key"
    if path not in UNREFUTABLE:
        assert caught(forged, None), f"an edit of {path} passes audit without a key"


def test_the_honest_signed_trace_passes(signed):
    report = trace.audit(signed, key=KEY)
    assert (report.verdict, report.signature, report.claims_changed) == ("same", "valid", ())
    assert trace.audit(signed).signature == "not checked (no key)"


@settings(max_examples=examples(25), deadline=None)
@given(data=st.data())
def test_any_edited_leaf_is_caught(signed, data):
    _check_leaf(signed, data.draw(st.sampled_from(leaves(signed))))


@pytest.mark.parametrize("path", [
    ("answer", "recommendations", 0, "hardware_name"), ("answer", "memory_need", "weights"), ("conclusions", 0, "value", "count"),
    ("knowledge", "sources", "article", "url"), ("knowledge", "entries", "model:deepseek-r1-distill-llama-70b", "name"),
    ("rulebase", "rules", 0), ("rulebase", "sha256"), ("knowledge", "sha256"), ("rulebase", "files", "engine/sizing.py"),
    ("firings", 3, "statement"), ("firings", 3, "bindings"), ("facts", 0, "fields"), ("inputs", "concurrency"),
    ("defaults", "context"), ("profile", "model_name"), ("llmhw_version",), ("created",),
])
def test_each_claim_the_issue_names_is_caught(signed, path):
    _check_leaf(signed, path)


@SLOW
@pytest.mark.slow
def test_every_leaf_of_a_trace_is_caught(signed):
    for path in leaves(signed):
        _check_leaf(signed, path)


def test_an_answer_edited_under_a_forged_version_is_reported(runner, tmp_path, signed):
    """The old hole: a changed version (or rulebase hash) made audit skip the answer; now every claim is compared."""
    doc = forge(forge(signed, ("llmhw_version",)), ("answer", "recommendations", 0, "hardware_name"))
    path = tmp_path / "f.json"
    path.write_text(trace.dumps(doc))
    result = runner.invoke(main, ["audit", str(path)])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1:3] == ["Same conclusions, but today's replay differs in what the trace records.",
                                               "  - the replay differs in: answer"]


def test_audit_with_a_key_names_a_bad_signature(runner, tmp_path, signed):
    key = tmp_path / "key"
    key.write_bytes(KEY)
    other = tmp_path / "other"
    other.write_bytes(b"another key of 32 bytes, at last")
    path = tmp_path / "t.json"
    path.write_text(trace.dumps(signed))
    assert runner.invoke(main, ["audit", str(path), "--key", str(key)]).stdout.splitlines()[-1] == "Signature: valid"
    wrong = runner.invoke(main, ["audit", str(path), "--key", str(other)])
    assert wrong.exit_code == 1
    assert wrong.stdout.splitlines()[1:3] == ["INCONSISTENT: this trace is not trusted.", "  - its signature does not match: "
                                              "it was edited after it was signed, or signed with another key"]
    unsigned = {k: v for k, v in signed.items() if k != "signature"}
    path.write_text(trace.dumps(unsigned))
    bare = runner.invoke(main, ["audit", str(path), "--key", str(key)])
    assert bare.exit_code == 1 and "  - it is not signed, but a key was given: anyone could have written it" in bare.stdout


@pytest.mark.parametrize("args, message", [
    (["--sign", "{short}"], "Error: --sign: {short}: expected a key of at least 16 bytes, got 5 (make one with: head -c 32 /dev/urandom > KEYFILE)"),
    (["--sign", "{missing}"], "Error: --sign: {missing}: cannot read: No such file or directory"),
    (["--sign", "{good}"], "Error: --sign: signs the trace: give --trace FILE too"),
])
def test_bad_sign_options_are_one_line_exit_2(runner, tmp_path, args, message):
    files = {"short": tmp_path / "short", "missing": tmp_path / "missing", "good": tmp_path / "good"}
    files["short"].write_bytes(b"12345\n")
    files["good"].write_bytes(KEY)
    fill = {k: str(v) for k, v in files.items()}
    extra = [] if "{good}" in args else ["--trace", str(tmp_path / "t.json")]
    result = runner.invoke(main, ["recommend", "--model", "deepseek-r1:7b", *[a.format(**fill) for a in args], *extra])
    assert result.exit_code == 2
    assert result.stderr == message.format(**fill) + "\n"


def test_ask_signs_the_trace_it_saves(runner, tmp_path):
    from .test_ask import INFERENCE_LOCAL

    key = tmp_path / "key"
    key.write_bytes(KEY)
    name = tmp_path / "p.yaml"
    answers = ["deepseek-r1:7b", *[""] * (len(INFERENCE_LOCAL) - 1), f"save {name}", "quit"]
    result = runner.invoke(main, ["ask", "--sign", str(key)], input="".join(f"{a}\n" for a in answers))
    assert result.exit_code == 0, result.output
    assert trace.audit(trace.read(f"{name}.trace.json"), key=KEY).signature == "valid"


# -- broken references: a warning or a verdict, never a traceback ----------------------------------------------------


def _reference_edits(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for name, edit in [
        ("conclusion-to-missing-fact", lambda d: d["conclusions"][0].__setitem__("fact", 99_999)),
        ("firing-asserts-missing-fact", lambda d: (d["firings"][-1]["asserted"].append(88_888),
                                                   d["conclusions"][0].__setitem__("fact", 88_888))),
        ("firing-matches-missing-fact", lambda d: d["firings"][2]["matched"].append(77_777)),
        ("fact-removed", lambda d: d["facts"].pop(len(d["facts"]) // 2)),
        ("cycle", lambda d: d["firings"][0]["matched"].append(d["firings"][-1]["asserted"][0])),
    ]:
        forged = copy.deepcopy(doc)
        edit(forged)
        forged["digest"] = trace.digest(forged)
        out.append((name, forged))
    return out


def test_dangling_references_give_a_warning_and_an_inconsistent_audit(runner, tmp_path, signed):
    for name, doc in _reference_edits(signed):
        path = tmp_path / f"{name}.json"
        path.write_text(trace.dumps(doc))
        explained = runner.invoke(main, ["explain", str(path)])
        assert explained.exit_code == 0, (name, explained.output)
        assert explained.stderr == f"Warning: {path} fails its integrity checks; `llmhw audit {path}` says why.\n"
        audited = runner.invoke(main, ["audit", str(path)])
        assert audited.exit_code == 1 and "INCONSISTENT" in audited.stdout, (name, audited.output)


def test_a_5000_step_derivation_is_explained_without_recursion(runner, tmp_path, signed):
    doc = copy.deepcopy(signed)
    last = max(f["id"] for f in doc["facts"])
    chain_from = doc["conclusions"][0]["fact"]
    for i in range(1, 5001):
        doc["facts"].append({"id": last + i, "type": "Note", "fields": {}})
        doc["firings"].append({"seq": len(doc["firings"]) + 1, "rule_id": "X-step", "rule_name": "step", "statement": f"step {i}",
                               "bindings": {}, "matched": [chain_from], "asserted": [last + i], "retracted": [], "sources": []})
        chain_from = last + i
    doc["conclusions"][0]["fact"] = chain_from
    doc["digest"] = trace.digest(doc)
    path = tmp_path / "deep.json"
    path.write_text(trace.dumps(doc))
    result = runner.invoke(main, ["explain", str(path), "--conclusion", doc["conclusions"][0]["key"]])
    assert result.exit_code == 0, result.output[-500:]
    assert "step 5000" in result.stdout and "step 1\n" in result.stdout
    assert max(len(line) - len(line.lstrip()) for line in result.stdout.splitlines()) >= 2 * 5000


@pytest.mark.parametrize("where", ["fifo", "dev-zero"])
def test_audit_and_explain_read_only_regular_files(runner, tmp_path, where):
    """A FIFO would block for ever and /dev/zero never ends: both refused at once (a directory: click's own check)."""
    path = {"fifo": tmp_path / "fifo", "dev-zero": Path("/dev/zero")}[where]
    if where == "fifo":
        os.mkfifo(path)
    for command in ("audit", "explain"):
        result = runner.invoke(main, [command, str(path)])
        assert result.exit_code == 2
        assert result.stderr == f"Error: trace: {path}: cannot read: not a regular file (a FIFO, device or socket)\n"


def test_the_schema_accepts_a_signature_and_nothing_else_new(signed):
    assert "signature" in trace.schema()["properties"]
    with pytest.raises(TraceError, match=r"signature' does not match|\$.signature"):
        trace.loads(json.dumps({**signed, "signature": "md5:abc"}))
