"""The embedding API: dataclasses whose to_dict() is the CLI's JSON, InputError, threads, extra knowledge, docs/api.md."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import llmhw
import pytest
from llmhw.cli import main

from .conftest import run_json

DOCS = Path(__file__).resolve().parent.parent / "docs" / "api.md"

EXTRA_SOURCES = """\
schema_version: 1
sources:
- {id: acme-datasheet, title: ACME internal datasheets, url: https://intranet.example/acme, accessed: 2026-01, quality: primary}
"""
EXTRA_ACCELERATORS = """\
schema_version: 1
accelerators:
- id: acme-npx-24
  name: ACME NPX-24
  aliases: ["NPX-24"]
  vendor: acme
  kind: gpu
  ecosystem: cuda
  memory_bytes: 24000000000
  usable_memory_bytes: 24000000000
  usable_memory_basis: driver-reported
  mem_bandwidth_gbs: 900
  bf16_tflops: 150
  int8_tops: 300
  cites: {memory_bytes: acme-datasheet, usable_memory_bytes: acme-datasheet, mem_bandwidth_gbs: acme-datasheet,
    bf16_tflops: acme-datasheet, int8_tops: acme-datasheet}
  max_devices: 4
  features: [bf16, fp16, int8, int4]
  obtain: buy
  prices:
  - {usd: 99, kind: msrp, date: "2026-01", source: acme-datasheet}
  sources: [acme-datasheet]
"""
EXTRA_MODELS = """\
schema_version: 1
models:
- id: acme-chat-7b
  name: ACME Chat 7B
  family: acme
  architecture: dense
  params: 7615616512
  active_params: 7615616512
  layers: 28
  hidden: 3584
  heads: 28
  kv_heads: 4
  head_dim: 128
  intermediate: 18944
  vocab: 152064
  tied_embeddings: false
  max_context: 32768
  native_precision: bf16
  aliases: ["acme/chat-7b"]
  sources: [acme-datasheet]
"""


def write_extra(directory: Path) -> Path:
    """An embedding app's own knowledge: a cheap private accelerator and an in-house model."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "sources.yaml").write_text(EXTRA_SOURCES)
    (directory / "accelerators.yaml").write_text(EXTRA_ACCELERATORS)
    (directory / "models.yaml").write_text(EXTRA_MODELS)
    return directory


PROFILES = [
    {"model": "deepseek-r1:7b"},
    {"model": "deepseek-r1:70b", "concurrency": 20, "budget": 40000},
    {"model": "qwen2.5:7b", "task": "lora", "batch": 32},
    {"model": "deepseek-r1:7b", "deployment": "cloud", "ecosystem": "tpu"},
    {"model": "llama-3.1-70b", "task": "qlora", "budget": 10000},
]


def test_public_api_is_reexported():
    for name in ("advise", "check", "Advice", "CheckResult", "Profile", "InputError", "TraceError"):
        assert hasattr(llmhw, name), name
    assert (Path(llmhw.__file__).parent / "py.typed").exists()
    assert (Path(llmhw.__file__).parent / "trace.schema.json").exists()


def test_advise_to_dict_is_the_cli_json(runner):
    profile = {"model": "deepseek-r1:70b", "concurrency": 20, "context": 8192, "budget": 40000}
    cli = run_json(runner, "recommend", "--model", "deepseek-r1:70b", "--concurrency", "20", "--context", "8192",
                   "--budget", "40000")
    assert llmhw.advise(profile).to_dict() == cli
    assert json.loads(json.dumps(llmhw.advise(llmhw.Profile(**profile)).to_dict())) == cli


def test_check_to_dict_is_the_cli_json(runner):
    cli = run_json(runner, "check", "--model", "deepseek-r1:7b", "--hardware", "A100 80GB", "--precision", "q4_k_m")
    result = llmhw.check({"model": "deepseek-r1:7b", "precision": "q4_k_m"}, "A100 80GB")
    assert result.to_dict() == cli and result.fits


@pytest.mark.parametrize("profile, field", [
    ({"model": "deepseek-r1:7b", "context": 0}, "context"),
    ({"model": "no-such-model-xyz"}, "model"),
    ({"model": "deepseek-r1:7b", "task": "dance"}, "task"),
    ({"model": "deepseek-r1:7b", "contxt": 10}, "contxt"),
    ({"task": "inference"}, "model"),
    ("deepseek-r1:7b", "profile"),
])
def test_bad_input_raises_input_error_naming_the_field(profile, field):
    with pytest.raises(llmhw.InputError) as info:
        llmhw.advise(profile)
    assert isinstance(info.value, ValueError) and info.value.field == field
    assert str(info.value).startswith(f"{field}: ")


def test_check_bad_hardware_and_count():
    with pytest.raises(ValueError) as info:
        llmhw.check({"model": "deepseek-r1:7b"}, "no-such-card")
    assert info.value.field == "hardware"
    with pytest.raises(llmhw.InputError) as info:
        llmhw.check({"model": "deepseek-r1:7b"}, "h100-sxm", count=0)
    assert info.value.field == "count"


def test_thread_pool_gives_the_sequential_results():
    jobs = [PROFILES[i % len(PROFILES)] for i in range(40)]
    sequential = [llmhw.advise(p).to_dict() for p in jobs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda p: llmhw.advise(p).to_dict(), jobs))
    assert parallel == sequential
    checks = [({"model": "deepseek-r1:7b", "precision": "q4_k_m"}, "A100 80GB"), ({"model": "deepseek-r1:70b"}, "h100-sxm")] * 8
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel_checks = list(pool.map(lambda a: llmhw.check(*a).to_dict(), checks))
    assert parallel_checks == [llmhw.check(*a).to_dict() for a in checks]


