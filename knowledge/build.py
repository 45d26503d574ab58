"""Typed entries from parsed YAML: each value checked against its schema field (type, range, choices, unit).

``build`` makes one catalog entry, ``build_policy`` the typed policy; an error names file, entry and key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar, Union

from ..errors import KnowledgeError
from .policy_schema import Policy, PolicyValue

T = TypeVar("T")

MAX_NUMBER = 1e18  # no catalog number comes near (the largest are bytes of memory and parameters, ~1e12); beyond overflows float


def short_repr(value: Any, limit: int = 60) -> str:
    """A repr for an error message, cut to ``limit`` characters (a value may be a megabyte string or a huge list)."""
    try:
        text = repr(value) if not isinstance(value, (list, dict)) or len(value) <= 20 else f"a {type(value).__name__} of {len(value)} items"
    except (ValueError, RecursionError):  # an int beyond str()'s digit limit, a structure nested too deeply
        text = f"a {type(value).__name__} too large to show"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _type_name(tp: Any) -> str:
    return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
        tp, getattr(tp, "__name__", str(tp))
    )


def _convert(value: Any, tp: Any, where: str, field: dataclasses.Field[Any]) -> Any:
    """Check one value against its declared type and metadata; return it converted."""
    origin = typing.get_origin(tp)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            return None
        return _convert(value, args[0], where, field)
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise KnowledgeError(f"{where}: expected a list, got {short_repr(value)}")
        items: tuple[Any, ...] = typing.get_args(tp)
        if origin is list or items[-1] is Ellipsis:
            items = (items[0],) * len(value)
        elif len(value) != len(items):
            raise KnowledgeError(f"{where}: expected a list of {len(items)} items, got {short_repr(value)}")
        return tuple(_convert(v, item_tp, f"{where}[{i}]", field) for i, (v, item_tp) in enumerate(zip(value, items, strict=True)))
    if origin is dict:
        if not isinstance(value, dict):
            raise KnowledgeError(f"{where}: expected a mapping, got {short_repr(value)}")
        key_tp, value_tp = typing.get_args(tp)
        return {_convert(k, key_tp, f"{where}, key {short_repr(k)}", field): _convert(v, value_tp, f"{where}[{short_repr(k)}]", field)
                for k, v in value.items()}
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise KnowledgeError(f"{where}: expected true or false, got {short_repr(value)}")
        return value
    if tp in (int, float):
        ok = isinstance(value, int) if tp is int else isinstance(value, (int, float))
        if isinstance(value, bool) or not ok or (isinstance(value, float) and not math.isfinite(value)):
            raise KnowledgeError(f"{where}: expected {_type_name(tp)}, got {short_repr(value)}")
        if abs(value) > MAX_NUMBER:
            raise KnowledgeError(f"{where}: expected {_type_name(tp)} of at most {MAX_NUMBER:.0e}, got a number that large")
        if field.metadata.get("positive") and value <= 0:
            raise KnowledgeError(f"{where}: expected a number above 0, got {short_repr(value)}")
        return tp(value)
    if tp is str:
        if not isinstance(value, str) or (field.metadata.get("required") and not value.strip()):
            raise KnowledgeError(f"{where}: expected a non-empty string, got {short_repr(value)}")
        choices = field.metadata.get("choices") or ()
        if choices and value not in choices:
            raise KnowledgeError(f"{where}: expected one of {', '.join(sorted(choices))}; got {short_repr(value)}")
        pattern = field.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            raise KnowledgeError(f"{where}: expected a date YYYY, YYYY-MM or YYYY-MM-DD, got {short_repr(value)}")
        return value
    raise TypeError(f"unsupported schema type {tp!r}")  # a schema bug, not a data error


@cache
def _schema_of(cls: Any) -> tuple[dict[str, dataclasses.Field[Any]], dict[str, Any]]:
    """A dataclass's fields and resolved type hints (resolving them per entry dominated catalog loading)."""
    return {f.name: f for f in dataclasses.fields(cls)}, typing.get_type_hints(cls)


def build(cls: type[T], raw: Any, where: str) -> T:
    """Build one dataclass entry from a mapping, naming ``where`` in every error."""
    label = where
    if not isinstance(raw, Mapping):
        raise KnowledgeError(f"{where}: expected a mapping, got {short_repr(raw)}")
    if isinstance(raw.get("id"), str):
        label = f"{where} {raw['id'][:80]!r}"
    fields, hints = _schema_of(typing.cast(Any, cls))
    unknown = sorted(set(map(str, raw)) - set(fields))
    if unknown:
        import difflib  # only to word an error

        near = difflib.get_close_matches(unknown[0], list(fields), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise KnowledgeError(f"{label}, key {unknown[0][:80]!r}: unknown key{hint}")
    values = {}
    for name, field in fields.items():
        if name not in raw:
            if field.metadata.get("required"):
                raise KnowledgeError(f"{label}, key '{name}': missing")
            continue
        values[name] = _convert(raw[name], hints[name], f"{label}, key '{name}'", field)
    return cls(**values)


def build_policy(entries: Mapping[str, PolicyValue], where: str = "policy.yaml") -> Policy:
    """The typed policy: every field of ``policy_schema.Policy`` from its entry, each value checked against the field's type."""
    fields, hints = _schema_of(Policy)
    ids = {name.replace("_", "-"): name for name in fields}
    unknown = sorted(set(entries) - set(ids))
    if unknown:
        import difflib  # only to word an error

        near = difflib.get_close_matches(unknown[0], list(ids), n=1)
        hint = f" (did you mean '{near[0]}'?)" if near else ""
        raise KnowledgeError(f"{where}: policy value {unknown[0][:80]!r}, key 'id': unknown entry{hint}")
    values = {}
    for entry_id, name in ids.items():
        if entry_id not in entries:
            raise KnowledgeError(f"{where}: policy value '{entry_id}': missing (policy_schema.Policy declares it)")
        values[name] = _convert(entries[entry_id].value, hints[name], f"{where}: policy value '{entry_id}', key 'value'", fields[name])
    return Policy(**values)


def policy_value(policy: Policy, entry_id: str) -> Any:
    """The typed value of the policy entry ``entry_id`` (a slot's documented default names its entry)."""
    return getattr(policy, entry_id.replace("-", "_"))
