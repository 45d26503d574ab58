"""Building the network faster, once per process: ``prepare`` and ``wire`` do what experta's ``prepare_rule`` and
``wire_rule`` do, for the rules that are plain lists of patterns and TESTs (test_rete checks both give experta's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experta.conditionalelement import AND, EXISTS, FORALL, NOT, OR, TEST
from experta.fact import Fact
from experta.matchers.rete.check import SameContextCheck, WhereCheck
from experta.matchers.rete.dnf import dnf
from experta.matchers.rete.nodes import ConflictSetNode, NotNode, OrdinaryMatchNode, WhereNode
from experta.matchers.rete.utils import prepare_rule, wire_rule
from experta.rule import Rule


def _normal_fact(fact: Any) -> Any:
    """experta's disjunctive normal form of one pattern, applied until it no longer changes (as experta applies it to
    a whole rule); None if the pattern splits into alternatives."""
    last, current = None, fact
    while last != current:
        last, current = current, dnf(current)
        if not isinstance(current, Fact):
            return None
    return current


def prepare(rule: Any) -> Any:
    """experta's ``prepare_rule``: the rule in disjunctive normal form, an InitialFact in front where it has none.

    A rule that is a list of patterns and TESTs starting with a pattern is already in that form but for its patterns'
    own constraints: those are normalized one by one, instead of rewriting the whole rule until it stops changing
    (twice: experta normalizes the prepared rule again). Any other rule is prepared by experta.
    """
    if len(rule) and isinstance(rule[0], Fact) and all(isinstance(e, (Fact, TEST)) for e in rule):
        parts = [_normal_fact(e) if isinstance(e, Fact) else e for e in rule]
        if all(p is not None for p in parts):
            return rule.new_conditions(*parts)
    return prepare_rule(rule)


def _has_quantifier(ce: Any) -> bool:
    return isinstance(ce, (EXISTS, FORALL)) or (isinstance(ce, tuple) and any(_has_quantifier(e) for e in ce))


def wire(rule: Any, alpha_terminals: Mapping[Any, Any], lhs: Any) -> None:
    """experta's ``wire_rule`` for rules of facts, NOTs and TESTs: the same nodes, created and connected in the same
    order (experta's builds a fresh single-dispatch function for each rule; here the element kinds, which share no
    class, are told apart by ``isinstance``). A rule with EXISTS or FORALL is wired by experta's own function."""
    if _has_quantifier(lhs):
        wire_rule(rule, alpha_terminals, lhs=lhs)
        return

    def node_of(elem: Any) -> Any:
        if isinstance(elem, TEST):
            return WhereNode(WhereCheck(elem[0]))
        if isinstance(elem, (Rule, AND)):
            if len(elem) == 1:
                return alpha_terminals[elem[0]] if isinstance(elem[0], Fact) else node_of(elem[0])
            current = None
            for first, second in zip(elem, elem[1:], strict=False):  # consecutive pairs
                if isinstance(second, TEST):
                    if current is None:
                        current = node_of(first)
                    test = node_of(second)
                    current.add_child(test, test.activate)
                    current = test
                else:
                    kind = NotNode if isinstance(second, NOT) else OrdinaryMatchNode
                    if current is None:
                        current = kind(SameContextCheck())
                        left, right = node_of(first), node_of(second)
                    else:
                        left, right = current, node_of(second)
                        current = kind(SameContextCheck())
                    left.add_child(current, current.activate_left)
                    right.add_child(current, current.activate_right)
            return current
        if isinstance(elem, OR):
            raise SyntaxError("You can't use an OR clause inside FORALL or EXISTS")
        if isinstance(elem, Fact):
            return alpha_terminals[elem]
        if isinstance(elem, NOT):
            return alpha_terminals[elem[0]]
        raise TypeError(f"Unknown type {type(elem)}")

    last = node_of(lhs)
    conflicts = ConflictSetNode(rule)
    last.add_child(conflicts, conflicts.activate)