# Mixture-of-experts consultations whose hybrid CPU+GPU options and tip read the host: none, one described by its cores
# alone, by its RAM, by its bandwidth, a catalog box named; local, edge and cloud.
HOSTS = [
    {"model": "qwen3-235b-a22b", "concurrency": 4, "context": 2048, "ecosystem": "apple", "deployment": "local", "cpu_cores": 4,
     "ram_gb": 64},
    {"model": "qwen3-235b-a22b", "concurrency": 4, "context": 8192, "deployment": "cloud"},
    {"model": "gpt-oss-20b", "deployment": "local", "cpu_cores": 8},
    {"model": "gpt-oss-20b", "deployment": "local"},
    {"model": "gpt-oss-20b", "deployment": "edge", "ram_gb": 32},
    {"model": "gpt-oss-120b", "deployment": "local", "host_bandwidth_gbs": 200, "budget": 5000},
    {"model": "gpt-oss-120b", "deployment": "local", "host": "cpu-desktop-7900x-64gb", "budget": 5000},
    {"model": "gpt-oss-120b", "deployment": "local", "budget": 5000},
]


def test_an_answer_does_not_depend_on_the_consultations_before_it():
    """The planner keeps values per catalog from one consultation to the next (planner/memo.py), keyed by what they
    read: a key missing one would make a batch row's answer depend on the rows before it (a host described by its cores
    once leaked into a cloud consultation's hybrid tip)."""
    from llmhw.knowledge.loader import load_catalog

    def answers(order: list[int]) -> dict[int, object]:
        load_catalog.cache_clear()  # a new catalog: the kept values start empty
        return {i: llmhw.advise(HOSTS[i]).to_dict() for i in order}

    forward = answers(list(range(len(HOSTS))))
    assert answers(list(reversed(range(len(HOSTS))))) == forward


def test_thread_pool_traces_are_identical():
    from llmhw import trace

    profile = PROFILES[1]
    expected = trace.dumps(trace.document(llmhw.advise(profile), created="2026-01-01T00:00:00Z"))
    with ThreadPoolExecutor(max_workers=8) as pool:
        docs = list(pool.map(lambda _: trace.dumps(trace.document(llmhw.advise(profile), created="2026-01-01T00:00:00Z")),
                             range(16)))
    assert all(d == expected for d in docs)


