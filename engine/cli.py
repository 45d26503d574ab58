"""The `llmhw` command line: each command parses its options, makes one API call and renders the result.

Exit codes: 0 answered (also "nothing fits", an explained answer); 1 a failure that
is not the input's fault (a broken built-in catalog) or a negative verdict a
command exists to give; 2 the input is wrong (unknown model or hardware, a number
out of range, a malformed file). Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any, Callable, Optional

import click

from . import api, render
from .errors import InputError, KnowledgeError, LlmhwError
from .knowledge.loader import read_yaml
from .profile import SLOTS, Profile


class Failure(click.ClickException):
    """A one-line error with its exit code."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class LlmhwGroup(click.Group):
    """Turns every error into one line on stderr with the documented exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        kwargs["standalone_mode"] = False
        try:
            code = super().main(*args, **kwargs)
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


def build_profile(profile_file: Optional[str], checkpointing: Optional[bool], options: dict[str, Any]) -> Profile:
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
@fail_on_errors
def recommend(profile_file: Optional[str], checkpointing: Optional[bool], knowledge: tuple[str, ...], fmt: str, **options: Any) -> None:
    """Rank hardware for a workload: the minimum that works, the recommended one, the best within budget.

    \b
    Example:
      llmhw recommend --model deepseek-r1:70b --concurrency 20 --context 8192 --budget 40000
      llmhw recommend --model qwen2.5:7b --task lora --batch 32 --format json
    """
    advice = api.advise(build_profile(profile_file, checkpointing, options), knowledge_dirs=knowledge)
    data = advice.to_dict()
    output = {"json": render.to_json, "markdown": render.advice_markdown}.get(fmt, render.advice_text)(data)
    click.echo(output, nl=fmt == "json")


@main.command()
@click.option("--hardware", required=True, help="Accelerator name or id (see `llmhw hardware`).")
@click.option("--count", default="1", show_default=True, help="How many of them.")
@workload_options
@format_option("text", "json")
@fail_on_errors
def check(hardware: str, count: str, profile_file: Optional[str], checkpointing: Optional[bool], knowledge: tuple[str, ...],
          fmt: str, **options: Any) -> None:
    """Check whether a workload fits a configuration you name, with the breakdown, speed and pitfalls.

    \b
    Example:
      llmhw check --model deepseek-r1:7b --hardware "A100 80GB" --precision q4_k_m
      llmhw check --model llama-3.1-70b --hardware h100-sxm --count 2 --format json
    """
    try:
        n = int(count)
    except ValueError:
        raise InputError("count", f"expected a whole number, got {count!r}") from None
    result = api.check(build_profile(profile_file, checkpointing, options), hardware, n, knowledge_dirs=knowledge)
    data = result.to_dict()
    name = api.catalog(knowledge).accelerators[result.hardware].name
    click.echo(render.to_json(data) if fmt == "json" else render.check_text(data, name), nl=fmt == "json")


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
    entries = sorted(api.catalog(knowledge).models.values(), key=lambda m: (m.family, m.params))
    if fmt == "json":
        click.echo(render.to_json({"models": [{"id": m.id, "name": m.name, "params": m.params, "active_params": m.active_params,
                                               "native_precision": m.native_precision, "aliases": list(m.aliases)} for m in entries]}))
    else:
        click.echo(render.catalog_models_text(entries), nl=False)


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
    entries = sorted(api.catalog(knowledge).accelerators.values(), key=lambda a: (a.ecosystem, a.memory_bytes))
    if fmt == "json":
        click.echo(render.to_json({"hardware": [{"id": a.id, "name": a.name, "kind": a.kind, "ecosystem": a.ecosystem,
                                                 "memory_bytes": a.memory_bytes, "mem_bandwidth_gbs": a.mem_bandwidth_gbs,
                                                 "obtain": a.obtain} for a in entries]}))
    else:
        click.echo(render.catalog_hardware_text(entries), nl=False)


if __name__ == "__main__":
    main()
