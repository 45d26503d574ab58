"""llmhw's Rete matcher (llmhw.rete) fires exactly what experta's own matcher fires, on the same network."""

from __future__ import annotations

from typing import Any

import pytest
from experta import AS, MATCH, TEST, Fact, KnowledgeEngine, Rule
from experta.matchers import ReteMatcher
from experta.matchers.rete.utils import prepare_rule
from llmhw import api, rete, session


class ExpertaMatched(session.AdvisorEngine):
    """The same rules matched by experta's unmodified Rete matcher."""

    __matcher__ = ReteMatcher


# A budget fallback to smaller models, training, a check of a proposal, and an upgrade of owned hardware: between them
# every kind of node (type routing, tests that bind, TESTs, joins, several activations of one rule) does work.
CONSULTATIONS: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    ("advise", {"model": "deepseek-r1:70b", "concurrency": 20, "context": 8192, "budget": 5000}, {}),
    ("advise", {"model": "qwen2.5-7b", "task": "qlora", "batch": 16, "ecosystem": "rocm", "deployment": "cloud"}, {}),
    ("check", {"model": "llama-3.1-70b", "concurrency": 4, "cpu_cores": 4, "ram_gb": 16}, {"hardware": "RTX 4090", "count": 2}),
    ("advise", {"model": "qwen3-30b-a3b", "context": 32768}, {"have": "RTX 3090", "have_count": 1}),
]


def _answer(kind: str, profile: dict[str, Any], extra: dict[str, Any]) -> tuple[str, list[dict[str, Any]], Any]:
    result: Any = api.advise(profile, **extra) if kind == "advise" else api.check(profile, **extra)
    facts = result.evidence.facts if result.evidence is not None else None
    return repr(result), [e.to_dict() for e in result.trace], facts


@pytest.mark.parametrize(("kind", "profile", "extra"), CONSULTATIONS)
def test_the_fast_matcher_concludes_what_experta_concludes(monkeypatch: pytest.MonkeyPatch, kind: str,
                                                             profile: dict[str, Any], extra: dict[str, Any]) -> None:
    fast = session.engine()
    assert isinstance(fast.matcher, rete.Matcher) and isinstance(fast.matcher.root_node, rete.Bus)
    ours = _answer(kind, profile, extra)
    monkeypatch.setattr(session._local, "engine", ExpertaMatched())
    theirs = _answer(kind, profile, extra)
    assert ours[0] == theirs[0]  # the answer
    assert ours[1] == theirs[1]  # every firing, in order, with its bindings, inputs and outputs
    assert ours[2] == theirs[2]  # every fact, with its id
    assert len(ours[1]) > 10


def _shape(root: Any) -> list[tuple[Any, ...]]:
    """The network as data: each node's kind, its check's kind and its children's ports, depth first (shared nodes once)."""
    out: list[tuple[Any, ...]] = []
    seen: dict[int, int] = {}

    def visit(node: Any) -> None:
        if id(node) in seen:
            out.append(("shared", seen[id(node)]))
            return
        seen[id(node)] = len(seen)
        kind = next(k for k in type(node).__mro__ if k.__module__.startswith("experta"))  # llmhw's subclasses are experta's kinds
        out.append((kind.__name__, type(getattr(node, "matcher", None)).__name__, [c.callback.__name__ for c in node.children]))
        for child in node.children:
            visit(child.node)

    visit(root)
    return out


def test_every_rule_is_prepared_as_experta_prepares_it() -> None:
    rules = session.engine().get_rules()
    assert [rete.prepare(rule) for rule in rules] == [prepare_rule(rule) for rule in rules]
    assert len(rules) > 80


def test_the_network_is_wired_as_experta_wires_it() -> None:
    ours, theirs = _shape(session.AdvisorEngine().matcher.root_node), _shape(ExpertaMatched().matcher.root_node)
    assert ours == theirs and len(ours) > 500


class Item(Fact):
    pass


class Limit(Fact):
    pass


class Toy(KnowledgeEngine):
    """Joins, a TEST and a binding test; facts declared and retracted (llmhw's rules never retract)."""

    @Rule(Item(name=MATCH.name, size=MATCH.size), Limit(size=MATCH.limit), TEST(lambda size, limit: size > limit))
    def too_big(self, name: str, size: int, limit: int) -> None:
        pass

    @Rule(AS.a << Item(name=MATCH.name), AS.b << Item(name=MATCH.name, size=3))
    def same_name(self, a: Fact, b: Fact, name: str) -> None:
        pass


class ToyFast(Toy):
    __matcher__ = rete.Matcher


def _agenda_after_changes(engine_class: type) -> list[list[tuple[str, list[int], tuple[Any, ...]]]]:
    """The agenda after each declaration or retraction, as (rule, fact ids, bindings): a fact bound without a name
    is under a key that differs from one network to the next."""
    engine = engine_class()
    engine.reset()
    steps = []
    facts = [Limit(size=2), Item(name="x", size=3), Item(name="y", size=1), Item(name="x", size=5), Item(name="y", size=3)]
    changes = [("declare", f) for f in facts] + [("retract", 2), ("retract", 4), ("declare", Item(name="x", size=4)), ("retract", 1)]
    for what, arg in changes:
        engine.declare(arg) if what == "declare" else engine.retract(arg)
        steps.append(sorted((a.rule.__name__, sorted(f["__factid__"] for f in a.facts),
                             tuple(sorted((k, repr(v)) for k, v in a.context.items() if not k.startswith("__"))))
                            for a in engine.agenda.activations))
    return steps


class NegatedToy(Toy):
    """A negated binding (``~MATCH.name``): its joins compare the negated key, which the rulebase's joins never meet."""

    @Rule(Item(name=MATCH.name, size=3), Item(name=~MATCH.name, size=MATCH.size))
    def other_name(self, name: str, size: int) -> None:
        pass


class NegatedToyFast(NegatedToy):
    __matcher__ = rete.Matcher


@pytest.mark.parametrize(("fast", "slow"), [(ToyFast, Toy), (NegatedToyFast, NegatedToy)])
def test_retracted_facts_withdraw_the_same_activations(fast: type, slow: type) -> None:
    ours, theirs = _agenda_after_changes(fast), _agenda_after_changes(slow)
    assert ours == theirs
    assert any(len(step) >= 3 for step in ours) and len(ours[-1]) < max(len(step) for step in ours)
    assert fast is ToyFast or any("other_name" in str(step) for step in ours)
