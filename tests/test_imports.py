"""Each command imports only what it runs: listing commands never load experta or build an engine, `--help` loads
neither the knowledge base nor PyYAML, and a consultation loads the trace machinery only when it writes a trace."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

# Runs the CLI in a fresh interpreter, then prints which of the watched modules it loaded.
RUN = """
import json, sys
from llmhw.cli import main
watched = json.loads(sys.argv[2])
sys.argv = ["llmhw", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    code = exc.code
print(json.dumps({"exit": code, "loaded": sorted(m for m in watched if m in sys.modules)}), file=sys.stderr)
"""
ENGINE = ["experta", "llmhw.session", "llmhw.rules"]
TRACE = ["llmhw.trace.document", "llmhw.trace.audit", "llmhw.trace.explain", "jsonschema"]


def loaded(args: list[str], watched: list[str], cache: Path) -> list[str]:
    out = subprocess.run([sys.executable, "-c", RUN, json.dumps(args), json.dumps(watched)], capture_output=True, text=True,
                         timeout=120, env={"LLMHW_CACHE_DIR": str(cache), "PATH": "/usr/bin:/bin"})
    report = json.loads(out.stderr.strip().splitlines()[-1])
    assert report["exit"] == 0, out.stderr
    return list(report["loaded"])


def test_help_loads_no_engine_no_knowledge_and_no_yaml(tmp_path):
    assert loaded(["--help"], [*ENGINE, *TRACE, "yaml", "llmhw.api", "llmhw.results", "llmhw.knowledge.schema",
                              "llmhw.knowledge.runtime_schema", "llmhw.knowledge.policy_schema", "llmhw.planner"], tmp_path) == []


def test_help_loads_no_library_module_it_can_do_without(tmp_path):
    """Each costs 2-4 ms of `llmhw --help` (a tenth in all); an editable install's import hook loads pathlib first."""
    at_start = subprocess.run([sys.executable, "-c", "import sys; print(*sys.modules)"], capture_output=True, text=True,
                              check=True).stdout.split()
    avoidable = [m for m in ("pathlib", "shutil", "dataclasses") if m not in at_start]
    assert loaded(["--help"], avoidable, tmp_path) == []


@pytest.mark.parametrize("args", [["models"], ["hardware", "--kind", "gpu"], ["rules"], ["rules", "P1-oversized-vram"]])
def test_listings_load_no_engine(tmp_path, args):
    loaded(["rules"], [], tmp_path)  # the first start ever describes the rulebase once (and snapshots it)
    assert loaded(args, [*ENGINE, *TRACE], tmp_path) == []


def test_check_loads_the_trace_machinery_only_to_write_a_trace(tmp_path):
    check = ["check", "--model", "deepseek-r1:7b", "--hardware", "RTX 4090"]
    assert loaded(check, TRACE, tmp_path) == []
    assert set(loaded([*check, "--trace", str(tmp_path / "t.json")], TRACE, tmp_path)) >= {"llmhw.trace.document"}


def test_fit_sort_choices_are_the_fit_modules():
    from llmhw import fit
    from llmhw.cli import main

    (sort,) = [p for p in main.commands["fit"].params if p.name == "sort"]
    assert tuple(sort.type.choices) == fit.SORTS  # type: ignore[attr-defined]
