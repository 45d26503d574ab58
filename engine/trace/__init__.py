"""Traces: rule firings as data, the trace document, its one explainer, and its audit.

- ``events``: ``TraceEvent``, one per rule firing (the session's ``conclude()`` writes them);
- ``evidence``: what a consultation saw besides its firings (inputs, facts, knowledge hashes);
- ``document``: the trace document, its hashes, ``write``/``read`` (validated against ``trace.schema.json``);
- ``explain``: how a conclusion was reached, for ``llmhw explain``, ``how`` in ``llmhw ask`` and the API;
- ``audit``: replay a trace through today's rules and knowledge, and compare.

Each name loads its module on first use: a consultation records events and evidence on every run, but the
document, explainer and audit (jsonschema, the replay) load only when a trace is written or read.
"""

from __future__ import annotations

import sys
import types
from typing import TYPE_CHECKING, Any

from ..errors import TraceError as TraceError

if TYPE_CHECKING:
    from .audit import Audit as Audit
    from .audit import audit as audit
    from .audit import replay as replay
    from .document import digest as digest
    from .document import document as document
    from .document import dumps as dumps
    from .document import loads as loads
    from .document import read as read
    from .document import reference_problems as reference_problems
    from .document import schema as schema
    from .document import validate as validate
    from .document import write as write
    from .events import TraceEvent as TraceEvent
    from .evidence import Evidence as Evidence
    from .evidence import evidence as evidence
    from .explain import Explanation as Explanation
    from .explain import derivation as derivation
    from .explain import explain as explain

# name -> the module of this package defining it
_LAZY = {"Audit": "audit", "audit": "audit", "replay": "audit", "digest": "document", "document": "document", "dumps": "document",
         "loads": "document", "read": "document", "reference_problems": "document", "schema": "document", "validate": "document",
         "write": "document", "TraceEvent": "events", "Evidence": "evidence", "evidence": "evidence", "Explanation": "explain",
         "derivation": "explain", "explain": "explain"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'llmhw.trace' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


class _Package(types.ModuleType):
    """This package, keeping ``audit``, ``document`` and ``explain`` the functions they were when eagerly imported.

    Loading a submodule sets it as an attribute of its package: ``import llmhw.trace.audit`` would shadow the
    function ``trace.audit`` with the module of the same name; the function is kept instead.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _LAZY and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
