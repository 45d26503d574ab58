"""Every rule describes itself: unique id with its module's prefix, a statement, a message, resolvable sources, docs."""

from __future__ import annotations

import inspect
import re
import string

import pytest
from experta import Rule
from llmhw.rules import PREFIXES
from llmhw.session import RULES, AdvisorEngine, vars_of
from llmhw.units import UNITS, unit_spec

MODULE_PREFIXES = {
    "questions": {"IN"}, "memory": {"MEM"}, "candidates": {"CAND", "CMP"}, "recommend": {"REC", "BUD"},
    "pitfalls": {"P1", "P2", "P3"}, "roles": {"CMP"}, "quantization": {"QNT"}, "training": {"TRN"}, "parallelism": {"NET", "MOE"},
    "offload": {"OFF"}, "article": {"ART"}, "upgrade": {"UPG"}, "calibration": {"CAL"}, "launch": {"RUN"},
}
FUNCTIONS = {r.meta.id: inspect.unwrap(r._wrapped) for r in vars_of(AdvisorEngine) if isinstance(r, Rule)}
CONCLUSION = re.compile(r"\b(Warning|Tip|Note|Upgrade|_upgrade)\b")


def test_rule_ids_are_unique():
    ids = [m.id for m in RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("meta", RULES, ids=lambda m: m.id)
def test_rule_metadata(meta, catalog):
    prefix = meta.id.split("-", 1)[0]
    assert prefix in PREFIXES and prefix in MODULE_PREFIXES[meta.topic]
    assert meta.statement and meta.sources
    for source in meta.sources:
        assert source in catalog.sources, f"{meta.id}: unknown source {source}"
    for heading in ("## What it decides", "## Why", "## Example"):
        assert heading in meta.doc, f"{meta.id}: missing {heading}"


@pytest.mark.parametrize("meta", RULES, ids=lambda m: m.id)
def test_a_rule_that_concludes_a_warning_tip_or_note_has_one_message_template(meta):
    body = inspect.getsource(FUNCTIONS[meta.id]).split('"""')[-1]  # after the docstring
    assert bool(meta.message) == bool(CONCLUSION.search(body)), f"{meta.id}: a message template exactly when it concludes a Warning, Tip or Note"
    assert f'"{meta.id}"' not in body, f"{meta.id}: the rule types its own id; conclude() stamps it"
    assert "message=" not in body, f"{meta.id}: the body writes a message; rule_meta(message=...) holds it"


@pytest.mark.parametrize("meta", RULES, ids=lambda m: m.id)
def test_templates_use_known_unit_specs_and_no_expressions(meta):
    for template in (meta.statement, meta.message):
        for _, field, spec, _ in string.Formatter().parse(template):
            if field is None:
                continue
            assert field.isidentifier(), f"{meta.id}: {{{field}}} is an expression; bind the value by name"
            if spec and not unit_spec(spec)[0]:
                try:
                    format(1.5, spec)  # a number's standard spec (",", "g", ".2f") is fine too
                except ValueError:
                    pytest.fail(f"{meta.id}: unknown unit spec {spec!r} (known: {', '.join(sorted(UNITS))})")


def test_the_worked_example_of_docs_rules_md_is_a_working_rule(monkeypatch):
    """docs/rules.md's new warning, added to the engine as written there, warns about a tight proposal."""
    from pathlib import Path

    import experta
    import llmhw
    from llmhw import api, facts, session
    from llmhw.rules import SALIENCE_ADVICE, Host, rule_meta

    doc = (Path(__file__).parent.parent / "docs" / "rules.md").read_text()
    example = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
    namespace = {"Rule": llmhw.rules.Rule, "rule_meta": rule_meta, "Host": Host, "SALIENCE_ADVICE": SALIENCE_ADVICE,
                 "AS": experta.AS, "MATCH": experta.MATCH, "TEST": experta.TEST, "Fit": facts.Fit, "Policy": facts.Policy,
                 "Warning": facts.Warning, "__name__": "llmhw.rules.pitfalls"}
    exec("class Example:\n" + "\n".join("    " + line for line in example.splitlines()), namespace)  # noqa: S102 - our own docs
    engine_class = type("ExampleEngine", (namespace["Example"], session.AdvisorEngine), {})
    monkeypatch.setattr(session._local, "engine", engine_class(), raising=False)
    result = api.check({"model": "llama-3.1-70b", "precision": "q4_k_m", "context": 2048}, "rtx-4090", 2)
    warning = next(w for w in result.warnings if w["id"] == "P1-tight-proposal")
    assert warning["message"] == (
        "2 x NVIDIA GeForce RTX 4090 24GB holds this workload but fills 92% of its memory (above 85%): longer prompts or more "
        "users than planned will not fit. Leave 1.7 GB more per device, or choose the recommended tier.")
