"""Rule firings as data, the derivation of any conclusion back to the inputs, and the trace document.

``conclude()`` in the session appends one ``TraceEvent`` per declared fact. A
conclusion's derivation walks from the fact to the event that declared it, then
to the facts that event matched, down to the user's answers.

A trace document (``document``/``write``/``read``) records one consultation so it
can be explained and audited later (``audit.py``): the inputs, the defaults applied, every fact
with its values, every firing, the conclusions, the llmhw version and content
hashes of the rulebase and the knowledge base. Its JSON Schema is
``trace.schema.json`` next to this module; ``docs/trace.md`` describes it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

from .errors import InputError


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


def explain_lines(step: Step, sources: Mapping[str, Any], depth: int = 0, shown: set[Any] | None = None,
                  facts: Mapping[int, Mapping[str, Any]] | None = None, doc: Mapping[str, Any] | None = None) -> list[str]:
    """A derivation in plain language: each rule's statement, its sources, then what it rested on.

    A step reached again by another path is named, not repeated. Given a trace document's ``facts``
    (by id) and the ``doc``, the leaves name the inputs and defaults, and each step names the knowledge
    entries (model, hardware, precision, runtime) its fact refers to, with their sources.
    """
    shown = set() if shown is None else shown
    pad = "  " * depth
    fact = facts.get(step.fact) if facts is not None else None
    if step.event is None:
        if facts is None:
            return [f"{pad}- your inputs and the defaults (fact {step.fact})"]
        return [f"{pad}- {_input_line(fact, doc)} (fact {step.fact})"]
    if step.fact in shown:
        return [f"{pad}- [{step.event.rule_id}] (as above)"]
    shown.add(step.fact)
    cited = "; ".join(getattr(sources.get(s), "title", s) for s in step.event.sources)
    lines = [f"{pad}- [{step.event.rule_id}] {step.event.statement}", f"{pad}  sources: {cited}"]
    lines += _entry_lines(fact, doc, pad, shown)
    for child in step.because:
        lines += explain_lines(child, sources, depth + 1, shown, facts, doc)
    return lines


# ---------------------------------------------------------------------------
# The trace document: what a consultation was asked, how it was answered, and
# enough to check the answer again later (``llmhw explain``, ``llmhw audit``).
# ---------------------------------------------------------------------------

SCHEMA_VERSION = 1
FORMAT = "llmhw-trace"
SCHEMA_PATH = Path(__file__).resolve().with_name("trace.schema.json")
MAX_TRACE_BYTES = 20_000_000
INPUT_FACTS = ("InitialFact", "Answers", "Mode", "Proposal")  # declared by the session, not by a rule
CONCLUSION_FACTS = {"Recommendation": "recommendation", "Fit": "fit", "Warning": "warning", "Tip": "tip", "Note": "note"}
# Fact fields naming knowledge entries: field -> (Catalog attribute, file, label)
ENTRY_FIELDS = {"model": ("models", "models.yaml", "model"), "hardware": ("accelerators", "accelerators.yaml", "hardware"),
                "precision": ("precisions", "precisions.yaml", "precision"), "runtime": ("runtimes", "runtimes.yaml", "runtime")}
# What the rulebase hash covers: every rule module, and the engine modules whose code decides what the rules conclude.
ENGINE_MODULES = ("api.py", "facts.py", "planner.py", "profile.py", "session.py", "sizing.py", "units.py")


class TraceError(InputError):
    """A trace file that cannot be used: unreadable, not JSON, or not a valid trace document (the CLI exits 2)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__("trace", f"{where}: {message}")


