"""The `llmhw` commands: each parses its options, makes one API call and hands the result to ``render``.

Exit codes: 0 answered (also "nothing fits", an explained answer); 1 a failure that is not the input's fault
(a broken built-in catalog, a full disk) or a negative verdict a command exists to give (``audit`` finding a
difference, ``batch`` with failed rows); 2 the input is wrong (unknown model or hardware, a number out of range,
a malformed file, an output path that would destroy something); 130 interrupted. Errors are translated once, in
``LlmhwGroup``; they are one line on stderr.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from ..errors import InputError
from . import listings
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

if TYPE_CHECKING:  # pathlib is imported where a path is opened: `llmhw --help` is ~4 ms (a tenth) faster without it
    from pathlib import Path


@click.group(cls=LlmhwGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
@click.option("--have", help="Hardware you own (accelerator name; `this` for this machine; `none` for a machine without GPU, "
              "its RAM from --ram): the answer says what it runs and the cheapest addition that reaches the goal.")
@click.option("--count", "have_count", help="How many of --have you own.  [default: 1, or as many as this machine has]")
@format_option("text", "json", "markdown", "html")
@trace_option
@force_option
def recommend(profile_file: str | None, knowledge: tuple[str, ...], have: str | None, have_count: str | None, fmt: str,
              trace_file: str | None, sign_key: str | None, force: bool, **options: Any) -> None:
    """Rank hardware for a workload: the minimum that works, the recommended one, the best within budget.

    With --have: first what the hardware you own runs, and the cheapest addition that reaches the goal (more of
    the same cards, host RAM for offloaded layers, a bigger card), priced alone, against renting.

    \b
    Example:
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --context 8192 --budget 40000
      llmhw recommend --model qwen2.5:7b --task lora --batch 32 --format json
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --format html > report.html
      llmhw recommend --model llama-3.1-70b --have "RTX 3090" --count 1
    """
    from .. import api
    from . import render

    _needs_trace(trace_file, sign_key)
    if have_count is not None and have is None:
        raise InputError("--count", "counts the hardware you have: give --have NAME (or --have this) too")
    if have is not None and trace_file:
        raise InputError("--trace", "not available with --have yet: `llmhw audit` could not replay what you own")
    advice = api.advise(build_profile(profile_file, options), knowledge_dirs=knowledge, have=have,
                        have_count=None if have_count is None else _whole(have_count, "--count"))
    if trace_file:
        write_trace(trace_file, advice, inputs=_inputs(profile_file, knowledge), force=force, sign_key=sign_key)
    data = advice.to_dict()
    if fmt == "html":
        from .. import report

        click.echo(report.advice_html(data, advice.compared, report.explained(advice)), nl=False)
        return
    output = {"json": render.to_json, "markdown": render.advice_markdown}.get(fmt, render.advice_text)(data)
    click.echo(output, nl=fmt == "json")


@main.command()
@click.option("--hardware", required=True, help="Accelerator name or id (see `llmhw hardware`), or `this` for this machine's GPUs.")
@click.option("--count", help="How many of them.  [default: 1, or as many as this machine has]")
@workload_options
@format_option("text", "json", "html")
@trace_option
@force_option
def check(hardware: str, count: str | None, profile_file: str | None, knowledge: tuple[str, ...], fmt: str, trace_file: str | None,
          sign_key: str | None, force: bool, **options: Any) -> None:
    """Check whether a workload fits a configuration you name, with the breakdown, speed and pitfalls.

    \b
    Example:
      llmhw check --model deepseek-r1:7b --hardware "A100 80GB" --precision q4_k_m
      llmhw check --model llama-3.1-70b --hardware h100-sxm --count 2 --format json
      llmhw check --model qwen2.5:14b --hardware this
    """
    from .. import api
    from . import render

    _needs_trace(trace_file, sign_key)
    hardware, n = _hardware(hardware, count, knowledge)
    result = api.check(build_profile(profile_file, options), hardware, n, knowledge_dirs=knowledge)
    if trace_file:
        write_trace(trace_file, result, inputs=_inputs(profile_file, knowledge), force=force, sign_key=sign_key)
    data = result.to_dict()
    name = api.catalog(knowledge).accelerators[result.hardware].name
    if fmt == "html":
        from .. import report

        click.echo(report.check_html(data, name, report.explained(result)), nl=False)
        return
    click.echo(render.to_json(data) if fmt == "json" else render.check_text(data, name), nl=fmt == "json")


def _needs_trace(trace_file: str | None, sign_key: str | None) -> None:
    if sign_key and not trace_file:
        raise InputError("--sign", "signs the trace: give --trace FILE too")


def _inputs(profile_file: str | None, knowledge: tuple[str, ...]) -> tuple[str | Path, ...]:
    """The files a consultation read, which its outputs must never replace."""
    return (*([profile_file] if profile_file else []), *knowledge_files(knowledge))


@main.command()
@knowledge_option()
@format_option("text", "json")
def detect(knowledge: tuple[str, ...], fmt: str) -> None:
    """Describe this machine: GPUs (matched to the catalog), driver-reported memory, CPU, RAM and disks.

    Every probe is optional: a missing driver, tool or permission is a line in the output, never an error.
    `--hardware this` in `check` and `fit` uses what it finds.

    \b
    Example:
      llmhw detect
      llmhw detect --format json
    """
    from .. import api, machine
    from . import render, render_machine

    found = machine.detect(api.catalog(knowledge))
    if fmt == "json":
        click.echo(render.to_json(found.to_dict()))
        return
    try:
        hw, n = machine.this_hardware(found)
        this = f"{n} x {hw}"
    except InputError as exc:
        this = str(exc).removeprefix("hardware: ")
    click.echo(render_machine.detect_text(found.to_dict(), this), nl=False)


@main.command()
@click.option("--hardware", required=True, help="Accelerator name or id (see `llmhw hardware`), or `this` for this machine's GPUs.")
@click.option("--count", help="How many of them.  [default: 1, or as many as this machine has]")
@click.option("--model", "models", multiple=True, help="Only this model (repeatable)  [default: every catalog model]")
@click.option("--sort", type=click.Choice(("speed", "size", "name")), default="speed", show_default=True,  # fit.SORTS (tests/test_imports.py)
              help="speed: decode tok/s, fastest first; size: parameters, largest first; name: by model id.")
@knowledge_option()
@format_option("text", "json")
def fit(hardware: str, count: str | None, models: tuple[str, ...], sort: str, knowledge: tuple[str, ...], fmt: str) -> None:
    """List the models that fit a configuration, with the best format, longest context, most users and speed.

    The reverse of `recommend`: for each model, the best-quality format that fits at the default context,
    then at that format the longest context for one user and the most concurrent users, and the runtime.

    \b
    Example:
      llmhw fit --hardware "RTX 4090"
      llmhw fit --hardware this --sort size --format json
    """
    from .. import api
    from .. import fit as fit_module
    from . import render, render_machine

    hardware, n = _hardware(hardware, count, knowledge)
    result = fit_module.fit(hardware, n, models, sort=sort, knowledge_dirs=knowledge)
    data = result.to_dict()
    if fmt == "json":
        click.echo(render.to_json(data))
    else:
        click.echo(render_machine.fit_text(data, api.catalog(knowledge).policy.default_context), nl=False)


@main.command()
@click.argument("measurement", metavar="FILE")
@click.option("--model", help="The catalog model measured  [default: from the file's model type, size and file name]")
@click.option("--hardware", help="The accelerator measured  [default: from the file's GPU name]")
@knowledge_option("Knowledge directory to store the measurement in (its calibration.yaml and sources.yaml); later "
                  "consultations with --knowledge DIR use it for that device and runtime.")
@format_option("text", "json")
def calibrate(measurement: str, model: str | None, hardware: str | None, knowledge: tuple[str, ...], fmt: str) -> None:
    """Compare a speed you measured (llama-bench -o json or its markdown table) with llmhw's estimate, and keep it.

    Prints measured / estimated for each text-generation row; with --knowledge DIR stores it as local knowledge
    (sourced "measured on this machine", with the file's SHA-256 and date), which scales later decode estimates
    of that device under that runtime.

    \b
    Example:
      llama-bench -m qwen2.5-7b-instruct-q4_k_m.gguf -o json > bench.json
      llmhw calibrate bench.json --knowledge ./my-knowledge
      llmhw recommend --model qwen2.5-7b --knowledge ./my-knowledge
    """
    from .. import api
    from ..calibrate import calibrate as run
    from . import render

    readable = tuple(d for d in knowledge if knowledge_files((d,)))
    result = run(measurement, api.catalog(readable), model=model, hardware=hardware, knowledge_dir=knowledge[-1] if knowledge else None)
    if fmt == "json":
        click.echo(render.to_json(result.to_dict()))
        return
    lines = [f"{result.file} ({result.tool}, SHA-256 {result.sha256[:12]}...)"]
    for m in result.measurements:
        d = m.to_dict()
        lines.append(f"  {d['count']} x {d['hardware']}, {d['model']} at {d['precision']} on {d['runtime']}, {d['context']:,} tokens: "
                     f"measured {d['measured_tok_s']:,.2f} tok/s, estimated {d['estimate_tok_s']:,.2f}: ratio {d['ratio']:.2f}")
    lines.append(f"Stored in {result.stored}: consultations with --knowledge {knowledge[-1]} scale this device's decode estimates."
                 if result.stored else "Not stored: give --knowledge DIR to keep it for later consultations.")
    click.echo("\n".join(lines))


@main.command()
@click.argument("trace_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--conclusion", help="Only this conclusion: a tier (minimum, recommended, best-in-budget), a warning/tip/note id, "
              "launch:TIER for a launch plan, or a fact id.")
@format_option("text", "html")
def explain(trace_file: str, conclusion: str | None, fmt: str) -> None:
    """Explain each conclusion of a trace: which rule drew it, from which facts, back to your inputs and the knowledge.

    \b
    Example:
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --trace run.json
      llmhw explain run.json --conclusion recommended
    """
    from .. import report, trace
    from . import render

    doc = trace.read(trace_file)
    if trace.reference_problems(doc):
        click.echo(f"Warning: {trace_file} fails its integrity checks; `llmhw audit {trace_file}` says why.", err=True)
    explanation = trace.explain(doc, conclusion)
    if fmt == "html":
        click.echo(report.explanation_html(explanation), nl=False)
        return
    click.echo("\n".join(render.explanation_lines(explanation)))


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
    from .. import trace
    from ..trace.sign import read_key
    from . import render

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
    from pathlib import Path

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


def _whole(text: str, field: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise InputError(field, f"expected a whole number, got {text[:40]!r}") from None


def _hardware(hardware: str, count: str | None, knowledge: tuple[str, ...]) -> tuple[str, int]:
    """The accelerator and count of ``--hardware``/``--count``: ``this`` is what ``llmhw detect`` finds here."""
    n = None if count is None else _whole(count, "count")
    if hardware.strip().lower() == "this":
        from .. import api, machine

        detected, found = machine.this_hardware(machine.detect(api.catalog(knowledge)))
        return detected, found if n is None else n
    return hardware, 1 if n is None else n


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (another than loopback exposes it to the network).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="Port to listen on (0: any free port).")
@knowledge_option()
def serve(host: str, port: int, knowledge: tuple[str, ...]) -> None:
    """Serve the JSON API and a web form on a local port, one engine kept warm (Ctrl-C stops it).

    /recommend, /check, /models, /hardware, /explain, /audit answer the same JSON as the commands' --format
    json (GET with the options as query parameters, or POST a JSON object); a bad input is HTTP 400 with the
    one-line error naming the field. / is a form for the workload; its answer is the HTML report.

    \b
    Example:
      llmhw serve --port 8000
      curl 'http://127.0.0.1:8000/recommend?model=deepseek-r1:70b&concurrency=20'
    """
    from ..serve import serve as run

    try:
        run(host, port, knowledge, log=lambda line: click.echo(line, err=True))
    except OSError as exc:
        raise InputError("--port", f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc


for command in (listings.rules, listings.models, listings.hardware):
    main.add_command(command)
