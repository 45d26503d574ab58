"""The knowledge snapshot: a start reads it instead of parsing YAML, and never trusts one that is not of today's files."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from llmhw import api
from llmhw.errors import KnowledgeError
from llmhw.knowledge import loader, snapshot

from .test_knowledge import GOOD_ACCEL

CHECK = ({"model": "deepseek-r1:7b", "precision": "q4_k_m"}, "RTX 4090")


PARSES: list[int] = []  # one item per YAML parse (a load that reads a snapshot parses nothing)


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """An empty cache directory, with the parses counted in ``PARSES``."""
    folder = tmp_path / "cache"
    monkeypatch.setenv("LLMHW_CACHE_DIR", str(folder))
    parse = loader._parse

    def counted(read: list[tuple[Path, str, bytes]]) -> dict[str, dict[str, object]]:
        PARSES.append(1)
        return parse(read)

    monkeypatch.setattr(loader, "_parse", counted)
    PARSES.clear()
    loader.load_catalog.cache_clear()
    yield folder
    monkeypatch.undo()
    loader.load_catalog.cache_clear()


def fresh(extra: tuple[str, ...] = ()) -> loader.Catalog:
    """The catalog as a new process loads it."""
    loader.load_catalog.cache_clear()
    return loader.load_catalog(extra)


def parses() -> int:
    return len(PARSES)


def snapshots(folder: Path) -> list[Path]:
    return sorted(folder.glob("knowledge-*.snapshot"))


def test_second_start_reads_the_snapshot_and_answers_the_same(cache):
    parsed = fresh()
    answer = api.check(*CHECK).to_dict()
    assert parses() == 1 and len(snapshots(cache)) == 1
    read = fresh()
    assert parses() == 1, "the second start parsed the YAML again"
    assert read == parsed and read.hashes == parsed.hashes
    assert api.check(*CHECK).to_dict() == answer


def test_edited_knowledge_file_is_parsed_again(cache, monkeypatch, tmp_path):
    copy = tmp_path / "builtin"
    shutil.copytree(loader.BUILTIN_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    monkeypatch.setattr(loader, "BUILTIN_DIR", copy)
    assert fresh().policy.default_context == 8192
    policy = copy / "policy.yaml"
    policy.write_text(policy.read_text().replace("{id: default-context, value: 8192,", "{id: default-context, value: 4096,"))
    edited = fresh()
    assert parses() == 2 and edited.policy.default_context == 4096
    assert api.advise({"model": "deepseek-r1:7b"}).profile["context"] == 4096


def test_added_knowledge_directory_is_parsed_with_the_built_in_files(cache, tmp_path):
    fresh()
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "accelerators.yaml").write_text(GOOD_ACCEL)
    cat = fresh((str(extra),))
    assert parses() == 2 and cat.accelerator("my card 48gb").id == "my-card"
    assert "my-card" not in fresh().accelerators and parses() == 2  # the built-in set keeps its own snapshot
    (extra / "accelerators.yaml").write_text(GOOD_ACCEL.replace("My Card 48GB", "Your Card 48GB"))
    assert fresh((str(extra),)).accelerator("your card 48gb").id == "my-card" and parses() == 3


def test_the_same_directory_twice_is_still_a_duplicate(cache, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "accelerators.yaml").write_text(GOOD_ACCEL)
    fresh((str(extra),))
    with pytest.raises(KnowledgeError, match="my-card': duplicate id"):
        fresh((str(extra), str(extra)))


@pytest.mark.parametrize("damage", ["truncated", "flipped byte", "empty", "other key", "garbage"])
def test_damaged_snapshot_is_never_used(cache, damage):
    parsed = fresh()
    answer = api.check(*CHECK).to_dict()
    (path,) = snapshots(cache)
    data = path.read_bytes()
    head = len(snapshot.FORMAT) + 65 + 65
    damaged = {
        "truncated": data[:-1000],
        "flipped byte": data[:-500] + bytes([data[-500] ^ 1]) + data[-499:],
        "empty": b"",
        "other key": data.replace(data[len(snapshot.FORMAT):len(snapshot.FORMAT) + 64], b"0" * 64, 1),
        "garbage": data[:head] + b"not a pickle" + data[head:],
    }[damage]
    path.write_bytes(damaged)
    assert fresh() == parsed and parses() == 2
    assert api.check(*CHECK).to_dict() == answer
    assert path.read_bytes() == data, "the damaged snapshot was not replaced"


def test_tampered_payload_with_its_hash_rewritten_still_needs_the_key(cache):
    """A snapshot of other files (here: another key) is ignored even when its own payload hash is right."""
    fresh()
    (path,) = snapshots(cache)
    other = "f" * 64
    snapshot.write(other, ("not", "a", "catalog"))
    (tampered,) = [p for p in snapshots(cache) if p != path]
    path.write_bytes(tampered.read_bytes())  # a valid file of another key, under today's name
    assert fresh().models and parses() == 2


def test_unwritable_cache_falls_back_to_parsing(monkeypatch, tmp_path, cache):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("LLMHW_CACHE_DIR", str(blocker / "cache"))
    assert fresh().models and fresh().models and parses() == 2
    assert api.check(*CHECK).fits


def test_key_follows_every_file_and_the_code(tmp_path):
    base = snapshot.key([("/k", [("models.yaml", "a" * 64)])])
    assert base == snapshot.key([("/k", [("models.yaml", "a" * 64)])])
    assert base != snapshot.key([("/k", [("models.yaml", "b" * 64)])])
    assert base != snapshot.key([("/k", [("models.yaml", "a" * 64)]), ("/x", [("models.yaml", "a" * 64)])])
    assert base != snapshot.key([("/j", [("models.yaml", "a" * 64)])])


def test_key_covers_every_module_that_turns_yaml_into_entries():
    """A module that declares or builds entries and is missing from ``CODE`` could change a class a snapshot restores
    without changing the key (as when a schema class moves to a module of its own)."""
    here = Path(snapshot.__file__).resolve().parent
    assert set(snapshot.CODE) == {p.name for p in here.glob("*.py")} - {"__init__.py"}


def test_snapshot_naming_a_class_that_moved_is_parsed_again(cache):
    """A snapshot whose payload names a class no module defines any more (one written before the class moved) is
    ignored, even under today's key with its payload hash right."""
    parsed = fresh()
    (path,) = snapshots(cache)
    data = path.read_bytes()
    k = data[len(snapshot.FORMAT):len(snapshot.FORMAT) + 64]
    payload = b"cllmhw.knowledge.schema\nRuntime\n."  # pickle protocol 0: the global llmhw.knowledge.schema.Runtime
    path.write_bytes(snapshot.FORMAT + k + b"\n" + hashlib.sha256(payload).hexdigest().encode() + b"\n" + payload)
    assert fresh() == parsed and parses() == 2
    assert path.read_bytes() == data, "the stale snapshot was not replaced"
