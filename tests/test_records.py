"""The records built for every option are hashed by value but not frozen, and their ``__init__`` is written out
(engine/planner/options.py says why): no code assigns to their fields once they are built, which this reads off the
sources, as a frozen dataclass would refuse it; and each ``__init__`` takes the fields, in order, with their defaults,
as the one dataclass would write."""

from __future__ import annotations

import ast
import dataclasses
import functools
from pathlib import Path

import pytest
from llmhw import scaleout, sizing
from llmhw.planner import costs, options

RECORDS = (options.Option, options.Cost, options.Layout, costs.NodeHost, sizing.Memory, sizing.Speed, scaleout.Split)
FIELDS = {f.name for cls in RECORDS for f in dataclasses.fields(cls)}
NAMES = {cls.__name__ for cls in RECORDS}
ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("rules/*.py")])


def field_writes(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, field) of every statement that stores a record's field name on an object other than ``self``, or on
    ``self`` inside a record's own methods but ``__init__`` and ``__post_init__`` (which build a record)."""
    own: set[int] = set()  # the ids of `self` stores allowed: another class's own attributes, a record being built
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            if cls.name not in NAMES or fn.name in ("__init__", "__post_init__"):
                own.update(id(n) for n in ast.walk(fn))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and node.attr in FIELDS:
            if not (isinstance(node.value, ast.Name) and node.value.id == "self" and id(node) in own):
                found.append((node.lineno, node.attr))
        elif (isinstance(node, ast.Call) and ast.unparse(node.func) in ("setattr", "object.__setattr__") and len(node.args) > 1
              and isinstance(node.args[1], ast.Constant) and node.args[1].value in FIELDS
              and not (ast.unparse(node.args[0]) == "self" and id(node) in own)):
            found.append((node.lineno, node.args[1].value))
    return found


def test_no_code_assigns_to_a_record_field():
    found = [f"{path.relative_to(ROOT)}:{line}: .{name}" for path in SOURCES for line, name in field_writes(ast.parse(path.read_text()))]
    assert found == []


@pytest.mark.parametrize("code", [
    "option.count = 2",
    "o.cost.budget_usd += 1",
    "a, o.layout = 1, 2",
    "setattr(o, 'tokens_per_s', 9.0)",
    "class Option:\n    def grow(self):\n        self.count = 3",
    "class Memory:\n    def as_dict(self):\n        object.__setattr__(self, 'total', 0)",
])
def test_the_check_finds_a_write(code):
    assert field_writes(ast.parse(code))


@pytest.mark.parametrize("code", [
    "class Memory:\n    def __post_init__(self):\n        self.total = 1",
    "class Memory:\n    def __init__(self, weights):\n        self.weights, self.total = weights, weights",
    "class Runner:\n    def __init__(self):\n        self.count = 0",  # another class's own attribute
    "count = option.count",
])
def test_the_check_allows_a_record_being_built_and_other_objects(code):
    assert field_writes(ast.parse(code)) == []


@functools.cache
def consulted_option() -> options.Option:
    """An option of a real consultation (a 70B model for 20 users), with a layout whose fields are not all defaults."""
    from llmhw import api, session

    run, _ = session.run_with_defaults(api.catalog(), {"model": api.catalog().model("deepseek-r1:70b").id, "concurrency": 20,
                                                           "budget": 40000})
    return max(run.options.values(), key=lambda o: (o.layout.tensor_parallel, o.id))


def built(cls: type) -> object:
    """A record of ``cls``: an option of a real consultation or a part of it, or one written here."""
    if cls in (options.Option, options.Cost, options.Layout, sizing.Memory):
        option = consulted_option()
        return {options.Option: option, options.Cost: option.cost, options.Layout: option.layout, sizing.Memory: option.memory}[cls]
    return {costs.NodeHost: costs.NodeHost(2, 4, 24, 3.5e11, 140_000_000_000), sizing.Speed: sizing.Speed(23.3, 466.0, 1e4, "memory"),
            scaleout.Split: scaleout.Split(2, 3, 4, 8, False, True)}[cls]


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_a_written_out_init_takes_the_fields_in_order_with_their_defaults(cls):
    record = built(cls)
    init = [f for f in dataclasses.fields(cls) if f.init]
    values = [getattr(record, f.name) for f in init]
    assert cls(*values) == record and dataclasses.replace(record) == record
    assert [getattr(cls(*values), f.name) for f in dataclasses.fields(cls)] == [getattr(record, f.name) for f in dataclasses.fields(cls)]
    required = [v for f, v in zip(init, values, strict=True) if f.default is dataclasses.MISSING]
    bare = cls(*required)
    assert [getattr(bare, f.name) for f in init[len(required):]] == [f.default for f in init[len(required):]]
