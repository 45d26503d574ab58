"""A Hugging Face ``config.json`` -> the architecture numbers sizing needs, each with the key it came from.

Parameters are counted tensor by tensor the way the transformers modeling code builds them (embeddings,
attention with its biases and q/k norms, MLA's low-rank projections, gated MLPs, routers, routed and shared
experts, layer norms, an untied output head), so the count reproduces the safetensors totals of the
published checkpoints (tests/test_models_config.py checks them). Hybrid architectures (SSM / Mamba,
linear attention, heterogeneous blocks) carry a state per sequence rather than a KV cache per token:
they are refused by name rather than sized wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..errors import InputError

# model_type -> how its layers are built. Keys: qkv_bias (q/k/v biases whatever attention_bias says),
# o_bias (the output projection follows attention_bias), qk_norm ("head": one weight of head_dim for q and for k;
# "full": over all heads, OLMo-2 style), norms (norm weights per layer), router_bias (e_score_correction_bias or
# a router bias per expert), expert_bias (biases on every expert projection, gpt-oss), sinks (one attention sink per head).
FAMILIES: dict[str, dict[str, Any]] = {
    "llama": {}, "mistral": {}, "ministral3": {}, "mixtral": {}, "phi3": {}, "granite": {},
    "qwen2": {"qkv_bias": True, "o_bias": False},
    "qwen2_moe": {"qkv_bias": True, "o_bias": False},
    "qwen2_vl_text": {"qkv_bias": True, "o_bias": False},
    "qwen2_5_vl_text": {"qkv_bias": True, "o_bias": False},
    "qwen3": {"qk_norm": "head"}, "qwen3_moe": {"qk_norm": "head"},
    "gemma": {}, "gemma2": {"norms": 4}, "gemma3_text": {"norms": 4, "qk_norm": "head"},
    "olmo2": {"qk_norm": "full"}, "olmo3": {"qk_norm": "full"},
    "exaone4": {"qk_norm": "head"},
    "deepseek_v2": {}, "deepseek_v3": {"router_bias": True}, "kimi_k2": {"router_bias": True},
    "glm4_moe": {"o_bias": False, "router_bias": True},
    "gpt_oss": {"router_bias": True, "expert_bias": True, "sinks": True},
}
# Multimodal wrappers whose language model sits in text_config (the towers are counted separately).
WRAPPERS = ("gemma3", "mistral3", "llava", "qwen2_vl", "qwen2_5_vl", "llama4", "idefics3", "paligemma", "kimi_k25")
# Words that mark layers keeping a recurrent state instead of a KV cache.
HYBRID_LAYER_TYPES = ("linear_attention", "mamba", "mamba2", "ssm", "conv", "recurrent", "rwkv", "deltanet", "lightning")
HYBRID_KEYS = ("hybrid_override_pattern", "ssm_state_size", "mamba_d_state", "mamba_num_heads", "linear_num_key_heads",
               "attn_type_list", "full_attention_interval", "block_types", "layers_block_type", "linear_attn_config")
# Missing tie_word_embeddings means True: save_pretrained writes it only when it differs from PretrainedConfig's True.
TIE_DEFAULT = True
# Defaults of the transformers config classes for keys a published config may leave out (Gemma3TextConfig).
CLASS_DEFAULTS: dict[str, dict[str, Any]] = {
    "gemma3_text": {"vocab_size": 262208, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 256,
                    "max_position_embeddings": 131072, "sliding_window_pattern": 6, "sliding_window": 4096},
    "gemma2": {"sliding_window": 4096},
}


@dataclass
class Keys:
    """A config mapping that remembers which key gave each value (``origins``), for `llmhw models show`."""

    data: Mapping[str, Any]
    where: str  # "config.json" or "config.json: text_config"
    defaults: Mapping[str, Any] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)

    def get(self, name: str, *aliases: str, default: Any = None, as_: str | None = None) -> Any:
        """The first of ``name`` and ``aliases`` present (not null); recorded as the origin of ``as_`` (or ``name``)."""
        for key in (name, *aliases):
            if self.data.get(key) is not None:
                self.origins.setdefault(as_ or name, f"{self.where}, key {key}")
                return self.data[key]
        if name in self.defaults:
            self.origins.setdefault(as_ or name, f"{self.where}: {name} absent, the transformers default {self.defaults[name]!r}")
            return self.defaults[name]
        return default

    def number(self, name: str, *aliases: str, default: int | None = None, as_: str | None = None) -> int:
        value = self.get(name, *aliases, default=default, as_=as_)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) or value < 0:
            raise InputError("model", f"{self.where}: key '{name}': expected a whole number, got {value!r}")
        return int(value)


@dataclass(frozen=True)
class Counted:
    """The architecture of a text decoder, read from a config: Model fields plus how they were derived."""

    fields: dict[str, Any]  # Model fields: layers, hidden, heads, ..., params, active_params
    origins: dict[str, str]  # field -> "file, key" or the formula
    model_type: str
    notes: tuple[str, ...]
    mtp_layers: int = 0  # DeepSeek-style multi-token-prediction layers: in the checkpoint, not in the count


def refuse_hybrid(data: Mapping[str, Any], model_type: str, arch_name: str, where: str) -> None:
    """Raise InputError naming the architecture when some layers keep a recurrent state instead of a KV cache."""
    kinds = {str(t) for t in data.get("layer_types") or () if isinstance(t, str)}
    odd = sorted(k for k in kinds if any(w in k for w in HYBRID_LAYER_TYPES) or k not in ("full_attention", "sliding_attention", "attention"))
    keys = [k for k in HYBRID_KEYS if data.get(k) is not None]
    hybrid_type = any(w in model_type for w in ("mamba", "jamba", "falcon_h", "nemotron_h", "hybrid", "zamba", "rwkv", "recurrent",
                                                 "qwen3_next", "qwen3_5", "lfm2", "bamba", "plamo", "kimi_linear"))
    if odd or keys or hybrid_type:
        why = f"layer types {', '.join(odd)}" if odd else f"key {keys[0]}" if keys else f"model_type {model_type}"
        raise InputError("model", f"{where}: {arch_name} is a hybrid architecture ({why}): its recurrent layers (linear attention, SSM, "
                                  "convolution) keep a state per sequence, not a KV cache per token, and llmhw does not size them; "
                                  "refused rather than sized wrong")


def count(data: Mapping[str, Any], where: str, model_type: str) -> Counted:
    """Count a text decoder's parameters from its config mapping (the top level, or a multimodal model's text_config)."""
    if model_type not in FAMILIES:
        known = ", ".join(sorted(FAMILIES))
        raise InputError("model", f"{where}: model_type {model_type!r} is not an architecture llmhw can count; expected one of {known}")
    fam = FAMILIES[model_type]
    k = Keys(data, where, CLASS_DEFAULTS.get(model_type, {}))
    h = k.number("hidden_size", "n_embd", "d_model")
    layers = k.number("num_hidden_layers", "n_layer", "num_layers")
    heads = k.number("num_attention_heads", "n_head")
    kv_heads = k.number("num_key_value_heads", "num_kv_heads", default=heads)
    vocab = k.number("vocab_size")
    tied = bool(k.get("tie_word_embeddings", default=TIE_DEFAULT))
    if "tie_word_embeddings" not in k.origins:
        k.origins["tie_word_embeddings"] = f"{where}: tie_word_embeddings absent, PretrainedConfig's default true"
    notes: list[str] = []

    # -- attention: MLA (low-rank q and kv) or grouped-query attention
    kv_lora = k.number("kv_lora_rank", default=0)
    if kv_lora:
        q_lora = k.number("q_lora_rank", default=0)
        nope, rope, v_dim = k.number("qk_nope_head_dim"), k.number("qk_rope_head_dim"), k.number("v_head_dim")
        q = (h * q_lora + q_lora + q_lora * heads * (nope + rope)) if q_lora else h * heads * (nope + rope)
        attn = q + h * (kv_lora + rope) + kv_lora + kv_lora * heads * (nope + v_dim) + heads * v_dim * h
        head_dim, kv_heads = v_dim, heads
        k.origins["head_dim"] = k.origins["v_head_dim"]
    else:
        head_dim = k.number("head_dim", default=h // heads)
        if "head_dim" not in k.origins:
            k.origins["head_dim"] = f"{where}: hidden_size / num_attention_heads"
        q_out, kv_out = heads * head_dim, kv_heads * head_dim
        bias = bool(k.get("attention_bias", default=False))
        qkv_bias = fam.get("qkv_bias", bias)
        o_bias = bias and fam.get("o_bias", True)
        attn = h * (q_out + 2 * kv_out) + q_out * h + (q_out + 2 * kv_out if qkv_bias else 0) + (h if o_bias else 0)
        norm = fam.get("qk_norm")
        attn += 2 * head_dim if norm == "head" else q_out + kv_out if norm == "full" else 0
        attn += heads if fam.get("sinks") else 0

    # -- feed-forward: dense layers, MoE layers (routed + shared experts), and which layers are which
    inter = k.number("intermediate_size", "ffn_dim", "n_inner")
    mlp_bias = h + 2 * inter if k.get("mlp_bias", default=False) else 0
    dense_ffn = 3 * h * inter + mlp_bias
    experts = k.number("n_routed_experts", "num_local_experts", "num_experts", default=0)
    moe = _moe(k, model_type, fam, h, inter, experts, layers) if experts else None
    norms = fam.get("norms", 2) * h

    total = vocab * h * (1 if tied else 2) + h  # embeddings, output head unless tied, final norm
    active = total
    dense_layers = layers - (moe.layers if moe else 0)
    total += dense_layers * (attn + dense_ffn + norms)
    active += dense_layers * (attn + dense_ffn + norms)
    if moe:
        total += moe.layers * (attn + norms + moe.shared + moe.router + moe.experts * moe.expert)
        active += moe.layers * (attn + norms + moe.shared + moe.router + moe.active * moe.expert)
    for name in ("params", "active_params"):
        k.origins[name] = f"{where}: counted tensor by tensor from the architecture keys ({model_type} layout)"

    window, sliding = _sliding(k, model_type, layers)
    mtp = k.number("num_nextn_predict_layers", default=0)
    if mtp:
        notes.append(f"{mtp} multi-token-prediction layer(s) (num_nextn_predict_layers) are in the checkpoint but not counted: "
                     "runtimes load them only for speculative decoding")
    fields: dict[str, Any] = {
        "architecture": "moe" if moe else "dense", "params": total, "active_params": active, "layers": layers, "hidden": h,
        "heads": heads, "kv_heads": kv_heads, "head_dim": head_dim, "intermediate": inter if not moe or dense_layers else moe.width,
        "vocab": vocab, "tied_embeddings": tied,
        "max_context": k.number("max_position_embeddings", "n_positions", "max_sequence_length", as_="max_context"),
    }
    if kv_lora:
        fields |= {"kv_lora_rank": kv_lora, "qk_rope_head_dim": rope}
    if moe:
        fields |= {"experts": experts, "experts_active": moe.active, "shared_experts": moe.shared_count, "moe_intermediate": moe.width}
        if moe.layers < layers:  # dense first layers (first_k_dense_replace) or dense layers between MoE ones
            fields["moe_layers"] = moe.layers
            k.origins["moe_layers"] = f"{where}: the layers left after first_k_dense_replace, mlp_only_layers and the MoE layer step"
        named = [k.origins[n] for n in ("n_routed_experts", "num_local_experts", "num_experts") if n in k.origins]
        k.origins.setdefault("experts", named[0] if named else where)
    if window:
        fields |= {"sliding_window": window, "sliding_layers": sliding}
    return Counted(fields=fields, origins=_field_origins(k.origins), model_type=model_type, notes=tuple(notes), mtp_layers=mtp)


@dataclass(frozen=True)
class _Moe:
    layers: int  # how many layers route to experts
    experts: int
    active: int  # routed experts per token
    width: int  # one routed expert's intermediate size
    expert: int  # parameters of one routed expert
    router: int  # router weights (+ bias) per MoE layer
    shared: int  # always-on shared-expert parameters per MoE layer
    shared_count: int  # shared experts, in units of one routed expert's width (what sizing.Arch.ffn_width reads)


def _moe(k: Keys, model_type: str, fam: Mapping[str, Any], h: int, inter: int, experts: int, layers: int) -> _Moe:
    """The MoE layers: routed top-k, shared experts (DeepSeek n_shared_experts, Qwen shared_expert_intermediate_size), dense first layers."""
    active = k.number("num_experts_per_tok", "experts_per_token", "moe_topk", as_="experts_active")
    width = k.number("moe_intermediate_size", default=inter, as_="moe_intermediate")
    bias = fam.get("expert_bias", False)
    expert = 3 * h * width + (2 * width + h if bias else 0)
    router = experts * h + (experts if fam.get("router_bias") else 0)
    shared_width = k.number("shared_expert_intermediate_size", default=0)
    if shared_width:  # Qwen2-MoE: one wide shared expert behind a sigmoid gate (h -> 1)
        shared = 3 * h * shared_width + h
        shared_count = max(1, round(shared_width / width))
    else:
        shared_count = k.number("n_shared_experts", "num_shared_experts", default=0, as_="shared_experts")
        shared = shared_count * 3 * h * width
    first_dense = k.number("first_k_dense_replace", default=0)
    freq = k.number("moe_layer_freq", "decoder_sparse_step", default=1) or 1
    only_dense = set(k.get("mlp_only_layers", default=[]) or [])
    moe_layers = sum(1 for i in range(layers) if i >= first_dense and i not in only_dense
                     and ((i + 1) % freq == 0 if model_type.startswith("qwen") else i % freq == 0))
    return _Moe(layers=moe_layers, experts=experts, active=active, width=width, expert=expert, router=router,
                shared=shared, shared_count=shared_count)


def _sliding(k: Keys, model_type: str, layers: int) -> tuple[int | None, int]:
    """The sliding window and how many layers use it: layer_types, Gemma's pattern, or a window on every layer."""
    window = k.get("sliding_window", "attention_window_size", as_="sliding_window")
    max_pos = k.get("max_position_embeddings", default=None)
    if not window or (isinstance(max_pos, int) and window >= max_pos):
        return None, 0
    if model_type.startswith("qwen"):  # Qwen configs carry a window they use only with use_sliding_window, above max_window_layers
        if not k.get("use_sliding_window", default=False):
            return None, 0
        return int(window), max(layers - k.number("max_window_layers", default=0, as_="sliding_layers"), 0)
    types = k.get("layer_types", as_="sliding_layers")
    if types:
        return int(window), sum(1 for t in types if t == "sliding_attention")
    if model_type == "gemma3_text":
        pattern = k.number("sliding_window_pattern", as_="sliding_layers")
        return int(window), sum(1 for i in range(layers) if (i + 1) % pattern)
    if model_type == "gemma2":  # even layers are local (Gemma2DecoderLayer: is_sliding = not bool(layer_idx % 2))
        k.origins["sliding_layers"] = f"{k.where}: gemma2 alternates local and global layers"
        return int(window), (layers + 1) // 2
    k.origins["sliding_layers"] = f"{k.where}: sliding_window applies to every layer ({model_type})"
    return int(window), layers


