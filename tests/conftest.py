from __future__ import annotations

import json
from typing import Any

import llmhw  # noqa: F401  (applies the experta compatibility shim first)
import pytest
from click.testing import CliRunner
from llmhw.cli import main
from llmhw.knowledge.loader import load_catalog

DEMO = ["--model", "deepseek-r1:70b", "--concurrency", "20", "--context", "8192", "--budget", "40000"]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="session")
def catalog():
    return load_catalog()


def run_json(runner: CliRunner, *args: str) -> dict[str, Any]:
    result = runner.invoke(main, [*args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-golden", action="store_true", help="rewrite tests/golden/* from today's answers")
