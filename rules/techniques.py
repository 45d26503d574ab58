"""QNT, TRN, NET, MOE, CMP and ART advice: techniques that help this workload, with their computed effect.

Every tip here fires only when its technique changes something for this
workload, and states the effect in this workload's own numbers.
"""

from __future__ import annotations

from typing import Any

from experta import AS, MATCH, OR, P, Rule

from .. import sizing
from ..facts import Fit, Recommendation, Tip, Warning, Workload
from ..planner import arch, reference_precision
from ..profile import TRAINING_TASKS
from ..units import gb, params, pct
from . import SALIENCE_ADVICE, rule_meta, subject

TRAINING = P(lambda t: t in TRAINING_TASKS)


class TechniqueRules:
    @Rule(AS.workload << Workload(precision="auto"), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-quantize-to-fit", statement="{precision} weights take {quantized} instead of {native} at {native_name}: {saving} saved",
               sources=["kquant-pr", "llamacpp-quant", "article"], needs=("precision",))
    def quantize_to_fit(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        When the chosen configuration runs the model quantized: how much memory that saves against the
        model's native format, and what it costs in quality.

        ## Why
        The article's first technique. Corrected: 4-bit weights save about 69-72% against 16-bit in practice
        (Q4_K_M is ~4.9 bits per weight with its scales), not 75%, and nothing on the KV cache.

        ## Example
        DeepSeek-R1-Distill-Llama-70B at Q4_K_M: ~43 GB of weights instead of 141 GB in BF16.
        """
        option = self.option(rec)
        model = self.catalog.models[workload["model"]]
        native = self.catalog.precisions[reference_precision(self.workload(workload), model)]
        chosen = self.catalog.precisions[option.precision]
        if chosen.bits_per_weight >= native.bits_per_weight:
            return
        full = sizing.weight_bytes(model.params, native.bits_per_weight)
        small = sizing.weight_bytes(model.params, chosen.bits_per_weight)
        self.conclude(
            Tip(id="QNT-quantize-to-fit", effect_bytes=full - small,
                message=f"{chosen.name} weights take {gb(small)} instead of {gb(full)} at {native.name} "
                f"({pct(1 - small / full)} less; quality: {chosen.quality}). The KV cache and activations do not shrink."),
            precision=chosen.name, quantized=gb(small), native=gb(full), native_name=native.name, saving=gb(full - small),
        )

    @Rule(OR(AS.rec << Recommendation(), AS.rec << Fit(fits=True)), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-low-bit-quality", statement="{tier} runs {precision} at {bits:g} bits per weight: expect a clear quality loss",
               sources=["kquant-pr", "llamacpp-quant"], needs=("precision",))
    def low_bit_quality(self: Any, rec: Any) -> None:
        """## What it decides
        Warns when the configuration relies on 3-bit-or-lower weights.

        ## Why
        llama.cpp's own perplexity table: Q4_K_M adds ~0.18 perplexity on Llama-3-8B, Q3_K_M ~0.66, Q2_K ~3.5.

        ## Example
        A 70B model squeezed to Q2_K on 24 GB.
        """
        precision = self.catalog.precisions[self.option(rec).precision]
        if precision.bits_per_weight > float(self.catalog.value("low-bit-warning-bits")):
            return
        tier = rec.get("tier", "proposed")
        self.conclude(
            Warning(id="QNT-low-bit-quality", tier=tier,
                    message=f"({tier}) {precision.name} stores {precision.bits_per_weight:g} bits per weight; at this level quality drops "
                    f"noticeably ({precision.quality}). Prefer 4-bit (Q4_K_M, AWQ) on larger hardware, or a smaller model at 4-bit or more."),
            tier=tier, precision=precision.name, bits=precision.bits_per_weight,
        )

    @Rule(AS.workload << Workload(task="inference"), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-fp8-kv", statement="an FP8 KV cache halves {kv} to {half} on {hardware}",
               sources=["fm-vllm-cacheconfig", "nv-kv-blog"], needs=("context", "concurrency"))
    def fp8_kv_cache(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        When the KV cache is a large part of the need and the hardware computes FP8: the saving of storing
        it in FP8.

        ## Why
        The KV cache grows with users x context and is not reduced by weight quantization; vLLM's
        `kv_cache_dtype=fp8` stores it at one byte per value on Ada, Hopper, Blackwell and MI300.

        ## Example
        20 users x 8k tokens of a 70B model: 53.7 GB of KV cache become 26.8 GB.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        kv = option.memory.kv_cache * option.count
        if "fp8" not in accel.features or kv < float(self.catalog.value("fp8-kv-min-share")) * option.memory.total * option.count:
            return
        self.conclude(
            Tip(id="QNT-fp8-kv", effect_bytes=kv // 2,
                message=f"The KV cache is {gb(kv)} ({pct(kv / (option.memory.total * option.count))} of the need); "
                f"{accel.name} computes FP8, so an FP8 KV cache (vLLM --kv-cache-dtype fp8) halves it to {gb(kv / 2)}, "
                f"room for twice the users or context. Quality impact is small."),
            kv=gb(kv), half=gb(kv / 2), hardware=accel.name,
        )

    @Rule(AS.workload << Workload(task=TRAINING), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-activation-checkpointing",
               statement="activation checkpointing {verdict}: activations {without} without, {with_} with",
               sources=["korthikanti", "measured-h200"], needs=("activation_checkpointing", "batch", "context"))
    def activation_checkpointing(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        What activation checkpointing saves on this training run, computed, and whether it is on.

        ## Why
        The article's third technique. Its effect depends on the workload: measured on an H200 it halved the
        peak of a 7B LoRA run but did nothing for a 1.5B full fine-tune, where AdamW states dominate. It costs
        one extra forward pass (~33% more compute).

        ## Example
        7B LoRA at 2k tokens: 22.5 GB of activations without, 4.0 GB with.
        """
        w = self.workload(workload)
        option = self.option(rec)
        a = arch(self.catalog.models[w.model])
        tokens = option.micro_batch * w.context
        hidden_bytes = 4 if w.task in ("finetune", "pretrain") else 2
        without = sizing.training_activation_bytes(a, tokens, False, hidden_bytes)
        with_ = sizing.training_activation_bytes(a, tokens, True, hidden_bytes)
        saving = without - with_
        peak = option.memory.total
        verdict = ("is on and needed to fit" if option.checkpointing else
                   "would save little here" if saving < float(self.catalog.value("checkpointing-min-saving-share")) * peak else "would free memory for a larger micro-batch")
        self.conclude(
            Tip(id="TRN-activation-checkpointing", effect_bytes=saving,
                message=f"Activation checkpointing {verdict}: activations for micro-batch {option.micro_batch} x {w.context:,} "
                f"tokens take {gb(without)} without it and {gb(with_)} with it ({gb(saving)} saved per device, for ~33% more "
                f"compute). The peak here is {gb(peak)} per device."),
            verdict=verdict, without=gb(without), with_=gb(with_),
        )

    @Rule(AS.workload << Workload(task=TRAINING, batch=MATCH.batch), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-gradient-accumulation", statement="batch {batch} = micro-batch {micro} x {steps} accumulation steps",
               sources=["article", "zero-paper"], needs=("batch",))
    def gradient_accumulation(self: Any, workload: Workload, rec: Any, batch: int) -> None:
        """## What it decides
        How the requested effective batch is reached when it does not fit at once.

        ## Why
        The article's fourth technique: gradients of several micro-batches are summed before one optimizer step,
        so a large batch trains on small memory at the cost of more sequential steps.

        ## Example
        Batch 16 on one 24 GB card: micro-batch 2 x 8 accumulation steps.
        """
        option = self.option(rec)
        if option.accumulation_steps <= 1:
            return
        self.conclude(
            Tip(id="TRN-gradient-accumulation", effect_steps=option.accumulation_steps,
                message=f"Effective batch {batch} does not fit at once: run micro-batch {option.micro_batch} x "
                f"{option.accumulation_steps} gradient-accumulation steps (same gradients, {option.accumulation_steps} "
                f"sequential passes per optimizer step)."),
            batch=batch, micro=option.micro_batch, steps=option.accumulation_steps,
        )

    @Rule(AS.workload << Workload(task=P(lambda t: t in ("finetune", "pretrain"))), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-zero-sharding", statement="ZeRO-3/FSDP over {count} devices cuts model states from {full} to {sharded} per device",
               sources=["zero-paper"], needs=("task",))
    def zero_sharding(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        For full training across several devices: what sharding the model states saves per device.

        ## Why
        Mixed-precision AdamW keeps 16 bytes per parameter (weights, gradients, fp32 master and two moments).
        ZeRO-3 (or FSDP full sharding) divides all of it by the number of devices; the saving grows with the
        device count and does not touch activations (so the article's "70%" is no constant).

        ## Example
        A 7B full fine-tune: 122 GB of model states, 15 GB per device over 8 GPUs.
        """
        option = self.option(rec)
        if option.count <= 1:
            return
        model = self.catalog.models[workload["model"]]
        full = sizing.MIXED_PRECISION_STATE_BYTES * model.params
        sharded = full / option.count
        self.conclude(
            Tip(id="TRN-zero-sharding", effect_bytes=int(full - sharded),
                message=f"Shard model states with ZeRO-3 or FSDP (full shard) over the {option.count} devices: "
                f"{gb(full)} of weights, gradients and AdamW states become {gb(sharded)} per device. Activations are not "
                f"sharded; communication grows by ~50% over plain data parallel."),
            count=option.count, full=gb(full), sharded=gb(sharded),
        )

    @Rule(AS.workload << Workload(task=P(lambda t: t in ("finetune", "pretrain"))), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-mixed-precision", statement="mixed precision keeps {states} of model states for {params} parameters",
               sources=["zero-paper", "v3-readme", "article"], needs=("task",))
    def mixed_precision(self: Any, workload: Workload) -> None:
        """## What it decides
        States what mixed-precision training costs in memory for this model, and where FP8 helps.

        ## Why
        The article's second technique. BF16 compute with fp32 master weights and AdamW needs 16 bytes per
        parameter; FP8 training (Transformer Engine on Hopper/Blackwell, DeepSeek-V3's recipe) speeds up the
        matrix work but keeps the fp32 master and moments.

        ## Example
        A 1.5B full fine-tune: 28 GB of model states before any activation.
        """
        model = self.catalog.models[workload["model"]]
        states = sizing.MIXED_PRECISION_STATE_BYTES * model.params
        self.conclude(
            Tip(id="TRN-mixed-precision", effect_bytes=states,
                message=f"Train in BF16 mixed precision: {params(model.params)} parameters x 16 bytes = {gb(states)} of weights, "
                f"gradients and AdamW states. FP16 needs loss scaling; FP8 (Hopper, Blackwell, MI300) speeds up matrix work "
                f"but does not shrink these states."),
            states=gb(states), params=params(model.params),
        )

    @Rule(subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-format-for-hardware", statement="on {hardware} with {runtime}, {precision} is the 4-to-8-bit format to use: {why}",
               sources=["kquant-pr", "fm-vllm-cacheconfig", "bnb-docs", "article"], needs=("precision", "ecosystem"))
    def format_for_hardware(self: Any, rec: Any) -> None:
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
        precision = self.catalog.precisions[option.precision]
        if precision.bits_per_weight >= 16:
            return
        accel = self.catalog.accelerators[option.hardware]
        runtime = self.catalog.runtimes[option.runtime]
        native = precision.native_feature in accel.features if precision.native_feature else False
        why = ("computed natively by its tensor cores" if native else
               "weights are dequantized to 16-bit in the kernels, so memory and bandwidth are saved but not compute")
        self.conclude(
            Tip(id="QNT-format-for-hardware", effect_bits=precision.bits_per_weight,
                message=f"Use {precision.name} with {runtime.name} on {accel.name}: {precision.bits_per_weight:g} bits per weight, "
                f"{gb(option.memory.weights * option.count)} of weights in all; {why}."),
            hardware=accel.name, runtime=runtime.name, precision=precision.name, why=why,
        )

    @Rule(AS.workload << Workload(task="inference"), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="QNT-fp8-native", statement="{hardware} computes FP8: FP8 weights would take {fp8} instead of {bf16}, at {tflops} TFLOPS",
               sources=["gk-h100", "fm-vllm-cacheconfig", "article"], needs=("precision",))
    def fp8_native(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        When a 16-bit configuration runs on hardware with FP8 tensor cores: what FP8 weights would give.

        ## Why
        The article's mixed-precision technique for inference: FP8 halves weight memory and bandwidth per token
        and doubles dense throughput on Ada, Hopper, Blackwell and MI300, with near-lossless quality.

        ## Example
        A 70B model in BF16 on 2 x H100: in FP8 it fits one H100's worth of weights per card with room to spare.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        if option.precision not in ("bf16", "fp16") or "fp8" not in accel.features:
            return
        model = self.catalog.models[workload["model"]]
        bf16 = sizing.weight_bytes(model.params, self.catalog.precisions["bf16"].bits_per_weight)
        fp8 = sizing.weight_bytes(model.params, self.catalog.precisions["fp8"].bits_per_weight)
        self.conclude(
            Tip(id="QNT-fp8-native", effect_bytes=bf16 - fp8,
                message=f"{accel.name} computes FP8 natively ({accel.fp8_tflops or '?'} vs {accel.bf16_tflops or '?'} dense TFLOPS "
                f"in BF16): FP8 weights take {gb(fp8)} instead of {gb(bf16)} and read half the bytes per token, with near-lossless quality."),
            hardware=accel.name, fp8=gb(fp8), bf16=gb(bf16), tflops=accel.fp8_tflops or "?",
        )

    @Rule(AS.workload << Workload(task=P(lambda t: t in ("finetune", "pretrain"))), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-cpu-offload", statement="offloading the optimizer ({optimizer}) to host RAM would fit on {fewer} devices instead of {count}",
               sources=["zero-paper", "article"], needs=("task", "ram_gb"))
    def cpu_offload(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        For full training on several devices: whether ZeRO-Offload (optimizer states in host RAM) would need fewer.

        ## Why
        AdamW's fp32 master weights and moments are 12 of the 16 bytes per parameter; moving them to CPU RAM
        (DeepSpeed ZeRO-Offload) frees most of the device memory at the cost of slower optimizer steps.

        ## Example
        A 7B full fine-tune: 2 x 48 GB GPUs instead of 4, with ~92 GB of optimizer state in RAM.
        """
        option = self.option(rec)
        if option.count < 2:
            return
        w = self.workload(workload)
        a = arch(self.catalog.models[w.model])
        fewer = option.count // 2
        setup = sizing.TrainingSetup(mode="full", micro_batch=1, seq_len=w.context, checkpointing=True, devices=fewer,
                                     zero_stage=3 if fewer > 1 else 0, offload_optimizer=True)
        memory = sizing.training_memory(a, setup, self.catalog.runtimes[option.runtime].overhead_bytes)
        if memory.total > option.usable_bytes:
            return
        optimizer = sizing.ADAM_STATE_BYTES * a.params
        self.conclude(
            Tip(id="TRN-cpu-offload", effect_devices=option.count - fewer,
                message=f"With the AdamW states ({gb(optimizer)}) offloaded to host RAM (ZeRO-Offload), {fewer} device(s) would hold "
                f"this run ({gb(memory.total)} each, micro-batch 1 with recomputation) instead of {option.count}; the host then needs "
                f"~{gb(optimizer)} more RAM and optimizer steps run on the CPU, several times slower."),
            optimizer=gb(optimizer), fewer=fewer, count=option.count,
        )

    @Rule(AS.workload << Workload(task="finetune"), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-lora-instead", statement="LoRA on the same model needs {lora} per device instead of {full}",
               sources=["measured-h200", "qlora-paper"], needs=("task", "lora_rank"))
    def lora_instead(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        For a full fine-tune: what LoRA and QLoRA would need instead.

        ## Why
        LoRA trains small adapters over frozen weights: optimizer states shrink from 16 bytes per parameter of the
        whole model to 16 bytes per adapter parameter (~0.5% of the model at rank 16). QLoRA stores the frozen
        weights in 4-bit NF4.

        ## Example
        DeepSeek-R1-Distill-Qwen-7B: ~122 GB of model states for a full fine-tune, ~16 GB of weights plus 0.6 GB of
        adapter state for LoRA.
        """
        option = self.option(rec)
        w = self.workload(workload)
        a = arch(self.catalog.models[w.model])
        overhead = self.catalog.runtimes[option.runtime].overhead_bytes
        lora = sizing.training_memory(a, sizing.TrainingSetup("lora", 1, w.context, True, lora_rank=w.lora_rank), overhead)
        qlora = sizing.training_memory(a, sizing.TrainingSetup("qlora", 1, w.context, True, lora_rank=w.lora_rank,
                                                               frozen_bits_per_weight=self.catalog.precisions["nf4"].bits_per_weight), overhead)
        full = option.memory.total * option.count
        if lora.total >= full:
            return
        self.conclude(
            Tip(id="TRN-lora-instead", effect_bytes=full - lora.total,
                message=f"A full fine-tune needs {gb(full)} across {option.count} device(s); LoRA (rank {w.lora_rank}) on one device "
                f"needs ~{gb(lora.total)} and QLoRA ~{gb(qlora.total)} (micro-batch 1, recomputation on). Adapters usually recover "
                f"most of a full fine-tune's gain on narrow tasks."),
            lora=gb(lora.total), full=gb(full),
        )
