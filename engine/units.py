"""How numbers are shown: one place for units, so every output says GB (1e9 bytes) the same way.

Rule messages and statements are templates over raw numbers; a unit format spec names the
helper that shows one (``{saving_usd:usd}``, ``{need_bytes:gb}``, ``{idle:pct}``,
``{speed:rate}``, ``{params:params}``, ``{load_s:min}``), so the numbers stay numbers in the
trace and are turned into text in exactly one place.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

GB = 1e9  # decimal gigabyte: what vendors print on memory and what every llmhw output uses
GIB = 2**30


def gb(n_bytes: float | None, digits: int = 1) -> str:
    """Bytes as GB (1e9 bytes)."""
    return "?" if n_bytes is None else f"{n_bytes / GB:,.{digits}f} GB"


def usd(amount: float | None) -> str:
    """An amount in US dollars, rounded to a sensible precision."""
    if amount is None:
        return "price unknown"
    return f"{amount:,.2f} USD" if amount < 100 else f"{amount:,.0f} USD"


def rate(tokens_per_s: float | None) -> str:
    return "?" if tokens_per_s is None else f"{tokens_per_s:,.1f} tok/s" if tokens_per_s < 100 else f"{tokens_per_s:,.0f} tok/s"


def pct(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


def params(n: int) -> str:
    return f"{n / 1e9:,.1f} B" if n >= 1e9 else f"{n / 1e6:,.0f} M"


def minutes(seconds: float) -> str:
    """A duration given in seconds, shown in minutes."""
    return f"{seconds / SECONDS_PER_MINUTE:,.1f} min"


SECONDS_PER_MINUTE = 60
MINUTES_FROM_S = 2 * SECONDS_PER_MINUTE  # waits of two minutes and more read better in minutes


def wait(seconds: float) -> str:
    """A wait a user sits through: seconds, or minutes from two minutes on."""
    return minutes(seconds) if seconds >= MINUTES_FROM_S else f"{seconds:,.0f} s"


def known(value: Any) -> str:
    """A catalog number that may be missing (``None`` shows as ``?``)."""
    return "?" if value is None else str(value)


# The unit format specs of message templates. ``gb`` takes a digit count: ``{claim_bytes:gb0}`` shows "64 GB".
UNITS: Mapping[str, Callable[..., str]] = {
    "gb": gb, "usd": usd, "rate": rate, "pct": pct, "params": params, "min": minutes, "wait": wait, "known": known,
}


def unit_spec(spec: str, units: Mapping[str, Callable[..., str]] = UNITS) -> tuple[str, str]:
    """A format spec split into a unit name and its digits (``gb0`` -> ``gb``, ``0``); ``("", spec)`` if not a unit."""
    name = spec.rstrip("0123456789")
    return (name, spec[len(name):]) if name in units else ("", spec)


class _Placeholder:
    """A field with no binding: shown as its own ``{name}`` whatever its spec (lenient statements only)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __format__(self, spec: str) -> str:
        return "{" + self.name + "}"


@lru_cache(maxsize=4096)
def _parsed(template: str) -> tuple[tuple[str, str | None, str | None, str | None], ...]:
    return tuple(string.Formatter().parse(template))


@lru_cache(maxsize=4096)
def _plain(template: str) -> bool:
    """Whether every field of a template is a plain name with a literal spec (``{need_bytes:gb}``, not ``{a.b}``)."""
    return all(name is None or (name.isidentifier() and not any(c in (spec or "") for c in "{}"))
               for _, name, spec, _ in _parsed(template))


class UnitFormatter(string.Formatter):
    """``str.format`` with unit specs; ``strict=False`` leaves unbound fields and odd values visible instead of failing."""

    def __init__(self, units: Mapping[str, Callable[..., str]] = UNITS, strict: bool = True) -> None:
        self.units = units
        self.strict = strict

    def parse(self, format_string: str) -> Iterable[tuple[str, str | None, str | None, str | None]]:
        return _parsed(format_string)  # a few hundred templates, each parsed once instead of at every rendering

    def vformat(self, format_string: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
        """``string.Formatter.vformat``, without its general machinery for templates whose fields are plain names.

        The same calls in the same order (get_value, convert_field, format_field), so the same text; a template with
        attribute or index fields, positional fields or nested specs takes the general path.
        """
        if args or not _plain(format_string):
            return super().vformat(format_string, args, kwargs)
        out = []
        for literal, name, spec, conversion in _parsed(format_string):
            out.append(literal)
            if name is not None:
                out.append(self.format_field(self.convert_field(self.get_value(name, args, kwargs), conversion), spec or ""))
        return "".join(out)

    def get_value(self, key: int | str, args: Any, kwargs: Mapping[str, Any]) -> Any:
        if self.strict or key in kwargs:
            return super().get_value(key, args, kwargs)
        return _Placeholder(str(key))

    def format_field(self, value: Any, format_spec: str) -> str:
        unit, digits = unit_spec(format_spec, self.units)
        try:
            if unit and not isinstance(value, _Placeholder):
                return self.units[unit](value, *([int(digits)] if digits else []))
            return str(super().format_field(value, format_spec))
        except (ValueError, TypeError):
            if self.strict:
                raise
            return str(value)


class Phrase(str):
    """A part of a message that has more than one wording (an alternative, or its absence), rendered from its own
    template and values; it keeps both, so a test can change one of its numbers and render it again."""

    template: str
    values: Mapping[str, Any]

    def __new__(cls, template: str, **values: Any) -> Phrase:
        phrase = super().__new__(cls, render(template, values))
        phrase.template, phrase.values = template, values
        return phrase


MESSAGES = UnitFormatter()
STATEMENTS = UnitFormatter(strict=False)


def render(template: str, values: Mapping[str, Any]) -> str:
    """A message template filled from a rule's bindings: every field must be bound (a missing one is a rule bug)."""
    return MESSAGES.vformat(template, (), values)


def render_lenient(template: str, values: Mapping[str, Any]) -> str:
    """A statement for the trace: fields without a binding stay visible as ``{name}``."""
    return STATEMENTS.vformat(template, (), values)


def layout_brief(layout: Mapping[str, Any] | None, count: int, lead: str, training: bool = False) -> str:
    """How several devices split the work, in a few words after ``lead`` ("TP 8 x PP 2 on 2 nodes", "4 replicas of
    TP 2", "DP attention 8 x EP 8"; training: "DP 4", ZeRO's data-parallel ranks); nothing for one device."""
    if not layout or count < 2:
        return ""
    if layout.get("dp_attention"):
        text = f"DP attention {layout['data_parallel']} x EP {layout['expert_parallel']}"
        return lead + text + (f" on {layout['nodes']} nodes" if layout["nodes"] > 1 else "")
    split = " x ".join(f"{k} {layout[f]}" for k, f in (("TP", "tensor_parallel"), ("PP", "pipeline_parallel"))
                       if layout[f] > 1)
    dp = layout["data_parallel"]
    text = (f"{dp} replicas" + (f" of {split}" if split else "")) if dp > 1 and not training else split or f"DP {dp}"
    return lead + text + (f" on {layout['nodes']} nodes" if layout["nodes"] > 1 else "")
