"""The trace document: what a consultation was asked, how it was answered, and enough to check it again later.

``document(result)`` builds it from an ``Advice`` or ``CheckResult``; ``write``/``read`` store and load it
(validated against ``trace.schema.json``, shipped with the package, by the ``jsonschema`` library);
``digest`` and ``rulebase_hash`` are the hashes that make it reproducible; ``reference_problems`` finds
broken internal references. ``docs/trace.md`` describes the format.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from functools import lru_cache
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from .. import safe_write
from ..errors import TraceError
from . import sign
from .events import TraceEvent, plain
from .evidence import Evidence

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError

SCHEMA_VERSION = 1
FORMAT = "llmhw-trace"
MAX_TRACE_BYTES = 20_000_000
IS_TRACE = safe_write.starts_with(b'{\n  "answer": ')  # what dumps() writes first (sorted keys): a trace may replace a trace
INPUT_FACTS = ("InitialFact", "Answers", "Mode", "Proposal")  # declared by the session, not by a rule
CONCLUSION_FACTS = {"Recommendation": "recommendation", "Fit": "fit", "Warning": "warning", "Tip": "tip", "Note": "note",
                    "Launch": "launch"}
# What the rulebase hash covers: every rule module, and the engine modules whose code decides what the rules conclude.
# (patterns under engine/: the planner and the launch plans are packages)
ENGINE_MODULES = ("api.py", "consult.py", "facts.py", "host_sizing.py", "hybrid.py", "money.py", "profile.py", "rete/*.py",
                  "scaleout.py", "session.py", "sizing.py", "training_sizing.py", "units.py", "launch/*.py", "planner/*.py")


def rulebase_files() -> dict[str, Path]:
    """The files the rulebase hash covers: ``rules/*.py`` and the engine modules listed in ``ENGINE_MODULES``."""
    from .. import rules

    rules_dir = Path(rules.__file__).resolve().parent
    engine_dir = Path(__file__).resolve().parent.parent
    found = {f"rules/{p.name}": p for p in sorted(rules_dir.glob("*.py"))}
    found.update({f"engine/{p.relative_to(engine_dir).as_posix()}": p for pattern in ENGINE_MODULES for p in sorted(engine_dir.glob(pattern))})
    return dict(sorted(found.items()))


def rulebase_hash() -> dict[str, Any]:
    """SHA-256 of every rulebase file, and one SHA-256 over the sorted ``name NUL digest LF`` lines."""
    hashes = {name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in rulebase_files().items()}
    return {"sha256": combined(hashes), "files": hashes}


def combined(hashes: Mapping[str, str]) -> str:
    """One SHA-256 over a set of file digests."""
    return hashlib.sha256("".join(f"{k}\0{v}\n" for k, v in sorted(hashes.items())).encode()).hexdigest()


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
        key = str(fields.get("tier") if kind in ("recommendation", "launch") else fields.get("hardware") if kind == "fit" else fields.get("id"))
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
    from .. import __version__

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
    doc: dict[str, Any] = _json({
        "format": FORMAT, "schema_version": SCHEMA_VERSION, "llmhw_version": __version__,
        "created": created or datetime.now(timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "command": ev.command, "inputs": dict(ev.inputs), "proposal": ev.proposal, "knowledge_dirs": list(ev.knowledge_dirs),
        "defaults": dict(result.defaults_used), "profile": dict(result.profile),
        "rulebase": {"sha256": rulebase["sha256"], "files": rulebase["files"], "rules": sorted({e.rule_id for e in events})},
        "knowledge": {"sha256": combined(ev.knowledge), "files": dict(ev.knowledge), "entries": dict(ev.entries),
                      "sources": dict(ev.sources)},
        "facts": list(ev.facts), "firings": firings, "conclusions": _conclusions(result, ev), "answer": result.to_dict(),
    })
    doc["digest"] = digest(doc)
    return doc


def digest(doc: Mapping[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON without ``created``, ``digest`` and ``signature``: any later edit changes it."""
    body = {k: v for k, v in doc.items() if k not in ("created", "digest", "signature")}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()


def dumps(doc: Mapping[str, Any]) -> str:
    """The trace as written: sorted keys, two-space indent, a final newline (byte-identical for identical runs)."""
    return json.dumps(doc, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def write(path: str | Path, result: Any, created: str | None = None, *, field: str = "--trace",
          inputs: Iterable[str | Path] = (), force: bool = False, key: bytes | None = None) -> dict[str, Any]:
    """Write the trace of an ``Advice`` or ``CheckResult`` to ``path`` (validated first); return the document.

    ``llmhw recommend --trace FILE``, ``llmhw check --trace FILE`` and ``llmhw ask`` (on save) call this.
    The write goes through ``llmhw.safe_write``: it never replaces an input, a device or a file that is not a
    trace (unless ``force``), and a failed write leaves the previous file as it was. With ``key``, the document
    is signed (``llmhw.trace.sign``).
    """
    doc = document(result, created)
    if key is not None:
        doc["signature"] = sign.signature(doc, key)
    validate(doc)  # a bug if it fails: the writer and the schema disagree
    safe_write.write_text(path, dumps(doc), field, inputs=inputs, ours=IS_TRACE, force=force)
    return doc


def read(path: str | Path) -> dict[str, Any]:
    """Read and validate a trace file; raises ``TraceError`` (an ``InputError``) with one line naming the problem."""
    where = str(path)
    data = safe_write.read_regular(path, MAX_TRACE_BYTES, lambda problem: TraceError(where, problem))
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise TraceError(where, f"cannot read: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    return loads(text, where)


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
    return cast(dict[str, Any], doc)


# --- validation against the published JSON Schema ---


def schema() -> dict[str, Any]:
    """The JSON Schema of the trace document (``trace.schema.json``, shipped with the package)."""
    return cast(dict[str, Any], json.loads(files("llmhw").joinpath("trace.schema.json").read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    import jsonschema  # on first use: most consultations never read or write a trace

    return jsonschema.Draft202012Validator(schema())


def validate(doc: Any) -> None:
    """Raise ``TraceError`` if ``doc`` does not follow the schema."""
    problem = schema_problem(doc)
    if problem:
        raise TraceError("trace", problem)


def schema_problem(doc: Any) -> str | None:
    """The most relevant way ``doc`` breaks the schema, as one line naming where (``$.firings[0].seq``), or None."""
    from jsonschema.exceptions import best_match

    try:
        error = best_match(_validator().iter_errors(doc))
    except RecursionError:
        return "$: nested too deeply"
    return None if error is None else f"{error.json_path}: {_said(error)}"


def _said(error: ValidationError) -> str:
    """A validation error in the words of llmhw's other messages: expected X, got Y."""
    value: Any = error.instance
    expected: Any = error.validator_value
    schema_at: Any = error.schema
    if error.validator == "type":
        types = expected if isinstance(expected, list) else [expected]
        return f"expected {' or '.join(types)}, got {type(value).__name__}"
    if error.validator == "required":
        missing = [k for k in expected if k not in value]
        return f"missing key '{missing[0]}'"
    if error.validator == "additionalProperties":
        unknown = sorted(k for k in value if k not in schema_at.get("properties", {}))
        return f"unknown key '{unknown[0]}'"
    if error.validator == "const":
        return f"expected {expected!r}, got {value!r}"[:200]
    if error.validator == "enum":
        return f"expected one of {', '.join(map(str, expected))}, got {value!r}"[:200]
    if error.validator == "minimum":
        return f"expected at least {expected}, got {value!r}"
    if error.validator == "minLength":
        return "expected a non-empty string"
    if error.validator == "pattern":
        return f"{value[:40]!r} does not match {expected}"
    return str(error.message)[:200]


# --- internal consistency ---


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
    for part in ("rulebase", "knowledge"):
        if doc[part]["sha256"] != combined(doc[part]["files"]):
            problems.append(f"its {part} sha256 is not the hash of its own {part} files")
    if doc["rulebase"]["rules"] != sorted({f["rule_id"] for f in doc["firings"]}):
        problems.append("its rulebase rules are not the rules of its own firings")
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
        elif c["fact"] in facts and CONCLUSION_FACTS.get(facts[c["fact"]]["type"]) != c["kind"]:
            problems.append(f"conclusion {c['kind']} {c['key']} points at a {facts[c['fact']]['type']} fact")
    return problems
