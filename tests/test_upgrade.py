"""`recommend --have`: what the hardware you own runs, and the cheapest addition that reaches the goal."""

from __future__ import annotations

import json
from typing import Any

import pytest
from llmhw.cli import main

THREE_090_70B = ["recommend", "--model", "llama-3.1-70b", "--have", "RTX 3090", "--count", "1"]
# Two RTX 3090s decode Llama 70B Q4_K_M at 16.29 tok/s in llama.cpp (XiongjieDai/GPU-Benchmarks-on-LLM-Inference,
# "3090 24GB * 2 | 108.07 | 47.15 | 16.29"); our estimate must stay within the calibration band of it.
PUBLISHED_2X3090_70B_Q4 = 16.29
BAND = (0.75, 1.33)


@pytest.fixture(scope="module")
def three_090() -> dict[str, Any]:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, [*THREE_090_70B, "--format", "json"])
    assert result.exit_code == 0, result.output
    upgrade: dict[str, Any] = json.loads(result.stdout)["upgrade"]
    return upgrade


def _answer(upgrade: dict[str, Any], rule_id: str) -> dict[str, Any]:
    found = [a for a in upgrade["answers"] if a["id"] == rule_id]
    assert len(found) == 1, [a["id"] for a in upgrade["answers"]]
    return found[0]


def test_one_3090_does_not_hold_a_70b_even_at_4_bit(three_090):
    assert three_090["have"] == {"hardware": "rtx-3090", "hardware_name": "NVIDIA GeForce RTX 3090 24GB", "kind": "gpu", "count": 1,
                                 "ram_bytes": None, "cpu": "", "source": "named"}
    owned = _answer(three_090, "UPG-owned-runs")
    assert (owned["fits"], owned["reaches"]) == (False, False)
    assert owned["message"].startswith("You have 1 x NVIDIA GeForce RTX 3090 24GB: it does not hold Llama-3.1-70B")


def test_the_answer_is_a_second_3090_at_4_bit_and_about_published_speed(three_090):
    choice = _answer(three_090, "UPG-cheapest-addition")
    assert (choice["what"], choice["hardware"], choice["count"], choice["added"]) == ("more-cards", "rtx-3090", 2, 1)
    assert choice["precision"] in ("q4_k_m", "awq-int4")
    assert BAND[0] <= choice["tokens_per_s"] / PUBLISHED_2X3090_70B_Q4 <= BAND[1]
    assert choice["cost_usd"] == 750.0  # one used 3090 (accelerators.yaml), the host is the user's own
    assert choice["message"] == ("Cheapest way to reach the goal from what you have: 1 more NVIDIA GeForce RTX 3090 24GB, "
                                 "750 USD, ~17.5 tok/s per user.")


def test_offloading_layers_to_ram_is_named_at_a_couple_of_tokens_per_second(three_090):
    """About 21 GB of Q4_K_M layers in a dual-channel DDR5 desktop's RAM: the CPU reads them every token, ~2 tok/s."""
    ram = _answer(three_090, "UPG-host-ram")
    assert (ram["offload"], ram["reaches"], ram["host"], ram["launch_flag"]) == ("layers", False, "cpu-desktop-7900x-64gb", "-ngl 41")
    assert 1 <= ram["tokens_per_s"] <= 3
    assert "in host RAM (39 of 80 layers; llama.cpp -ngl 41), computed by the CPU of Desktop box Ryzen 9 7900X" in ram["message"]


# The same GPU, host and format through `check --offload` (the planner's hybrid option) and through the upgrade answer.
TWINS = [
    (["--model", "llama-3.1-70b"], "RTX 3090", [], "layers", "q4_k_m"),
    (["--model", "llama-3.1-70b"], "RTX 3090", ["--host-bandwidth", "200"], "layers", "q4_k_m"),
    (["--model", "gpt-oss-120b"], "RTX 4090", ["--host", "cpu-desktop-7900x-64gb"], "experts", "mxfp4"),
]


