"""Safetensors headers -> exact tensor counts, dtypes and bytes, without loading a tensor.

A safetensors file starts with an 8-byte little-endian header length and a JSON header giving every tensor's
dtype, shape and byte range (https://huggingface.co/docs/safetensors, "Format"). ``safe_open`` maps the file
and reads only that header; the header bytes are also hashed, so a trace names exactly what was read.
"""

from __future__ import annotations

import json
import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from .entry import sha256

MAX_HEADER_BYTES = 100_000_000  # the format's own limit on the JSON header (safetensors rejects larger ones)
LAYER = re.compile(r"(?:^|\.)layers\.(\d+)\.")


@dataclass(frozen=True)
class Tensors:
    """The tensor table of one checkpoint (one file or the shards of an index)."""

    elements: Mapping[str, int]  # tensor name -> elements
    dtypes: Mapping[str, str]  # tensor name -> safetensors dtype (BF16, F8_E4M3, U8, ...)
    payload_bytes: int | None  # bytes of tensor data; None when no shard was at hand (index total_size used instead)
    files: Mapping[str, str] = field(default_factory=dict)  # file -> SHA-256 of the header (or index) bytes read
    complete: bool = True  # every shard of the index was read

    def params(self, layers: int | None = None) -> int:
        """Elements of every tensor, leaving out layers numbered ``layers`` and above (multi-token-prediction modules)."""
        return sum(n for name, n in self.elements.items() if layers is None or not _beyond(name, layers))

    def headers(self) -> str:
        """The files whose headers were read, for the origin of a number: one name, or the first and last shard."""
        names = sorted(Path(f).name for f in self.files if f.endswith(".safetensors"))
        shown = names[0] if len(names) == 1 else f"{names[0]} to {names[-1]}" if names else "safetensors"
        return f"{shown} headers"

    def main_dtype(self) -> str | None:
        """The dtype holding the most elements."""
        by: dict[str, int] = {}
        for name, n in self.elements.items():
            by[self.dtypes[name]] = by.get(self.dtypes[name], 0) + n
        return max(by, key=lambda d: by[d]) if by else None


def _beyond(name: str, layers: int) -> bool:
    m = LAYER.search(name)
    return m is not None and int(m.group(1)) >= layers


def header(path: Path) -> tuple[dict[str, object], bytes]:
    """The parsed JSON header of one safetensors file and its raw bytes (length prefix included)."""
    try:
        with path.open("rb") as f:
            prefix = f.read(8)
            if len(prefix) != 8:
                raise InputError("model", f"{path}: not a safetensors file (shorter than its 8-byte header length)")
            (n,) = struct.unpack("<Q", prefix)
            if n > MAX_HEADER_BYTES:
                raise InputError("model", f"{path}: not a safetensors file (header length {n:,} bytes)")
            raw = f.read(n)
    except OSError as exc:
        raise InputError("model", f"{path}: cannot read: {exc.__class__.__name__}: {exc}") from exc
    try:
        doc = json.loads(raw)
    except ValueError as exc:
        raise InputError("model", f"{path}: not a safetensors file (its header is not JSON)") from exc
    if not isinstance(doc, dict):
        raise InputError("model", f"{path}: not a safetensors file (its header is not a JSON object)")
    return doc, prefix + raw


def read_file(path: Path) -> Tensors:
    """One .safetensors file: shapes and dtypes through ``safe_open`` (header only), bytes from the offsets."""
    from safetensors import safe_open

    doc, raw = header(path)
    elements: dict[str, int] = {}
    dtypes: dict[str, str] = {}
    try:
        with safe_open(str(path), framework="numpy") as f:
            for name in f.keys():
                sl = f.get_slice(name)
                elements[name] = math.prod(sl.get_shape())
                dtypes[name] = str(sl.get_dtype())
    except Exception as exc:  # safetensors raises its own SafetensorError (and OSError) on a broken file
        raise InputError("model", f"{path}: not a readable safetensors file: {exc}") from exc
    payload = sum(int(v["data_offsets"][1]) - int(v["data_offsets"][0]) for k, v in doc.items()
                  if k != "__metadata__" and isinstance(v, dict))
    return Tensors(elements=elements, dtypes=dtypes, payload_bytes=payload, files={str(path.resolve()): sha256(raw)})


def read_index(path: Path) -> Tensors:
    """A ``model.safetensors.index.json``: the headers of the shards it lists (those present), else its total_size."""
    try:
        data = path.read_bytes()
        doc = json.loads(data)
    except (OSError, ValueError) as exc:
        raise InputError("model", f"{path}: cannot read the safetensors index: {exc}") from exc
    weight_map = doc.get("weight_map") if isinstance(doc, dict) else None
    if not isinstance(weight_map, dict):
        raise InputError("model", f"{path}: not a safetensors index (no weight_map)")
    shards = sorted(set(map(str, weight_map.values())))
    present = [path.parent / s for s in shards if (path.parent / s).is_file()]
    files = {str(path.resolve()): sha256(data)}
    if len(present) < len(shards):
        total = (doc.get("metadata") or {}).get("total_size")
        return Tensors(elements={}, dtypes={}, payload_bytes=int(total) if isinstance(total, int) else None, files=files, complete=False)
    elements: dict[str, int] = {}
    dtypes: dict[str, str] = {}
    payload = 0
    for shard in present:
        t = read_file(shard)
        elements.update(t.elements)
        dtypes.update(t.dtypes)
        payload += t.payload_bytes or 0
        files.update(t.files)
    return Tensors(elements=elements, dtypes=dtypes, payload_bytes=payload, files=files)


def read_folder(folder: Path) -> Tensors | None:
    """The checkpoint in a model folder: its index if it has one, else its .safetensors files; None without any."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        return read_index(index)
    singles = sorted(folder.glob("*.safetensors"))
    if not singles:
        return None
    parts = [read_file(p) for p in singles]
    return Tensors(elements={k: v for p in parts for k, v in p.elements.items()}, dtypes={k: v for p in parts for k, v in p.dtypes.items()},
                   payload_bytes=sum(p.payload_bytes or 0 for p in parts), files={k: v for p in parts for k, v in p.files.items()})
