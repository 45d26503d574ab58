"""Traces: rule firings as data, the trace document, its one explainer, and its audit.

- ``events``: ``TraceEvent``, one per rule firing (the session's ``conclude()`` writes them);
- ``evidence``: what a consultation saw besides its firings (inputs, facts, knowledge hashes);
- ``document``: the trace document, its hashes, ``write``/``read`` (validated against ``trace.schema.json``);
- ``explain``: how a conclusion was reached, for ``llmhw explain``, ``how`` in ``llmhw ask`` and the API;
- ``audit``: replay a trace through today's rules and knowledge, and compare.
"""

from __future__ import annotations

from ..errors import TraceError as TraceError
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
