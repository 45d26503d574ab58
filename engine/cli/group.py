"""The `llmhw` command group: every error becomes one line on stderr with its documented exit code.

Translated here once for every command (click's ``Command.main`` shape): an ``InputError`` exits 2; a
``KnowledgeError`` exits 2 when the user's ``--knowledge`` directory is at fault, else 1 (the installed
catalog is broken); any other ``LlmhwError`` exits 1; a closed pipe exits 0 quietly; Ctrl-C exits 130.
"""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

import click

from ..errors import InputError, KnowledgeError, LlmhwError
from .options import KNOWLEDGE_GIVEN

HELP_WIDTH = 110  # the widest help layout, however wide the terminal


def help_width() -> int:
    """The width of help on this terminal, by click's rule (its columns less 2, within 50 and HELP_WIDTH - 2).

    The columns are read as ``shutil.get_terminal_size`` reads them (COLUMNS, else the terminal, else 80), with ``os``
    alone: click would import shutil for them, and with it bz2, lzma and zlib, ~2 ms (4%) of `llmhw --help`.
    """
    try:
        columns = int(os.environ.get("COLUMNS", 0))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns if sys.__stdout__ else 0
        except (ValueError, OSError):  # not a terminal, or closed
            columns = 0
    return max(min(columns or 80, HELP_WIDTH) - 2, 50)


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
        except InputError as exc:
            raise Failure(str(exc), 2) from exc
        except KnowledgeError as exc:
            raise Failure(str(exc), 2 if ctx.meta.get(KNOWLEDGE_GIVEN) else 1) from exc
        except LlmhwError as exc:
            raise Failure(str(exc), 1) from exc
        except BrokenPipeError as exc:
            raise _PipeClosed() from exc
        except KeyboardInterrupt as exc:
            raise _Interrupted() from exc

    def main(self, *args: Any, **kwargs: Any) -> NoReturn:
        kwargs["standalone_mode"] = False
        kwargs.setdefault("terminal_width", help_width())
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
        sys.exit(code if isinstance(code, int) else 0)
