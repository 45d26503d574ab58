"""`llmhw calibrate`: a recorded llama-bench output against our estimate, kept as knowledge that changes the next one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from llmhw.cli import main

DATA = Path(__file__).parent / "data" / "measurements"
JSON_4080 = str(DATA / "llama-bench-rtx4080-qwen2.5-7b-q4_k_m.json")  # llama.cpp's llama-bench README, -o json
MARKDOWN = str(DATA / "llama-bench-qwen2-7b-q4_k_m-depth.md")  # the same README, -d 0,512 (GPU not named)
CHECK_4080 = ["check", "--model", "qwen2.5-7b", "--hardware", "RTX 4080", "--precision", "q4_k_m", "--format", "json"]


def test_json_output_is_read_mapped_to_the_catalog_and_compared(runner):
    result = runner.invoke(main, ["calibrate", JSON_4080, "--format", "json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert (data["tool"], data["stored"]) == ("llama-bench json", None)
    [m] = data["measurements"]  # the tg128 row; pp512 is prefill, not decode
    assert (m["model"], m["hardware"], m["count"], m["precision"], m["runtime"], m["context"]) == (
        "qwen2.5-7b", "rtx-4080", 1, "q4_k_m", "llama-cpp", 128)
    assert m["measured_tok_s"] == 118.881588
    assert m["ratio"] == pytest.approx(m["measured_tok_s"] / m["estimate_tok_s"], rel=1e-3)
    assert 0.75 <= m["ratio"] <= 1.33  # within the calibration band (tests/test_calibration.py)


def test_markdown_table_rows_with_depth_are_read(runner):
    # the table names neither the GPU nor the checkpoint (Qwen2.5-7B and its R1 distill share the size): the user says
    result = runner.invoke(main, ["calibrate", MARKDOWN, "--hardware", "RTX 4080", "--model", "qwen2.5-7b", "--format", "json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)["measurements"]
    assert [(r["model"], r["context"], r["measured_tok_s"]) for r in rows] == [("qwen2.5-7b", 128, 120.6), ("qwen2.5-7b", 640, 116.71)]


def test_a_stored_measurement_changes_the_next_estimate_for_that_device_only(runner, tmp_path):
    before = json.loads(runner.invoke(main, CHECK_4080).stdout)["tokens_per_s"]
    other = ["check", "--model", "qwen2.5-7b", "--hardware", "RTX 4090", "--precision", "q4_k_m", "--format", "json"]
    other_before = json.loads(runner.invoke(main, other).stdout)["tokens_per_s"]
    result = runner.invoke(main, ["calibrate", JSON_4080, "--knowledge", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert f"Stored in {tmp_path}/calibration.yaml" in result.stdout
    ratio = json.loads(runner.invoke(main, ["calibrate", JSON_4080, "--format", "json"]).stdout)["measurements"][0]["ratio"]
    after = json.loads(runner.invoke(main, [*CHECK_4080, "--knowledge", str(tmp_path)]).stdout)["tokens_per_s"]
    assert after != before and after == pytest.approx(before * ratio, rel=0.01)
    assert json.loads(runner.invoke(main, [*other, "--knowledge", str(tmp_path)]).stdout)["tokens_per_s"] == other_before
    sources = (tmp_path / "sources.yaml").read_text()
    assert "measured on this machine: llama-bench-rtx4080-qwen2.5-7b-q4_k_m.json (SHA-256 0ccdeced" in sources


def test_calibrating_the_same_file_twice_keeps_one_entry(runner, tmp_path):
    for _ in range(2):
        assert runner.invoke(main, ["calibrate", JSON_4080, "--knowledge", str(tmp_path)]).exit_code == 0
    assert (tmp_path / "calibration.yaml").read_text().count('"local": true') == 1


@pytest.mark.parametrize(("args", "message"), [
    (["missing.json"], "Error: FILE: missing.json: cannot be read (No such file or directory)\n"),
    ([MARKDOWN, "--model", "qwen2.5-7b"], "Error: --hardware: the file names no catalog GPU ('none given'); give --hardware\n"),
    ([MARKDOWN, "--hardware", "RTX 4080"],
     "Error: --model: the file does not say which catalog model 'qwen2 7B Q4_K - Medium' is; give --model\n"),
    ([JSON_4080, "--model", "no-such-model"], "Error: --model: unknown model 'no-such-model'"),
])
def test_bad_input_is_one_line_and_exit_2(runner, args, message):
    result = runner.invoke(main, ["calibrate", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_a_file_that_is_no_benchmark_output_is_refused(runner, tmp_path):
    bad = tmp_path / "notes.txt"
    bad.write_text("hello\n")
    result = runner.invoke(main, ["calibrate", str(bad)])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: FILE: {bad}: expected llama-bench output (-o json, or its markdown table with a tg row)\n")
