"""`llmhw batch`: every input format, good and bad rows with their line numbers, input order, exit codes, Ctrl-C."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from llmhw import api
from llmhw.batch import CSV_COLUMNS, read_rows
from llmhw.cli import main

GOOD_A = {"model": "deepseek-r1:7b", "concurrency": 4}
GOOD_B = {"model": "qwen2.5-7b", "task": "lora", "budget": 5000}

JSONL = "\n".join([
    json.dumps(GOOD_A),
    "",
    json.dumps({"model": "nosuchmodel"}),
    '{"model": "qwen2.5-7b", "task": "lora"',
    json.dumps(GOOD_B),
]) + "\n"
CSV = "model,task,concurrency,budget\ndeepseek-r1:7b,,4,\nllama-3.1-8b,,lots,\nqwen2.5-7b,lora,,5000\n"
YAML = """\
- model: deepseek-r1:7b
  concurrency: 4
- model: llama-3.1-8b
  context: -5
- model: qwen2.5-7b
  task: lora
  budget: 5000
"""
# (suffix, text, line of each row, the bad row's line and what its error names)
CASES = {
    "jsonl": (JSONL, [1, 3, 4, 5], {3: "model: unknown model 'nosuchmodel'; see `llmhw models`",
                                    4: "not valid JSON: Expecting ',' delimiter (column 1)"}),
    "csv": (CSV, [2, 3, 4], {3: "concurrency: expected a number, got 'lots'"}),
    "yaml": (YAML, [1, 3, 5], {3: "context: expected a number from 1 to 10,000,000, got -5"}),
}


def _expected(good: dict) -> dict:
    return json.loads(json.dumps(api.advise(good).to_dict()))


@pytest.mark.parametrize("kind", sorted(CASES))
def test_batch_jsonl_output_all_input_formats_two_jobs(runner, tmp_path, kind):
    text, lines, bad = CASES[kind]
    src = tmp_path / f"in.{kind}"
    src.write_text(text)
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main, ["batch", str(src), "--out", str(out), "--jobs", "2"])
    assert result.exit_code == 1, result.output  # some rows failed
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["row"] for r in records] == list(range(1, len(lines) + 1))  # input order
    assert [r["line"] for r in records] == lines
    for r in records:
        if r["line"] in bad:
            assert r["ok"] is False and r["error"] == bad[r["line"]]
            assert f"row {r['row']}, line {r['line']}: {bad[r['line']]}\n" in result.stderr
        else:
            assert r["ok"] is True and set(r) == {"row", "line", "ok", "result"}
    assert records[0]["result"] == _expected(GOOD_A)
    assert records[-1]["result"] == _expected(GOOD_B)
    summary = result.stderr.splitlines()[-1]
    assert summary.startswith(f"batch: {len(lines)} rows, {len(bad)} failed, ") and " rows/s with 2 job(s)" in summary, summary


def test_batch_csv_output_columns(runner, tmp_path):
    src = tmp_path / "in.yaml"
    src.write_text(YAML)
    out = tmp_path / "out.csv"
    result = runner.invoke(main, ["batch", str(src), "--out", str(out), "--jobs", "2"])
    assert result.exit_code == 1, result.output
    rows = list(csv.DictReader(out.open()))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert [r["ok"] for r in rows] == ["true", "false", "true"]
    assert "context" in rows[1]["error"] and rows[1]["line"] == "3"
    expected = _expected(GOOD_A)
    rec = {r["tier"]: r for r in expected["recommendations"]}
    assert rows[0]["model"] == expected["profile"]["model"]
    assert rows[0]["recommended_hardware"] == rec["recommended"]["hardware"]
    assert int(rows[0]["minimum_count"]) == rec["minimum"]["count"]
    assert rows[0]["minimum_precision"] == rec["minimum"]["precision"]


def test_batch_all_good_exits_0_one_job(runner, tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text(json.dumps(GOOD_A) + "\n" + json.dumps(GOOD_B) + "\n")
    out = tmp_path / "out.jsonl"
    result = runner.invoke(main, ["batch", str(src), "--out", str(out), "--jobs", "1", "--format", "jsonl"])
    assert result.exit_code == 0, result.output
    assert [json.loads(x)["ok"] for x in out.read_text().splitlines()] == [True, True]
    assert "2 rows, 0 failed" in result.stderr


@pytest.mark.parametrize("name, text, message", [
    ("missing.jsonl", None, "cannot read: No such file or directory"),
    ("map.yaml", "model: x\n", "expected a YAML list of profiles (one mapping per item)"),  # a mapping, not a list
    ("alias.yaml", "- &a {model: deepseek-r1:7b}\n- *a\n", "not valid YAML (line 2): YAML aliases are not allowed"),
    # read whole by the loader's safe reader, as every YAML file llmhw reads: a key given twice is refused
    ("dup.yaml", "- {model: a, model: b}\n- {model: deepseek-r1:7b}\n", "not valid YAML (line 1): duplicate key 'model'"),
    ("in.txt", "{}\n", "cannot tell the format from the suffix '.txt'; name it .jsonl, .csv or .yaml, or pass --input-format"),
])
def test_batch_unreadable_input_is_exit_2(runner, tmp_path, name, text, message):
    src = tmp_path / name
    if text is not None:
        src.write_text(text)
    result = runner.invoke(main, ["batch", str(src), "--out", str(tmp_path / "o.jsonl")])
    assert result.exit_code == 2, result.output
    assert result.stderr == f"Error: INPUT: {src}: {message}\n"


def test_yaml_rows_keep_their_line_numbers(tmp_path):
    src = tmp_path / "in.yml"
    src.write_text("# profiles\n\n- {model: a}\n-\n  model: b\n- 3\n")
    rows = list(read_rows(src))
    assert [(r.row, r.line) for r in rows] == [(1, 3), (2, 5), (3, 6)]
    assert rows[0].profile == {"model": "a"} and rows[1].profile == {"model": "b"}
    assert rows[2].error == "expected a mapping of fields"


def _wait_for_rows(folder: Path, size: int = 20_000) -> None:
    """Until the run's temp file (``.out.jsonl.<random>.tmp``, renamed over out.jsonl at the end) holds ``size`` bytes."""
    deadline = time.time() + 60
    while time.time() < deadline and sum(p.stat().st_size for p in folder.glob(".out.jsonl.*.tmp")) < size:
        time.sleep(0.05)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_keeps_every_finished_row(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text((json.dumps({"model": "llama-3.1-70b", "concurrency": 20}) + "\n") * 3000)
    out = tmp_path / "out.jsonl"
    exe = Path(sys.executable).with_name("llmhw")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "llmhw.cli"]
    proc = subprocess.Popen([*cmd, "batch", str(src), "--out", str(out), "--jobs", "2"], stderr=subprocess.PIPE,
                            start_new_session=True)
    _wait_for_rows(tmp_path)
    os.killpg(proc.pid, signal.SIGINT)  # what the terminal does on Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    records = [json.loads(line) for line in out.read_text().splitlines()]  # every line is a whole record
    assert 0 < len(records) < 3000
    assert all(r["ok"] for r in records)
    assert sorted(r["row"] for r in records)[: len(records) // 2] == list(range(1, len(records) // 2 + 1))
    assert b"interrupted" in err
