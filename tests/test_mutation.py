"""Mutation check: changing a number or a unit in any conclusion's message fails a golden test.

Every golden consultation is run again and each Warning, Tip or Note a rule concluded is rendered once more
from its rule's message template and the bindings the trace recorded. For every number the message shows
and every unit spec it uses, a mutant is rendered (the number moved by 10%, or doubled where display
rounding hides 10%; ``gb`` shown as GiB, minutes as seconds, ...). Each mutant must differ from the
original text, and the original text must be in a golden JSON answer: so the mutant, were a rule to
produce it, fails ``test_golden``. Rules whose messages no golden answer shows are named, and must be
given a golden case.
"""

from __future__ import annotations

import json
import string
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from llmhw import session
from llmhw.cli import main
from llmhw.units import GIB, UNITS, Phrase, UnitFormatter, render, unit_spec

GOLDEN = Path(__file__).parent / "golden"
CASES: list[dict[str, Any]] = yaml.safe_load((GOLDEN / "cases.yaml").read_text())["cases"]
META = {m.id: m for m in session.RULES}
STAMPED = {"Warning", "Tip", "Note", "Upgrade"}

# A wrong unit for each unit spec: the kind of slip a reviewer would not see in a long answer.
MUTANT_UNITS: dict[str, Callable[..., str]] = {
    "gb": lambda n, digits=1: f"{n / GIB:,.{digits}f} GiB",
    "usd": lambda amount: f"{amount:,.0f} EUR",
    "rate": lambda tokens_per_s: f"{tokens_per_s * 60:,.1f} tok/min",
    "pct": lambda fraction: f"{fraction:.2f}",  # a fraction where a percentage was meant
    "params": lambda n: f"{n / 1e6:,.0f} M",
    "min": lambda seconds: f"{seconds:,.0f} s",  # minutes shown as seconds
    "wait": lambda seconds: f"{seconds / 60:,.1f} min",  # a wait in seconds shown as minutes
    "known": lambda value: "?",  # a known number shown as unknown
}


def _fields(template: str) -> list[tuple[str, str, str, str | None]]:
    return list(string.Formatter().parse(template))  # (literal, field, spec, conversion)


def _assemble(parts: list[tuple[str, str | None, str | None, str | None]]) -> str:
    out = []
    for literal, field, spec, conversion in parts:
        out.append(literal.replace("{", "{{").replace("}", "}}"))
        if field is not None:
            out.append("{" + field + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}")
    return "".join(out)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _moved(value: int | float) -> Iterator[int | float]:
    """The value moved by 10%, then doubled, then tenfold (each at least one unit for integers)."""
    for factor in (1.1, 2, 10):
        yield value + max(1, round(abs(value) * (factor - 1))) if isinstance(value, int) else value * factor


def mutants(template: str, values: Mapping[str, Any]) -> Iterator[tuple[str, list[str]]]:
    """(what was changed, the texts it renders to, most subtle first) for each number and unit spec the message shows."""
    parts = _fields(template)
    for i, (_, field, spec, _) in enumerate(parts):
        if field is None:
            continue
        value = values[field]
        if isinstance(value, Phrase):
            for label, texts in mutants(value.template, value.values):
                yield f"{field}.{label}", [render(template, {**values, field: text}) for text in texts]
            continue
        unit, _ = unit_spec(spec or "")
        if unit and value is not None:
            mutant_spec = f"mutant_{spec}"  # keeps the digits: gb0 -> mutant_gb0
            formatter = UnitFormatter({**UNITS, f"mutant_{unit}": MUTANT_UNITS[unit]})
            changed = [*parts[:i], (parts[i][0], field, mutant_spec, parts[i][3]), *parts[i + 1:]]
            yield f"{field}:{spec} as a wrong unit", [formatter.vformat(_assemble(changed), (), values)]
        if _is_number(value) and value != 0:  # a zero has no 10%: its unit mutant above still pins it
            yield f"{field} moved", [render(template, {**values, field: moved}) for moved in _moved(value)]


def _conclusions(runner: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, list[tuple[str, Mapping[str, Any], str]]]:
    """Per golden case: (rule id, bindings, message) of every stamped conclusion, and the case's golden JSON text."""
    runs: list[session.Run] = []
    real_run = session.run

    def recording_run(*args: Any, **kwargs: Any) -> session.Run:
        result = real_run(*args, **kwargs)
        runs.append(result)
        return result

    monkeypatch.setattr(session, "run", recording_run)
    out: dict[str, list[tuple[str, Mapping[str, Any], str]]] = {}
    for case in CASES:
        runs.clear()
        result = runner.invoke(main, [*case["args"], "--format", "json"])
        assert result.exit_code == 0, result.output
        facts = {f.__factid__: f for f in runs[-1].facts}
        out[case["name"]] = [
            (e.rule_id, e.bindings, facts[e.outputs[0]]["message"]) for e in runs[-1].events
            if e.outputs and type(facts[e.outputs[0]]).__name__ in STAMPED and META[e.rule_id].message
        ]
    return out


@pytest.fixture(scope="module")
def conclusions() -> dict[str, list[tuple[str, Mapping[str, Any], str]]]:
    from click.testing import CliRunner

    with pytest.MonkeyPatch.context() as monkeypatch:
        return _conclusions(CliRunner(), monkeypatch)


def test_every_message_rule_is_shown_by_a_golden_answer(conclusions):
    shown = {rule_id for found in conclusions.values() for rule_id, _, _ in found}
    templated = {m.id for m in session.RULES if m.message}
    assert sorted(templated - shown) == [], "give these rules a golden case in tests/golden/cases.yaml"


def test_changing_a_number_or_a_unit_in_any_message_fails_a_golden_test(conclusions):
    checked = 0
    for name, found in conclusions.items():
        golden = (GOLDEN / f"{name}.json").read_text()
        for rule_id, bindings, message in found:
            assert render(META[rule_id].message, bindings) == message, f"{rule_id}: the message is not its template's"
            assert json.dumps(message) in golden, f"{name}: {rule_id}'s message is not in the golden answer"
            for what, texts in mutants(META[rule_id].message, bindings):
                assert any(text != message for text in texts), f"{name}: {rule_id}: changing {what} leaves {message!r}"
                assert json.dumps(next(t for t in texts if t != message)) not in golden
                checked += 1
    assert checked > 500  # numbers and units across the golden answers' conclusions
