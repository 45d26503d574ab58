"""What a consultation saw besides its firings: the inputs as given, every fact, and the knowledge it read.

The API keeps an ``Evidence`` with every ``Advice`` and ``CheckResult``; the fact records, the knowledge
entries and their sources are built only when a trace is written (most consultations never are).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ..profile import Profile
from .events import TraceEvent, plain

# Fact fields naming knowledge entries: field -> (Catalog attribute, file, label)
ENTRY_FIELDS = {"model": ("models", "models.yaml", "model"), "hardware": ("accelerators", "accelerators.yaml", "hardware"),
                "precision": ("precisions", "precisions.yaml", "precision"), "runtime": ("runtimes", "runtimes.yaml", "runtime")}


@dataclass(frozen=True)
class Evidence:
    """What a consultation saw besides its firings: the inputs as given and every fact, with the knowledge hashes."""

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
