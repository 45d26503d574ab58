"""The options several commands share, each declared once (sqlite-utils' ``output_options`` shape).

The workload options are derived from the slot table (``llmhw.profile.SLOTS``): one option per slot, its
name, help and default taken from the slot, so a new input needs no edit here. Values are passed through
as typed and checked by ``Profile``, which names the field in its one-line error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click
from click.types import OptionHelpExtra

from ..errors import InputError, KnowledgeError
from ..profile import SLOTS, Profile, Slot

if TYPE_CHECKING:  # imported where a path is opened, as in ``commands``
    from pathlib import Path

F = TypeVar("F", bound=Callable[..., Any])
METAVARS = {"int": "N", "float": "NUMBER"}
KNOWLEDGE_GIVEN = "llmhw.knowledge_given"  # ctx.meta key: a broken --knowledge directory is the input's fault (exit 2)


def _remember_knowledge(ctx: click.Context, _param: click.Parameter, value: tuple[str, ...]) -> tuple[str, ...]:
    ctx.meta[KNOWLEDGE_GIVEN] = bool(value)
    return value


def knowledge_option(help: str = "Extra knowledge directory (repeatable).") -> Callable[[F], F]:
    """``--knowledge DIR`` (repeatable): extra knowledge directories, validated like the built-in files."""
    return click.option("--knowledge", multiple=True, type=click.Path(file_okay=False), callback=_remember_knowledge, help=help)


def format_option(*choices: str) -> Callable[[F], F]:
    """``--format``, stored as ``fmt``: text for terminals, the others for programs and reports."""
    return click.option("--format", "fmt", type=click.Choice(choices), default=choices[0], show_default=True, help="Output format.")


def sign_option(fn: F) -> F:
    """``--sign KEYFILE``: sign the trace with the secret key in KEYFILE (HMAC-SHA256)."""
    return click.option("--sign", "sign_key", metavar="KEYFILE",
                        help="Sign the trace with the secret key in KEYFILE (HMAC-SHA256; `llmhw audit --key KEYFILE` checks it).")(fn)


def trace_option(fn: F) -> F:
    """``--trace FILE`` (and ``--sign KEYFILE``): also write the consultation's auditable trace."""
    fn = sign_option(fn)
    return click.option("--trace", "trace_file", type=click.Path(dir_okay=False),
                        help="Also write an auditable trace of this consultation to FILE (JSON; see `llmhw explain`, `llmhw audit`).")(fn)


class SlotOption(click.Option):
    """A workload option: its help shows the slot's documented default, read from the policy when help is shown."""

    def __init__(self, *args: Any, slot: Slot, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.slot = slot

    def get_help_extra(self, ctx: click.Context) -> OptionHelpExtra:
        extra = super().get_help_extra(ctx)
        default = self.slot.unset
        if self.slot.default_key:
            from ..knowledge.build import policy_value
            from ..knowledge.loader import load_catalog

            try:
                default = str(policy_value(load_catalog().policy, self.slot.default_key))
            except KnowledgeError:  # a broken installation: `llmhw recommend` says so; help still shows
                default = ""
        if default:
            extra["default"] = default
        return extra


def _help(slot: Slot) -> str:
    choices = f"{' | '.join(slot.choices)}: " if slot.choices and "/" not in slot.flag else ""
    return f"{choices}{slot.question} ({slot.hint})"


def _slot_option(slot: Slot) -> Callable[[F], F]:
    if "/" in slot.flag:  # a switch: True and False read as the slot's "on" and "off"
        return click.option(slot.flag, slot.name, cls=SlotOption, slot=slot, default=None, help=_help(slot))
    return click.option(slot.flag, slot.name, cls=SlotOption, slot=slot, metavar=METAVARS.get(slot.kind, "NAME"), help=_help(slot))


def workload_options(fn: F) -> F:
    """``--profile FILE``, one option per input slot, and ``--knowledge``: what ``recommend`` and ``check`` share."""
    fn = knowledge_option()(fn)
    for slot in reversed(SLOTS):
        fn = _slot_option(slot)(fn)
    return click.option("--profile", "profile_file", type=click.Path(dir_okay=False),
                        help="YAML or JSON file with these fields; options override it.")(fn)


def build_profile(profile_file: str | None, options: dict[str, Any]) -> Profile:
    """The profile file (if any) overlaid with the workload options given on the command line."""
    data: dict[str, Any] = {}
    if profile_file:
        from pathlib import Path

        from ..knowledge.yamlio import read_yaml  # PyYAML only when a file is given

        try:
            raw = read_yaml(Path(profile_file))
        except KnowledgeError as exc:
            raise InputError("--profile", str(exc)) from exc
        if not isinstance(raw, dict):
            raise InputError("--profile", f"{profile_file}: expected a mapping of fields, got {type(raw).__name__}")
        data.update(raw)
    data.update({s.name: options[s.name] for s in SLOTS if options.get(s.name) is not None})
    return Profile.from_mapping(data, "--profile" if profile_file else "profile")


def force_option(fn: F) -> F:
    """``--force``: replace an existing output file that llmhw did not write."""
    return click.option("--force", is_flag=True, help="Replace an existing output file even if llmhw did not write it.")(fn)


def knowledge_files(dirs: tuple[str, ...]) -> list[Path]:
    """The files of the extra knowledge directories: inputs that no output may be written over."""
    from pathlib import Path

    return [p for d in dirs if Path(d).is_dir() for p in sorted(Path(d).glob("*.yaml"))]


def write_trace(path: str, result: Any, *, inputs: tuple[str | Path, ...] = (), force: bool = False, field: str = "--trace",
                sign_key: str | None = None) -> None:
    """Write the trace of an API result (never over one of ``inputs``, signed with ``sign_key``'s key if given)."""
    from .. import trace
    from ..trace.sign import read_key

    key = read_key(sign_key, "--sign") if sign_key else None
    trace.write(path, result, field=field, inputs=(*inputs, *([sign_key] if sign_key else [])), force=force, key=key)