# config key -> Model field, for the origins table
_FIELD_OF = {"hidden_size": "hidden", "num_hidden_layers": "layers", "num_attention_heads": "heads", "num_key_value_heads": "kv_heads",
             "vocab_size": "vocab", "tie_word_embeddings": "tied_embeddings", "intermediate_size": "intermediate",
             "n_routed_experts": "experts", "num_local_experts": "experts", "num_experts": "experts",
             "n_shared_experts": "shared_experts", "shared_expert_intermediate_size": "shared_experts"}


def _field_origins(origins: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, origin in origins.items():
        out.setdefault(_FIELD_OF.get(key, key), origin)
    return out


def vision_params(cfg: Mapping[str, Any], text_hidden: int) -> int | None:
    """A vision tower and its projector counted from vision_config, for the towers whose layout is known; None otherwise.

    SigLIP (Gemma 3): patch embedding with bias, learned positions, encoder layers with biases and two LayerNorms,
    a post LayerNorm, then Gemma 3's projection and soft-embedding norm. Pixtral (Mistral 3): patch convolution without
    bias, a pre-norm, gated-MLP layers without biases and two RMSNorms, then Mistral 3's norm, patch merger and two linears.
    """
    vision = cfg.get("vision_config")
    if not isinstance(vision, Mapping):
        return None
    kind = vision.get("model_type")
    hv, inter, n = int(vision["hidden_size"]), int(vision["intermediate_size"]), int(vision["num_hidden_layers"])
    patch = int(vision["patch_size"])
    if kind == "siglip_vision_model":
        embed = 3 * patch * patch * hv + hv + (int(vision["image_size"]) // patch) ** 2 * hv
        layer = 4 * (hv * hv + hv) + 2 * hv * inter + inter + hv + 4 * hv
        return embed + n * layer + 2 * hv + hv * text_hidden + hv
    if kind == "pixtral":
        merge = int(cfg.get("spatial_merge_size", 2))
        bias = bool(cfg.get("multimodal_projector_bias", False))
        tower = 3 * patch * patch * hv + hv + n * (4 * hv * hv + 3 * hv * inter + 2 * hv)
        projector = hv + merge * merge * hv * hv + hv * text_hidden + text_hidden * text_hidden + (2 * text_hidden if bias else 0)
        return tower + projector
    return None
