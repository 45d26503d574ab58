"""``--model`` accepts a catalog name or what the user points at: a folder, config.json, index json, .safetensors, .gguf, Hub id.

``with_model(catalog, name)`` returns the catalog unchanged for a catalog name, or a copy holding the model
read from those files (``Catalog.with_models``), so rules, traces and audits treat it as one more entry.
Its id is the canonical reference (the absolute path, or the Hub id), itself a valid ``--model``: a trace replays it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..knowledge.loader import Catalog
from ..knowledge.schema import Precision
from . import gguf, hub, safetensors
from .config import WRAPPERS, count, refuse_hybrid, vision_params
from .entry import Reading, file_source, make_model, sha256
from .formats import SAFETENSORS_DTYPES, released_format

MAX_CONFIG_BYTES = 5_000_000  # the largest published config.json files are tens of kB


def with_model(cat: Catalog, name: Any) -> Catalog:
    """The catalog, plus the model ``name`` points at when it is not a catalog name.

    :raises InputError: an unknown name that is neither a readable path nor a Hub id (with the nearest catalog names),
        or files that cannot be sized (the message names the file and key).
    """
    if not isinstance(name, str) or not name.strip():
        return cat
    try:
        cat.resolve("model", name, "model")
        return cat
    except InputError:
        reading = open_model(name.strip(), tuple(cat.precisions.values()))
        if reading is None:
            raise
    model = reading.model
    if _names_an_entry(cat, model.name):  # a folder named like a catalog model (`--local-dir gpt-oss-20b`) is still these files
        model = replace(model, name=f"{model.name}, read from files")
    return cat.with_models([model], [reading.source], reading.precisions, reading.hashes)


def _names_an_entry(cat: Catalog, name: str) -> bool:
    try:
        cat.resolve("model", name, "model")
    except InputError:
        return False
    return True


def open_model(name: str, precisions: Sequence[Precision]) -> Reading | None:
    """Read the model ``name`` points at; None when it is neither an existing path nor a Hub id."""
    path = Path(name).expanduser()
    if _exists(path):
        target = path.resolve()
        stamp = tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in _stamped(target))
        return _read_path(target, name, tuple(precisions), stamp)
    if hub.HUB_ID.match(name):
        return _read_hub(name)
    return None


def _exists(path: Path) -> bool:
    """Whether a path exists; a name no file system accepts (too long, a NUL byte) is no path at all."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def _stamped(target: Path) -> list[Path]:
    """The files whose change must invalidate a cached reading."""
    folder = target if target.is_dir() else target.parent
    return [target] + [p for p in (folder / "config.json", folder / "model.safetensors.index.json") if p.is_file()]


@lru_cache(maxsize=32)
def _read_path(target: Path, given: str, precisions: tuple[Precision, ...], stamp: tuple[Any, ...]) -> Reading:
    """Read a path (cached on the files' size and modification time: a batch reads a model once)."""
    if target.is_dir():
        config = target / "config.json"
        if not config.is_file():
            ggufs = sorted(target.glob("*.gguf"))
            if ggufs:
                raise InputError("model", f"{target}: no config.json; point --model at one of its .gguf files ({ggufs[0].name})")
            raise InputError("model", f"{target}: expected a model folder with a config.json, got a folder without one")
        return read_hf(config, given, str(target), safetensors.read_folder(target))
    if not target.is_file():  # a FIFO or a device would block or never end
        raise InputError("model", f"{target}: not a regular file")
    suffix = target.name.lower()
    if suffix.endswith(".gguf"):
        return gguf.read(target, given, precisions)
    if suffix.endswith(".index.json"):
        return read_hf(_config_beside(target), given, str(target.parent), safetensors.read_index(target))
    if suffix.endswith(".safetensors"):
        return read_hf(_config_beside(target), given, str(target.parent), safetensors.read_folder(target.parent))
    if suffix.endswith(".json"):
        return read_hf(target, given, str(target) if target.name != "config.json" else str(target.parent), safetensors.read_folder(target.parent)
                       if target.name == "config.json" else None)
    raise InputError("model", f"{target}: expected a model folder, config.json, model.safetensors.index.json, .safetensors or .gguf file")


@lru_cache(maxsize=32)
def _read_hub(repo_id: str) -> Reading:
    folder = hub.fetch(repo_id)
    index = folder / "model.safetensors.index.json"
    return read_hf(folder / "config.json", repo_id, repo_id, safetensors.read_index(index) if index.is_file() else None,
                   anchor=repo_id)


def _config_beside(target: Path) -> Path:
    config = target.parent / "config.json"
    if not config.is_file():
        raise InputError("model", f"{target}: the architecture (layers, heads, context) is in the config.json beside it, and there is none")
    return config


