"""The records built for every option are hashed by value but not frozen (engine/planner/options.py says why): no code
assigns to their fields once they are built, which this reads off the sources, as a frozen dataclass would refuse it."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from llmhw import sizing
from llmhw.planner import costs, options

RECORDS = (options.Option, options.Cost, options.Layout, costs.NodeHost, sizing.Memory, sizing.Speed)
FIELDS = {f.name for cls in RECORDS for f in dataclasses.fields(cls)}
NAMES = {cls.__name__ for cls in RECORDS}
ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted([*ROOT.glob("engine/**/*.py"), *ROOT.glob("rules/*.py")])


def field_writes(tree: ast.AST) -> list[tuple[int, str]]:
    """(line, field) of every statement that stores a record's field name on an object other than ``self``, or on
    ``self`` inside a record's own methods but ``__post_init__`` (which completes a record being built)."""
    own: set[int] = set()  # the ids of `self` stores allowed: another class's own attributes, a record's __post_init__
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef)):
            if cls.name not in NAMES or fn.name == "__post_init__":
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
    "class Runner:\n    def __init__(self):\n        self.count = 0",  # another class's own attribute
    "count = option.count",
])
def test_the_check_allows_a_record_being_built_and_other_objects(code):
    assert field_writes(ast.parse(code)) == []
