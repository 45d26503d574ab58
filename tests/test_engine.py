"""llmhw's engine machinery keeps experta's semantics: its working memory (equal facts refused, ids in order,
retraction) and its run loop (the same firings with experta's watchers on, whose loop then runs)."""

from __future__ import annotations

import logging

import pytest
from experta import watchers
from llmhw import api
from llmhw import facts as F


def test_the_facts_of_a_type_are_those_a_scan_of_working_memory_finds() -> None:
    memory = F.FactList()
    declared = [memory.declare(f) for f in
                (F.Tip(n=1), F.Note(n=1), F.Tip(n=2), F.Tip(n=1), F.Warning(n=3, why=["a"]), F.Tip(n=3), F.Note(n=2))]
    assert declared[3] is None  # experta refuses a fact equal to one in working memory
    memory.retract(2)
    memory.retract(declared[1])

    def scan(kind: type) -> list[F.Fact]:
        return [f for f in memory.values() if isinstance(f, kind)]

    assert memory.of_type(F.Tip) == scan(F.Tip) and [f["n"] for f in scan(F.Tip)] == [1, 3]
    assert memory.of_type(F.Note) == scan(F.Note) == [declared[6]]
    assert memory.of_type(F.Fact) == list(memory.values()) and [f["__factid__"] for f in memory.of_type(F.Fact)] == [0, 3, 4, 5]
    assert memory.of_type(F.Candidate) == []
    assert memory.declare(F.Tip(n=2))["__factid__"] == 6  # a retracted fact may be declared again, under a new id


def test_a_consultation_fires_the_same_rules_with_experta_watching(caplog: pytest.LogCaptureFixture) -> None:
    profile = {"model": "llama-3.1-8b", "concurrency": 4, "budget": 3000}
    quiet = [e.to_dict() for e in api.advise(profile).trace]
    watchers.watch("RULES", level=logging.INFO)
    try:
        with caplog.at_level(logging.INFO, logger="experta.watchers.RULES"):
            watched = [e.to_dict() for e in api.advise(profile).trace]
    finally:
        watchers.unwatch("RULES")
    assert watched == quiet and len(quiet) > 10
    fired = sum(r.message.startswith("FIRE") for r in caplog.records)  # experta's loop logged each firing
    assert fired >= len({e["rule_id"] for e in quiet}) > 10


def test_a_copy_of_a_declared_fact_is_an_equal_undeclared_fact() -> None:
    memory = F.FactList()
    original = memory.declare(F.Policy(limits={"a": [1, 2]}, names=("x",), share=0.5))
    copy = original.copy()
    assert type(copy) is F.Policy and copy.__factid__ is None
    assert dict(copy) == {k: v for k, v in original.items() if k != "__factid__"} and copy["limits"]["a"] == (1, 2)
    assert memory.declare(copy) is None  # the same fact: refused as experta refuses an equal fact
