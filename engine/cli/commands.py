"""The `llmhw` commands: each parses its options, makes one API call and hands the result to ``render``.

Exit codes: 0 answered (also "nothing fits", an explained answer); 1 a failure that is not the input's fault
(a broken built-in catalog, a full disk) or a negative verdict a command exists to give (``audit`` finding a
difference, ``batch`` with failed rows); 2 the input is wrong (unknown model or hardware, a number out of range,
a malformed file, an output path that would destroy something); 130 interrupted. Errors are translated once, in
``LlmhwGroup``; they are one line on stderr.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from .. import api, trace
from ..errors import InputError
from . import render
from .group import LlmhwGroup
from .options import (
    build_profile,
    force_option,
    format_option,
    knowledge_files,
    knowledge_option,
    sign_option,
    trace_option,
    workload_options,
    write_trace,
)


@click.group(cls=LlmhwGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="llmhw")
def main() -> None:
    """Which hardware to buy or rent to run or train a large language model, and why.

    \b
    Example:
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --budget 40000
      llmhw ask
    """


@main.command()
@workload_options
@format_option("text", "json", "markdown")
@trace_option
@force_option
def recommend(profile_file: str | None, knowledge: tuple[str, ...], fmt: str, trace_file: str | None, sign_key: str | None,
              force: bool, **options: Any) -> None:
    """Rank hardware for a workload: the minimum that works, the recommended one, the best within budget.

    \b
    Example:
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --context 8192 --budget 40000
      llmhw recommend --model qwen2.5:7b --task lora --batch 32 --format json
    """
    _needs_trace(trace_file, sign_key)
    advice = api.advise(build_profile(profile_file, options), knowledge_dirs=knowledge)
    if trace_file:
        write_trace(trace_file, advice, inputs=_inputs(profile_file, knowledge), force=force, sign_key=sign_key)
    data = advice.to_dict()
    output = {"json": render.to_json, "markdown": render.advice_markdown}.get(fmt, render.advice_text)(data)
    click.echo(output, nl=fmt == "json")


@main.command()
@click.option("--hardware", required=True, help="Accelerator name or id (see `llmhw hardware`).")
@click.option("--count", default="1", show_default=True, help="How many of them.")
@workload_options
@format_option("text", "json")
@trace_option
@force_option
def check(hardware: str, count: str, profile_file: str | None, knowledge: tuple[str, ...], fmt: str, trace_file: str | None,
          sign_key: str | None, force: bool, **options: Any) -> None:
    """Check whether a workload fits a configuration you name, with the breakdown, speed and pitfalls.

    \b
    Example:
      llmhw check --model deepseek-r1:7b --hardware "A100 80GB" --precision q4_k_m
      llmhw check --model llama-3.1-70b --hardware h100-sxm --count 2 --format json
    """
    try:
        n = int(count)
    except ValueError:
        raise InputError("count", f"expected a whole number, got {count[:40]!r}") from None
    _needs_trace(trace_file, sign_key)
    result = api.check(build_profile(profile_file, options), hardware, n, knowledge_dirs=knowledge)
    if trace_file:
        write_trace(trace_file, result, inputs=_inputs(profile_file, knowledge), force=force, sign_key=sign_key)
    data = result.to_dict()
    name = api.catalog(knowledge).accelerators[result.hardware].name
    click.echo(render.to_json(data) if fmt == "json" else render.check_text(data, name), nl=fmt == "json")


def _needs_trace(trace_file: str | None, sign_key: str | None) -> None:
    if sign_key and not trace_file:
        raise InputError("--sign", "signs the trace: give --trace FILE too")


def _inputs(profile_file: str | None, knowledge: tuple[str, ...]) -> tuple[str | Path, ...]:
    """The files a consultation read, which its outputs must never replace."""
    return (*([profile_file] if profile_file else []), *knowledge_files(knowledge))


@main.command()
@click.argument("rule_id", required=False)
@click.option("--topic", help="Only this topic (module or ID prefix): questions, memory, candidates, recommend, pitfalls, roles, "
                             "techniques, parallelism, article; or P1, QNT, ...")
@format_option("text", "json")
def rules(rule_id: str | None, topic: str | None, fmt: str) -> None:
    """List the rules (id, statement, sources), or show one rule in full.

    \b
    Example:
      llmhw rules --topic pitfalls
      llmhw rules P1-oversized-vram
    """
    entries = api.list_rules(topic=topic, rule_id=rule_id)
    if fmt == "json":
        click.echo(render.to_json({"rules": entries}))
    else:
        click.echo(render.rules_text(entries, full=rule_id is not None), nl=False)


@main.command()
@knowledge_option()
@format_option("text", "json")
def models(knowledge: tuple[str, ...], fmt: str) -> None:
    """List the models the knowledge base knows, with their sizes and aliases.

    \b
    Example:
      llmhw models
      llmhw models --format json
    """
    entries = api.list_models(knowledge)
    click.echo(render.to_json({"models": entries}) if fmt == "json" else render.catalog_models_text(entries), nl=fmt == "json")


@main.command()
@knowledge_option()
@format_option("text", "json")
def hardware(knowledge: tuple[str, ...], fmt: str) -> None:
    """List the accelerators and hosts the knowledge base knows, with memory, bandwidth and price.

    \b
    Example:
      llmhw hardware
      llmhw hardware --format json
    """
    entries = api.list_hardware(knowledge)
    click.echo(render.to_json({"hardware": entries}) if fmt == "json" else render.catalog_hardware_text(entries), nl=fmt == "json")


@main.command()
@click.argument("trace_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--conclusion", help="Only this conclusion: a tier (minimum, recommended, best-in-budget), a warning/tip/note id, or a fact id.")
def explain(trace_file: str, conclusion: str | None) -> None:
    """Explain each conclusion of a trace: which rule drew it, from which facts, back to your inputs and the knowledge.

    \b
    Example:
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --trace run.json
      llmhw explain run.json --conclusion recommended
    """
    doc = trace.read(trace_file)
    if trace.reference_problems(doc):
        click.echo(f"Warning: {trace_file} fails its integrity checks; `llmhw audit {trace_file}` says why.", err=True)
    click.echo("\n".join(render.explanation_lines(trace.explain(doc, conclusion))))


@main.command()
@click.argument("trace_file", metavar="FILE", type=click.Path(dir_okay=False))
@knowledge_option("Where the trace's extra knowledge directories are now (repeatable)  [default: the recorded paths]")
@click.option("--key", "key_file", metavar="KEYFILE", help="Check the trace's signature with the secret key in KEYFILE (see --sign).")
@format_option("text", "json")
def audit(trace_file: str, knowledge: tuple[str, ...], key_file: str | None, fmt: str) -> int:
    """Replay a trace through today's rules and knowledge: exit 0 if it reproduces everything the trace claims, else 1.

    Reports each conclusion added, removed or changed, every other claim (answer, facts, firings, knowledge
    entries and sources, rule list) the replay does not reproduce, the first firing where the runs part, and
    whether the rulebase or the knowledge changed. A trace that does not follow from its own inputs, or whose
    signature fails under --key, is reported inconsistent.

    \b
    Example:
      llmhw audit run.json
      llmhw audit run.json --format json
      llmhw audit signed.json --key team.key
    """
    from ..trace.sign import read_key

    key = read_key(key_file, "--key") if key_file else None
    doc = trace.read(trace_file)
    report = trace.audit(doc, list(knowledge) if knowledge else None, key=key)
    if fmt == "json":
        click.echo(render.to_json(report.to_dict()))
    else:
        head = f"Audit of {trace_file} (llmhw {doc['command']}, written {doc['created']} by llmhw {doc['llmhw_version']})"
        click.echo("\n".join([head, *render.audit_lines(report)]))
    return report.exit_code


@main.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", required=True, help="Output file (`-` for stdout); one record per row, in input order.")
@click.option("--jobs", type=click.IntRange(1, 512), default=None, help="Worker processes  [default: the number of cores]")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default=None,
              help="Output format  [default: csv for a .csv OUTPUT, else jsonl]")
@click.option("--input-format", "in_fmt", type=click.Choice(["jsonl", "csv", "yaml"]), default=None,
              help="Input format  [default: from INPUT's suffix: .jsonl/.json, .csv, .yaml/.yml]")
@knowledge_option()
@force_option
def batch(input_file: str, out_path: str, jobs: int | None, fmt: str | None, in_fmt: str | None, knowledge: tuple[str, ...],
          force: bool) -> int:
    """Consult every profile of INPUT (JSON Lines, CSV or YAML; one profile per row) and write one result per row.

    Each record is the `recommend --format json` result or the row's error, with its row and line number.
    Bad rows do not stop the run; the exit code is 1 if any row failed. OUTPUT is written to a temp file beside
    it and renamed over it when the run ends: Ctrl-C or SIGTERM keeps every finished row; a full disk keeps the
    previous OUTPUT. An existing OUTPUT that llmhw did not write is replaced only with --force.

    \b
    Example:
      llmhw batch profiles.jsonl --out results.jsonl --jobs 2
      llmhw batch profiles.csv --out results.csv
    """
    from ..batch import check_input, open_output, output_format, run_batch

    in_kind = check_input(Path(input_file), in_fmt)  # the input is checked before the output is touched
    kind = output_format(out_path, fmt)
    shown = [0]

    def report(line: str) -> None:
        shown[0] += 1
        if shown[0] <= 20:
            click.echo(f"\r{line}\x1b[K" if sys.stderr.isatty() else line, err=True)
        elif shown[0] == 21:
            click.echo("... more failed rows: see the output", err=True)

    with open_output(out_path, inputs=(input_file, *knowledge_files(knowledge)), force=force) as out:
        summary = run_batch(Path(input_file), out, jobs=jobs, out_format=kind, in_format=in_kind, knowledge_dirs=knowledge, report=report)
    click.echo(summary.line(), err=True)
    return summary.exit_code


@main.command()
@knowledge_option()
@sign_option
def ask(knowledge: tuple[str, ...], sign_key: str | None) -> None:
    """Answer a few questions, one at a time, and get the recommendation with its reasons.

    Only what the rules need is asked. At any question: why, help, back, quit; Enter takes the default.
    At the end: how <# | tier | id>, what-if <field>=<value>, save <file>, quit. Works with piped input.

    \b
    Example:
      llmhw ask
      printf 'deepseek-r1:7b\\n\\n' | llmhw ask
    """
    from ..trace.sign import read_key
    from .ask import run

    if sign_key:
        read_key(sign_key, "--sign")  # a bad key file is said now, not after the questions
    run(knowledge, sign_key)
