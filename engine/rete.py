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

import operator
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from experta.activation import Activation
from experta.conditionalelement import AND, EXISTS, FORALL, NOT, OR, TEST
from experta.fact import Fact
from experta.fieldconstraint import L, P, W
from experta.matchers.rete import ReteMatcher
from experta.matchers.rete.check import FactCapture, FeatureCheck, SameContextCheck, TypeCheck, WhereCheck
from experta.matchers.rete.dnf import dnf
from experta.matchers.rete.mixins import ChildNode, NoMemory
from experta.matchers.rete.nodes import BusNode, ConflictSetNode, FeatureTesterNode, NotNode, OrdinaryMatchNode, WhereNode
from experta.matchers.rete.token import Token, TokenInfo
from experta.matchers.rete.utils import prepare_rule, wire_rule
from experta.rule import Rule

VALID = Token.TagType.VALID
_tuple_new = tuple.__new__


def _token(tag: Any, data: Any, context: dict[Any, Any]) -> Any:
    """A Token without experta's per-token type assertions (every caller passes a tag, a set of facts and a dict)."""
    return _tuple_new(Token, (tag, data, context))


def _info(token: Any) -> Any:
    """The frozen form of a token that node memories compare (experta's ``Token.to_info``)."""
    return _tuple_new(TokenInfo, (frozenset(token.data), frozenset(token.context.items())))


def _callbacks(node: Any) -> list[Callable[[Any], Any]]:
    return [child.callback for child in node.children]


class Bus(BusNode):  # type: ignore[misc]
    """The root: a fact goes to the children of the type test it passes, in experta's order."""

    _by_type: dict[type, list[Callable[[Any], Any]]]

    def _routes(self, kind: type) -> list[Callable[[Any], Any]]:
        routes: list[Callable[[Any], Any]] = []
        for child in self.children:
            check = getattr(child.node, "matcher", None)
            if isinstance(child.node, FeatureTesterNode) and isinstance(check, TypeCheck):
                if check.fact_type is kind:  # experta tests ``type(fact) == fact_type``: classes compare by identity
                    routes += _callbacks(child.node)
            else:
                routes.append(child.callback)
        self._by_type[kind] = routes
        return routes

    def add(self, fact: Any) -> None:
        self._send(fact, VALID)

    def remove(self, fact: Any) -> None:
        self._send(fact, Token.TagType.INVALID)

    def _send(self, fact: Any, tag: Any) -> None:
        routes = self._by_type.get(type(fact))
        if routes is None:
            routes = self._routes(type(fact))
        if routes:  # most facts (a consultation's Candidates) match no pattern: no token is made for them
            token = _token(tag, {fact}, {})
            for callback in routes:
                callback(token)


def _feature_test(check: Any) -> Callable[[Any], Any]:
    """A pattern check as a plain function: experta's ``Check.__call__`` without its logging."""
    if isinstance(check, TypeCheck):
        kind = check.fact_type
        return lambda fact: type(fact) == kind  # noqa: E721 - experta's exact test
    if isinstance(check, FactCapture):
        bind = check.bind
        return lambda fact: {bind: fact}
    if isinstance(check, FeatureCheck) and isinstance(check.what, str) and not check.what.startswith("__") \
            and not check.what.endswith("__"):
        path = tuple(int(p) if p.isnumeric() else p for p in check.what.split("__"))
        test, expected = check.check, check.expected
        if len(path) == 1 and type(expected) in (L, P, W):
            return _field_test(path[0], expected)

        def feature(fact: Any) -> Any:
            record = fact
            try:
                for part in path:
                    record = record[part]
            except (IndexError, KeyError, TypeError):
                return False
            return test(record, expected)

        return feature
    return check  # type: ignore[no-any-return]


def _field_test(key: Any, how: Any) -> Callable[[Any], Any]:
    """A test of one field against a literal, a predicate or a wildcard: experta's ``equal_literal``,
    ``match_predicate`` and ``wildcard_match`` with the constraint's value and binding read once."""
    bind = how.__bind__
    kind = type(how)
    passes: Callable[[Any], Any] | None = (partial(operator.eq, how.value) if kind is L else how.match if kind is P
                                           else None)  # None: a wildcard, any value passes

    def field(fact: Any) -> Any:
        try:
            record = fact[key]
        except (IndexError, KeyError, TypeError):
            return False
        if passes is None or passes(record):
            return True if bind is None else {bind: record}
        return False

    return field


