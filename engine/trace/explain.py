"""The one explainer: how a conclusion of a trace was reached, as data that ``render`` lays out.

``llmhw explain FILE``, ``how`` in ``llmhw ask`` (``Consultation.how``) and the Python API all call
``explain(doc, conclusion)``. From a conclusion it walks back to the firing that declared its fact, then to
the facts that firing matched, down to the user's answers; each step names the rule's statement, its
sources, and the knowledge entries (model, hardware, precision, runtime) its fact refers to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

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


def build_tree(root: Any, expand: Callable[[Any], Sequence[Any]], make: Callable[[Any, tuple[Any, ...]], Any]) -> Any:
    """Build a tree bottom-up without recursion, so a derivation thousands of steps deep explains like a short one.

    ``expand(item)`` lists an item's children; it is called in reading order (pre-order), so state it keeps
    (what was already shown) follows the order of the output. ``make(item, children)`` builds the node.
    """
    built: list[Any] = []
    stack: list[tuple[Any, int | None]] = [(root, None)]  # (item, number of children once expanded)
    while stack:
        item, count = stack.pop()
        if count is None:
            children = expand(item)
            stack.append((item, len(children)))
            stack.extend((child, None) for child in reversed(children))
        else:
            kids = tuple(built[len(built) - count:]) if count else ()
            del built[len(built) - count:]
            built.append(make(item, kids))
    return built[0]


def derivation(events: Sequence[TraceEvent], fact: int) -> Step:
    """The tree of rule firings that led to ``fact`` (shared sub-derivations appear once per path)."""
    by_output = {out: e for e in events for out in e.outputs}

    def expand(item: tuple[int, float]) -> list[tuple[int, float]]:
        fid, matched_at = item  # the firing that matched this fact: the one that declared it must come before
        event = by_output.get(fid)
        if event is None or event.seq >= matched_at:  # an input fact, or a forged trace's loop: the walk stops
            return []
        return [(i, event.seq) for i in event.inputs]

    return cast(Step, build_tree((fact, math.inf), expand,
                                 lambda item, kids: Step(fact=item[0], event=by_output.get(item[0]), because=kids)))


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
    if kind == "launch":  # a tier's (or the proposal's) launch plan: its first command, else what starts it
        commands = value.get("plan", {}).get("commands") or [value.get("plan", {}).get("note", "")]
        return f"{key}: {commands[0]}"
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
        # A launch plan shares its tier's key: a bare tier names the recommendation, `launch:<tier>` the plan.
        chosen = [c for c in chosen if want in ((c["key"].lower(), c["key"].split("#")[0].lower()) if c["kind"] != "launch" else ())
                  + (str(c["fact"]), f"{c['kind']}:{c['key']}".lower(), f"{c['kind']}:{c['key'].split('#')[0]}".lower())]
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
    out: list[tuple[str, str | None]] = []
    stack = [node]
    while stack:
        n = stack.pop()
        out += [s for e in n.entries for s in e.sources]
        stack.extend(n.because)
    return out


def _node(step: Step, doc: Mapping[str, Any], facts: Mapping[int, Any], shown: set[Any]) -> Node:
    """A derivation as nodes; ``shown`` holds the facts and entries already shown in this conclusion."""
    titles = doc["knowledge"]["sources"]
    first: dict[int, tuple[Entry, ...]] = {}  # id(step) -> its entries, for the steps shown in full

    def expand(s: Step) -> tuple[Step, ...]:
        if s.event is None or s.fact in shown:
            return ()
        shown.add(s.fact)
        first[id(s)] = _entries(facts.get(s.fact), doc, shown)
        return s.because

    def make(s: Step, because: tuple[Node, ...]) -> Node:
        if s.event is None:
            return Node(fact=s.fact, rule_id=None, text=_input_text(facts.get(s.fact), doc))
        if id(s) not in first:
            return Node(fact=s.fact, rule_id=s.event.rule_id, text=s.event.statement, repeated=True)
        return Node(fact=s.fact, rule_id=s.event.rule_id, text=s.event.statement,
                    sources=tuple(titles[x]["title"] if x in titles else x for x in s.event.sources),
                    entries=first[id(s)], because=because)

    return cast(Node, build_tree(step, expand, make))


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