@pytest.mark.parametrize(("model", "gpu", "host", "mode", "precision"), TWINS)
def test_the_host_ram_answer_is_the_planners_hybrid_option(runner, model, gpu, host, mode, precision):
    """One hybrid model: the upgrade answer's speed, placement and llama.cpp setting are `check`'s for that configuration."""
    have = runner.invoke(main, ["recommend", *model, "--have", gpu, "--ram", "16", *host, "--format", "json"])
    assert have.exit_code == 0, have.output
    ram = _answer(json.loads(have.stdout)["upgrade"], "UPG-host-ram")
    host_id = ["--host", ram["host"]] if ram["host"] != "described" else []
    checked = runner.invoke(main, ["check", *model, "--hardware", gpu, "--offload", mode, "--precision", precision,
                                   *(host or host_id), "--format", "json"])
    assert checked.exit_code == 0, checked.output
    option = json.loads(checked.stdout)
    assert (ram["offload"], ram["precision"]) == (option["layout"]["offload"], option["precision"]) == (mode, precision)
    assert ram["tokens_per_s"] == option["tokens_per_s"]
    assert ram["ram_need_bytes"] == option["placement"]["host_ram_bytes"]
    assert f" {ram['launch_flag']} " in option["launch"]["commands"][0]


def test_renting_is_compared_with_the_addition(three_090):
    rent = _answer(three_090, "UPG-rent-instead")
    assert rent["usd_per_hour"] > 0 and rent["break_even_months"] > 0
    assert "the 750 USD addition pays for itself after" in rent["message"]


def test_two_3090s_already_run_it_and_nothing_is_added(runner):
    result = runner.invoke(main, ["recommend", "--model", "llama-3.1-70b", "--have", "RTX 3090", "--count", "2", "--format", "json"])
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)["upgrade"]["answers"]
    assert [a["id"] for a in answers] == ["UPG-owned-runs"]
    assert answers[0]["reaches"] and "nothing to buy" in answers[0]["message"]


def test_a_moe_model_keeps_its_experts_in_ram_for_free_when_the_host_has_it(runner):
    result = runner.invoke(main, ["recommend", "--model", "gpt-oss-120b", "--have", "RTX 4090", "--ram", "64", "--format", "json"])
    assert result.exit_code == 0, result.output
    owned = _answer(json.loads(result.stdout)["upgrade"], "UPG-owned-runs")
    assert owned["reaches"] and owned["cost_usd"] == 0.0
    assert "with its experts in host RAM" in owned["message"] and "nothing to buy" in owned["message"]


def test_more_ram_is_priced_when_the_host_is_short(runner):
    result = runner.invoke(main, ["recommend", "--model", "gpt-oss-120b", "--have", "RTX 4090", "--ram", "32", "--format", "json"])
    assert result.exit_code == 0, result.output
    ram = _answer(json.loads(result.stdout)["upgrade"], "UPG-host-ram")
    assert ram["cost_usd"] > 0 and "add " in ram["message"] and "USD per GB" in ram["message"]


def test_have_this_on_a_machine_without_gpu_answers_from_cpu_and_ram(runner):
    result = runner.invoke(main, ["recommend", "--model", "llama-3.1-8b", "--have", "this"])
    assert result.exit_code == 0, result.output
    assert "You have no GPU (" in result.stdout  # this CI machine has none (test_machine.py)
    assert "Upgrade from what you have: no GPU (this machine)" in result.stdout


def test_text_answer_puts_the_upgrade_before_the_tiers(runner):
    result = runner.invoke(main, THREE_090_70B)
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert text.index("Upgrade from what you have: 1 x NVIDIA GeForce RTX 3090 24GB") < text.index("minimum")


@pytest.mark.parametrize(("args", "message"), [
    (["--have", "RTX 3099"], "Error: have: unknown hardware 'RTX 3099'; did you mean"),
    (["--count", "2"], "Error: --count: counts the hardware you have: give --have NAME (or --have this) too\n"),
    (["--have", "RTX 3090", "--count", "two"], "Error: --count: expected a whole number, got 'two'\n"),
    (["--have", "RTX 3090", "--count", "0"], "Error: have_count: expected a whole number from 1 to 256, got 0\n"),
    (["--have", "RTX 3090", "--trace", "t.json"], "Error: --trace: not available with --have yet"),
])
def test_bad_have_input_is_one_line_and_exit_2(runner, args, message):
    result = runner.invoke(main, ["recommend", "--model", "llama-3.1-70b", *args])
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1


