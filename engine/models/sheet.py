"""`llmhw models show MODEL`: the numbers sizing will use for a model, and where each came from.

Not a reader: it formats a catalog entry (built-in or read from files) with the KV-cache bytes sizing computes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .. import sizing
from ..knowledge.loader import Catalog
from ..units import params

ARCH_FIELDS = ("params", "active_params", "layers", "hidden", "heads", "kv_heads", "head_dim", "intermediate", "vocab",
               "tied_embeddings", "experts", "experts_active", "shared_experts", "moe_intermediate", "moe_layers", "kv_lora_rank",
               "qk_rope_head_dim", "sliding_window", "sliding_layers", "max_context", "native_precision", "checkpoint_bytes")


@dataclass(frozen=True)
class ModelSheet:
    """A model as sizing sees it.

    .. versionadded:: 0.2.0
    """

    numbers: dict[str, Any]  # id, name, family, architecture and ARCH_FIELDS
    weight_bytes: int  # the weights in the released format, as every option sizes them (sizing.model_weight_bytes)
    weight_split: str  # "" when the format stores every weight at its bits, else which part it stores so and what stays 16-bit
    kv_bytes_per_token: dict[str, int]  # KV-cache format -> bytes one token adds over all layers
    kv_bytes_at_max_context: dict[str, int]  # the same for one sequence at the context limit (sliding layers stop at their window)
    origins: dict[str, str]  # field -> file and key (or the catalog entry)
    sources: list[dict[str, str]]  # id, title, url
    notes: str

    def to_dict(self) -> dict[str, Any]:
        return {**self.numbers, "weight_bytes": self.weight_bytes, "weight_split": self.weight_split,
                "kv_bytes_per_token": dict(self.kv_bytes_per_token),
                "kv_bytes_at_max_context": dict(self.kv_bytes_at_max_context),
                "origins": dict(self.origins), "sources": [dict(s) for s in self.sources], "notes": self.notes}

    def lines(self) -> list[str]:
        n = self.numbers
        out = [f"{n['name']} ({n['id']})", f"  family {n['family']}, {n['architecture']}"]

        def row(label: str, text: str, *fields: str) -> None:
            origin = next((self.origins[f] for f in fields if f in self.origins), "")
            out.append(f"  {label:<15}{text}" + (f"    <- {origin}" if origin else ""))

        row("parameters", f"{n['params']:,} ({params(n['params'])})", "params")
        row("active", f"{n['active_params']:,} ({params(n['active_params'])}) per token", "active_params")
        row("layers", f"{n['layers']}", "layers")
        row("hidden", f"{n['hidden']:,}", "hidden")
        if n.get("kv_lora_rank"):
            attention = f"MLA, {n['heads']} heads; caches a {n['kv_lora_rank']} latent + {n['qk_rope_head_dim']} rope dims per layer"
        else:
            kind = "MHA" if n["kv_heads"] == n["heads"] else "MQA" if n["kv_heads"] == 1 else "GQA"
            attention = f"{kind}, {n['heads']} query heads, {n['kv_heads']} KV heads x {n['head_dim']}"
        row("attention", attention, "kv_lora_rank", "kv_heads", "heads")
        if n.get("sliding_window"):
            row("sliding", f"{n['sliding_layers']} of {n['layers']} layers see the last {n['sliding_window']:,} tokens", "sliding_layers")
        if n.get("experts"):
            where = f", in {n['moe_layers']} of {n['layers']} layers" if n.get("moe_layers") else ""
            row("experts", f"{n['experts_active']} of {n['experts']} routed (width {n['moe_intermediate']:,}), "
                           f"{n.get('shared_experts') or 0} shared{where}", "experts", "experts_active", "moe_layers")
        row("feed-forward", f"{n['intermediate']:,}", "intermediate")
        row("vocabulary", f"{n['vocab']:,}, {'tied' if n['tied_embeddings'] else 'untied'} output head", "vocab", "tied_embeddings")
        row("format", f"{n['native_precision']} (as released)", "native_precision")
        out.append(f"  weights        {self.weight_bytes:,} bytes in that format" + (f": {self.weight_split}" if self.weight_split else ""))
        if n.get("checkpoint_bytes"):
            row("checkpoint", f"{n['checkpoint_bytes']:,} bytes", "checkpoint_bytes")
        row("context", f"{n['max_context']:,} tokens", "max_context")
        per_token = ", ".join(f"{fmt} {b:,} B" for fmt, b in self.kv_bytes_per_token.items())
        full = ", ".join(f"{fmt} {b / 1e9:,.2f} GB" for fmt, b in self.kv_bytes_at_max_context.items())
        out += [f"  KV per token   {per_token}", f"  KV at context  {full} (one sequence at {n['max_context']:,} tokens)"]
        if self.notes:
            out.append(f"  notes          {self.notes}")
        out += [f"  source         {s['id']}: {s['title']}" for s in self.sources]
        return out


def describe(cat: Catalog, model_id: str) -> ModelSheet:
    """The sheet of one catalog model (``cat`` already holds models read from files)."""
    m = cat.models[model_id]
    arch = sizing.Arch.of(m)
    formats = {p.id: p.kv_bytes_per_element for p in cat.precisions.values() if p.kv_bytes_per_element and p.family != "float"}
    kv_formats = {"bf16": 2.0, **formats}
    numbers = {"id": m.id, "name": m.name, "family": m.family, "architecture": m.architecture}
    numbers |= {f: getattr(m, f) for f in ARCH_FIELDS if getattr(m, f) is not None}
    fmt = cat.precisions[m.native_precision]
    quantized = sizing.quantized_params(arch, fmt.quantizes)
    part = "routed-expert" if quantized == sizing.routed_expert_weights(arch) else "linear-layer"
    split = "" if quantized == m.params else \
        f"{quantized:,} {part} weights at {fmt.bits_per_weight:g} bits, the other {m.params - quantized:,} 16-bit"
    origins = dict(o.split(": ", 1) for o in m.origins) if m.origins else \
        {f: f"knowledge models.yaml, entry {m.id}" for f in ARCH_FIELDS if getattr(m, f) is not None}
    return ModelSheet(
        numbers=numbers,
        weight_bytes=sizing.model_weight_bytes(arch, fmt.bits_per_weight, fmt.quantizes), weight_split=split,
        kv_bytes_per_token={fmt: round(sizing.kv_bytes_per_token_layer(arch, b) * m.layers) for fmt, b in kv_formats.items()},
        kv_bytes_at_max_context={fmt: sizing.kv_cache_bytes(arch, m.max_context, 1, b) for fmt, b in kv_formats.items()},
        origins=origins, sources=[{"id": s, "title": cat.sources[s].title, "url": cat.sources[s].url} for s in m.sources],
        notes=m.notes,
    )
