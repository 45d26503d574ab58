"""The node kinds of experta's Rete network that ``Matcher`` gives a faster subclass (the package's docstring says what
each saves): the root, pattern tests, TESTs, joins and each rule's conflict set."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from experta.activation import Activation
from experta.fieldconstraint import L, P, W
from experta.matchers.rete.check import FactCapture, FeatureCheck, TypeCheck
from experta.matchers.rete.nodes import BusNode, ConflictSetNode, FeatureTesterNode, OrdinaryMatchNode, WhereNode
from experta.matchers.rete.token import Token, TokenInfo

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


def feature_test(check: Any) -> Callable[[Any], Any]:
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