def test_a_mac_is_a_whole_machine_no_card_or_host_ram_is_added_to_it(runner):
    result = runner.invoke(main, ["recommend", "--model", "llama-3.1-70b", "--have", "apple-m4-max-36gb", "--format", "json"])
    assert result.exit_code == 0, result.output
    answers = json.loads(result.stdout)["upgrade"]["answers"]
    assert [a["id"] for a in answers] == ["UPG-owned-runs", "UPG-cheapest-addition"]
    assert answers[1]["message"] == ("Cheapest way to reach the goal from what you have: no addition to it reaches the goal; "
                                     "the tiers below are a new machine.")


def test_markdown_shows_the_upgrade_section(runner):
    result = runner.invoke(main, [*THREE_090_70B, "--format", "markdown"])
    assert result.exit_code == 0, result.output
    assert "## Upgrade from what you have: 1 x NVIDIA GeForce RTX 3090 24GB" in result.stdout
    assert "- **UPG-cheapest-addition**: Cheapest way to reach the goal from what you have: 1 more" in result.stdout


def test_the_html_report_shows_the_upgrade_and_the_command_with_have(runner):
    result = runner.invoke(main, [*THREE_090_70B, "--format", "html"])
    assert result.exit_code == 0, result.output
    page = result.stdout
    assert '<section id="upgrades"><h2>Upgrade from what you have</h2>' in page
    assert page.index("<code>UPG-cheapest-addition</code>") < page.index('<section id="tiers">')
    assert "<code>llmhw recommend --model llama-3.1-70b --have rtx-3090 --count 1 --format html</code>" in page


def test_without_have_the_answer_has_no_upgrade(runner):
    result = runner.invoke(main, ["recommend", "--model", "llama-3.1-8b", "--format", "json"])
    assert result.exit_code == 0
    assert "upgrade" not in json.loads(result.stdout)


def test_the_api_takes_have_and_refuses_a_count_alone():
    from llmhw import api
    from llmhw.errors import InputError

    advice = api.advise({"model": "llama-3.1-70b"}, have="RTX 3090", have_count=2)
    assert advice.upgrade is not None and advice.upgrade["have"]["count"] == 2
    assert advice.evidence is None  # what is owned is not replayable by `llmhw audit`: no trace is written from it
    with pytest.raises(InputError, match="^have_count: counts the hardware you have"):
        api.advise({"model": "llama-3.1-70b"}, have_count=2)


def test_have_this_on_a_recorded_gpu_box_starts_from_its_gpus(runner, monkeypatch):
    """A recorded rocm-smi answer (tests/data/machines) through the live probes: the RX 7900 XT it finds is what is owned."""
    import sys
    from pathlib import Path

    from llmhw.machine import amd, apple, nvidia

    recorded = (Path(__file__).parent / "data" / "machines" / "rocm-smi-rx-7900-xt.json").read_text()

    def run_tool(argv: list[str]) -> tuple[str | None, str]:
        return (recorded, "") if argv[0] == "rocm-smi" else (None, f"{argv[0]} not found")

    for module in (nvidia, amd, apple):
        monkeypatch.setattr(module, "run_tool", run_tool)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    monkeypatch.setitem(sys.modules, "amdsmi", None)
    result = runner.invoke(main, ["recommend", "--model", "llama-3.1-70b", "--have", "this", "--format", "json"])
    assert result.exit_code == 0, result.output
    upgrade = json.loads(result.stdout)["upgrade"]
    assert (upgrade["have"]["hardware"], upgrade["have"]["count"], upgrade["have"]["source"]) == ("rx-7900-xt", 1, "this machine")
    assert upgrade["have"]["ram_bytes"] > 0  # the host's RAM, read by psutil here
    assert _answer(upgrade, "UPG-owned-runs")["reaches"] is False