def _load_json(path: Path) -> tuple[dict[str, Any], bytes]:
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise InputError("model", f"{path}: file is over the {MAX_CONFIG_BYTES:,}-byte limit of a config.json")
        data = path.read_bytes()
        doc = json.loads(data)
    except OSError as exc:
        raise InputError("model", f"{path}: cannot read: {exc.__class__.__name__}: {exc}") from exc
    except ValueError as exc:
        raise InputError("model", f"{path}: not valid JSON") from exc
    if not isinstance(doc, dict):
        raise InputError("model", f"{path}: expected a JSON object (a Hugging Face config.json), got {type(doc).__name__}")
    return doc, data


def read_hf(config: Path, given: str, ref: str, tensors: safetensors.Tensors | None, anchor: str | None = None) -> Reading:
    """A Hugging Face model: architecture from config.json, exact counts and dtype from the safetensors headers when at hand."""
    cfg, data = _load_json(config)
    where = config.name
    model_type = str(cfg.get("model_type") or "")
    arch_name = str((cfg.get("architectures") or [model_type or "unknown"])[0])
    text: Mapping[str, Any] = cfg
    text_type = model_type
    if isinstance(cfg.get("text_config"), Mapping) or model_type in WRAPPERS:
        text = cfg.get("text_config") or cfg  # Qwen2-VL keeps its language model's keys at the top level
        text_type = str(text.get("model_type") or f"{model_type}_text")
        refuse_hybrid(text, text_type, arch_name, f"{config.name}: text_config")
        where = f"{config.name}: text_config"
    refuse_hybrid(cfg, model_type, arch_name, config.name)
    counted = count({**{k: v for k, v in cfg.items() if k == "tie_word_embeddings"}, **text}, where, text_type)
    fields, origins, notes = dict(counted.fields), dict(counted.origins), list(counted.notes)
    fmt, fmt_origin, scheme = released_format(cfg, text, config.name)
    origins["native_precision"] = fmt_origin
    quantized = isinstance(cfg.get("quantization_config") or text.get("quantization_config"), Mapping)
    if scheme:
        notes.append(f"Released as {scheme}.")
    files = {str(config.resolve()): sha256(data)}
    text_params = fields["params"]
    towers = [k for k in ("vision_config", "audio_config") if isinstance(cfg.get(k), Mapping)]
    if tensors is not None:
        files.update(tensors.files)
        if tensors.payload_bytes:
            fields["checkpoint_bytes"] = tensors.payload_bytes
            origins["checkpoint_bytes"] = f"{tensors.headers()}: tensor bytes summed" if tensors.complete else \
                "model.safetensors.index.json, key metadata.total_size (shards not at hand)"
    if tensors is not None and tensors.complete and tensors.elements and not quantized:
        total = tensors.params(fields["layers"] if counted.mtp_layers else None)
        extra = total - text_params
        fields["params"] = total
        origins["params"] = f"{tensors.headers()}: {len(tensors.elements):,} tensors, elements summed"
        if towers and extra > 0:
            notes.append(f"Counts the {' and '.join(t.split('_')[0] for t in towers)} tower(s): {extra:,} parameters beyond the "
                         f"{text_params:,} of the text decoder (safetensors total minus the config count).")
        elif abs(extra) > 0.005 * total:
            notes.append(f"The safetensors count differs from the config count ({text_params:,}) by {extra:+,}; the file's count is used.")
        fields["active_params"] = min(fields["active_params"], total)
        dtype = SAFETENSORS_DTYPES.get(tensors.main_dtype() or "")
        if dtype:
            fmt = dtype
            origins["native_precision"] = f"{tensors.headers()}: {tensors.main_dtype()} holds most elements"
    elif towers == ["vision_config"] and (vision := vision_params(cfg, fields["hidden"])):
        kind = cfg["vision_config"].get("model_type")
        fields["params"] += vision
        origins["params"] += f" + the {kind} vision tower and projector counted from vision_config"
        notes.append(f"Counts the {kind} vision tower and projector ({vision:,} parameters, from vision_config) beyond the "
                     f"{text_params:,} of the text decoder.")
    elif towers:
        notes.append(f"Text decoder only: the {', '.join(towers)} tower is not counted (no safetensors headers at hand).")
    if counted.mtp_layers and tensors is not None and tensors.complete and tensors.elements:
        notes.append(f"The checkpoint's {tensors.params() - fields['params']:,} multi-token-prediction parameters are left out.")
    fields["name"] = _display_name(cfg, config, anchor)
    fields["family"] = text_type
    source = file_source(files, "config.json" + (" and safetensors headers" if tensors and tensors.elements else ""), anchor or config)
    fields["native_precision"] = fmt
    model = make_model(ref, given, fields, origins, source, notes)
    return Reading(model=model, source=source, text_params=text_params, files=files)


def _display_name(cfg: Mapping[str, Any], config: Path, anchor: str | None) -> str:
    if anchor:
        return anchor
    named = cfg.get("_name_or_path")
    if isinstance(named, str) and named and not Path(named).is_absolute():
        return named
    return config.parent.name if config.name == "config.json" else config.stem
