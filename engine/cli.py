"""The `llmhw` command line: each command parses its options, makes one API call and renders the result.

Exit codes: 0 answered (also "nothing fits", an explained answer); 1 a failure that
is not the input's fault (a broken built-in catalog) or a negative verdict a
command exists to give; 2 the input is wrong (unknown model or hardware, a number
out of range, a malformed file). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from . import api, render
from .errors import InputError, KnowledgeError, LlmhwError
from .knowledge.loader import read_yaml
from .profile import SLOTS, Profile


class Failure(click.ClickException):
    """A one-line error with its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]  # click declares a class default; each error sets its own


class _PipeClosed(Exception):
    """A BrokenPipeError from a command, carried past click (which would exit 1 on it)."""


class _Interrupted(Exception):
    """A KeyboardInterrupt from a command, carried past click (which would print a blank line, then abort)."""


class LlmhwGroup(click.Group):
    """Turns every error into one line on stderr with the documented exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BrokenPipeError as exc:
            raise _PipeClosed() from exc
        except KeyboardInterrupt as exc:
            raise _Interrupted() from exc

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
        except (BrokenPipeError, _PipeClosed):
            # The reader went away (`llmhw ... | head -1`): stop quietly, and keep Python from complaining at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except (KeyboardInterrupt, _Interrupted):
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(2)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader went away (`llmhw ... | head -1`): stop quietly, and keep Python from complaining at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        sys.exit(code if isinstance(code, int) else 0)


def fail_on_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Translate the API's errors: bad input exits 2, a broken installation exits 1."""

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except InputError as exc:
            raise Failure(str(exc), 2) from exc
        except KnowledgeError as exc:
            raise Failure(str(exc), 2 if kwargs.get("knowledge") else 1) from exc
        except LlmhwError as exc:
            raise Failure(str(exc), 1) from exc

    wrapper.__name__ = fn.__name__
    wrapper.__doc__ = fn.__doc__
    return wrapper


def workload_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """The workload options shared by `recommend` and `check` (values are checked by the API, one line per error)."""
    opts = [
        click.option("--profile", "profile_file", type=click.Path(dir_okay=False), help="YAML or JSON file with these fields; options override it."),
        click.option("--model", help="Model name, ollama tag or Hugging Face id (see `llmhw models`)."),
        click.option("--task", help="inference | finetune | lora | qlora | pretrain  [default: inference]"),
        click.option("--precision", help="auto | bf16 | fp16 | fp8 | int8 | q8_0 | q6_k | q5_k_m | q4_k_m | q3_k_m | q2_k | awq-int4 | gptq-int4 | nvfp4 | mxfp4 | nf4  [default: auto]"),
        click.option("--context", help="Tokens per sequence (prompt + answer)  [default: 8192]"),
        click.option("--concurrency", help="Concurrent users/sequences (inference)  [default: 1]"),
        click.option("--batch", help="Effective batch per optimizer step (training)  [default: 16]"),
        click.option("--activation-checkpointing/--no-activation-checkpointing", "checkpointing", default=None,
                     help="Force recomputation on or off (training)  [default: only where needed to fit]"),
        click.option("--lora-rank", help="LoRA rank (lora, qlora)  [default: 16]"),
        click.option("--budget", help="Budget in USD: purchase, or one year of rental for --deployment cloud  [default: no limit]"),
        click.option("--ecosystem", help="any | cuda | rocm | apple | tpu | npu | cpu  [default: any]"),
        click.option("--deployment", help="local | cloud | edge  [default: local]"),
        click.option("--scale", help="personal | team | enterprise  [default: from the number of users]"),
        click.option("--hours-per-day", help="Hours of use per day (power, buy vs rent)  [default: 8]"),
        click.option("--cpu-cores", help="CPU cores of your host, to check it (pitfall P2)."),
        click.option("--ram", "ram_gb", help="System RAM of your host in GB, to check it (pitfall P2)."),
        click.option("--knowledge", multiple=True, type=click.Path(file_okay=False), help="Extra knowledge directory (repeatable)."),
    ]
    for opt in reversed(opts):
        fn = opt(fn)
    return fn