def test_extra_knowledge_changes_the_recommendations(tmp_path, runner):
    extra = write_extra(tmp_path / "acme")
    mine = {"model": "deepseek-r1:7b", "cpu_cores": 8, "ram_gb": 32}  # a host the user has: the card is priced alone
    before = llmhw.advise(mine)
    after = llmhw.advise(mine, knowledge_dirs=[extra])
    assert before.recommendations[0]["hardware"] != "acme-npx-24"
    minimum = after.recommendations[0]
    assert minimum["tier"] == "minimum" and minimum["hardware"] == "acme-npx-24" and minimum["cost"]["purchase_usd"] == 99
    # The in-house model resolves by name only with the extra knowledge.
    with pytest.raises(llmhw.InputError) as info:
        llmhw.advise({"model": "acme/chat-7b"})
    assert info.value.field == "model"
    own = llmhw.advise({"model": "acme/chat-7b"}, knowledge_dirs=[str(extra)])
    assert own.profile["model"] == "acme-chat-7b" and own.profile["model_name"] == "ACME Chat 7B"
    # The private accelerator can be checked by name, and the CLI takes the same directory.
    assert llmhw.check({"model": "acme/chat-7b"}, "NPX-24", knowledge_dirs=[extra]).fits
    cli = run_json(runner, "recommend", "--model", "deepseek-r1:7b", "--cpu-cores", "8", "--ram", "32", "--knowledge", str(extra))
    assert cli == after.to_dict()


def test_broken_extra_knowledge_is_validated_like_builtin(tmp_path, runner):
    extra = write_extra(tmp_path / "bad")
    (extra / "accelerators.yaml").write_text(EXTRA_ACCELERATORS.replace("memory_bytes: 24000000000", "memory_bytes: -24"))
    with pytest.raises(llmhw.KnowledgeError, match="acme-npx-24.*memory_bytes"):
        llmhw.advise({"model": "deepseek-r1:7b"}, knowledge_dirs=[extra])
    result = runner.invoke(main, ["recommend", "--model", "deepseek-r1:7b", "--knowledge", str(extra)])
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1


def test_docs_api_examples_run(capsys):
    blocks = re.findall(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert len(blocks) >= 4
    text = DOCS.read_text()
    assert "web handler" in text and "batch job" in text
    namespace: dict = {"__name__": "docs_api"}
    for i, block in enumerate(blocks):
        exec(compile(block, f"{DOCS}#block{i + 1}", "exec"), namespace)
    assert "bad input: context:" in capsys.readouterr().out


def test_profile_is_the_slot_table():
    """Profile has one field per slot and checks each when built, like the API and the CLI do."""
    from llmhw.profile import SLOTS

    empty = llmhw.Profile()
    assert [getattr(empty, s.name) for s in SLOTS] == [None] * len(SLOTS)
    profile = llmhw.Profile(model="deepseek-r1:7b", context="8192", activation_checkpointing=True, budget=None)
    assert profile.answers() == {"model": "deepseek-r1:7b", "context": 8192, "activation_checkpointing": "on"}
    assert profile == llmhw.Profile.from_mapping({"model": "deepseek-r1:7b", "context": 8192, "activation-checkpointing": "on"})
    assert hash(profile) == hash(llmhw.Profile(**profile.answers()))
    with pytest.raises(llmhw.InputError, match=r"^context: expected a number from 1 to 10,000,000, got 0$"):
        llmhw.Profile(model="deepseek-r1:7b", context=0)
    with pytest.raises(TypeError, match="^Profile\\(\\) got an unexpected keyword argument 'contex'$"):
        llmhw.Profile(contex=4096)
    with pytest.raises(AttributeError):
        profile.context = 4096
