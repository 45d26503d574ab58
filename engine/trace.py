"""Rule firings as data, and the derivation of any conclusion back to the inputs.

``conclude()`` in the session appends one ``TraceEvent`` per declared fact. A
conclusion's derivation walks from the fact to the event that declared it, then
to the facts that event matched, down to the user's answers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Optional, Sequence


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
        out["bindings"] = dict(self.bindings)
        return out


@dataclass(frozen=True)
class Step:
    """One node of a derivation tree: the event that declared a fact, and the steps behind its inputs."""

    fact: int
    event: Optional[TraceEvent]  # None for a fact no rule declared (the user's answers)
    because: tuple["Step", ...] = field(default=())


def derivation(events: Sequence[TraceEvent], fact: int) -> Step:
    """The tree of rule firings that led to ``fact`` (shared sub-derivations appear once per path)."""
    by_output = {out: e for e in events for out in e.outputs}

    def walk(fid: int, seen: frozenset[int]) -> Step:
        event = by_output.get(fid)
        if event is None or fid in seen:
            return Step(fact=fid, event=event)
        return Step(fact=fid, event=event, because=tuple(walk(i, seen | {fid}) for i in event.inputs))

    return walk(fact, frozenset())


def explain_lines(step: Step, sources: Mapping[str, Any], depth: int = 0, shown: Optional[set[int]] = None) -> list[str]:
    """A derivation in plain language: each rule's statement, its sources, then what it rested on.

    A step reached again by another path is named, not repeated.
    """
    shown = set() if shown is None else shown
    pad = "  " * depth
    if step.event is None:
        return [f"{pad}- your inputs and the defaults (fact {step.fact})"]
    if step.fact in shown:
        return [f"{pad}- [{step.event.rule_id}] (as above)"]
    shown.add(step.fact)
    cited = "; ".join(getattr(sources.get(s), "title", s) for s in step.event.sources)
    lines = [f"{pad}- [{step.event.rule_id}] {step.event.statement}", f"{pad}  sources: {cited}"]
    for child in step.because:
        lines += explain_lines(child, sources, depth + 1, shown)
    return lines
