"""The facts that flow through the engine: inputs, derived numbers, conclusions.

The inputs are one ``Answers`` fact holding every slot (``None`` where not given:
experta's NOT over several patterns of one fact type misfires, so rules match
missing answers positively). Everything else is declared by a rule through
``conclude()``, which records what it was derived from in the trace.
"""

from __future__ import annotations

from experta import Fact, Field


class Answers(Fact):  # type: ignore[misc]
    """Every input slot: what the user gave or a documented default, ``None`` where still unknown."""


class Policy(Fact):  # type: ignore[misc]
    """Every policy threshold, one field per entry of knowledge/policy.yaml, declared once per run.

    Rules test their thresholds in the pattern, as a CLIPS rule tests a defglobal:
    ``Policy(p1_max_utilization=MATCH.limit), TEST(lambda used, limit: used < limit)``.
    """


class PrecisionSpec(Fact):  # type: ignore[misc]
    """A catalog precision's numbers that rules test in their patterns (bits per weight, quality), one fact per precision."""


class Mode(Fact):  # type: ignore[misc]
    """What the consultation answers: ``recommend`` (rank options) or ``check`` (judge a proposal)."""

    kind = Field(str, mandatory=True)


class Question(Fact):  # type: ignore[misc]
    """An input a rule needs and does not have."""

    slot = Field(str, mandatory=True)


class Workload(Fact):  # type: ignore[misc]
    """All inputs, resolved and complete: what every later rule reasons about."""


class Proposal(Fact):  # type: ignore[misc]
    """A configuration the user names for `llmhw check`."""

    hardware = Field(str, mandatory=True)
    count = Field(int, mandatory=True)


class Owned(Fact):  # type: ignore[misc]
    """The hardware the user already has (`recommend --have`): an accelerator and count, or none (a CPU-only machine)."""

    hardware = Field(str, mandatory=True)  # a catalog accelerator id, or "none"
    kind = Field(str, mandatory=True)  # its kind (gpu, unified, cpu, ...), or "none": what can be added to it depends on it
    count = Field(int, mandatory=True)


class Upgrade(Fact):  # type: ignore[misc]
    """What the owned hardware runs, one addition to it (with its cost and what it reaches), or renting instead."""


class Exclusion(Fact):  # type: ignore[misc]
    """A class of hardware ruled out, and why."""

    what = Field(str, mandatory=True)  # e.g. "kind:tpu", "ecosystem:npu", "obtain:cloud"


class ModelSpec(Fact):  # type: ignore[misc]
    """The catalog's numbers about the workload's model that rules test in their patterns (size, architecture, experts)."""


class MemoryNeed(Fact):  # type: ignore[misc]
    """The memory breakdown of the workload at one precision on one device (bytes)."""


class Candidate(Fact):  # type: ignore[misc]
    """One configuration (accelerator x count x precision) that fits, with its numbers."""


class CandidateSet(Fact):  # type: ignore[misc]
    """Marks that candidate generation is done: tier selection may start."""


class Fit(Fact):  # type: ignore[misc]
    """How a proposed configuration holds the workload."""


class HostNeed(Fact):  # type: ignore[misc]
    """What the host around the configuration under discussion needs: CPU cores, RAM, and the weights it loads (P2)."""


class Recommendation(Fact):  # type: ignore[misc]
    """A ranked option: minimum, recommended, or best within budget."""


class Warning(Fact):  # type: ignore[misc]
    """A pitfall that applies, with what is at stake."""


class Tip(Fact):  # type: ignore[misc]
    """A technique that helps this workload, with its effect."""


class Note(Fact):  # type: ignore[misc]
    """A statement the output shows but that is neither warning nor tip (e.g. article check)."""


class Launch(Fact):  # type: ignore[misc]
    """How to start a recommended or proposed configuration: its runtime's commands, each option with its reason."""