class Tester(FeatureTesterNode):  # type: ignore[misc]
    """One test of one fact, and the tests below it while each is its parent's only child (one pattern's tests of
    its fields): the chain runs in this node, in order, and its last node's children get the token. A token is copied
    once, when the chain's tests add bindings to it."""

    test: Callable[[Any], Any]
    tests: tuple[Callable[[Any], Any], ...]  # this node's test and the chain's below it
    calls: tuple[Callable[[Any], Any], ...]  # the callbacks of the chain's last node's children

    def chain(self) -> None:
        node, tests = self, [self.test]
        while len(node.children) == 1 and isinstance(node.children[0].node, Tester):
            node = node.children[0].node
            tests.append(node.test)
        self.tests, self.calls = tuple(tests), tuple(_callbacks(node))

    def activate(self, token: Any) -> None:
        data = token.data
        (fact,) = data  # a feature test receives one fact (unpacking raises ValueError otherwise)
        context = token.context
        bound = False  # whether ``context`` is this chain's own copy, with its bindings so far
        for test in self.tests:
            match = test(fact)
            if match is True:  # a test that binds nothing (experta's checks return True, False or a dict)
                continue
            if not match:
                return
            if type(match) is dict or isinstance(match, Mapping):  # bindings; the dict test first: an ABC test is slow
                for key, value in match.items() if context else ():  # no binding so far (a fact's first test): none to contradict
                    if isinstance(key, tuple):  # a negated binding
                        if key[1] in context and context[key[1]] == value:
                            return
                    else:
                        if context.get(key, value) != value:
                            return
                        if (False, key) in context and context[(False, key)] == value:
                            return
                if bound:
                    context.update(match)
                else:
                    context, bound = {**context, **match}, True
        if bound:
            token = _token(token.tag, data, context)
        for call in self.calls:
            call(token)


class Where(WhereNode):  # type: ignore[misc]
    """A TEST condition over the bindings so far."""

    test: Callable[..., Any]
    parameters: tuple[str, ...]

    def activate(self, token: Any) -> None:
        context = token.context
        if self.test(**{k: context.get(k) for k in self.parameters}):
            for child in self.children:
                child.callback(token)


def _same_context(left: Mapping[Any, Any], right: Mapping[Any, Any]) -> bool:
    """experta's ``SameContextCheck``: the bindings on both sides agree (and no negated binding is contradicted)."""
    for key, value in left.items():
        if key[0] is False:
            raise RuntimeError(f'Negated value "{key[1]}" present before capture.')
        if key in right and value != right[key]:
            return False
        if (False, key) in right and value == right[(False, key)]:
            return False
    return True


class Join(OrdinaryMatchNode):  # type: ignore[misc]
    """A join of two branches; each side's memory holds the tokens it received, as (facts, bindings).

    experta stores each token frozen (``TokenInfo``), which hashes every fact and binding, and thaws the bindings
    back into a dict at each comparison; a token here is frozen only to find it again when it is withdrawn.
    """

    def _reset(self) -> None:
        self.left_memory: list[tuple[set[Any], dict[Any, Any]]] = []
        self.right_memory: list[tuple[set[Any], dict[Any, Any]]] = []

    def _join(self, token: Any, memory: list[Any], other_memory: list[Any], is_left: bool) -> None:
        if token.tag is VALID:
            memory.append((token.data, token.context))
        else:  # experta removes the first stored token equal to this one, compared frozen
            info = _info(token)
            for i, (data, context) in enumerate(memory):
                if _tuple_new(TokenInfo, (frozenset(data), frozenset(context.items()))) == info:
                    del memory[i]
                    break
        context = token.context
        for other_data, other_context in other_memory:
            if is_left:
                match = _same_context(context, other_context)
            else:
                match = _same_context(other_context, context)
            if match:
                joined = {k: v for k, v in context.items() if isinstance(k, str)}
                for k, v in other_context.items():
                    if not isinstance(k, tuple):
                        joined[k] = v
                new = _token(token.tag, token.data | other_data, joined)
                for child in self.children:
                    child.callback(new)

    def activate_left(self, token: Any) -> None:
        self._join(token, self.left_memory, self.right_memory, True)

    def activate_right(self, token: Any) -> None:
        self._join(token, self.right_memory, self.left_memory, False)


class Conflicts(ConflictSetNode):  # type: ignore[misc]
    """A rule's activations; the node marks itself changed so that only changed rules are collected."""

    changed: set[int]
    index: int

    def activate(self, token: Any) -> None:
        info = _info(token)
        activation = Activation(self.rule, info.data, {k: v for k, v in info.context if isinstance(k, str)})
        if token.tag is VALID:
            if info not in self.memory:
                self.memory.add(info)
                if self.removed and activation in self.removed:  # an activation hashes its facts and bindings: only if needed
                    self.removed.remove(activation)
                else:
                    self.added.add(activation)
                self.changed.add(self.index)
        else:
            self.memory.remove(info)  # experta's node raises KeyError too for a token it never held
            if self.added and activation in self.added:
                self.added.remove(activation)
            else:
                self.removed.add(activation)
            self.changed.add(self.index)


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


class Matcher(ReteMatcher):  # type: ignore[misc]
    """experta's Rete matcher on the node subclasses above; a reset clears each node once."""

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
            node.test = _feature_test(node.matcher)
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
