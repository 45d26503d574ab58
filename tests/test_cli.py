"""Real consultations through the CLI: the acceptance checks of the core, and one-line errors for bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import llmhw
import pytest
from llmhw.cli import main

from .conftest import DEMO, run_json

MEMORY_KEYS = {"weights", "kv_cache", "activations", "gradients", "optimizer", "overhead", "total"}


def test_demo_consultation_json_contract(runner):
    data = run_json(runner, "recommend", *DEMO)
    assert {"profile", "defaults_used", "recommendations", "warnings", "tips"} <= set(data)
    assert data["profile"]["model"] == "deepseek-r1-distill-llama-70b"
    assert data["defaults_used"]["task"] == "inference"
    tiers = [r["tier"] for r in data["recommendations"]]
    assert tiers == ["minimum", "recommended", "best-in-budget"]
    for rec in data["recommendations"]:
        assert {"tier", "hardware", "count", "precision", "memory", "fits", "tokens_per_s", "cost", "because"} <= set(rec)
        assert set(rec["memory"]) == MEMORY_KEYS
        assert rec["fits"] and rec["memory"]["total"] <= rec["available"]
    best = data["recommendations"][2]
    assert best["cost"]["budget_usd"] <= 40000
    for item in data["warnings"] + data["tips"]:
        assert item["id"] and item["message"]


def test_demo_text_says_units_and_defaults(runner):
    result = runner.invoke(main, ["recommend", *DEMO])
    assert result.exit_code == 0, result.output
    assert "GB = 10^9 bytes" in result.stdout
    assert "Defaults used: " in result.stdout and "task=inference" in result.stdout
    assert "recommended" in result.stdout


def test_check_json_contract_and_p1_money_at_stake(runner):
    data = run_json(runner, "check", "--model", "deepseek-r1:7b", "--hardware", "A100 80GB", "--precision", "q4_k_m")
    assert data["fits"] is True
    assert set(data["memory"]) == MEMORY_KEYS
    assert data["memory"]["total"] < 0.2 * data["available"]
    assert isinstance(data["tokens_per_s"], float)
    p1 = [w for w in data["warnings"] if w["id"] == "P1-oversized-vram"]
    assert p1 and p1[0]["at_stake_usd"] > 5000
    assert "USD" in p1[0]["message"] and "idle" in p1[0]["message"]


def test_p1_silent_when_the_card_matches_the_need(runner):
    data = run_json(runner, "check", "--model", "deepseek-r1:7b", "--hardware", "RTX 3060 12GB", "--precision", "q4_k_m")
    assert data["fits"] and not [w for w in data["warnings"] if w["id"].startswith("P1")]


def test_p2_weak_host_for_70b(runner):
    data = run_json(runner, "check", "--model", "deepseek-r1:70b", "--hardware", "H100", "--count", "2",
                    "--cpu-cores", "4", "--ram", "16", "--concurrency", "20")  # vLLM for 20 users: 2 + 2 GPUs + 2 users' cores
    ids = {w["id"] for w in data["warnings"]}
    assert {"P2-weak-cpu", "P2-small-ram"} <= ids


def test_p2_silent_for_a_strong_host(runner):
    data = run_json(runner, "check", "--model", "deepseek-r1:70b", "--hardware", "H100", "--count", "2",
                    "--cpu-cores", "64", "--ram", "512")
    assert not [w for w in data["warnings"] if w["id"].startswith("P2")]


def test_p3_tpu_local_offers_gpu_alternative(runner):
    data = run_json(runner, "recommend", "--model", "deepseek-r1:7b", "--ecosystem", "tpu", "--deployment", "local")
    p3 = [w for w in data["warnings"] if w["id"] == "P3-tpu-lock-in"]
    assert p3 and "GPU alternative: 1 x NVIDIA" in p3[0]["message"]
    assert "not sold" in p3[0]["message"] and "JAX, PyTorch/XLA and TensorFlow" in p3[0]["message"]
    assert data["recommendations"] == []


def test_p3_silent_without_tpu(runner):
    data = run_json(runner, "recommend", "--model", "deepseek-r1:7b")
    assert not [w for w in data["warnings"] if w["id"].startswith("P3")]


@pytest.mark.parametrize(
    "args, message",
    [
        (["recommend", "--model", "deepseek-r1:7"],
         "Error: model: unknown model 'deepseek-r1:7'; did you mean 'deepseek-r1', 'deepseek-r1-distill-llama-70b', 'deepseek-r1-distill-qwen-7b'?"),
        (["recommend", "--model", "deepseek-r1:7b", "--context", "-5"], "Error: context: expected a number from 1 to 10,000,000, got '-5'"),
        (["recommend", "--model", "deepseek-r1:7b", "--context", "0"], "Error: context: expected a number from 1 to 10,000,000, got '0'"),
        (["recommend", "--model", "deepseek-r1:7b", "--concurrency", "nan"], "Error: concurrency: expected a finite number, got 'nan'"),
        (["recommend", "--model", "deepseek-r1:7b", "--task", "dance"],
         "Error: task: expected one of finetune, inference, lora, pretrain, qlora; got 'dance'"),
        (["check", "--model", "deepseek-r1:7b", "--hardware", "H1000"],
         "Error: hardware: unknown hardware 'H1000'; did you mean 'h100-sxm', 'h200'?"),
        (["recommend", "--modle", "x"], "Error: No such option '--modle'. (Did you mean one of: '--model', '--profile'?)"),
        (["recommend", "--model", "deepseek-r1:7b", "--no-activation-checkpointing", "--task", "lora", "--lora-rank", "0"],
         "Error: lora_rank: expected a number from 1 to 4,096, got '0'"),
    ],
)
def test_bad_input_is_one_line_exit_2(runner, args, message):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)  # CliRunner keeps a crash here, not in stderr
    assert result.stderr == message + "\n"


def test_malformed_profile_is_one_line_exit_2(runner, tmp_path):
    bad = tmp_path / "p.yaml"
    bad.write_text("model: [unclosed\n")
    result = runner.invoke(main, ["recommend", "--profile", str(bad)])
    assert result.exit_code == 2
    assert result.stderr == f"Error: --profile: {bad}: not valid YAML (line 2): expected ',' or ']', but got '<stream end>'\n"


def test_profile_file_with_unknown_key_names_the_nearest(runner, tmp_path):
    prof = tmp_path / "p.yaml"
    prof.write_text("model: deepseek-r1:7b\ncontex: 4096\n")
    result = runner.invoke(main, ["recommend", "--profile", str(prof)])
    assert result.exit_code == 2
    assert result.stderr == "Error: contex: unknown field; did you mean 'context'?\n"


def test_real_subprocess_run():
    out = subprocess.run([sys.executable, "-m", "llmhw.cli", "recommend", "--model", "deepseek-r1:1.5b", "--format", "json"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["recommendations"][0]["tier"] == "minimum"


# The console script's entry point with the import of the CLI slowed down, so that Ctrl-C always lands in it.
SLOW_START = """
import builtins, sys, time
real_import = builtins.__import__

def slow_import(name, globals=None, locals=None, fromlist=(), level=0):
    if name == "cli" and level == 1:
        print("starting", file=sys.stderr, flush=True)
        time.sleep(60)
    return real_import(name, globals, locals, fromlist, level)

builtins.__import__ = slow_import
from llmhw._entry import main
main()
"""


def test_console_script_ctrl_c_during_start_up_is_one_line():
    """The `llmhw` script catches Ctrl-C while the engine is still importing (~0.5 s), not only once it runs."""
    import signal

    proc = subprocess.Popen([sys.executable, "-c", SLOW_START, "recommend"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None and proc.stderr.readline() == "starting\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (130, "", "Interrupted.\n")


def test_console_script_is_installed_and_runs():
    script = Path(sys.executable).with_name("llmhw")
    out = subprocess.run([str(script), "--version"], capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stderr) == (0, "")
    assert out.stdout.endswith(f"version {llmhw.__version__}\n"), out.stdout
