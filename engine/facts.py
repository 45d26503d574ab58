"""The facts that flow through the engine: inputs, derived numbers, conclusions.

The inputs are one ``Answers`` fact holding every slot (``None`` where not given:
experta's NOT over several patterns of one fact type misfires, so rules match
missing answers positively). Everything else is declared by a rule through
``conclude()``, which records what it was derived from in the trace.
"""

from __future__ import annotations

from experta import Fact, Field


class Answers(Fact):
    """Every input slot: what the user gave or a documented default, ``None`` where still unknown."""


class Mode(Fact):
    """What the consultation answers: ``recommend`` (rank options) or ``check`` (judge a proposal)."""

    kind = Field(str, mandatory=True)


class Question(Fact):
    """An input a rule needs and does not have."""

    slot = Field(str, mandatory=True)


class Workload(Fact):
    """All inputs, resolved and complete: what every later rule reasons about."""


class Proposal(Fact):
    """A configuration the user names for `llmhw check`."""

    hardware = Field(str, mandatory=True)
    count = Field(int, mandatory=True)


class Exclusion(Fact):
    """A class of hardware ruled out, and why."""

    what = Field(str, mandatory=True)  # e.g. "kind:tpu", "ecosystem:npu", "obtain:cloud"


class MemoryNeed(Fact):
    """The memory breakdown of the workload at one precision on one device (bytes)."""


class Candidate(Fact):
    """One configuration (accelerator x count x precision) that fits, with its numbers."""


class CandidateSet(Fact):
    """Marks that candidate generation is done: tier selection may start."""


class Fit(Fact):
    """How a proposed configuration holds the workload."""


class Recommendation(Fact):
    """A ranked option: minimum, recommended, or best within budget."""


class Warning(Fact):
    """A pitfall that applies, with what is at stake."""


class Tip(Fact):
    """A technique that helps this workload, with its effect."""


class Note(Fact):
    """A statement the output shows but that is neither warning nor tip (e.g. article check)."""
