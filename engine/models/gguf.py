"""A GGUF file (or the first shard of a split one) -> its exact tensor table, read by the ``gguf`` package's GGUFReader.

The weights are the file's tensor bytes, not an estimate: the model gets its own format whose bits per weight
reproduce those bytes exactly. The architecture comes from the ``{arch}.*`` metadata keys llama.cpp writes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..knowledge.schema import Precision
from .entry import Reading, file_source, make_model, own_format, sha256
from .formats import GGUF_FILE_TYPES

SPLIT = re.compile(r"^(?P<stem>.*)-(?P<no>\d{5})-of-(?P<count>\d{5})\.gguf$")
HYBRID_ARCHS = ("mamba", "jamba", "rwkv", "falcon-h1", "nemotron_h", "granitehybrid", "qwen3next", "lfm2", "plamo2", "bamba")
# Layer patterns llama.cpp hard-codes for the architectures whose GGUF carries a sliding window
# (llama-model.cpp: gemma2 and gpt-oss alternate starting with a local layer; gemma3 has 5 local then 1 global).
SLIDING_PATTERNS = {"gemma2": lambda i: i % 2 == 0, "gpt-oss": lambda i: i % 2 == 0, "gemma3": lambda i: (i + 1) % 6 != 0,
                    "cohere2": lambda i: (i + 1) % 4 != 0}


def _reader(path: Path) -> Any:
    from gguf import GGUFReader

    try:
        return GGUFReader(str(path))
    except (OSError, ValueError, KeyError, IndexError) as exc:
        raise InputError("model", f"{path}: not a readable GGUF file: {exc}") from exc


def _value(reader: Any, key: str) -> Any:
    field = reader.fields.get(key)
    if field is None:
        return None
    value = field.contents()
    return value


def _one(value: Any) -> int | None:
    """A per-layer array (some GGUFs give heads or widths per layer) read as its largest entry."""
    if isinstance(value, (list, tuple)):
        value = max(value) if value else None
    return int(value) if value is not None else None


def shards(path: Path, reader: Any) -> list[Path]:
    """Every shard of a split GGUF, from its first one (split.count); the file alone when it is not split."""
    count = _one(_value(reader, "split.count")) or 1
    if count == 1:
        return [path]
    number = _one(_value(reader, "split.no")) or 0
    m = SPLIT.match(path.name)
    if number != 0 or m is None:
        raise InputError("model", f"{path}: shard {number + 1} of a split GGUF; point at the first shard (*-00001-of-{count:05d}.gguf)")
    found = [path.with_name(f"{m['stem']}-{i:05d}-of-{count:05d}.gguf") for i in range(1, count + 1)]
    missing = [p.name for p in found if not p.is_file()]
    if missing:
        raise InputError("model", f"{path}: split GGUF of {count} shards; missing {', '.join(missing)} next to it")
    return found


def read(path: Path, given: str, catalog_precisions: Sequence[Precision]) -> Reading:
    """Read a .gguf file (all shards of a split one) into a knowledge entry with its own exact format."""
    first = _reader(path)
    paths = shards(path, first)
    arch = str(_value(first, "general.architecture") or "")
    if not arch:
        raise InputError("model", f"{path}: GGUF without general.architecture")
    if any(a in arch for a in HYBRID_ARCHS) or any(k.startswith(f"{arch}.ssm.") for k in first.fields):
        raise InputError("model", f"{path}: {arch} is a hybrid architecture (SSM / recurrent layers): it keeps a state per sequence, "
                                  "not a KV cache per token, and llmhw does not size it; refused rather than sized wrong")
    readers = [(path, first)] + [(p, _reader(p)) for p in paths[1:]]
    tensors = [t for _, r in readers for t in r.tensors]
    params = sum(int(t.n_elements) for t in tensors)
    tensor_bytes = sum(int(t.n_bytes) for t in tensors)
    files = {str(p.resolve()): sha256(_head(p, r)) for p, r in readers}
    if not params:
        raise InputError("model", f"{path}: GGUF holds no tensors")

    def key(name: str) -> Any:
        return _value(first, f"{arch}.{name}")

    src = f"{path.name}, key {arch}."
    origins: dict[str, str] = {}

    def num(field: str, name: str, default: int | None = None) -> int | None:
        value = _one(key(name))
        if value is not None:
            origins[field] = src + name
            return value
        return default

    layers = num("layers", "block_count")
    hidden = num("hidden", "embedding_length")
    heads = num("heads", "attention.head_count")
    if not (layers and hidden and heads):
        raise InputError("model", f"{path}: GGUF metadata lacks {arch}.block_count, embedding_length or attention.head_count")
    kv_heads = num("kv_heads", "attention.head_count_kv", heads) or heads
    experts = num("experts", "expert_count") or None
    width = num("moe_intermediate", "expert_feed_forward_length")
    inter = num("intermediate", "feed_forward_length") or width or hidden
    kv_lora = num("kv_lora_rank", "attention.kv_lora_rank")
    head_dim = (num("head_dim", "attention.value_length") if kv_lora else num("head_dim", "attention.key_length")) or hidden // heads
    origins.setdefault("head_dim", f"{path.name}: embedding_length / attention.head_count")
    names = {t.name: t for t in tensors}
    vocab = num("vocab", "vocab_size") or _vocab(first, names)
    origins.setdefault("vocab", f"{path.name}: tokenizer.ggml.tokens / token_embd.weight")
    tied = "output.weight" not in names
    origins["tied_embeddings"] = f"{path.name}: tensor table ({'no' if tied else 'an'} output.weight)"
    expert_elems = sum(int(t.n_elements) for t in tensors if "_exps." in t.name)
    used = num("experts_active", "expert_used_count") if experts else None
    active = params - round(expert_elems * (1 - (used or experts or 1) / (experts or 1))) if experts else params
    origins["params"] = f"{path.name}: tensor table ({len(tensors)} tensors in {len(readers)} file(s)), elements summed"
    origins["active_params"] = f"{path.name}: tensor table, routed-expert tensors (*_exps) at expert_used_count / expert_count" \
        if experts else origins["params"]
    origins["checkpoint_bytes"] = f"{path.name}: tensor table, bytes summed ({tensor_bytes:,})"
    file_type = _file_type(_one(_value(first, "general.file_type")))
    template = next((p for p in catalog_precisions if p.id == GGUF_FILE_TYPES.get(file_type, "")), None) or _nearest(
        catalog_precisions, tensor_bytes * 8 / params)
    source = file_source(files, "GGUF header: metadata and tensor table", path)
    fmt = own_format(str(path.resolve()), template, params, tensor_bytes, file_type, source)
    origins["native_precision"] = f"{path.name}, key general.file_type {file_type} (quality and runtimes of {template.id})"
    fields: dict[str, Any] = {
        "name": str(_value(first, "general.name") or path.stem), "family": arch, "architecture": "moe" if experts else "dense",
        "params": params, "active_params": active, "layers": layers, "hidden": hidden, "heads": heads, "kv_heads": kv_heads,
        "head_dim": head_dim, "intermediate": inter, "vocab": vocab, "tied_embeddings": tied,
        "max_context": num("max_context", "context_length", 4096), "native_precision": fmt.id, "checkpoint_bytes": tensor_bytes,
    }
    if experts:
        fields |= {"experts": experts, "experts_active": used or 1, "moe_intermediate": width or inter,
                   "shared_experts": num("shared_experts", "expert_shared_count", 0)}
    if kv_lora:
        fields |= {"kv_lora_rank": kv_lora, "qk_rope_head_dim": num("qk_rope_head_dim", "rope.dimension_count")}
    notes = [f"Read from the GGUF tensor table: {tensor_bytes:,} bytes of {file_type} tensors."]
    window = num("sliding_window", "attention.sliding_window")
    if window and arch in SLIDING_PATTERNS:
        fields |= {"sliding_window": window, "sliding_layers": sum(1 for i in range(layers) if SLIDING_PATTERNS[arch](i))}
        origins["sliding_layers"] = f"llama.cpp's fixed layer pattern for {arch}"
    elif window:
        notes.append(f"Sliding window {window} not applied (llama.cpp's layer pattern for {arch} is not known here): the KV cache is an upper bound.")
    model = make_model(str(path.resolve()), given, fields, origins, source, notes)
    return Reading(model=model, source=source, precisions=(fmt,), files=files)


def _head(path: Path, reader: Any) -> bytes:
    """The bytes before the tensor data: every number the reading used."""
    with path.open("rb") as f:
        return f.read(int(reader.data_offset))


def _vocab(reader: Any, names: dict[str, Any]) -> int:
    tokens = reader.fields.get("tokenizer.ggml.tokens")
    if tokens is not None and len(tokens.data):
        return len(tokens.data)
    embd = names.get("token_embd.weight")
    if embd is None:
        raise InputError("model", "GGUF: no vocabulary size (no tokenizer.ggml.tokens, no token_embd.weight)")
    return int(max(embd.shape))


def _file_type(code: int | None) -> str:
    from gguf import LlamaFileType

    try:
        return LlamaFileType(code).name if code is not None else "GUESSED"
    except ValueError:
        return f"file type {code}"


def _nearest(precisions: Sequence[Precision], bits: float) -> Precision:
    """The GGUF or float format nearest in bits, for a file type llmhw does not name."""
    pool = [p for p in precisions if p.family in ("gguf", "float")]
    return min(pool, key=lambda p: abs(p.bits_per_weight - bits))