@dataclass(frozen=True)
class Evidence:
    """What a consultation saw besides its firings: the inputs as given and every fact, with the knowledge hashes.

    The fact records, entries and sources are built only when a trace is written: most consultations never are.
    """

    command: str  # "recommend" or "check"
    inputs: Mapping[str, Any]  # the answers as given (before names are resolved); defaults are not in here
    proposal: Mapping[str, Any] | None  # {"hardware", "count"} for check
    knowledge_dirs: tuple[str, ...]  # absolute paths of the extra knowledge directories
    knowledge: Mapping[str, str]  # file -> SHA-256 (extra files as "extra[i]/name.yaml")
    raw_facts: tuple[Any, ...] = field(repr=False)  # the experta facts, in id order
    events: tuple[TraceEvent, ...] = field(repr=False)
    catalog: Any = field(repr=False)

    @cached_property
    def facts(self) -> tuple[Mapping[str, Any], ...]:
        """{"id", "type", "fields"} for every fact, in id order."""
        return tuple(fact_record(f) for f in self.raw_facts)

    @cached_property
    def entries(self) -> Mapping[str, Any]:
        """The knowledge entries the facts name, with their sources."""
        entries: dict[str, Any] = {}
        for rec in self.facts:
            for key, (attr, file, label) in ENTRY_FIELDS.items():
                value = rec["fields"].get(key)
                table = getattr(self.catalog, attr)
                if isinstance(value, str) and value in table and f"{label}:{value}" not in entries:
                    entry = table[value]
                    cited = list(getattr(entry, "sources", ())) + [p.source for p in getattr(entry, "prices", ())]
                    entries[f"{label}:{value}"] = {"kind": label, "id": value, "name": getattr(entry, "name", value),
                                                   "file": file, "sources": sorted(set(cited))}
        return dict(sorted(entries.items()))

    @cached_property
    def sources(self) -> Mapping[str, Any]:
        """The sources cited by rules and entries: id -> {title, url, quality}."""
        cited = {s for e in self.entries.values() for s in e["sources"]} | {s for e in self.events for s in e.sources}
        src = self.catalog.sources
        return {s: {"title": src[s].title, "url": src[s].url, "quality": src[s].quality} for s in sorted(cited) if s in src}


def fact_record(fact: Any) -> dict[str, Any]:
    """One experta fact as data: its id, type and fields (JSON-ready)."""
    fields = {str(k): v for k, v in fact.as_dict().items() if not str(k).startswith("__")}
    return {"id": fact.__factid__, "type": type(fact).__name__, "fields": plain(dict(sorted(fields.items())))}


def evidence(command: str, profile: Any, knowledge_dirs: Iterable[str], catalog: Any, facts: Iterable[Any],
             events: Sequence[TraceEvent], proposal: tuple[str, int] | None = None) -> Evidence:
    """Keep the evidence of one consultation (the API calls this; the records are built when a trace is written)."""
    from .profile import Profile

    dirs = tuple(str(d) for d in knowledge_dirs)
    return Evidence(
        command=command, inputs=Profile.from_mapping(profile).answers(),
        proposal={"hardware": proposal[0], "count": proposal[1]} if proposal else None,
        knowledge_dirs=tuple(str(Path(d).resolve()) for d in dirs), knowledge=knowledge_hashes(catalog.hashes, dirs),
        raw_facts=tuple(facts), events=tuple(events), catalog=catalog,
    )


def knowledge_hashes(hashes: Mapping[str, str], dirs: Sequence[str]) -> dict[str, str]:
    """``Catalog.hashes`` with extra files named by position ("extra[0]/models.yaml"), so a moved directory still compares."""
    out: dict[str, str] = {}
    for name, digest in hashes.items():
        label = name
        for i, d in enumerate(dirs):
            if Path(name).parent == Path(d):
                label = f"extra[{i}]/{Path(name).name}"
        out[label] = digest
    return dict(sorted(out.items()))


