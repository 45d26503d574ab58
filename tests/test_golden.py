"""Golden consultations: the whole text and JSON answer of real questions, compared byte for byte.

A changed number, word or unit anywhere in these answers fails here; `make golden` rewrites the files
(pytest --update-golden) so the change is read as a diff, as a buyer would read it, before it lands.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from llmhw.cli import main

GOLDEN = Path(__file__).parent / "golden"
CASES: list[dict[str, Any]] = yaml.safe_load((GOLDEN / "cases.yaml").read_text())["cases"]
FORMATS = {"txt": "text", "json": "json"}
HTML_CASES = [c for c in CASES if c.get("html")]  # the report is pinned for a few cases: it is large, and a view of the JSON


@pytest.mark.parametrize("fmt", sorted(FORMATS))
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_golden_answer(case: dict[str, Any], fmt: str, runner, request) -> None:
    compare(case, fmt, FORMATS[fmt], runner, request)


@pytest.mark.parametrize("case", HTML_CASES, ids=[c["name"] for c in HTML_CASES])
def test_golden_report(case: dict[str, Any], runner, request) -> None:
    compare(case, "html", "html", runner, request)


def compare(case: dict[str, Any], suffix: str, fmt: str, runner, request) -> None:
    result = runner.invoke(main, [*case["args"], "--format", fmt])
    assert result.exit_code == 0, result.output
    path = GOLDEN / f"{case['name']}.{suffix}"
    if request.config.getoption("--update-golden"):
        path.write_text(result.stdout)
    assert path.exists(), f"no golden answer yet for {case['name']}: run `make golden` and review it"
    assert result.stdout == path.read_text(), f"{path.name} changed: run `make golden` and read the diff as a buyer"


def test_every_golden_file_belongs_to_a_case() -> None:
    names = {f"{c['name']}.{fmt}" for c in CASES for fmt in FORMATS} | {f"{c['name']}.html" for c in HTML_CASES}
    stray = sorted(p.name for p in GOLDEN.iterdir() if p.suffix in (".txt", ".json", ".html") and p.name not in names)
    assert stray == []
    assert len({c["name"] for c in CASES}) == len(CASES)
