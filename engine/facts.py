"""The facts that flow through the engine: inputs, derived numbers, conclusions.

The inputs are one ``Answers`` fact holding every slot (``None`` where not given:
experta's NOT over several patterns of one fact type misfires, so rules match
missing answers positively). Everything else is declared by a rule through
``conclude()``, which records what it was derived from in the trace.
"""

from __future__ import annotations

import logging

import experta
import experta.factlist
from experta import Field, watchers
from experta.utils import freeze, frozendict, frozenlist

# Values experta's ``freeze`` returns unchanged (hashable scalars): stored without its dispatch.
_SCALARS = frozenset({str, int, float, bool, type(None)})


def _freeze(value: object) -> object:
    """experta's ``freeze`` (dicts to frozendicts, lists to frozenlists, hashable values kept), its single-dispatch
    lookup skipped for scalars, dicts and lists: a launch plan is a dict of lists of dicts (~60 values)."""
    kind = type(value)
    if kind in _SCALARS:
        return value
    if kind is dict:
        return frozendict((k, _freeze(v)) for k, v in value.items())  # type: ignore[attr-defined]
    if kind is list:
        return frozenlist(_freeze(v) for v in value)  # type: ignore[attr-defined]
    return freeze(value)


class Fact(experta.Fact):  # type: ignore[misc]
    """experta's Fact, filled faster: a consultation builds ~100 facts of ~10 fields each.

    experta's constructor stores each field through ``__setitem__`` (which looks up the fact id to refuse changes
    after declaration, then freezes the value through a single-dispatch function); a new fact has no id yet, so
    the fields are stored directly, frozen only where freezing changes them (lists, dicts, sets).
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        if args or "__factid__" in kwargs:
            super().__init__(*args, **kwargs)
            return
        if _SCALARS.issuperset(map(type, kwargs.values())):  # most facts: nothing to freeze, stored in one step
            dict.update(self, kwargs)
        else:
            store = dict.__setitem__
            for key, value in kwargs.items():
                store(self, key, _freeze(value))
        self._Fact__defaults: dict[object, object] = {}  # experta's private attribute, set as its constructor sets it

    def copy(self) -> Fact:
        """experta's ``copy`` (an undeclared fact of the same type and items), the items stored as they are: they are
        frozen already."""
        new = type(self)()
        dict.update(new, self if _plain(self) else {k: v for k, v in self.items() if not experta.Fact.is_special(k)})
        return new

    def has_field_constraints(self) -> bool:
        """experta's check that no value is a pattern (declaring one is an error), skipped when every value is a scalar."""
        return not _SCALARS.issuperset(map(type, self.values())) and bool(super().has_field_constraints())

    def has_nested_accessor(self) -> bool:
        """experta's check that no key holds a double underscore (declaring one is an error), made once per set of keys."""
        keys = tuple(self)
        nested = _NESTED.get(keys)
        if nested is None:
            nested = _NESTED[keys] = bool(super().has_nested_accessor())
        return nested


# Whether a fact with these keys has a nested accessor, by its keys: the facts of one type have the same few key sets.
_NESTED: dict[tuple[object, ...], bool] = {}
# Whether none of these keys is special (``__factid__``, ``__bind__``): a fact's identity is then all its items.
_PLAIN: dict[tuple[object, ...], bool] = {}


def _plain(fact: experta.Fact) -> bool:
    """Whether no key of the fact is special (experta's ``is_special``), found once per set of keys."""
    keys = tuple(fact)
    plain = _PLAIN.get(keys)
    if plain is None:
        plain = _PLAIN[keys] = not any(experta.Fact.is_special(k) for k in keys)
    return plain


