"""experta's Rete network, matched faster: the same nodes, wired the same way, firing the same activations.

experta 1.9.4 builds a correct network and then runs it slowly: every node copies the token it receives (with
type assertions on each copy), every check logs through ``logging``, every fact visits the type test of every fact
type, and every change collects the activations of every rule. After experta has built the network, ``Matcher``
gives each node of the kinds below a subclass that does the same matching without that overhead:

- a fact goes only to the branch of its own type (the root's children test nothing but the type);
- a token is copied only where a node adds to its bindings (no node changes a token it passed on);
- the checks of a pattern are called without their logging (their logic is experta's, read from the check; a field
  tested against a literal, a predicate or a wildcard reads its constraint once, not through properties at each fact);
- the tests of one pattern (a chain of nodes, each its parent's only child) run in a loop in the chain's first node,
  not in a call per node (the nodes stay in the network, as experta wired them);
- a fact of a type no pattern tests (a consultation's Candidates) makes no token, and a reset clears only nodes with memory;
- a join stores tokens as they came (experta freezes each, hashing every fact, and thaws it at each comparison);
- only the rules whose matches changed are asked for their activations, in experta's order.

The network is built by experta's code but for two steps that every process pays once, at its first consultation:
``prepare`` normalizes the patterns of a rule that is a plain list of patterns and TESTs one by one (experta rewrites
the whole rule until it stops changing, twice), and ``wire`` is experta's ``wire_rule`` without a fresh
single-dispatch function per rule. test_rete checks both give experta's rules and network.

Node kinds without a subclass here (experta's NOT, EXISTS and FORALL nodes: the rulebase uses none) keep experta's
own code, which reads the same tokens.
"""


from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from experta.conditionalelement import OR
from experta.matchers.rete import ReteMatcher
from experta.matchers.rete.check import SameContextCheck, WhereCheck
from experta.matchers.rete.mixins import ChildNode, NoMemory
from experta.matchers.rete.nodes import BusNode, ConflictSetNode, FeatureTesterNode, OrdinaryMatchNode, WhereNode

from .nodes import Bus, Conflicts, Join, Tester, Where, feature_test
from .wiring import prepare, wire

__all__ = ["Bus", "Matcher", "prepare", "wire"]


class Matcher(ReteMatcher):  # type: ignore[misc]
    """experta's Rete matcher on the node subclasses of ``nodes``; a reset clears each node once."""

    @staticmethod
    def prepare_ruleset(engine: Any) -> set[Any]:
        """experta's ``prepare_ruleset``, preparing each rule with ``prepare``."""
        return {prepare(rule) for rule in engine.get_rules()}

    @staticmethod
    def build_beta_part(ruleset: Any, alpha_terminals: Mapping[Any, Any]) -> None:
        """experta's ``build_beta_part``, wiring each rule with ``wire``."""
        for rule in ruleset:
            if isinstance(rule[0], OR):
                for subrule in rule[0]:
                    wire(rule, alpha_terminals, subrule)
            else:
                wire(rule, alpha_terminals, rule)

    def build_network(self) -> None:
        super().build_network()
        nodes = self._all_nodes()
        self._memories = tuple(node for node in nodes if not isinstance(node, NoMemory))  # the nodes a reset clears
        self._changed: set[int] = set()
        self._conflict_sets = self._get_conflict_set_nodes()
        for node in nodes:
            self._specialize(node)
        for node in nodes:  # the children's callbacks were bound to experta's methods: bind them again
            node.children = [ChildNode(child.node, getattr(child.node, child.callback.__name__)) for child in node.children]
        for node in nodes:  # each chain of tests runs in its first node (the network keeps experta's shape)
            if isinstance(node, Tester):
                node.chain()

    def _all_nodes(self) -> list[Any]:
        found: dict[int, Any] = {}
        todo = [self.root_node]
        while todo:
            node = todo.pop()
            if id(node) not in found:
                found[id(node)] = node
                todo += [child.node for child in node.children]
        return list(found.values())

    def _specialize(self, node: Any) -> None:
        kind = type(node)
        if kind is BusNode:
            node.__class__ = Bus
            node._by_type = {}
        elif kind is FeatureTesterNode:
            node.__class__ = Tester
            node.test = feature_test(node.matcher)
        elif kind is WhereNode and isinstance(node.matcher, WhereCheck):
            node.__class__ = Where
            node.test = node.matcher.test
            node.parameters = tuple(node.matcher.parameters)
        elif kind is OrdinaryMatchNode and isinstance(node.matcher, SameContextCheck):
            node.__class__ = Join
            node._reset()
        elif kind is ConflictSetNode:
            node.__class__ = Conflicts
            node.changed = self._changed
            node.index = self._conflict_sets.index(node)

    def reset(self) -> None:
        """experta resets recursively: a node shared by several rules was cleared once per path to it, and nodes
        without memory (tests) were visited too."""
        for node in self._memories:
            node._reset()
        self._changed.clear()

    def changes(self, adding: Any = None, deleting: Any = None) -> tuple[list[Any], list[Any]]:
        if deleting is not None:
            for fact in deleting:
                self.root_node.remove(fact)
        if adding is not None:
            for fact in adding:
                self.root_node.add(fact)
        added: list[Any] = []
        removed: list[Any] = []
        for index in sorted(self._changed):
            now_added, now_removed = self._conflict_sets[index].get_activations()
            added.extend(now_added)
            removed.extend(now_removed)
        self._changed.clear()
        return added, removed
