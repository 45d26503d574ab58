"""The one explainer: how a conclusion of a trace was reached, as data that ``render`` lays out.

``llmhw explain FILE``, ``how`` in ``llmhw ask`` (``Consultation.how``) and the Python API all call
``explain(doc, conclusion)``. From a conclusion it walks back to the firing that declared its fact, then to
the facts that firing matched, down to the user's answers; each step names the rule's statement, its
sources, and the knowledge entries (model, hardware, precision, runtime) its fact refers to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError
from .document import events_of
from .events import TraceEvent
from .evidence import ENTRY_FIELDS


@dataclass(frozen=True)
class Step:
    """One node of a derivation tree: the event that declared a fact, and the steps behind its inputs."""

    fact: int
    event: TraceEvent | None  # None for a fact no rule declared (the user's answers)
    because: tuple[Step, ...] = field(default=())


def derivation(events: Sequence[TraceEvent], fact: int) -> Step:
    """The tree of rule firings that led to ``fact`` (shared sub-derivations appear once per path)."""
    by_output = {out: e for e in events for out in e.outputs}

    def walk(fid: int, seen: frozenset[int]) -> Step:
        event = by_output.get(fid)
        if event is None or fid in seen:
            return Step(fact=fid, event=event)
        return Step(fact=fid, event=event, because=tuple(walk(i, seen | {fid}) for i in event.inputs))

    return walk(fact, frozenset())


@dataclass(frozen=True)
class Entry:
    """A knowledge entry a step's fact names, with its sources (id and quality, when the trace knows it)."""

    label: str  # model, hardware, precision, runtime
    name: str
    file: str
    sources: tuple[tuple[str, str | None], ...]


@dataclass(frozen=True)
class Node:
    """One step of an explanation: a rule firing (its statement, sources and entries) or an input fact."""

    fact: int
    rule_id: str | None  # None: a fact no rule declared (your inputs, the question asked, the configuration named)
    text: str  # the rule's statement, or what the input fact holds
    sources: tuple[str, ...] = ()  # titles of the rule's sources
    entries: tuple[Entry, ...] = ()  # knowledge entries first named at this step
    because: tuple[Node, ...] = ()
    repeated: bool = False  # reached again by another path: named, not shown again


@dataclass(frozen=True)
class Explained:
    """One conclusion and the derivation behind it."""

    kind: str  # recommendation, fit, warning, tip, note
    key: str
    summary: str
    node: Node


@dataclass(frozen=True)
class Explanation:
    """What ``llmhw explain`` prints: the trace's header, each chosen conclusion's derivation, the sources cited."""

    command: str
    created: str
    version: str
    inputs: Mapping[str, Any]
    defaults: Mapping[str, Any]
    conclusions: tuple[Explained, ...]
    sources: tuple[tuple[str, str, str], ...]  # (id, title, url) of the knowledge entries' sources


def summary(kind: str, key: str, value: Mapping[str, Any]) -> str:
    """A conclusion in one line: a tier with its configuration, a fit, or a warning/tip/note with its message."""
    if kind == "recommendation":
        return f"{value.get('tier')}: {value.get('count')} x {value.get('hardware_name', value.get('hardware'))} at {value.get('precision')}"
    if kind == "fit":
        return f"{key}: {'fits' if value.get('fits') else 'does not fit'}" + (f" at {value['precision']}" if value.get("precision") else "")
    return f"{key}: {value.get('message', '')}"


