"""Every rule describes itself: unique id with its module's prefix, a statement, resolvable sources, docs."""

from __future__ import annotations

import pytest
from llmhw.rules import PREFIXES
from llmhw.session import RULES

MODULE_PREFIXES = {
    "questions": {"IN"}, "memory": {"MEM"}, "candidates": {"CAND", "CMP"}, "recommend": {"REC", "BUD"},
    "pitfalls": {"P1", "P2", "P3"}, "roles": {"CMP"}, "quantization": {"QNT"}, "training": {"TRN"}, "parallelism": {"NET", "MOE"},
    "article": {"ART"},
}


def test_rule_ids_are_unique():
    ids = [m.id for m in RULES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("meta", RULES, ids=lambda m: m.id)
def test_rule_metadata(meta, catalog):
    prefix = meta.id.split("-", 1)[0]
    assert prefix in PREFIXES and prefix in MODULE_PREFIXES[meta.topic]
    assert meta.statement and meta.sources
    for source in meta.sources:
        assert source in catalog.sources, f"{meta.id}: unknown source {source}"
    for heading in ("## What it decides", "## Why", "## Example"):
        assert heading in meta.doc, f"{meta.id}: missing {heading}"