def rulebase_files() -> dict[str, Path]:
    """The files the rulebase hash covers: ``rules/*.py`` and the engine modules listed in ``ENGINE_MODULES``."""
    from . import rules

    rules_dir = Path(rules.__file__).resolve().parent
    engine_dir = Path(__file__).resolve().parent
    files = {f"rules/{p.name}": p for p in sorted(rules_dir.glob("*.py"))}
    files.update({f"engine/{n}": engine_dir / n for n in ENGINE_MODULES if (engine_dir / n).exists()})
    return dict(sorted(files.items()))


def rulebase_hash() -> dict[str, Any]:
    """SHA-256 of every rulebase file, and one SHA-256 over the sorted ``name NUL digest LF`` lines."""
    files = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in rulebase_files().items()}
    return {"sha256": _combined(files), "files": files}


def _combined(files: Mapping[str, str]) -> str:
    return hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in sorted(files.items())).encode()).hexdigest()


def _conclusions(result: Any, ev: Evidence) -> list[dict[str, Any]]:
    """Every conclusion fact with its key (tier, or the warning/tip/note id) and its value as the CLI shows it."""
    recs = {r["tier"]: r for r in getattr(result, "recommendations", ())}
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for f in ev.facts:
        kind = CONCLUSION_FACTS.get(f["type"])
        if kind is None:
            continue
        fields = f["fields"]
        key = str(fields.get("tier") if kind == "recommendation" else fields.get("hardware") if kind == "fit" else fields.get("id"))
        n = seen[(kind, key)] = seen.get((kind, key), 0) + 1
        if n > 1:
            key = f"{key}#{n}"
        if kind == "recommendation" and fields.get("tier") in recs:
            value: Any = recs[fields["tier"]]
        elif kind == "fit":
            value = dict(result.configuration)
        else:
            value = fields
        out.append({"kind": kind, "key": key, "fact": f["id"], "value": _json(value)})
    return sorted(out, key=lambda c: (list(CONCLUSION_FACTS.values()).index(c["kind"]), c["key"]))


def _json(value: Any) -> Any:
    """A JSON round trip: tuples become lists, keys strings, so a written and a fresh document compare equal."""
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def document(result: Any, created: str | None = None) -> dict[str, Any]:
    """The trace document of an ``Advice`` or ``CheckResult`` (see docs/trace.md and trace.schema.json)."""
    from . import __version__

    ev: Evidence | None = getattr(result, "evidence", None)
    if ev is None:
        raise ValueError("this result carries no evidence: make it with llmhw.advise() or llmhw.check()")
    events = list(result.trace)
    firings = []
    for e in events:
        firings.append({"seq": e.seq, "rule_id": e.rule_id, "rule_name": e.rule_name, "statement": e.statement,
                        "bindings": plain(e.bindings), "matched": list(e.inputs), "asserted": list(e.outputs),
                        "retracted": [], "sources": list(e.sources)})
    rulebase = rulebase_hash()
    doc = _json({
        "format": FORMAT, "schema_version": SCHEMA_VERSION, "llmhw_version": __version__,
        "created": created or datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "command": ev.command, "inputs": dict(ev.inputs), "proposal": ev.proposal, "knowledge_dirs": list(ev.knowledge_dirs),
        "defaults": dict(result.defaults_used), "profile": dict(result.profile),
        "rulebase": {"sha256": rulebase["sha256"], "files": rulebase["files"], "rules": sorted({e.rule_id for e in events})},
        "knowledge": {"sha256": _combined(ev.knowledge), "files": dict(ev.knowledge), "entries": dict(ev.entries),
                      "sources": dict(ev.sources)},
        "facts": list(ev.facts), "firings": firings, "conclusions": _conclusions(result, ev), "answer": result.to_dict(),
    })
    doc["digest"] = digest(doc)
    return doc


def digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON without ``created`` and ``digest``: any later edit changes it."""
    body = {k: v for k, v in doc.items() if k not in ("created", "digest")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def dumps(doc: Mapping[str, Any]) -> str:
    """The trace as written: sorted keys, two-space indent, a final newline (byte-identical for identical runs)."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(path: str | Path, result: Any, created: str | None = None) -> dict[str, Any]:
    """Write the trace of an ``Advice`` or ``CheckResult`` to ``path`` (validated first); return the document.

    ``llmhw recommend --trace FILE``, ``llmhw check --trace FILE`` and ``llmhw ask`` (on save) call this.
    """
    doc = document(result, created)
    validate(doc)  # a bug if it fails: the writer and the schema disagree
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(dumps(doc), encoding="utf-8")
    tmp.replace(target)
    return doc


def read(path: str | Path) -> dict[str, Any]:
    """Read and validate a trace file; raises ``TraceError`` (an ``InputError``) with one line naming the problem."""
    p = Path(path)
    try:
        if p.stat().st_size > MAX_TRACE_BYTES:
            raise TraceError(str(p), f"file is over the {MAX_TRACE_BYTES:,}-byte limit")
        text = p.read_text(encoding="utf-8")
    except TraceError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise TraceError(str(p), f"cannot read: {exc.__class__.__name__}: {exc}") from exc
    return loads(text, str(p))


def loads(text: str, where: str = "trace") -> dict[str, Any]:
    """Parse and validate a trace document from text."""
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:
        line = f" (line {exc.lineno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise TraceError(where, f"not valid JSON{line}") from exc
    problem = schema_problem(doc)
    if problem:
        raise TraceError(where, f"not a valid llmhw trace: {problem}")
    return doc


# --- validation against the published JSON Schema (a small validator for the keywords it uses) ---

_TYPES: dict[str, Any] = {"object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
                          "integer": int, "number": (int, float)}


def schema() -> dict[str, Any]:
    """The JSON Schema of the trace document (``trace.schema.json``, shipped with the package)."""
    return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))


def validate(doc: Any) -> None:
    """Raise ``TraceError`` if ``doc`` does not follow the schema."""
    problem = schema_problem(doc)
    if problem:
        raise TraceError("trace", problem)


def schema_problem(doc: Any) -> str | None:
    """The first way ``doc`` breaks the schema, or None.

    Understands the keywords the trace schema uses: type, const, enum, required, properties,
    additionalProperties, items, minimum, minLength, pattern, $ref to #/$defs. The tests check the
    same documents with the ``jsonschema`` package as well.
    """
    root = schema()

    def check(value: Any, sch: Mapping[str, Any], at: str) -> str | None:
        if "$ref" in sch:
            sch = root["$defs"][sch["$ref"].rsplit("/", 1)[-1]]
        if "type" in sch:
            types_ = sch["type"] if isinstance(sch["type"], list) else [sch["type"]]
            ok = any(isinstance(value, _TYPES[t]) and not (t in ("integer", "number") and isinstance(value, bool)) for t in types_)
            if not ok:
                return f"{at}: expected {' or '.join(types_)}, got {type(value).__name__}"
        if "const" in sch and value != sch["const"]:
            return f"{at}: expected {sch['const']!r}, got {value!r}"[:200]
        if "enum" in sch and value not in sch["enum"]:
            return f"{at}: expected one of {', '.join(map(str, sch['enum']))}, got {value!r}"[:200]
        if isinstance(value, (int, float)) and not isinstance(value, bool) and "minimum" in sch and value < sch["minimum"]:
            return f"{at}: expected at least {sch['minimum']}, got {value!r}"
        if isinstance(value, str):
            if len(value) < sch.get("minLength", 0):
                return f"{at}: expected a non-empty string"
            if "pattern" in sch and not re.search(sch["pattern"], value):
                return f"{at}: {value[:40]!r} does not match {sch['pattern']}"
        if isinstance(value, dict):
            for key in sch.get("required", ()):
                if key not in value:
                    return f"{at}: missing key '{key}'"
            props = sch.get("properties", {})
            extra = sch.get("additionalProperties", True)
            for key, item in value.items():
                if key in props:
                    problem = check(item, props[key], f"{at}.{key}")
                elif extra is False:
                    return f"{at}: unknown key '{key}'"
                elif isinstance(extra, dict):
                    problem = check(item, extra, f"{at}.{key}")
                else:
                    problem = None
                if problem:
                    return problem
        if isinstance(value, list) and "items" in sch:
            for i, item in enumerate(value):
                problem = check(item, sch["items"], f"{at}[{i}]")
                if problem:
                    return problem
        return None

    return check(doc, root, "$")


