"""Load and validate the knowledge base: YAML files in, frozen dataclasses out.

One loader walks every file with the dataclass declarations in ``schema``; an
error names file, entry and key on one line. Loading is explicit and cached
(``load_catalog``), never done at import time.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, TypeVar

from ..errors import InputError, KnowledgeError
from . import schema, snapshot
from .policy_schema import Policy, PolicyValue
from .runtime_schema import Runtime
from .schema import Accelerator, CalibrationRun, Model, Precision, Source
from .yamlio import read_bytes

BUILTIN_DIR = Path(__file__).resolve().parent
SCHEMA_VERSION = 1

# file stem -> (top-level key, entry class, human label)
CATALOGS: dict[str, tuple[str, type, str]] = {
    "sources": ("sources", Source, "source"),
    "models": ("models", Model, "model"),
    "accelerators": ("accelerators", Accelerator, "accelerator"),
    "precisions": ("precisions", Precision, "precision"),
    "runtimes": ("runtimes", Runtime, "runtime"),
    "policy": ("policy", PolicyValue, "policy value"),
    "calibration": ("calibration", CalibrationRun, "calibration run"),
}
# file stem -> Catalog field holding its entries (policy.yaml's raw entries beside the typed ``Catalog.policy``)
FIELDS = {stem: "policy_entries" if stem == "policy" else stem for stem in CATALOGS}

T = TypeVar("T")


@dataclass(frozen=True)
class Catalog:
    """The whole knowledge base, validated, with name resolution."""

    sources: Mapping[str, Source]
    models: Mapping[str, Model]
    accelerators: Mapping[str, Accelerator]
    precisions: Mapping[str, Precision]
    runtimes: Mapping[str, Runtime]
    policy_entries: Mapping[str, PolicyValue]  # policy.yaml as written: each value with its unit, reason and sources
    policy: Policy  # the same values, one typed field each: what the planner and the rules read
    calibration: Mapping[str, CalibrationRun]
    hashes: Mapping[str, str]
    _names: Mapping[str, Mapping[str, str]]

    def resolve(self, kind: str, name: str, field: str) -> str:
        """The id of a model, accelerator or precision named by id, name or alias (any case)."""
        if not isinstance(name, str) or not name.strip():
            from .build import short_repr

            raise InputError(field, f"expected a {kind} name, got {short_repr(name)}")
        names = self._names[kind]
        key = _fold(name)
        if key in names:
            return names[key]
        import difflib

        near = difflib.get_close_matches(key, list(names), n=3, cutoff=0.5)
        shown = sorted({names[n] for n in near})
        listing = {"model": "llmhw models", "hardware": "llmhw hardware"}.get(kind, "llmhw recommend --help")
        hint = f"; did you mean {', '.join(repr(s) for s in shown)}?" if shown else f"; see `{listing}`"
        raise InputError(field, f"unknown {kind} {name[:80]!r}{hint}")

    def model(self, name: str, field: str = "model") -> Model:
        return self.models[self.resolve("model", name, field)]

    def accelerator(self, name: str, field: str = "hardware") -> Accelerator:
        return self.accelerators[self.resolve("hardware", name, field)]

    def precision(self, name: str, field: str = "precision") -> Precision:
        return self.precisions[self.resolve("precision", name, field)]

    def with_models(self, models: Iterable[Model], sources: Iterable[Source] = (), precisions: Iterable[Precision] = (),
                    hashes: Mapping[str, str] | None = None) -> Catalog:
        """A copy with models read from files added (with their sources, own formats and file hashes), checked like the built-in ones.

        A consultation about a model folder, config.json, safetensors, GGUF file or Hub id adds that model this way,
        so rules, traces and audits see it as one more knowledge entry.
        """
        cat: dict[str, dict[str, Any]] = {stem: dict(getattr(self, FIELDS[stem])) for stem in CATALOGS}
        for stem, entries in (("sources", sources), ("precisions", precisions), ("models", models)):
            for e in entries:
                if e.id in cat[stem] and cat[stem][e.id] != e:
                    raise KnowledgeError(f"{e.id}: {CATALOGS[stem][2]} id already in the knowledge base")
                cat[stem][e.id] = e
        for p in precisions:
            if p.variant_of is not None:
                _run_like(cat["runtimes"], p.id, p.variant_of)
        _check_whole(cat)
        return _catalog(cat, self.policy, {**self.hashes, **(hashes or {})})


def _run_like(runtimes: dict[str, Runtime], variant: str, of: str) -> None:
    """Let every runtime run the format ``variant`` where it runs the catalog format ``of``."""
    for rid, r in runtimes.items():
        extra = tuple(dataclasses.replace(f, precision=variant) for f in r.formats if f.precision == of)
        if extra:
            runtimes[rid] = dataclasses.replace(r, formats=(*r.formats, *extra))


def _fold(name: str) -> str:
    """Names match case-insensitively and ignore spaces, underscores and 'nvidia ' prefixes."""
    folded = " ".join(name.lower().replace("_", "-").split())
    return folded.removeprefix("nvidia ").replace(" ", "-")


def _entries(path: Path, data: bytes, key: str, cls: type[T], label: str) -> list[T]:
    from .build import build, short_repr
    from .yamlio import decode_text, parse_yaml

    doc = parse_yaml(decode_text(data, path), str(path), allow_aliases=path.parent == BUILTIN_DIR)
    if not isinstance(doc, dict):
        raise KnowledgeError(f"{path}: expected a mapping with schema_version and {key}, got {type(doc).__name__}")
    version = doc.get("schema_version")
    if version != SCHEMA_VERSION:
        raise KnowledgeError(f"{path}: schema_version: expected {SCHEMA_VERSION}, got {short_repr(version)}")
    extra = sorted(set(doc) - {"schema_version", key})
    if extra:
        raise KnowledgeError(f"{path}: unknown top-level key '{extra[0]}' (expected schema_version, {key})")
    items = doc.get(key)
    if not isinstance(items, list):
        raise KnowledgeError(f"{path}: {key}: expected a list of entries, got {short_repr(items)}")
    return [build(cls, raw, f"{path.name}: {label} #{i + 1}") for i, raw in enumerate(items)]


def _check_whole(cat: dict[str, dict[str, Any]]) -> None:
    """Cross-file checks: every cited source exists, every reference resolves."""
    sources = cat["sources"]
    for stem, (_, _, label) in CATALOGS.items():
        for entry in cat[stem].values():
            cited = list(getattr(entry, "sources", ()))
            cited += [p.source for p in getattr(entry, "prices", ())]
            for sid in cited:
                if sid not in sources:
                    raise KnowledgeError(f"{stem}.yaml: {label} '{entry.id}', key 'sources': unknown source {sid!r}")
            if stem != "sources" and not cited:
                raise KnowledgeError(f"{stem}.yaml: {label} '{entry.id}', key 'sources': at least one source is required")
    for a in cat["accelerators"].values():
        _check_accelerator(a, sources)
    for m in cat["models"].values():
        if m.native_precision not in cat["precisions"]:
            raise KnowledgeError(f"models.yaml: model '{m.id}', key 'native_precision': unknown precision {m.native_precision!r}")
        if m.active_params > m.params:
            raise KnowledgeError(f"models.yaml: model '{m.id}', key 'active_params': larger than params")
        if m.is_moe and not (m.experts and m.experts_active):
            raise KnowledgeError(f"models.yaml: model '{m.id}', key 'experts': required for a moe model")
    _check_calibration(cat)
    for r in cat["runtimes"].values():
        for eco in r.ecosystems:
            if eco not in schema.ECOSYSTEMS:
                raise KnowledgeError(
                    f"runtimes.yaml: runtime '{r.id}', key 'ecosystems': expected one of "
                    f"{', '.join(sorted(schema.ECOSYSTEMS))}; got {eco!r}"
                )
        for tool in r.launch:
            unknown_sources = [s for s in tool.sources if s not in sources]
            if unknown_sources or not tool.sources:
                raise KnowledgeError(f"runtimes.yaml: runtime '{r.id}', key 'launch', {tool.style!r}: "
                                     + (f"unknown source {unknown_sources[0]!r}" if unknown_sources else "at least one source is required"))
        if r.host_cores is not None:
            where = f"runtimes.yaml: runtime '{r.id}', key 'host_cores'"
            unknown = [s for s in r.host_cores.sources if s not in sources]
            if unknown or not r.host_cores.sources:
                raise KnowledgeError(f"{where}: " + (f"unknown source {unknown[0]!r}" if unknown else "at least one source is required"))
        for kv in r.kv_formats:
            if kv not in cat["precisions"] or cat["precisions"][kv].kv_bytes_per_element is None:
                raise KnowledgeError(f"runtimes.yaml: runtime '{r.id}', key 'kv_formats': {kv!r} is not a precision with kv_bytes_per_element")
        for f in r.formats:
            where = f"runtimes.yaml: runtime '{r.id}', key 'formats', precision {f.precision!r}"
            if f.precision not in cat["precisions"]:
                raise KnowledgeError(f"{where}: unknown precision")
            outside = sorted(set(f.ecosystems) - set(r.ecosystems))
            if outside:
                raise KnowledgeError(f"{where}: ecosystem {outside[0]!r} is not one of the runtime's ({', '.join(r.ecosystems)})")
            unknown = [s for s in f.sources if s not in sources]
            if unknown:
                raise KnowledgeError(f"{where}: unknown source {unknown[0]!r}")


def _check_calibration(cat: dict[str, dict[str, Any]]) -> None:
    """Every calibration run names catalog entries and publishes a rate."""
    refs = (("model", "models"), ("hardware", "accelerators"), ("precision", "precisions"), ("runtime", "runtimes"))
    for run in cat["calibration"].values():
        where = f"calibration.yaml: calibration run '{run.id}'"
        for key, stem in refs:
            if getattr(run, key) not in cat[stem]:
                raise KnowledgeError(f"{where}, key '{key}': unknown {key} {getattr(run, key)!r}")
        if run.per_user_tok_s is None and run.total_tok_s is None:
            raise KnowledgeError(f"{where}, key 'per_user_tok_s': one of per_user_tok_s and total_tok_s is required")
        if run.host is not None and run.host not in cat["accelerators"]:
            raise KnowledgeError(f"{where}, key 'host': unknown host box {run.host!r}")
        if run.offload is not None and run.host is None and run.host_bandwidth_gbs is None:
            raise KnowledgeError(f"{where}, key 'host': an offloaded run names its host or host_bandwidth_gbs")
        if run.prompt_tokens is not None and run.prompt_tokens >= run.context:
            raise KnowledgeError(f"{where}, key 'prompt_tokens': expected fewer than context ({run.context}) tokens")
        shape = (run.tensor_parallel, run.pipeline_parallel, run.data_parallel)
        if any(shape) and math.prod(n or 1 for n in shape) != run.count:
            raise KnowledgeError(f"{where}, key 'tensor_parallel': expected tensor x pipeline x data parallel = count "
                                 f"({run.count}), got {math.prod(n or 1 for n in shape)}")


@cache
def _cited_fields() -> tuple[str, ...]:
    """The accelerator numbers that must each name their source."""
    return tuple(f.name for f in dataclasses.fields(Accelerator) if f.metadata.get("cited"))


def _check_accelerator(a: Accelerator, sources: Mapping[str, Source]) -> None:
    """Every number cites a known source (the ranges are knowledge/checks.py's)."""
    where = f"accelerators.yaml: accelerator '{a.id}'"
    cited = _cited_fields()
    for name, sid in a.cites.items():
        if name not in cited:
            raise KnowledgeError(f"{where}, key 'cites': {name!r} is not a sourced number (expected one of {', '.join(cited)})")
        if sid not in sources:
            raise KnowledgeError(f"{where}, key 'cites': unknown source {sid!r} for {name}")
    for name in cited:
        if getattr(a, name) is not None and name not in a.cites:
            raise KnowledgeError(f"{where}, key '{name}': a number without a source (add it to cites)")


def _names(cat: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for kind, stem in (("model", "models"), ("hardware", "accelerators"), ("precision", "precisions")):
        names: dict[str, str] = {}
        for e in cat[stem].values():
            for alias in (e.id, e.name, *e.aliases):
                key = _fold(alias)
                if names.get(key, e.id) != e.id:
                    raise KnowledgeError(f"{stem}.yaml: '{e.id}', key 'aliases': {alias!r} already names '{names[key]}'")
                names[key] = e.id
        out[kind] = names
    return out


def _files(directory: Path) -> dict[str, Path]:
    return {stem: directory / f"{stem}.yaml" for stem in CATALOGS if (directory / f"{stem}.yaml").exists()}


@lru_cache(maxsize=8)
def load_catalog(extra_dirs: tuple[str, ...] = ()) -> Catalog:
    """Load the built-in knowledge base plus any extra directories (entries are added, ids must stay unique).

    Read from the snapshot of the same files when there is one (``snapshot``): parsed and checked only once per change.

    :param extra_dirs: directories holding any of models.yaml, accelerators.yaml, ... with the built-in shape.
    """
    read: list[tuple[Path, str, bytes]] = []  # (file, name in errors and hashes, bytes): read once, hashed, parsed if needed
    hashes: dict[str, str] = {}
    sets: list[tuple[str, list[tuple[str, str]]]] = []  # each directory in order, with its files' names and hashes: the key
    for i, directory in enumerate((str(BUILTIN_DIR), *extra_dirs)):
        path = Path(directory)
        if not path.is_dir():
            raise KnowledgeError(f"{directory}: not a directory of knowledge files")
        files = _files(path)
        if i and not files:
            raise KnowledgeError(f"{directory}: holds none of {', '.join(f'{s}.yaml' for s in CATALOGS)}")
        here = [(file, file.name if i == 0 else str(file), read_bytes(file)) for file in files.values()]
        digests = [hashlib.sha256(data).hexdigest() for _, _, data in here]
        sets.append((str(path.resolve()), [(file.name, digest) for (file, _, _), digest in zip(here, digests, strict=True)]))
        hashes.update({name: digest for (_, name, _), digest in zip(here, digests, strict=True)})
        read += here
    key = snapshot.key(sets)
    saved = snapshot.read(key)
    if isinstance(saved, tuple) and len(saved) == 3:
        cat, policy, names = saved
        return _catalog(cat, policy, hashes, names)
    cat = _parse(read)
    policy = _policy(cat)
    names = _names(cat)
    snapshot.write(key, (cat, policy, names))
    return _catalog(cat, policy, hashes, names)


def _parse(read: list[tuple[Path, str, bytes]]) -> dict[str, dict[str, Any]]:
    """Every entry of the files read, checked one by one and as a whole, by file stem."""
    from . import checks

    cat: dict[str, dict[str, Any]] = {stem: {} for stem in CATALOGS}
    for file, name, data in read:
        stem = file.stem
        key, cls, label = CATALOGS[stem]
        entries: list[Any] = _entries(file, data, key, cls, label)
        checks.check_entries(name, label, entries)
        for e in entries:  # unique within the file and across all directories
            if e.id in cat[stem]:
                raise KnowledgeError(f"{name}: {label} '{e.id}': duplicate id")
            cat[stem][e.id] = e
    if not cat["models"] or not cat["accelerators"]:
        raise KnowledgeError(f"{BUILTIN_DIR}: the built-in catalog is missing")
    _check_whole(cat)
    return cat


def _policy(cat: Mapping[str, Mapping[str, Any]]) -> Policy:
    from .build import build_policy

    return build_policy(cat["policy"])


def _catalog(cat: Mapping[str, Mapping[str, Any]], policy: Policy, hashes: Mapping[str, str],
             names: Mapping[str, Mapping[str, str]] | None = None) -> Catalog:
    """The Catalog of checked entries by file stem, read-only."""
    return Catalog(**{FIELDS[stem]: types.MappingProxyType(dict(entries)) for stem, entries in cat.items()}, policy=policy,
                   hashes=types.MappingProxyType(dict(hashes)), _names=_names(cat) if names is None else names)
