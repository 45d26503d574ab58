"""The loop of `llmhw ask`: next question, prompt, submit; then how / what-if / save on the result.

The ``Consultation`` owns the order of the questions and the checking of answers; this module only
reads lines, hands them over, and lays out what comes back (through ``render``).
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import TextIO

import click

from .. import safe_write
from ..consult import AT_ANY_QUESTION, Consultation
from ..errors import ForeignFileError, InputError, OutputError
from ..trace.document import IS_TRACE
from . import render
from .options import knowledge_files, write_trace

IS_PROFILE = safe_write.starts_with(b"# llmhw profile written by")  # the first line of Consultation.profile_yaml()

FOLLOWUPS = "Now: how <# | tier | id>, what-if <field>=<value>, save <file>, or quit."


def run(knowledge: tuple[str, ...], sign_key: str | None = None) -> None:
    """A whole session on stdin/stdout; Ctrl-C ends it with exit 130."""
    stdin = sys.stdin if sys.stdin is not None else io.StringIO()  # no stdin at all reads as end of input
    read = _reader(stdin, echo=not stdin.isatty())
    try:
        consult = Consultation(knowledge)
        if _questions(consult, read):
            _followups(consult, read, knowledge, sign_key)
    except KeyboardInterrupt:
        click.echo("\nInterrupted: session ended.", err=True)
        raise click.exceptions.Exit(130) from None


def _reader(stdin: TextIO, echo: bool) -> Callable[[str], str | None]:
    """Reads one line after a prompt, or None at end of input. Piped answers are echoed, so the transcript reads as a dialogue."""

    def read(prompt: str) -> str | None:
        click.echo(prompt, nl=False)
        line = stdin.readline()  # a plain read: works without a TTY, where prompt libraries break
        if not line:
            click.echo()
            return None
        line = line.rstrip("\r\n")
        if echo:
            click.echo(line)
        return line

    return read


def _questions(consult: Consultation, read: Callable[[str], str | None]) -> bool:
    """Pose the questions the rules ask until none is left (True), or the user leaves (False)."""
    click.echo(f"llmhw ask: questions about your workload; Enter takes the default shown. {AT_ANY_QUESTION}")
    shown = None
    while (q := consult.next_question()) is not None:
        if q != shown:
            click.echo(render.question_text(q))
            shown = q
        line = read(f"{q.slot}" + (f" [{q.default}]" if q.default is not None else "") + "> ")
        if line is None:
            click.echo("End of input: session ended before the last question.")
            return False
        word = line.strip().lower()
        if word in ("quit", "exit"):
            click.echo("Session ended.")
            return False
        try:
            if word == "why":
                click.echo(render.why_text(consult.why()))
            elif word in ("help", "?"):
                click.echo(render.help_text(consult.help()))
            elif word == "back":
                consult.back()
            else:
                consult.answer(line)
        except InputError as exc:
            click.echo(f"  Not accepted: {exc} (try again, or type help)")
    return True


def _followups(consult: Consultation, read: Callable[[str], str | None], knowledge: tuple[str, ...], sign_key: str | None) -> None:
    """The result as `recommend` shows it, then how / what-if / save until quit or end of input."""
    click.echo("")
    click.echo(render.advice_text(consult.result().to_dict()), nl=False)
    click.echo(f"\n{FOLLOWUPS}")
    while (line := read("> ")) is not None:
        cmd, _, arg = line.strip().partition(" ")
        cmd, arg = cmd.lower(), arg.strip()
        if cmd in ("quit", "exit"):
            click.echo("Session ended.")
            return
        try:
            text = _followup(consult, cmd, arg, knowledge, read, sign_key)
        except InputError as exc:
            text = f"  Not accepted: {exc}"
        except OutputError as exc:  # a full disk: the session and the previous file are kept
            text = f"  Not saved: {exc}"
        if text:
            click.echo(text)
    click.echo("End of input: session ended.")


def _followup(consult: Consultation, cmd: str, arg: str, knowledge: tuple[str, ...], read: Callable[[str], str | None],
              sign_key: str | None) -> str:
    """One command after the result, answered as text."""
    if cmd == "how":
        return render.how_text(consult.how(arg))
    if cmd == "what-if":
        field, eq, value = arg.partition("=")
        if not eq:
            raise InputError("what-if", "expected <field>=<value>, e.g. what-if context=32768")
        return render.what_if_text(consult.what_if(field, value))
    if cmd == "save":
        return _save(consult, arg, knowledge, read, sign_key)
    if cmd in ("help", "?"):
        return FOLLOWUPS
    return f"  Unknown command {cmd[:40]!r}. {FOLLOWUPS}" if cmd else ""


def _save(consult: Consultation, name: str, knowledge: tuple[str, ...], read: Callable[[str], str | None], sign_key: str | None) -> str:
    """Write the profile (for `recommend --profile`) and the consultation's trace; a file llmhw did not write is replaced only on a yes."""
    if not name:
        raise InputError("save", "expected a file name, e.g. save profile.yaml")
    trace_file = f"{name}.trace.json"
    inputs = knowledge_files(knowledge)
    force = False
    try:  # both paths are checked before either is written
        safe_write.target(name, "save", inputs=inputs, ours=IS_PROFILE)
        safe_write.target(trace_file, "save", inputs=inputs, ours=IS_TRACE)
    except ForeignFileError as exc:
        reply = read(f"  {exc.path} exists and was not written by llmhw. Replace it? [y/N] ")
        if (reply or "").strip().lower() not in ("y", "yes"):
            return "  Not saved: name another file, e.g. save my-profile.yaml"
        force = True
    safe_write.write_text(name, consult.profile_yaml(), "save", inputs=inputs, ours=IS_PROFILE, force=force)
    write_trace(trace_file, consult.result(), inputs=(*inputs, name), force=force, field="save", sign_key=sign_key)
    extra = "".join(f" --knowledge {k}" for k in knowledge)
    return (f"Saved {name}: `llmhw recommend --profile {name}{extra}` gives the same recommendations. "
            f"Trace: {trace_file} (`llmhw explain {trace_file}`, `llmhw audit {trace_file}`).")
