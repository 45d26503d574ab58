"""The format a checkpoint was released in, as a catalog precision id: from quantization_config, dtype or a GGUF file type."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import InputError

DTYPES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32"}
SAFETENSORS_DTYPES = {"BF16": "bf16", "F16": "fp16", "F32": "fp32", "F8_E4M3": "fp8", "F8_E5M2": "fp8"}
# GGUF general.file_type names (gguf.LlamaFileType) -> the catalog format whose quality class and runtimes they share.
GGUF_FILE_TYPES = {"ALL_F32": "fp32", "MOSTLY_F16": "fp16", "MOSTLY_BF16": "bf16", "MOSTLY_Q8_0": "q8_0", "MOSTLY_Q6_K": "q6_k",
                   "MOSTLY_Q5_K_M": "q5_k_m", "MOSTLY_Q5_K_S": "q5_k_m", "MOSTLY_Q4_K_M": "q4_k_m", "MOSTLY_Q4_K_S": "q4_k_m",
                   "MOSTLY_Q4_0": "q4_k_m", "MOSTLY_IQ4_XS": "q4_k_m", "MOSTLY_IQ4_NL": "q4_k_m", "MOSTLY_Q3_K_M": "q3_k_m",
                   "MOSTLY_Q3_K_L": "q3_k_m", "MOSTLY_Q3_K_S": "q3_k_m", "MOSTLY_Q2_K": "q2_k", "MOSTLY_MXFP4_MOE": "mxfp4"}


def released_format(cfg: Mapping[str, Any], text: Mapping[str, Any], where: str) -> tuple[str, str, str]:
    """(precision id, where it came from, a note on the scheme) for a Hugging Face config.

    :raises InputError: a quantization method llmhw has no format for.
    """
    quant = cfg.get("quantization_config") or text.get("quantization_config")
    if isinstance(quant, Mapping):
        return _quantized(quant, f"{where}, key quantization_config")
    return (*unquantized_dtype(cfg, text, where), "")


def unquantized_dtype(cfg: Mapping[str, Any], text: Mapping[str, Any], where: str) -> tuple[str, str]:
    """(precision id, where it came from) of the tensors a quantization leaves alone, or of the whole unquantized checkpoint."""
    for holder, label in ((text, where if text is cfg else f"{where}: text_config"), (cfg, where)):
        for key in ("torch_dtype", "dtype"):
            value = holder.get(key)
            if isinstance(value, str) and value.lower() in DTYPES:
                return DTYPES[value.lower()], f"{label}, key {key}"
    return "bf16", f"{where}: no dtype given, bf16 assumed (the usual release format)"


def _quantized(q: Mapping[str, Any], origin: str) -> tuple[str, str, str]:
    method = str(q.get("quant_method", "")).lower()
    bits = q.get("bits") or q.get("w_bit")
    group = q.get("group_size") or q.get("q_group_size")
    grouping = f", group size {group}" if group else ""
    if method in ("fp8", "fbgemm_fp8"):
        block = q.get("weight_block_size")
        scheme = f"FP8 {q.get('fmt', 'e4m3')}" + (f" with {'x'.join(map(str, block))} block scales" if block else " per-tensor/channel scales")
        return "fp8", f"{origin}.quant_method {method}", scheme
    if method == "mxfp4":
        return "mxfp4", f"{origin}.quant_method mxfp4", "MXFP4 (4-bit, shared 8-bit exponent per 32 values) on the quantized modules, BF16 elsewhere"
    if method in ("awq", "gptq", "gptqmodel", "auto-round", "autoround"):
        if bits in (4, 8):
            fmt = "int8" if bits == 8 else ("awq-int4" if method == "awq" else "gptq-int4")
            return fmt, f"{origin}.quant_method {method}, bits {bits}", f"{method.upper()} {bits}-bit{grouping}"
        raise InputError("model", f"{origin}: {method} with bits {bits!r}: expected 4 or 8")
    if method == "bitsandbytes":
        if q.get("load_in_4bit"):
            return "nf4", f"{origin}.load_in_4bit", f"bitsandbytes 4-bit {q.get('bnb_4bit_quant_type', 'nf4')}"
        if q.get("load_in_8bit"):
            return "int8", f"{origin}.load_in_8bit", "bitsandbytes LLM.int8"
    if method == "compressed-tensors":
        return _compressed(q, origin)
    if method == "quark":
        return _quark(q, origin)
    raise InputError("model", f"{origin}: quant_method {method!r} is not a format llmhw knows; expected awq, bitsandbytes, "
                              "compressed-tensors, fbgemm_fp8, fp8, gptq, mxfp4 or quark")


def _compressed(q: Mapping[str, Any], origin: str) -> tuple[str, str, str]:
    """compressed-tensors (llm-compressor): the weights scheme of the first config group."""
    groups = q.get("config_groups") or {}
    weights = next((g.get("weights") for g in groups.values() if isinstance(g, Mapping) and g.get("weights")), None)
    if not isinstance(weights, Mapping):
        raise InputError("model", f"{origin}: compressed-tensors without config_groups weights")
    bits, kind, group = weights.get("num_bits"), str(weights.get("type", "int")), weights.get("group_size")
    scheme = f"compressed-tensors {kind}{bits} weights" + (f", group size {group}" if group else "")
    where = f"{origin}.config_groups weights num_bits {bits}, type {kind}"
    if kind == "float" and bits == 8:
        return "fp8", where, scheme
    if kind == "float" and bits == 4:
        # MXFP4 (OCP MX) scales 32 values by a power of two; NVFP4 scales 16 by an FP8 number: the group size tells them apart
        mx = group == 32 or "mxfp4" in str(q.get("format", "")).lower()
        return ("mxfp4" if mx else "nvfp4"), where, scheme
    if kind == "int" and bits in (4, 8):
        return ("gptq-int4" if bits == 4 else "int8"), where, scheme
    raise InputError("model", f"{origin}: compressed-tensors {kind} {bits}-bit weights: expected float 8, float 4, int 8 or int 4")


def _quark(q: Mapping[str, Any], origin: str) -> tuple[str, str, str]:
    """AMD Quark (the amd/*-MXFP4 and *-FP8-KV releases): the global weight spec, else the first per-layer one."""
    specs = [q.get("global_quant_config")] + list((q.get("layer_quant_config") or {}).values())
    weight = next((s.get("weight") for s in specs if isinstance(s, Mapping) and isinstance(s.get("weight"), Mapping)), None)
    if not isinstance(weight, Mapping):
        raise InputError("model", f"{origin}: quark without a weight spec (global_quant_config or layer_quant_config)")
    dtype, group = str(weight.get("dtype", "")).lower(), weight.get("group_size")
    where = f"{origin}.global_quant_config weight dtype {dtype}"
    scheme = f"AMD Quark {dtype} weights" + (f", group size {group}" if group else "")
    if dtype == "fp4" and group in (None, 32):  # OCP MX: 32 E2M1 values share one E8M0 (power-of-two) scale
        return "mxfp4", where, scheme
    if dtype.startswith("fp8"):
        return "fp8", where, scheme
    if dtype == "int8":
        return "int8", where, scheme
    raise InputError("model", f"{origin}: quark {dtype} weights (group size {group}): expected fp4 in groups of 32, fp8 or int8")
