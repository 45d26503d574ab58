"""Audit a trace document: replay its inputs through today's rules and knowledge, and compare.

``audit`` reruns the recorded inputs and compares everything the document claims with the replay (answer,
conclusions, facts, firings, knowledge entries and sources, rule list), and says whether the document can be
trusted (its signature when a key is given, its digest and hashes, its internal references, and whether
unchanged rules and knowledge reproduce it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..errors import InputError, KnowledgeError, TraceError
from . import sign
from .document import CONCLUSION_FACTS, document, reference_problems, rulebase_hash
from .evidence import knowledge_hashes


def replay(doc: Mapping[str, Any], knowledge_dirs: Sequence[str] | None = None) -> Any:
    """Run a trace's inputs through today's rules and knowledge: an ``Advice`` or a ``CheckResult``."""
    from .. import api

    dirs = list(doc["knowledge_dirs"] if knowledge_dirs is None else knowledge_dirs)
    if doc["command"] == "check":
        proposal = doc.get("proposal") or {}
        return api.check(doc["inputs"], proposal.get("hardware", ""), proposal.get("count", 1), knowledge_dirs=dirs)
    return api.advise(doc["inputs"], knowledge_dirs=dirs)


@dataclass(frozen=True)
class Audit:
    """What replaying a trace found.

    ``verdict`` is ``same`` (the replay reproduces everything the trace claims: exit 0), ``changed``
    (conclusions added, removed or changed, or another claim the replay does not reproduce: exit 1) or
    ``inconsistent`` (the document does not follow from its own inputs, its references, hashes or digest are
    broken, or its signature fails: not trusted, exit 1).
    """

    verdict: str
    differences: tuple[Mapping[str, Any], ...]
    parted_at: Mapping[str, Any] | None
    rulebase_changed: tuple[str, ...]
    knowledge_changed: tuple[str, ...]
    version: tuple[str, str]
    problems: tuple[str, ...]
    claims_changed: tuple[str, ...] = ()  # parts of the document (CLAIMS) today's replay does not reproduce
    signature: str = "not signed"  # valid | invalid | not checked (no key) | not signed

    @property
    def exit_code(self) -> int:
        return 0 if self.verdict == "same" else 1

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict, "differences": [dict(d) for d in self.differences],
                "parted_at": dict(self.parted_at) if self.parted_at else None,
                "rulebase_changed": list(self.rulebase_changed), "knowledge_changed": list(self.knowledge_changed),
                "version": {"trace": self.version[0], "today": self.version[1]}, "problems": list(self.problems),
                "claims_changed": list(self.claims_changed), "signature": self.signature}


# Everything a trace claims about its consultation, compared with the replay's (the rest says what ran, and when).
CLAIMS = ("inputs", "proposal", "defaults", "profile", "facts", "firings", "conclusions", "answer",
          "knowledge.entries", "knowledge.sources", "rulebase.rules")


def _claim(doc: Mapping[str, Any], name: str) -> Any:
    part, _, sub = name.partition(".")
    return doc[part][sub] if sub else doc[part]


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


def audit(doc: Mapping[str, Any], knowledge_dirs: Sequence[str] | None = None, key: bytes | None = None) -> Audit:
    """Replay a trace's inputs through today's rules and knowledge, and compare everything it claims.

    :param knowledge_dirs: where the extra knowledge directories are now (default: the paths the trace recorded).
    :param key: the secret key the trace was signed with (``--sign``); its signature is then checked.
    """
    from .. import __version__

    problems = reference_problems(doc)
    signature = "not checked (no key)" if "signature" in doc else "not signed"
    if key is not None:
        wrong = sign.check(doc, key)
        signature = "invalid" if wrong else "valid"
        if wrong:
            problems.insert(0, wrong)
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
        from ..api import catalog

        dirs = list(doc["knowledge_dirs"] if knowledge_dirs is None else knowledge_dirs)
        knowledge_now = knowledge_hashes(catalog(dirs).hashes, [str(d) for d in dirs])
    else:
        knowledge_now = fresh["knowledge"]["files"]
    knowledge_changed = _file_changes(doc["knowledge"]["files"], knowledge_now)
    same_basis = not rulebase_changed and not knowledge_changed and doc["llmhw_version"] == __version__
    differences: list[dict[str, Any]] = []
    parted = None
    claims: list[str] = []
    if fresh is None:
        differences.append({"change": "removed", "kind": "answer", "key": "all", "before": None, "after": None,
                            "fields": [], "reason": f"today the inputs are refused: {replay_error}"})
        if same_basis:
            problems.append(f"its inputs are refused by the same rulebase and knowledge that answered them: {replay_error}")
    else:
        differences = _differences(doc["conclusions"], fresh["conclusions"])
        parted = _parting(doc["firings"], fresh["firings"])
        claims = [name for name in CLAIMS if _claim(doc, name) != _claim(fresh, name)]
        if same_basis and claims:
            problems.append("with the same rulebase and knowledge, its inputs do not give its recorded "
                            + ", ".join(claims) + (f" (they part at firing #{parted['firing']})" if parted else ""))
    verdict = "inconsistent" if problems else "changed" if differences or claims else "same"
    return Audit(verdict=verdict, differences=tuple(differences), parted_at=parted, rulebase_changed=rulebase_changed,
                 knowledge_changed=knowledge_changed, version=(doc["llmhw_version"], __version__), problems=tuple(problems),
                 claims_changed=tuple(claims), signature=signature)
