"""Explain and audit a trace document: the derivation of each conclusion, and a replay through today's rules.

``explain`` prints each conclusion's chain of rule firings down to the inputs and knowledge entries;
``audit`` reruns the recorded inputs and compares conclusions, and says whether the document can be trusted
(its digest, its internal references, and whether unchanged rules and knowledge reproduce it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import InputError, KnowledgeError
from .trace import (
    CONCLUSION_FACTS,
    TraceError,
    derivation,
    document,
    events_of,
    explain_lines,
    knowledge_hashes,
    reference_problems,
    rulebase_hash,
)


def _summary(c: Mapping[str, Any]) -> str:
    v = c["value"]
    if c["kind"] == "recommendation":
        return f"{v.get('tier')}: {v.get('count')} x {v.get('hardware_name', v.get('hardware'))} at {v.get('precision')}"
    if c["kind"] == "fit":
        return f"{c['key']}: {'fits' if v.get('fits') else 'does not fit'}" + (f" at {v['precision']}" if v.get("precision") else "")
    return f"{c['key']}: {v.get('message', '')}"


def explain(doc: Mapping[str, Any], conclusion: str | None = None) -> list[str]:
    """Each conclusion's derivation in plain language, down to the inputs and the knowledge entries with their sources.

    :param conclusion: a conclusion key (tier, or warning/tip/note id), kind:key, or fact id; None explains them all.
    :raises TraceError: no conclusion has that id.
    """
    chosen = list(doc["conclusions"])
    if conclusion is not None:
        want = conclusion.strip().lower()
        chosen = [c for c in chosen if want in (c["key"].lower(), f"{c['kind']}:{c['key']}".lower(), str(c["fact"]))]
        if not chosen:
            keys = ", ".join(sorted({c["key"] for c in doc["conclusions"]}))
            raise InputError("--conclusion", f"no conclusion {conclusion[:80]!r} in this trace; it has: {keys}")
    events = events_of(doc)
    facts = {f["id"]: f for f in doc["facts"]}
    sources = {k: _Titled(v.get("title", k)) for k, v in doc["knowledge"]["sources"].items()}
    lines = [f"Trace of `llmhw {doc['command']}` written {doc['created']} by llmhw {doc['llmhw_version']}."]
    given = ", ".join(f"{k}={v}" for k, v in sorted(doc["inputs"].items())) or "none"
    used = ", ".join(f"{k}={v}" for k, v in sorted(doc["defaults"].items())) or "none"
    lines += [f"Your inputs: {given}", f"Defaults applied: {used}"]
    for c in chosen:
        lines += ["", f"{c['kind'].capitalize()} {_summary(c)}"]
        lines += explain_lines(derivation(events, c["fact"]), sources, depth=1, facts=facts, doc=doc)
    cited = sorted({s for line in lines if "knowledge: " in line for s in doc["knowledge"]["sources"] if f" {s} (" in line})
    if cited:
        lines += ["", "Knowledge sources:"]
        lines += [f"  {s}: {doc['knowledge']['sources'][s]['title']} <{doc['knowledge']['sources'][s]['url']}>" for s in cited]
    return lines


@dataclass(frozen=True)
class _Titled:
    title: str


def replay(doc: Mapping[str, Any], knowledge_dirs: Sequence[str] | None = None) -> Any:
    """Run a trace's inputs through today's rules and knowledge: an ``Advice`` or a ``CheckResult``."""
    from . import api

    dirs = list(doc["knowledge_dirs"] if knowledge_dirs is None else knowledge_dirs)
    if doc["command"] == "check":
        proposal = doc.get("proposal") or {}
        return api.check(doc["inputs"], proposal.get("hardware", ""), proposal.get("count", 1), knowledge_dirs=dirs)
    return api.advise(doc["inputs"], knowledge_dirs=dirs)


@dataclass(frozen=True)
class Audit:
    """What replaying a trace found.

    ``verdict`` is ``same`` (the same conclusions: exit 0), ``changed`` (conclusions added, removed or
    changed: exit 1) or ``inconsistent`` (the document does not follow from its own inputs, or its
    references or digest are broken: not trusted, exit 1).
    """

    verdict: str
    differences: tuple[Mapping[str, Any], ...]
    parted_at: Mapping[str, Any] | None
    rulebase_changed: tuple[str, ...]
    knowledge_changed: tuple[str, ...]
    version: tuple[str, str]
    problems: tuple[str, ...]

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "same" else 1

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "differences": [dict(d) for d in self.differences],
                "parted_at": dict(self.parted_at) if self.parted_at else None,
                "rulebase_changed": list(self.rulebase_changed), "knowledge_changed": list(self.knowledge_changed),
                "version": {"trace": self.version[0], "today": self.version[1]}, "problems": list(self.problems)}

    def lines(self) -> list[str]:
        out = []
        if self.verdict == "inconsistent":
            out.append("INCONSISTENT: this trace is not trusted.")
            out += [f"  - {p}" for p in self.problems]
        elif self.verdict == "same":
            out.append("Same conclusions as the trace.")
        else:
            out.append(f"Conclusions changed: {len(self.differences)} difference(s).")
        for d in self.differences:
            what = f"{d['change']} {d['kind']} {d['key']}"
            if d.get("reason"):
                what = d["reason"]
            elif d["change"] == "changed":
                what += f" (changed: {', '.join(d['fields'])})"
            elif d["change"] == "added":
                what += f": {_summary({'kind': d['kind'], 'key': d['key'], 'value': d['after']})}"
            else:
                what += f": {_summary({'kind': d['kind'], 'key': d['key'], 'value': d['before']})}"
            out.append(f"  - {what}")
        if self.parted_at:
            p = self.parted_at
            was = f"[{p['recorded']['rule_id']}] {p['recorded']['statement']}" if p["recorded"] else "(no more firings)"
            now = f"[{p['replayed']['rule_id']}] {p['replayed']['statement']}" if p["replayed"] else "(no more firings)"
            out += [f"The runs part at firing #{p['firing']}:", f"  trace: {was}", f"  today: {now}"]
        out.append("Rulebase: " + (f"changed since the trace was written ({', '.join(self.rulebase_changed)})"
                                   if self.rulebase_changed else "unchanged since the trace was written"))
        out.append("Knowledge: " + (f"changed since the trace was written ({', '.join(self.knowledge_changed)})"
                                    if self.knowledge_changed else "unchanged since the trace was written"))
        if self.version[0] != self.version[1]:
            out.append(f"llmhw version: {self.version[0]} when written, {self.version[1]} today")
        return out


def _file_changes(before: Mapping[str, str], after: Mapping[str, str]) -> tuple[str, ...]:
    out = []
    for name in sorted(set(before) | set(after)):
        if name not in after:
            out.append(f"{name} removed")
        elif name not in before:
            out.append(f"{name} added")
        elif before[name] != after[name]:
            out.append(f"{name} changed")
    return tuple(out)


def _differences(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    old = {(c["kind"], c["key"]): c["value"] for c in before}
    new = {(c["kind"], c["key"]): c["value"] for c in after}
    order = list(CONCLUSION_FACTS.values())
    out = []
    for kind, key in sorted(set(old) | set(new), key=lambda k: (order.index(k[0]) if k[0] in order else 99, k[1])):
        a, b = old.get((kind, key)), new.get((kind, key))
        if a == b:
            continue
        change = "added" if a is None else "removed" if b is None else "changed"
        fields: list[str] = []
        if change == "changed":
            if isinstance(a, dict) and isinstance(b, dict):
                fields = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            else:
                fields = ["value"]
        out.append({"change": change, "kind": kind, "key": key, "before": a, "after": b, "fields": fields})
    return out


def _parting(before: Sequence[Mapping[str, Any]], after: Sequence[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The first firing (1-based) whose rule or statement differs between the two runs."""
    def brief(f: Mapping[str, Any] | None) -> dict[str, Any] | None:
        return {"rule_id": f["rule_id"], "statement": f["statement"]} if f else None

    for i in range(max(len(before), len(after))):
        a = before[i] if i < len(before) else None
        b = after[i] if i < len(after) else None
        if a is None or b is None or (a["rule_id"], a["statement"]) != (b["rule_id"], b["statement"]):
            return {"firing": i + 1, "recorded": brief(a), "replayed": brief(b)}
    return None


