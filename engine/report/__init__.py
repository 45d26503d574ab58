"""The HTML report: one self-contained page per answer, with the memory and cost/speed pictures.

- ``page``: the page laid out from a result's JSON (``advice_html`` for `recommend`, ``check_html`` for `check`);
- ``svg``: the inline charts (memory per device, every option's cost against its speed);
- ``derivation``: derivations as trees with their sources, and `llmhw explain` as a page (``explanation_html``);
- ``style``: the inline stylesheet.

``explained(result)`` gives the derivations the page expands under each tier, warning and tip.
"""

from __future__ import annotations

from typing import Any

from ..trace.explain import Explanation
from .derivation import explanation_html as _explanation_html
from .page import advice_html as advice_html
from .page import check_html as check_html
from .page import head

__all__ = ["advice_html", "check_html", "explained", "explanation_html"]


def explanation_html(explanation: Explanation) -> str:
    """`llmhw explain --format html`: every conclusion of a trace with its derivation and sources, as one page."""
    return _explanation_html(explanation, head(f"llmhw: how `llmhw {explanation.command}` was answered"))


def explained(result: Any) -> Explanation | None:
    """Every conclusion's derivation for an ``Advice`` or ``CheckResult`` (None for a result without evidence)."""
    from ..trace import document, explain

    if getattr(result, "evidence", None) is None:
        return None
    return explain(document(result, created="-"))
