"""Engine assembly and the run loop: answers in, facts and a trace out.

The engine class is built once at import from every rule module (experta caches
per class), and each thread keeps one instance that is ``reset()`` per
consultation: building the network is the costly part.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

from experta import Fact, KnowledgeEngine, Rule, watchers
from experta.agenda import Agenda
from experta.strategies import DepthStrategy

from . import facts as F
from . import rete
from .knowledge.loader import Catalog
from .knowledge.policy_schema import Policy
from .planner import Option, Workload
from .profile import NONE, SLOT_BY_NAME, SLOTS
from .rules import metas
from .rules.article import ArticleRules
from .rules.calibration import CalibrationRules
from .rules.candidates import CandidateRules
from .rules.launch import LaunchRules
from .rules.memory import MemoryRules
from .rules.offload import OffloadRules
from .rules.parallelism import ParallelismRules
from .rules.pitfalls import PitfallRules
from .rules.quantization import QuantizationRules
from .rules.questions import QuestionRules
from .rules.recommend import RecommendRules
from .rules.roles import RoleRules
from .rules.training import TrainingRules
from .rules.upgrade import UpgradeRules
from .trace.events import TraceEvent
from .units import render

# Conclusions that carry the firing rule's id and message (a Recommendation's id is its option's).
STAMPED = (F.Warning, F.Tip, F.Note, F.Upgrade)
KNOWLEDGE_FACTS = (F.Policy, F.PrecisionSpec)  # declared from the catalog each run, for patterns to test


class StableDepthStrategy(DepthStrategy):  # type: ignore[misc]
    """experta's depth strategy with a deterministic tie-break.

    experta orders the agenda by (salience, fact ids); activations that tie on both
    are inserted in set-iteration order, which follows PYTHONHASHSEED, so the firing
    order (and the fact ids) of two identical runs could differ between processes.
    Breaking ties by rule id makes every run, and so every trace, reproducible.
    (Not cached: the parent's ``lru_cache`` on a method is one cache for all engines.)
    """

    def get_key(self, activation: Any) -> Any:
        meta = getattr(activation.rule, "meta", None)
        facts = sorted((f["__factid__"] for f in activation.facts), reverse=True)
        return (activation.rule.salience, facts, getattr(meta, "id", ""))


class BaseEngine(KnowledgeEngine):  # type: ignore[misc]
    """The machinery every rule module relies on (``rules.Host``): catalog and policy access and ``conclude``."""

    __strategy__ = StableDepthStrategy
    __matcher__ = rete.Matcher
    catalog: Catalog
    policy: Policy

    def __init__(self) -> None:
        super().__init__()
        self.firing: list[tuple[Any, dict[str, Any]]] = []
        self._split_firing: tuple[Any, dict[str, Any]] | None = None  # the firing whose matched facts and values follow
        self._matched_ids: set[int] = set()
        self._matched_sorted: tuple[int, ...] = ()
        self._matched_values: dict[str, Any] = {}
        self._knowledge: tuple[Policy, Mapping[str, Any], list[Fact]] | None = None  # see knowledge_facts
        self.events: list[TraceEvent] = []
        self.options: dict[str, Option] = {}

    def get_deffacts(self) -> list[Any]:
        """experta's DefFacts (its InitialFact), found once: experta lists every member of the engine at each reset.

        Each is bound to this engine again, as the attribute lookup experta makes would bind it.
        """
        found: list[Any] | None = self.__dict__.get("_deffacts")
        if found is None:
            found = self._deffacts = list(super().get_deffacts())
        for deffacts in found:
            deffacts.__get__(self, type(self))
        return found

    def reset(self) -> None:
        """experta's ``reset`` (a new agenda and fact list, the network cleared, the DefFacts declared) on llmhw's fact list.

        experta reads each DefFacts' signature to pass it the keyword arguments of ``reset``; none are ever given here.
        """
        self.agenda = Agenda()
        self.facts = F.FactList()
        self.matcher.reset()
        self._KnowledgeEngine__declare(*chain.from_iterable(deffacts() for deffacts in self.get_deffacts()))  # as experta's reset
        self.running = False

    def run(self, steps: float = float("inf")) -> None:
        """experta's ``run`` (the agenda updated, its next activation fired, until none is left or the engine halts)
        without formatting each firing's facts for the RULES watcher when it would not log them (experta formats them
        for every firing). With that watcher or the AGENDA one on, experta's own loop runs."""
        if watchers.RULES.isEnabledFor(logging.INFO) or watchers.worth("AGENDA", "DEBUG"):
            super().run(steps)
            return
        self.running = True
        while steps > 0 and self.running:
            added, removed = self.get_activations()
            self.strategy.update_agenda(self.agenda, added, removed)
            activation = self.agenda.get_next()
            if activation is None:
                break
            steps -= 1
            activation.rule(self, **{k: v for k, v in activation.context.items() if not k.startswith("__")})
        self.running = False

    def start(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.policy = catalog.policy
        self.events = []
        self.options = {}
        self.reset()

    def conclude(self, fact: Fact, inputs: Iterable[Fact] = (), **bindings: Any) -> Fact | None:
        """Declare a fact and record which rule derived it, from which facts, with which values.

        A Warning, Tip or Note of a rule with a message template gets the rule's id and the message filled from
        the same values as the statement: the rule's matched bindings and ``bindings``.
        """
        firing = self.firing[-1]
        if firing is not self._split_firing:  # a rule's matched facts and values, split once per firing
            self._split_firing = firing
            matched = firing[1]
            self._matched_ids = {v.__factid__ for v in matched.values() if isinstance(v, Fact)} - {None}
            self._matched_sorted = tuple(sorted(self._matched_ids))
            self._matched_values = {k: v for k, v in matched.items() if not isinstance(v, Fact)}
        meta = firing[0]
        values = {**self._matched_values, **bindings}
        if meta.message and isinstance(fact, STAMPED):
            fact = type(fact)(**{**fact.as_dict(), "id": meta.id, "message": render(meta.message, values)})
        declared = self._declare_one(fact)
        if inputs:
            used = self._matched_ids.union([f.get("__factid__") for f in inputs])
            used.discard(None)
            inputs_ids = tuple(sorted(used))
        else:
            inputs_ids = self._matched_sorted
        events = self.events
        events.append(TraceEvent.unrendered(
            meta.statement, seq=len(events) + 1, rule_id=meta.id, rule_name=meta.name,
            bindings=dict(sorted(values.items())),  # made JSON-ready (trace.plain) only if a trace is written
            inputs=inputs_ids, outputs=(declared["__factid__"],) if declared is not None else (), sources=meta.sources,
        ))
        return declared

    def _declare_one(self, fact: Fact) -> Fact | None:
        """experta's ``declare`` of one fact while the rules run: the same checks and working memory, without the
        varargs and generator expressions around them (the agenda is updated by the run loop, as experta does then)."""
        if not self.running or fact.has_field_constraints() or fact.has_nested_accessor():
            return self.declare(fact)  # experta's own path (and its errors)
        declared: Fact | None = self.facts.declare(fact)
        return declared

    def knowledge_facts(self, catalog: Catalog) -> list[Fact]:
        """The catalog's Policy and PrecisionSpec facts: new ones each run (declaring a fact stores its id in it), copied
        from those built for the last catalog with the same policy and precisions (their ~90 values frozen once)."""
        built = self._knowledge
        if built is None or built[0] is not catalog.policy or built[1] is not catalog.precisions:
            policy = F.Policy(**{f.name: getattr(catalog.policy, f.name) for f in dataclasses.fields(catalog.policy)})
            specs = [F.PrecisionSpec(id=p.id, bits_per_weight=p.bits_per_weight, quality=p.quality) for p in catalog.precisions.values()]
            built = self._knowledge = (catalog.policy, catalog.precisions, [policy, *specs])
        return [fact.copy() for fact in built[2]]

    def workload(self, fact: Fact) -> Workload:
        """The planner's view of a Workload fact."""
        return Workload(**{k: fact[k] for k in Workload.__dataclass_fields__})

    def facts_of(self, kind: type) -> list[Fact]:
        """The facts of one type in working memory, in declaration order."""
        found: list[Fact] = self.facts.of_type(kind)
        return found

    def option(self, fact: Fact) -> Option:
        """The sized option behind a Candidate or Fit fact."""
        return self.options[fact["id"]]

    def remember(self, option: Option) -> Option:
        self.options[option.id] = option
        return option


def vars_of(cls: type) -> list[Any]:
    """Every attribute of a class and its bases, without instantiating it (building the network is the costly part)."""
    return [value for klass in cls.__mro__ for value in vars(klass).values()]


class AdvisorEngine(QuestionRules, MemoryRules, CandidateRules, RecommendRules, PitfallRules, RoleRules, QuantizationRules, TrainingRules,
                    ParallelismRules, OffloadRules, ArticleRules, UpgradeRules,
                    CalibrationRules, LaunchRules, BaseEngine):
    """Every rule of the rulebase in one engine class."""


RULES = metas(r for r in vars_of(AdvisorEngine) if isinstance(r, Rule))
_local = threading.local()


def engine() -> AdvisorEngine:
    """This thread's engine (engines are never shared between threads)."""
    eng = getattr(_local, "engine", None)
    if eng is None:
        eng = _local.engine = AdvisorEngine()
    return eng


@dataclass
class Run:
    """What one pass of the engine left: its facts by type, and its trace."""

    facts: list[Fact]
    events: list[TraceEvent]
    options: dict[str, Option]
    questions: list[str] = field(default_factory=list)

    def of(self, kind: type) -> list[Fact]:
        return [f for f in self.facts if type(f) is kind]


def run(catalog: Catalog, answers: Mapping[str, Any], proposal: tuple[str, int] | None = None,
        owned: Mapping[str, Any] | None = None) -> Run:
    """Declare the answers (and a proposal for `check`, or what the user owns for `recommend --have`), run the rules,
    and collect the result."""
    eng = engine()
    eng.start(catalog)
    facts = [F.Answers(**{s.name: answers.get(s.name) for s in SLOTS}), F.Mode(kind="recommend" if proposal is None else "check")]
    if proposal is not None:
        facts.append(F.Proposal(hardware=proposal[0], count=proposal[1]))
    if owned is not None:
        facts.append(F.Owned(**owned))
    # Knowledge the patterns test, declared after the inputs so that fact 1 stays the Answers.
    facts += eng.knowledge_facts(catalog)
    # One declaration: experta matches them in this order (the same fact ids) and then collects the activations of
    # its ~250 rules once, not once per fact (a seventh of a consultation, declared one by one).
    eng.declare(*facts)
    eng.run()
    # Policy and precisions are knowledge, not part of this consultation: the trace records their files by hash.
    facts = [f for f in eng.facts.values() if not isinstance(f, KNOWLEDGE_FACTS)]  # in id order: the order of declaration
    order = [s.name for s in SLOTS]
    questions = sorted({f["slot"] for f in facts if isinstance(f, F.Question)}, key=order.index)
    return Run(facts=facts, events=list(eng.events), options=dict(eng.options), questions=questions)


def default_for(slot: str, answers: Mapping[str, Any], catalog: Catalog) -> Any:
    """The documented default of a slot. Scale follows the number of users and the model's size (training: at least a team server)."""
    policy = catalog.policy
    if slot == "scale":
        scales = ["personal", "team", "enterprise"]
        users = answers.get("concurrency", 1)
        by_users = 0 if users <= 1 else 1 if users <= policy.team_max_concurrency else 2
        size = catalog.models[answers["model"]].params if answers.get("model") in catalog.models else 0
        by_size = 2 if size >= policy.scale_enterprise_min_params else 1 if size >= policy.scale_team_min_params else 0
        by_task = 1 if answers.get("task", "inference") != "inference" else 0
        return scales[max(by_users, by_size, by_task)]
    from .knowledge.build import policy_value  # the YAML-to-entries module: a start that reads the snapshot needs only this

    key = SLOT_BY_NAME[slot].default_key
    return policy_value(policy, key) if key else NONE


def predicted_questions(answers: Mapping[str, Any]) -> list[str]:
    """The slots the IN-ask-* rules (generated from the slot table) would ask for, in slot order.

    Any question they ask beyond these is still asked and answered by the loop in ``run_with_defaults``.
    """
    return [s.name for s in SLOTS if answers.get(s.name) is None and s.needed(answers)]


def run_with_defaults(catalog: Catalog, answers: Mapping[str, Any], proposal: tuple[str, int] | None = None,
                      owned: Mapping[str, Any] | None = None) -> tuple[Run, dict[str, Any]]:
    """Run, filling every question the rules ask with its default, until none is left."""
    given = dict(answers)
    defaults: dict[str, Any] = {}
    for _ in range(len(SLOTS) + 1):
        # The question rules' conditions come from the slot table: reading it first saves an engine pass per round.
        asked = predicted_questions(given)
        if not asked:
            result = run(catalog, given, proposal, owned)
            if not result.questions:
                return result, defaults
            asked = result.questions
        for slot in asked:
            defaults[slot] = given[slot] = default_for(slot, given, catalog)
    raise RuntimeError("questions did not settle")  # a rulebase bug: a question rule fires after its answer exists
