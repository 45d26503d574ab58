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