def explain(doc: Mapping[str, Any], conclusion: str | None = None) -> Explanation:
    """Each conclusion's derivation, down to the inputs and the knowledge entries with their sources.

    :param conclusion: a conclusion key (tier, or warning/tip/note id), kind:key, or fact id; None explains them all.
    :raises InputError: no conclusion has that id (the field is ``--conclusion``).
    """
    chosen = list(doc["conclusions"])
    if conclusion is not None:
        want = conclusion.strip().lower()
        # A warning drawn twice is keyed "id", then "id#2": its id names both.
        chosen = [c for c in chosen if want in (c["key"].lower(), c["key"].split("#")[0].lower(), str(c["fact"]),
                                                f"{c['kind']}:{c['key']}".lower(), f"{c['kind']}:{c['key'].split('#')[0]}".lower())]
        if not chosen:
            keys = ", ".join(sorted({c["key"] for c in doc["conclusions"]}))
            raise InputError("--conclusion", f"no conclusion {conclusion[:80]!r} in this trace; it has: {keys}")
    events = events_of(doc)
    facts = {f["id"]: f for f in doc["facts"]}
    explained = tuple(Explained(c["kind"], c["key"], summary(c["kind"], c["key"], c["value"]),
                                _node(derivation(events, c["fact"]), doc, facts, set())) for c in chosen)
    known = doc["knowledge"]["sources"]
    cited = sorted({s for e in explained for s, _ in _entries_of(e.node) if s in known})
    return Explanation(command=doc["command"], created=doc["created"], version=doc["llmhw_version"], inputs=doc["inputs"],
                       defaults=doc["defaults"], conclusions=explained,
                       sources=tuple((s, known[s]["title"], known[s]["url"]) for s in cited))


def explain_rule(doc: Mapping[str, Any], rule_id: str) -> tuple[Explained, ...]:
    """The derivation of every fact a rule's firings declared: for a step that is not a conclusion (``MEM-need``)."""
    events = events_of(doc)
    facts = {f["id"]: f for f in doc["facts"]}
    return tuple(Explained("rule", e.rule_id, e.statement, _node(derivation(events, fact), doc, facts, set()))
                 for e in events if e.rule_id.lower() == rule_id.strip().lower() for fact in e.outputs)


def _entries_of(node: Node) -> list[tuple[str, str | None]]:
    return [s for e in node.entries for s in e.sources] + [s for child in node.because for s in _entries_of(child)]


def _node(step: Step, doc: Mapping[str, Any], facts: Mapping[int, Any], shown: set[Any]) -> Node:
    """A derivation step as a node; ``shown`` holds the facts and entries already shown in this conclusion."""
    fact = facts.get(step.fact)
    if step.event is None:
        return Node(fact=step.fact, rule_id=None, text=_input_text(fact, doc))
    if step.fact in shown:
        return Node(fact=step.fact, rule_id=step.event.rule_id, text=step.event.statement, repeated=True)
    shown.add(step.fact)
    titles = doc["knowledge"]["sources"]
    return Node(fact=step.fact, rule_id=step.event.rule_id, text=step.event.statement,
                sources=tuple(titles[s]["title"] if s in titles else s for s in step.event.sources),
                entries=_entries(fact, doc, shown), because=tuple(_node(child, doc, facts, shown) for child in step.because))


def _entries(fact: Mapping[str, Any] | None, doc: Mapping[str, Any], shown: set[Any]) -> tuple[Entry, ...]:
    """The knowledge entries a fact names, each once per conclusion."""
    if fact is None:
        return ()
    out = []
    entries, titles = doc["knowledge"]["entries"], doc["knowledge"]["sources"]
    for key, (_, _, label) in ENTRY_FIELDS.items():
        ref = f"{label}:{fact['fields'].get(key)}"
        if ref in entries and ref not in shown:
            shown.add(ref)
            e = entries[ref]
            out.append(Entry(label, e["name"], e["file"], tuple((s, titles[s]["quality"] if s in titles else None) for s in e["sources"])))
    return tuple(out)


def _input_text(fact: Mapping[str, Any] | None, doc: Mapping[str, Any]) -> str:
    if fact is None:
        return "your inputs and the defaults"
    kind = fact["type"]
    if kind == "Answers":
        given = ", ".join(f"{k}={v}" for k, v in sorted(doc["inputs"].items()))
        used = ", ".join(f"{k}={v}" for k, v in sorted(doc["defaults"].items()))
        return f"your inputs ({given or 'none'})" + (f" and the defaults ({used})" if used else "")
    if kind == "Mode":
        return f"the question asked: {fact['fields'].get('kind')}"
    if kind == "Proposal":
        return f"the configuration you named: {fact['fields'].get('count')} x {fact['fields'].get('hardware')}"
    return str(kind)
