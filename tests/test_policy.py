"""The typed policy: one field per policy.yaml entry, each checked on load with file, entry and key in the message."""

from __future__ import annotations

import dataclasses

import pytest
from llmhw.errors import KnowledgeError
from llmhw.knowledge.build import build_policy
from llmhw.knowledge.loader import load_catalog
from llmhw.knowledge.policy_schema import Policy


def test_every_policy_entry_is_one_typed_field(catalog):
    assert {f.name.replace("_", "-") for f in dataclasses.fields(Policy)} == set(catalog.policy_entries)
    policy = catalog.policy
    assert policy.p1_max_utilization == 0.35 and policy.device_counts[:3] == (1, 2, 4)
    assert policy.article_70b_params == (60_000_000_000, 80_000_000_000) and policy.link_latency_s["pcie"] == 2e-05
    with pytest.raises(dataclasses.FrozenInstanceError):
        policy.p1_max_utilization = 0.9  # type: ignore[misc]


def test_a_missing_entry_is_named(catalog):
    entries = {k: v for k, v in catalog.policy_entries.items() if k != "nvme-gbs"}
    with pytest.raises(KnowledgeError) as err:
        build_policy(entries)
    assert str(err.value) == "policy.yaml: policy value 'nvme-gbs': missing (policy_schema.Policy declares it)"


def test_an_ill_typed_value_is_named(catalog):
    entries = dict(catalog.policy_entries)
    entries["nvme-gbs"] = dataclasses.replace(entries["nvme-gbs"], value="fast")
    with pytest.raises(KnowledgeError) as err:
        build_policy(entries)
    assert str(err.value) == "policy.yaml: policy value 'nvme-gbs', key 'value': expected a number, got 'fast'"
    entries["nvme-gbs"] = dataclasses.replace(entries["nvme-gbs"], value=3.5)
    entries["article-7b-params"] = dataclasses.replace(entries["article-7b-params"], value=[6_000_000_000])
    with pytest.raises(KnowledgeError) as err:
        build_policy(entries)
    assert str(err.value) == "policy.yaml: policy value 'article-7b-params', key 'value': expected a list of 2 items, got [6000000000]"


def test_an_unknown_entry_is_an_error(tmp_path):
    (tmp_path / "policy.yaml").write_text(
        "schema_version: 1\npolicy:\n  - {id: nvme-gb, value: 3.5, unit: GB/s, why: typo, sources: [llmhw-assumption]}\n")
    with pytest.raises(KnowledgeError) as err:
        load_catalog((str(tmp_path),))
    assert str(err.value) == "policy.yaml: policy value 'nvme-gb', key 'id': unknown entry (did you mean 'nvme-gbs'?)"