class FactList(experta.factlist.FactList):  # type: ignore[misc]
    """experta's working memory, telling facts apart and storing them faster.

    experta identifies a fact by its type and its items but the special ones, testing each key for being special; a
    consultation declares ~100 facts of a few key sets each, so the test is made once per key set. The facts are also
    kept by type, in declaration order, for the rules that read every fact of one type (``of_type``).
    """

    last_index: int  # experta's: the id the next fact gets

    def __init__(self) -> None:
        super().__init__()
        self.by_type: dict[type, list[experta.Fact]] = {}

    def of_type(self, kind: type) -> list[experta.Fact]:
        """The facts that are instances of ``kind``, in declaration order (the order of their ids)."""
        found = [facts for of, facts in self.by_type.items() if issubclass(of, kind)]
        if len(found) == 1:
            return list(found[0])
        return sorted((f for facts in found for f in facts), key=lambda f: f["__factid__"])

    def retract(self, idx_or_fact: int | experta.Fact) -> int:
        idx = idx_or_fact if isinstance(idx_or_fact, int) else idx_or_fact.__factid__
        fact = self.get(idx)
        retracted: int = super().retract(idx_or_fact)
        facts = self.by_type[type(fact)]
        del facts[next(i for i, f in enumerate(facts) if f is fact)]
        return retracted

    def declare(self, fact: experta.Fact) -> experta.Fact | None:
        """experta's ``declare`` (validated, refused if an equal fact is stored and duplication is off, else numbered
        and stored), without the validation of a type that declares no field, a log line built when the FACTS watcher
        is off, the Python-level fallbacks of the fact id's property and the reference counter's missing key, or a
        second hash of the items."""
        if not isinstance(fact, experta.Fact):
            raise ValueError("The fact must descend the Fact class.")
        if fact.__fields__:
            fact.validate()
        fact_id = self._get_fact_id(fact)
        counter = self.reference_counter
        if not self.duplication and fact_id in counter:
            return None
        idx = self.last_index
        dict.__setitem__(fact, "__factid__", idx)
        # experta's Fact.__hash__ keeps a hash of the items, made when first asked (the matcher puts each fact in a set);
        # the identity's, made for the counter above, serves as well: equal facts have equal identities
        fact.__dict__.setdefault("_hash", hash(fact_id))
        self[idx] = fact
        self.last_index = idx + 1
        self.added.append(fact)
        by_type = self.by_type.get(type(fact))
        if by_type is None:
            self.by_type[type(fact)] = [fact]
        else:
            by_type.append(fact)
        counter[fact_id] = counter.get(fact_id, 0) + 1
        if watchers.FACTS.isEnabledFor(logging.INFO):
            watchers.FACTS.info(" ==> %s: %r", fact, fact)
        return fact

    def _get_fact_id(self, fact: experta.Fact) -> frozenset[object]:
        if _plain(fact):
            return frozenset((fact.__class__, *fact.items()))
        return super()._get_fact_id(fact)  # type: ignore[no-any-return]


class Answers(Fact):
    """Every input slot: what the user gave or a documented default, ``None`` where still unknown."""


class Policy(Fact):
    """Every policy threshold, one field per entry of knowledge/policy.yaml, declared once per run.

    Rules test their thresholds in the pattern, as a CLIPS rule tests a defglobal:
    ``Policy(p1_max_utilization=MATCH.limit), TEST(lambda used, limit: used < limit)``.
    """


class PrecisionSpec(Fact):
    """A catalog precision's numbers that rules test in their patterns (bits per weight, quality), one fact per precision."""


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


class Owned(Fact):
    """The hardware the user already has (`recommend --have`): an accelerator and count, or none (a CPU-only machine)."""

    hardware = Field(str, mandatory=True)  # a catalog accelerator id, or "none"
    kind = Field(str, mandatory=True)  # its kind (gpu, unified, cpu, ...), or "none": what can be added to it depends on it
    count = Field(int, mandatory=True)


class Upgrade(Fact):
    """What the owned hardware runs, one addition to it (with its cost and what it reaches), or renting instead."""


class Exclusion(Fact):
    """A class of hardware ruled out, and why."""

    what = Field(str, mandatory=True)  # e.g. "kind:tpu", "ecosystem:npu", "obtain:cloud"


class ModelSpec(Fact):
    """The catalog's numbers about the workload's model that rules test in their patterns (size, architecture, experts)."""


class MemoryNeed(Fact):
    """The memory breakdown of the workload at one precision on one device (bytes)."""


class Candidate(Fact):
    """One configuration (accelerator x count x precision) that fits, with its numbers."""


class CandidateSet(Fact):
    """Marks that candidate generation is done: tier selection may start."""


class Fit(Fact):
    """How a proposed configuration holds the workload."""


class HostNeed(Fact):
    """What the host around the configuration under discussion needs: CPU cores, RAM, and the weights it loads (P2)."""


class Recommendation(Fact):
    """A ranked option: minimum, recommended, or best within budget."""


class Warning(Fact):
    """A pitfall that applies, with what is at stake."""


class Tip(Fact):
    """A technique that helps this workload, with its effect."""


class Note(Fact):
    """A statement the output shows but that is neither warning nor tip (e.g. article check)."""


class Launch(Fact):
    """How to start a recommended or proposed configuration: its runtime's commands, each option with its reason."""
