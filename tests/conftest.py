from __future__ import annotations

import json
from typing import Any

import pytest
from click.testing import CliRunner

import llmhw  # noqa: F401  (applies the experta compatibility shim first)
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
