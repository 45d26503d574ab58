"""Rule firings as data: one frozen ``TraceEvent`` per firing, written by ``conclude()`` in the session."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class TraceEvent:
    """One rule firing: what it matched, what it concluded, and why."""

    seq: int
    rule_id: str
    rule_name: str
    statement: str
    bindings: Mapping[str, Any]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    sources: tuple[str, ...]

    @classmethod
    def unrendered(cls, template: str, **fields: Any) -> TraceEvent:
        """An event whose ``statement`` is filled from ``template`` and its bindings when first read.

        Most consultations never show their trace, and filling every firing's statement was a twentieth of a warm
        consultation. The text is the one ``render_lenient(template, bindings)`` gives at any time: bindings are the
        rule's matched values (frozen by experta) and the values it concluded with, which no rule changes afterwards.
        """
        event = cls.__new__(cls)
        event.__dict__.update(fields, _template=template)  # what object.__setattr__ of each field would store
        return event

    def __getattr__(self, name: str) -> Any:
        # Called only for attributes not set: an unrendered event's statement, filled once and kept.
        template = self.__dict__.get("_template")
        if name != "statement" or template is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        from ..units import render_lenient

        text = render_lenient(template, self.bindings)
        object.__setattr__(self, "statement", text)
        return text

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["inputs"], out["outputs"], out["sources"] = list(self.inputs), list(self.outputs), list(self.sources)
        out["bindings"] = plain(self.bindings)
        return out


def plain(value: Any) -> Any:
    """A JSON-ready copy of a binding or fact value (experta freezes containers into its own types)."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, frozenset, set)):
        items = [plain(v) for v in value]
        return sorted(items, key=repr) if isinstance(value, (set, frozenset)) else items
    if isinstance(value, float):
        return round(value, 6)
    return value
