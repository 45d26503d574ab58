"""QNT: quantization, what storing weights or the KV cache in fewer bits gives this workload, and what it costs.

Every tip here fires only when its technique changes something for this workload,
and states the effect in this workload's own numbers.
"""

from __future__ import annotations

from experta import AND, AS, MATCH, OR, TEST, P

from ..facts import Fit, Mode, Policy, PrecisionSpec, Recommendation, Tip, Warning, Workload
from ..launch import documented_flag
from ..planner import KV_BYTES_DEFAULT, arch, average_bits, reference_precision, weights_at
from . import SALIENCE_ADVICE, Host, Rule, consulted_arch, rule_meta, subject, tiers_sharing

WIDE = P(lambda precision: precision in ("bf16", "fp16"))


class QuantizationRules:
    @Rule(AS.workload << Workload(precision="auto"), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-quantize-to-fit",
               statement="{precision} weights take {quantized_bytes:gb} instead of {native_bytes:gb} at {native_name}: "
               "{saved_bytes:gb} saved",
               message="{precision} weights take {quantized_bytes:gb} instead of {native_bytes:gb} at {native_name} "
               "({saved_share:pct} less; quality: {quality}). The KV cache and activations do not shrink.",
               sources=["kquant-pr", "llamacpp-quant", "article"], needs=("precision",))
    def quantize_to_fit(self: Host, workload: Workload, rec: Recommendation) -> None:
        """## What it decides
        When the chosen configuration runs the model quantized: how much memory that saves against the
        model's native format, and what it costs in quality.

        ## Why
        The article's first technique. Corrected: 4-bit weights save about 69-72% against 16-bit in practice
        (Q4_K_M is ~4.9 bits per weight with its scales), not 75%, and nothing on the KV cache.

        ## Example
        DeepSeek-R1-Distill-Llama-70B at Q4_K_M: ~43 GB of weights instead of 141 GB in BF16.

        ## Limits
        Bits per weight are catalog facts the configuration's fact does not carry: "fewer bits than the native
        format" is tested in the body.
        """
        option = self.option(rec)
        model = self.catalog.models[workload["model"]]
        native = self.catalog.precisions[reference_precision(self.workload(workload), model)]
        chosen = self.catalog.precisions[option.precision]
        if chosen.bits_per_weight >= native.bits_per_weight:
            return
        full, small = weights_at(arch(model), native), weights_at(arch(model), chosen)
        self.conclude(Tip(effect_bytes=full - small), precision=chosen.name, quantized_bytes=small, native_bytes=full,
                      native_name=native.name, saved_bytes=full - small, saved_share=1 - small / full, quality=chosen.quality)

    @Rule(OR(AND(AS.rec << Recommendation(precision=MATCH.precision_id), Mode(kind="recommend")),
             AS.rec << Fit(fits=True, precision=MATCH.precision_id)),
          PrecisionSpec(id=MATCH.precision_id, bits_per_weight=MATCH.bits), Policy(low_bit_warning_bits=MATCH.limit),
          TEST(lambda bits, limit: bits <= limit), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-low-bit-quality", statement="{tiers} run {precision} at {bits:g} bits per weight: expect a clear quality loss",
               message="({tiers}) {precision} stores {bits:g} bits per weight; at this level quality drops noticeably ({quality}). "
               "Prefer 4-bit (Q4_K_M, AWQ) on larger hardware, or a smaller model at 4-bit or more.",
               sources=["kquant-pr", "llamacpp-quant"], needs=("precision",))
    def low_bit_quality(self: Host, rec: Recommendation, precision_id: str, **_: object) -> None:
        """## What it decides
        Warns when the configuration relies on 3-bit-or-lower weights, once per format, naming the tiers (or the
        proposal) that use it.

        ## Why
        llama.cpp's own perplexity table: Q4_K_M adds ~0.18 perplexity on Llama-3-8B, Q3_K_M ~0.66, Q2_K ~3.5.

        ## Example
        A 70B model squeezed to Q2_K on 24 GB.
        """
        tiers = tiers_sharing(self, rec, "precision") if "tier" in rec else ["proposed"]
        if tiers[0] != rec.get("tier", "proposed"):
            return  # a better-known tier with this format already carries the warning
        precision = self.catalog.precisions[precision_id]
        self.conclude(Warning(tier=", ".join(tiers)), tiers=", ".join(tiers), precision=precision.name, quality=precision.quality)

    @Rule(AS.workload << Workload(task="inference"), subject(), Policy(fp8_kv_min_share=MATCH.min_share), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-fp8-kv", statement="an FP8 KV cache halves {kv_bytes:gb} to {half_bytes:gb} on {hardware}",
               message="The KV cache is {kv_bytes:gb} ({kv_share:pct} of the need); {hardware} computes FP8, so an FP8 KV cache "
               "(vLLM {kv_flag} fp8) halves it to {half_bytes:gb}, room for twice the users or context. Quality impact is small.",
               sources=["fm-vllm-cacheconfig", "nv-kv-blog"], needs=("context", "concurrency"))
    def fp8_kv_cache(self: Host, workload: Workload, rec: Recommendation, min_share: float) -> None:
        """## What it decides
        When the KV cache is a large part of the need and the hardware computes FP8: the saving of storing
        it in FP8.

        ## Why
        The KV cache grows with users x context and is not reduced by weight quantization; vLLM's
        `kv_cache_dtype=fp8` stores it at one byte per value on Ada, Hopper, Blackwell and MI300.

        ## Example
        20 users x 8k tokens of a 70B model: 53.7 GB of KV cache become 26.8 GB.

        ## Limits
        The KV cache's share comes from the configuration's sized option: it is tested in the body.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        kv = option.memory.kv_cache * option.count
        need = (option.memory.total - option.memory.weights) * option.count + option.weights_bytes  # replicas: one copy
        if "fp8" not in accel.features or kv < min_share * need:
            return
        fp8_bytes = kv * (self.catalog.precisions["fp8"].kv_bytes_per_element or KV_BYTES_DEFAULT) / KV_BYTES_DEFAULT
        self.conclude(Tip(effect_bytes=int(kv - fp8_bytes)), kv_bytes=kv, kv_share=kv / need, hardware=accel.name, half_bytes=fp8_bytes,
                      kv_flag=documented_flag(self.catalog.runtimes["vllm"], "vllm-serve", "kv_dtype"))

    @Rule(subject(precision=MATCH.precision_id), PrecisionSpec(id=MATCH.precision_id, bits_per_weight=MATCH.bits),
          PrecisionSpec(id="bf16", bits_per_weight=MATCH.bf16_bits), TEST(lambda bits, bf16_bits: bits < bf16_bits),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-format-for-hardware",
               statement="on {hardware} with {runtime}, {precision} is the 4-to-8-bit format to use: {why}",
               message="Use {precision} with {runtime} on {hardware}: {bits:g} bits per weight, {weights_bytes:gb} of weights in "
               "all; {why}.",
               sources=["kquant-pr", "fm-vllm-cacheconfig", "bnb-docs", "article"], needs=("precision", "ecosystem"))
    def format_for_hardware(self: Host, rec: Recommendation, precision_id: str, bits: float, **_: object) -> None:
        """## What it decides
        Which quantized format suits the chosen hardware and runtime, and whether the hardware computes it natively.

        ## Why
        The article's first technique, made concrete: GGUF k-quants for llama.cpp/ollama (CPUs, Apple, consumer
        GPUs), AWQ/GPTQ for vLLM on CUDA and ROCm, FP8 natively on Ada/Hopper/MI300, NVFP4 natively on Blackwell.
        A format the hardware does not compute natively is dequantized in the kernel: memory is saved, compute is not.

        ## Example
        A 70B model on two RTX 6000 Ada: FP8 runs natively on Ada tensor cores.
        """
        option = self.option(rec)
        precision = self.catalog.precisions[precision_id]
        accel = self.catalog.accelerators[option.hardware]
        native = precision.native_feature in accel.features if precision.native_feature else False
        why = ("computed natively by its tensor cores" if native else
               "weights are dequantized to 16-bit in the kernels, so memory and bandwidth are saved but not compute")
        bits = average_bits(consulted_arch(self), precision)  # an experts-only format (MXFP4) averages more bits
        self.conclude(Tip(effect_bits=bits), hardware=accel.name, runtime=self.catalog.runtimes[option.runtime].name,
                      precision=precision.name, weights_bytes=option.checkpoint_bytes, bits=bits,
                      why=why)

    @Rule(AS.workload << Workload(task="inference"), subject(precision=WIDE), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-fp8-native",
               statement="{hardware} computes FP8: FP8 weights would take {fp8_bytes:gb} instead of {bf16_bytes:gb}, at {fp8_tflops:known} TFLOPS",
               message="{hardware} computes FP8 natively ({fp8_tflops:known} vs {bf16_tflops:known} dense TFLOPS in BF16): FP8 weights "
               "take {fp8_bytes:gb} instead of {bf16_bytes:gb} and read half the bytes per token, with near-lossless quality.",
               sources=["gk-h100", "fm-vllm-cacheconfig", "article"], needs=("precision",))
    def fp8_native(self: Host, workload: Workload, rec: Recommendation) -> None:
        """## What it decides
        When a 16-bit configuration runs on hardware with FP8 tensor cores: what FP8 weights would give.

        ## Why
        The article's mixed-precision technique for inference: FP8 halves weight memory and bandwidth per token
        and doubles dense throughput on Ada, Hopper, Blackwell and MI300, with near-lossless quality.

        ## Example
        A 70B model in BF16 on 2 x H100: in FP8 it fits one H100's worth of weights per card with room to spare.
        """
        accel = self.catalog.accelerators[self.option(rec).hardware]
        if "fp8" not in accel.features:
            return  # the hardware's features are a catalog fact the configuration's fact does not carry
        model = arch(self.catalog.models[workload["model"]])  # FP8 stores the linear layers only
        bf16, fp8 = (weights_at(model, self.catalog.precisions[p]) for p in ("bf16", "fp8"))
        self.conclude(Tip(effect_bytes=bf16 - fp8), hardware=accel.name, fp8_bytes=fp8, bf16_bytes=bf16, fp8_tflops=accel.fp8_tflops,
                      bf16_tflops=accel.bf16_tflops)
