"""A model read from files becomes a knowledge entry like the catalog's: same validation, sources = the files and their hash."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..errors import InputError, KnowledgeError
from ..knowledge.build import build
from ..knowledge.schema import Model, Precision, Source


@dataclass(frozen=True)
class Reading:
    """What reading a model produced: its entry, the source naming the files read, an own format (GGUF), the files' hash."""

    model: Model
    source: Source
    precisions: tuple[Precision, ...] = ()
    text_params: int | None = None  # the text decoder alone, when towers (vision, audio) are counted too
    files: Mapping[str, str] = field(default_factory=dict)  # file -> SHA-256 of the bytes read

    @property
    def hashes(self) -> dict[str, str]:
        """The entry for Catalog.hashes: one combined digest per model, so an audit reports when a file changed."""
        return {f"model:{self.model.id}": combined(self.files)}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def combined(files: Mapping[str, str]) -> str:
    """One SHA-256 over the sorted ``name NUL digest LF`` lines of the files read."""
    return sha256("".join(f"{k}\0{v}\n" for k, v in sorted(files.items())).encode())


def file_source(files: Mapping[str, str], what: str, anchor: Path | str) -> Source:
    """The source of a model read from files: named by their combined hash, titled with the files and what was read."""
    digest = combined(files)
    names = sorted(Path(f).name for f in files)
    shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
    where = Path(anchor)
    accessed = datetime.now(timezone.utc).strftime("%Y-%m") if not where.exists() else \
        datetime.fromtimestamp(where.stat().st_mtime, timezone.utc).strftime("%Y-%m-%d")
    url = where.resolve().as_uri() if where.exists() else f"https://huggingface.co/{anchor}"
    return Source(id=f"file-{digest[:16]}", title=f"{shown} ({what}; SHA-256 {digest})", url=url, accessed=accessed, quality="primary")


def make_model(ref: str, given: str, fields: Mapping[str, Any], origins: Mapping[str, str], source: Source, notes: Sequence[str]) -> Model:
    """Build and validate the entry as the loader builds models.yaml entries (an error names the file and field)."""
    raw = {
        "id": ref, **fields, "sources": [source.id],
        "aliases": [given] if given != ref else [],
        "notes": " ".join(notes),
        "origins": [f"{name}: {origin}" for name, origin in sorted(origins.items()) if name in Model.__dataclass_fields__],
    }
    try:
        return build(Model, raw, ref)
    except KnowledgeError as exc:
        raise InputError("model", str(exc)) from exc


def hash_files(paths: Iterable[tuple[Path, bytes]]) -> dict[str, str]:
    return {str(p.resolve()): sha256(data) for p, data in paths}


def own_format(model_id: str, template: Precision, params: int, tensor_bytes: int, file_type: str, source: Source,
               notes: str | None = None) -> Precision:
    """A file's own format (a GGUF file's tensor mix, an MXFP4 release's): the catalog format it belongs to (quality, runtimes)
    at the file's exact bits per weight.

    The bits are chosen so that sizing's ``ceil(params * bits / 8)`` gives the file's tensor bytes exactly.
    """
    bits = tensor_bytes * 8 / params
    while math.ceil(params * bits / 8) > tensor_bytes:  # float rounding can land one byte high
        bits = math.nextafter(bits, 0.0)
    raw = {"id": f"{template.id}-{source.id.removeprefix('file-')[:8]}", "name": f"{file_type} ({Path(model_id).name}: {bits:.3f} bits per weight)",
           "bits_per_weight": bits, "family": template.family, "quality": template.quality, "trainable": False, "sources": [source.id],
           "native_feature": template.native_feature, "variant_of": template.id,
           "notes": notes or f"This file's own tensor mix: {tensor_bytes:,} bytes of tensors for {params:,} parameters."}
    return build(Precision, raw, model_id)