# --- internal consistency, explanation, replay and audit ---


def events_of(doc: Mapping[str, Any]) -> list[TraceEvent]:
    """The firings of a document as ``TraceEvent`` objects."""
    return [TraceEvent(seq=f["seq"], rule_id=f["rule_id"], rule_name=f["rule_name"], statement=f["statement"],
                       bindings=f["bindings"], inputs=tuple(f["matched"]), outputs=tuple(f["asserted"]),
                       sources=tuple(f["sources"])) for f in doc["firings"]]


def reference_problems(doc: Mapping[str, Any]) -> list[str]:
    """Broken internal references: what no honest run can produce, whatever the rulebase."""
    problems: list[str] = []
    if doc.get("digest") != digest(doc):
        problems.append("its content does not match its digest: the file was edited after it was written")
    facts = {f["id"]: f for f in doc["facts"]}
    if len(facts) != len(doc["facts"]):
        problems.append("two facts share an id")
    declared = {fid for fid, f in facts.items() if f["type"] in INPUT_FACTS}
    asserted_by: dict[int, int] = {}
    for i, firing in enumerate(doc["firings"]):
        if firing["seq"] != i + 1:
            problems.append(f"firing #{i + 1} is numbered {firing['seq']}")
        for fid in firing["matched"]:
            if fid not in declared:
                problems.append(f"firing #{i + 1} ({firing['rule_id']}) matched fact {fid}, which no input or earlier firing declared")
        for fid in firing["asserted"]:
            if fid not in facts:
                problems.append(f"firing #{i + 1} ({firing['rule_id']}) asserted fact {fid}, which is not among the facts")
            asserted_by[fid] = i + 1
            declared.add(fid)
        declared -= set(firing["retracted"])
    for fid, fact in facts.items():
        if fact["type"] not in INPUT_FACTS and fid not in asserted_by:
            problems.append(f"fact {fid} ({fact['type']}) was declared by no firing")
    for c in doc["conclusions"]:
        if c["fact"] not in asserted_by:
            problems.append(f"conclusion {c['kind']} {c['key']} rests on fact {c['fact']}, which no firing declared")
        elif CONCLUSION_FACTS.get(facts[c["fact"]]["type"]) != c["kind"]:
            problems.append(f"conclusion {c['kind']} {c['key']} points at a {facts[c['fact']]['type']} fact")
    return problems


def _input_line(fact: Mapping[str, Any] | None, doc: Mapping[str, Any] | None) -> str:
    if fact is None or doc is None:
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
    return kind


def _entry_lines(fact: Mapping[str, Any] | None, doc: Mapping[str, Any] | None, pad: str, shown: set[Any]) -> list[str]:
    """The knowledge entries a fact names, each once per explanation, with the titles of their sources."""
    if fact is None or doc is None:
        return []
    out = []
    entries, titles = doc["knowledge"]["entries"], doc["knowledge"]["sources"]
    for key, (_, _, label) in ENTRY_FIELDS.items():
        ref = f"{label}:{fact['fields'].get(key)}"
        if ref in entries and ref not in shown:
            shown.add(ref)
            e = entries[ref]
            cited = ", ".join(f"{s} ({titles[s]['quality']})" if s in titles else s for s in e["sources"])
            out.append(f"{pad}  knowledge: {label} {e['name']} ({e['file']}), sources: {cited}")
    return out
