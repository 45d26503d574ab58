"""Meta-tests over the CLI, as sqlite-utils' test_docs.py: every command and option is documented, and the
workload options are the slot table's, with its defaults."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest
from llmhw.cli import main
from llmhw.knowledge.build import policy_value
from llmhw.knowledge.loader import load_catalog
from llmhw.profile import SLOTS

README = Path(__file__).resolve().parent.parent / "README.md"
COMMANDS = sorted(main.commands)


def test_the_commands_are_the_documented_ones():
    assert COMMANDS == ["ask", "audit", "batch", "calibrate", "check", "detect", "explain", "fit", "hardware", "models", "recommend",
                        "rules", "serve"]


@pytest.mark.parametrize(("columns", "widest"), [("200", 108), ("100", 98), ("60", 58), ("", 78), ("x", 78)])
def test_help_fills_the_terminal_up_to_a_readable_width(runner, columns, widest):
    """COLUMNS as the shell sets it (tests run without a terminal: 80 when it is unset or not a number)."""
    text = runner.invoke(main, ["hardware", "--help"], env={"COLUMNS": columns}).stdout
    assert widest - 10 < max(len(line) for line in text.splitlines() if not line.startswith("    llmhw")) <= widest


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help_with_an_example(runner, name):
    result = runner.invoke(main, [name, "--help"])
    assert result.exit_code == 0, result.output
    command = main.commands[name]
    assert command.help and len(command.help.splitlines()[0]) > 20, f"{name} has no summary line"
    block = re.search(r"^  Example:\n((?:    .+\n)+)", result.stdout, re.M)
    assert block, f"`llmhw {name} --help` has no Example block:\n{result.stdout}"
    assert f"llmhw {name}" in block.group(1), block.group(1)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_option_has_help(name):
    for param in main.commands[name].params:
        if isinstance(param, click.Option):
            assert param.help, f"`llmhw {name} {param.opts[0]}` has no help"


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_in_the_readme(name):
    """The README's commands section names every command."""
    assert f"llmhw {name}" in README.read_text()


@pytest.mark.parametrize("command", ["recommend", "check"])
def test_workload_options_are_the_slot_table(command):
    """One option per slot, named by it, its help and default taken from the slot and the policy."""
    cmd = main.commands[command]
    options = {p.name: p for p in cmd.params if isinstance(p, click.Option)}
    ctx = click.Context(cmd)
    catalog = load_catalog()
    for slot in SLOTS:
        option = options[slot.name]
        assert "/".join(option.opts + option.secondary_opts) == slot.flag
        record = option.get_help_record(ctx)
        assert record is not None and f"{slot.question} ({slot.hint})" in record[1]
        default = str(policy_value(catalog.policy, slot.default_key)) if slot.default_key else slot.unset
        assert record[1].endswith(f"  [default: {default}]" if default else ")"), (slot.name, record[1])