def audit(doc: Mapping[str, Any], knowledge_dirs: Sequence[str] | None = None) -> Audit:
    """Replay a trace's inputs through today's rules and knowledge, and compare.

    :param knowledge_dirs: where the extra knowledge directories are now (default: the paths the trace recorded).
    """
    from . import __version__

    problems = reference_problems(doc)
    rules_now = rulebase_hash()["files"]
    rulebase_changed = _file_changes(doc["rulebase"]["files"], rules_now)
    try:
        fresh: dict[str, Any] | None = document(replay(doc, knowledge_dirs), created=doc["created"])
        replay_error = None
    except InputError as exc:
        fresh, replay_error = None, str(exc)
    except KnowledgeError as exc:
        raise TraceError("knowledge", f"cannot load the knowledge the trace was written with ({exc}); "
                                      "pass --knowledge DIR for each extra directory") from exc
    if fresh is None:
        from .api import catalog

        dirs = list(doc["knowledge_dirs"] if knowledge_dirs is None else knowledge_dirs)
        knowledge_now = knowledge_hashes(catalog(dirs).hashes, [str(d) for d in dirs])
    else:
        knowledge_now = fresh["knowledge"]["files"]
    knowledge_changed = _file_changes(doc["knowledge"]["files"], knowledge_now)
    same_basis = not rulebase_changed and not knowledge_changed and doc["llmhw_version"] == __version__
    differences: list[dict[str, Any]] = []
    parted = None
    if fresh is None:
        differences.append({"change": "removed", "kind": "answer", "key": "all", "before": None, "after": None,
                            "fields": [], "reason": f"today the inputs are refused: {replay_error}"})
        if same_basis:
            problems.append(f"its inputs are refused by the same rulebase and knowledge that answered them: {replay_error}")
    else:
        differences = _differences(doc["conclusions"], fresh["conclusions"])
        parted = _parting(doc["firings"], fresh["firings"])
        if same_basis:
            parts = [k for k in ("inputs", "defaults", "profile", "facts", "firings", "conclusions", "answer") if doc[k] != fresh[k]]
            if parts:
                problems.append("with the same rulebase and knowledge, its inputs do not give its recorded "
                                + ", ".join(parts) + (f" (they part at firing #{parted['firing']})" if parted else ""))
    verdict = "inconsistent" if problems else "changed" if differences else "same"
    return Audit(verdict=verdict, differences=tuple(differences), parted_at=parted, rulebase_changed=rulebase_changed,
                 knowledge_changed=knowledge_changed, version=(doc["llmhw_version"], __version__), problems=tuple(problems))