def format_option(*choices: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option("--format", "fmt", type=click.Choice(choices), default="text", show_default=True, help="Output format.")


def build_profile(profile_file: str | None, checkpointing: bool | None, options: dict[str, Any]) -> Profile:
    """The profile file (if any) overlaid with the options given on the command line."""
    data: dict[str, Any] = {}
    if profile_file:
        try:
            raw = read_yaml(Path(profile_file))
        except KnowledgeError as exc:
            raise InputError("--profile", str(exc)) from exc
        if not isinstance(raw, dict):
            raise InputError("--profile", f"{profile_file}: expected a mapping of fields, got {type(raw).__name__}")
        data.update(raw)
    names = {s.name for s in SLOTS}
    data.update({k: v for k, v in options.items() if k in names and v is not None})
    if checkpointing is not None:
        data["activation_checkpointing"] = "on" if checkpointing else "off"
    return Profile.from_mapping(data, "--profile" if profile_file else "profile")


@click.group(cls=LlmhwGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(package_name="llmhw")
def main() -> None:
    """Which hardware to buy or rent to run or train a large language model, and why."""


@main.command()
@workload_options
@format_option("text", "json", "markdown")
@click.option("--trace", "trace_file", type=click.Path(dir_okay=False), help="Also write an auditable trace of this consultation to FILE (JSON; see `llmhw explain`, `llmhw audit`).")
@fail_on_errors
def recommend(profile_file: str | None, checkpointing: bool | None, knowledge: tuple[str, ...], fmt: str,
              trace_file: str | None = None, **options: Any) -> None:
    """Rank hardware for a workload: the minimum that works, the recommended one, the best within budget.

    \b
    Example:
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --context 8192 --budget 40000
      llmhw recommend --model qwen2.5:7b --task lora --batch 32 --format json
    """
    advice = api.advise(build_profile(profile_file, checkpointing, options), knowledge_dirs=knowledge)
    if trace_file:
        write_trace(trace_file, advice)
    data = advice.to_dict()
    output = {"json": render.to_json, "markdown": render.advice_markdown}.get(fmt, render.advice_text)(data)
    click.echo(output, nl=fmt == "json")


@main.command()
@click.option("--hardware", required=True, help="Accelerator name or id (see `llmhw hardware`).")
@click.option("--count", default="1", show_default=True, help="How many of them.")
@workload_options
@format_option("text", "json")
@click.option("--trace", "trace_file", type=click.Path(dir_okay=False), help="Also write an auditable trace of this consultation to FILE (JSON; see `llmhw explain`, `llmhw audit`).")
@fail_on_errors
def check(hardware: str, count: str, profile_file: str | None, checkpointing: bool | None, knowledge: tuple[str, ...],
          fmt: str, trace_file: str | None = None, **options: Any) -> None:
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
    result = api.check(build_profile(profile_file, checkpointing, options), hardware, n, knowledge_dirs=knowledge)
    if trace_file:
        write_trace(trace_file, result)
    data = result.to_dict()
    name = api.catalog(knowledge).accelerators[result.hardware].name
    click.echo(render.to_json(data) if fmt == "json" else render.check_text(data, name), nl=fmt == "json")


@main.command()
@click.argument("rule_id", required=False)
@click.option("--topic", help="Only this topic (module or ID prefix): questions, memory, candidates, recommend, pitfalls, roles, quantization, training, parallelism, article; or P1, QNT, ...")
@format_option("text", "json")
@fail_on_errors
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
@click.option("--knowledge", multiple=True, type=click.Path(file_okay=False), help="Extra knowledge directory (repeatable).")
@format_option("text", "json")
@fail_on_errors
def models(knowledge: tuple[str, ...], fmt: str) -> None:
    """List the models the knowledge base knows, with their sizes and aliases.

    \b
    Example:
      llmhw models
    """
    entries = api.list_models(knowledge)
    click.echo(render.to_json({"models": entries}) if fmt == "json" else render.catalog_models_text(entries), nl=fmt == "json")


@main.command()
@click.option("--knowledge", multiple=True, type=click.Path(file_okay=False), help="Extra knowledge directory (repeatable).")
@format_option("text", "json")
@fail_on_errors
def hardware(knowledge: tuple[str, ...], fmt: str) -> None:
    """List the accelerators and hosts the knowledge base knows, with memory, bandwidth and price.

    \b
    Example:
      llmhw hardware
    """
    entries = api.list_hardware(knowledge)
    click.echo(render.to_json({"hardware": entries}) if fmt == "json" else render.catalog_hardware_text(entries), nl=fmt == "json")


def write_trace(path: str, result: Any) -> None:
    """Write the trace of an API result; a file that cannot be written is the input's fault (exit 2)."""
    from . import trace

    try:
        trace.write(path, result)
    except OSError as exc:
        raise InputError("--trace", f"{path}: cannot write: {exc.strerror or exc}") from exc


@main.command()
@click.argument("trace_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--conclusion", help="Only this conclusion: a tier (minimum, recommended, best-in-budget), a warning/tip/note id, or a fact id.")
@fail_on_errors
def explain(trace_file: str, conclusion: str | None) -> None:
    """Explain each conclusion of a trace: which rule drew it, from which facts, back to your inputs and the knowledge.

    \b
    Example:
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --trace run.json
      llmhw explain run.json --conclusion recommended
    """
    from . import audit, trace

    doc = trace.read(trace_file)
    if trace.reference_problems(doc):
        click.echo(f"Warning: {trace_file} fails its integrity checks; `llmhw audit {trace_file}` says why.", err=True)
    click.echo("\n".join(audit.explain(doc, conclusion)))


@main.command()
@click.argument("trace_file", metavar="FILE", type=click.Path(dir_okay=False))
@click.option("--knowledge", multiple=True, type=click.Path(file_okay=False),
              help="Where the trace's extra knowledge directories are now (repeatable)  [default: the recorded paths]")
@format_option("text", "json")
@fail_on_errors
def audit(trace_file: str, knowledge: tuple[str, ...], fmt: str) -> int:
    """Replay a trace through today's rules and knowledge: exit 0 if the conclusions are the same, else 1.

    Reports each conclusion added, removed or changed, the first firing where the runs part, and whether the
    rulebase or the knowledge changed. A trace that does not follow from its own inputs is reported inconsistent.

    \b
    Example:
      llmhw audit run.json
    """
    from . import audit as auditing
    from . import trace

    doc = trace.read(trace_file)
    report = auditing.audit(doc, list(knowledge) if knowledge else None)
    if fmt == "json":
        click.echo(render.to_json(report.to_dict()))
    else:
        head = f"Audit of {trace_file} (llmhw {doc['command']}, written {doc['created']} by llmhw {doc['llmhw_version']})"
        click.echo("\n".join([head, *report.lines()]))
    return report.exit_code


@main.command()
@click.argument("input_file", metavar="INPUT", type=click.Path(dir_okay=False))
@click.option("--out", "out_path", required=True, help="Output file (`-` for stdout); written row by row, in input order.")
@click.option("--jobs", type=click.IntRange(1, 512), default=None, help="Worker processes  [default: the number of cores]")
@click.option("--format", "fmt", type=click.Choice(["jsonl", "csv"]), default=None,
              help="Output format  [default: csv for a .csv OUTPUT, else jsonl]")
@click.option("--input-format", "in_fmt", type=click.Choice(["jsonl", "csv", "yaml"]), default=None,
              help="Input format  [default: from INPUT's suffix: .jsonl/.json, .csv, .yaml/.yml]")
@click.option("--knowledge", multiple=True, type=click.Path(file_okay=False), help="Extra knowledge directory (repeatable).")
@fail_on_errors
def batch(input_file: str, out_path: str, jobs: int | None, fmt: str | None, in_fmt: str | None,
          knowledge: tuple[str, ...]) -> int:
    """Consult every profile of INPUT (JSON Lines, CSV or YAML; one profile per row) and write one result per row.

    Each record is the `recommend --format json` result or the row's error, with its row and line number.
    Bad rows do not stop the run; the exit code is 1 if any row failed. Ctrl-C keeps every finished row.

    \b
    Example:
      llmhw batch profiles.jsonl --out results.jsonl --jobs 2
      llmhw batch profiles.csv --out results.csv
    """
    from . import batch as batching

    kind = batching.output_format(out_path, fmt)
    shown = [0]

    def report(line: str) -> None:
        shown[0] += 1
        if shown[0] <= 20:
            click.echo(f"\r{line}\x1b[K" if sys.stderr.isatty() else line, err=True)
        elif shown[0] == 21:
            click.echo("... more failed rows: see the output", err=True)

    with batching.open_output(out_path, kind) as out:
        summary = batching.run_batch(Path(input_file), out, jobs=jobs, out_format=kind, in_format=in_fmt,
                                     knowledge_dirs=knowledge, report=report)
    click.echo(summary.line(), err=True)
    return summary.exit_code


ASK_FOLLOWUPS = "Now: how <# | tier | id>, what-if <field>=<value>, save <file>, or quit."


def _read(stdin: Any, prompt: str, echo: bool) -> str | None:
    """One line, or None at end of input. Piped answers are echoed so that the transcript reads as a dialogue."""
    click.echo(prompt, nl=False)
    line = stdin.readline()  # a plain read: works without a TTY, where prompt libraries break
    if not line:
        click.echo()
        return None
    line = line.rstrip("\r\n")
    if echo:
        click.echo(line)
    return line


def _pose(q: Any) -> str:
    lines = ["", f"Question {q.number}: {q.text}", f"  {q.hint}"]
    if q.slot == "model":  # the list with sizes is the guide for someone who does not know what to ask
        cells = [f"{i:>2}. {c} ({label})" for i, (c, label) in enumerate(zip(q.choices, q.labels), 1)]
        lines += ["  " + "".join(f"{cell:<50}" for cell in cells[i:i + 2]).rstrip() for i in range(0, len(cells), 2)]
    elif q.choices:
        lines.append("  choices: " + ", ".join(f"{i} {c}" for i, c in enumerate(q.choices, 1)))
    if q.range:
        lines.append(f"  {q.range_text()}" + (f"; typical: {', '.join(q.suggestions)}" if q.suggestions else ""))
    if q.default is None:
        lines.append("  no default: an answer is needed")
    else:
        lines.append(f"  default: {q.default}" + (" (answer none to leave it empty)" if q.optional else ""))
    return "\n".join(lines)


def _ask_questions(consult: Any, stdin: Any, echo: bool) -> bool:
    """Pose the questions the rules ask until none is left (True), or the user leaves (False)."""
    from .consult import AT_ANY_QUESTION

    click.echo(f"llmhw ask: questions about your workload; Enter takes the default shown. {AT_ANY_QUESTION}")
    shown = None
    while (q := consult.next_question()) is not None:
        if q != shown:
            click.echo(_pose(q))
            shown = q
        line = _read(stdin, f"{q.slot}" + (f" [{q.default}]" if q.default is not None else "") + "> ", echo)
        if line is None:
            click.echo("End of input: session ended before the last question.")
            return False
        word = line.strip().lower()
        try:
            if word in ("quit", "exit"):
                click.echo("Session ended.")
                return False
            if word == "why":
                click.echo(consult.why())
            elif word in ("help", "?"):
                click.echo(consult.help())
            elif word == "back":
                consult.back()
            else:
                consult.answer(line)
        except InputError as exc:
            click.echo(f"  Not accepted: {exc} (try again, or type help)")
    return True


def _ask_followups(consult: Any, stdin: Any, echo: bool, knowledge: tuple[str, ...]) -> None:
    """The result as `recommend` shows it, then how / what-if / save until quit or end of input."""
    click.echo("")
    click.echo(render.advice_text(consult.result().to_dict()), nl=False)
    click.echo(f"\n{ASK_FOLLOWUPS}")
    while True:
        line = _read(stdin, "> ", echo)
        if line is None:
            click.echo("End of input: session ended.")
            return
        cmd, _, arg = line.strip().partition(" ")
        cmd, arg = cmd.lower(), arg.strip()
        try:
            if cmd in ("quit", "exit"):
                click.echo("Session ended.")
                return
            if cmd == "how":
                click.echo(consult.how(arg))
            elif cmd == "what-if":
                field, eq, value = arg.partition("=")
                if not eq:
                    raise InputError("what-if", "expected <field>=<value>, e.g. what-if context=32768")
                click.echo(consult.what_if(field, value))
            elif cmd == "save":
                if not arg:
                    raise InputError("save", "expected a file name, e.g. save profile.yaml")
                trace_file = f"{arg}.trace.json"
                try:
                    Path(arg).write_text(consult.profile_yaml(), encoding="utf-8")
                except OSError as exc:
                    raise InputError("save", f"cannot write {arg}: {exc.strerror or exc}") from exc
                write_trace(trace_file, consult.result())
                extra = "".join(f" --knowledge {k}" for k in knowledge)
                click.echo(f"Saved {arg}: `llmhw recommend --profile {arg}{extra}` gives the same recommendations. "
                           f"Trace: {trace_file} (`llmhw explain {trace_file}`, `llmhw audit {trace_file}`).")
            elif cmd in ("help", "?"):
                click.echo(ASK_FOLLOWUPS)
            elif cmd:
                click.echo(f"  Unknown command {cmd[:40]!r}. {ASK_FOLLOWUPS}")
        except InputError as exc:
            click.echo(f"  Not accepted: {exc}")


@main.command()
@click.option("--knowledge", multiple=True, type=click.Path(file_okay=False), help="Extra knowledge directory (repeatable).")
@fail_on_errors
def ask(knowledge: tuple[str, ...]) -> None:
    """Answer a few questions, one at a time, and get the recommendation with its reasons.

    Only what the rules need is asked. At any question: why, help, back, quit; Enter takes the default.
    At the end: how <# | tier | id>, what-if <field>=<value>, save <file>, quit. Works with piped input.

    \b
    Example:
      llmhw ask
      printf 'deepseek-r1:7b\\n\\n' | llmhw ask
    """
    from .consult import Consultation

    stdin = sys.stdin if sys.stdin is not None else io.StringIO()  # no stdin at all reads as end of input
    echo = not stdin.isatty()
    try:
        consult = Consultation(knowledge)
        if _ask_questions(consult, stdin, echo):
            _ask_followups(consult, stdin, echo, knowledge)
    except KeyboardInterrupt:
        click.echo("\nInterrupted: session ended.", err=True)
        raise click.exceptions.Exit(130) from None


if __name__ == "__main__":
    main()
