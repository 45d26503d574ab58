"""TRN: training techniques, what each saves or costs on this training run, in its own numbers.

Every tip here fires only when its technique changes something for this workload,
and states the effect in this workload's own numbers.
"""

from __future__ import annotations

import math

from experta import AS, MATCH, P

from .. import training_sizing
from ..facts import ModelSpec, Policy, Recommendation, Tip, Workload
from ..planner import arch, offered, runs_at, training_fit, usable_bytes
from ..profile import TRAINING_TASKS
from . import ONE_DEVICE, SALIENCE_ADVICE, SEVERAL_DEVICES, Host, Rule, rule_meta, subject

TRAINING = P(lambda t: t in TRAINING_TASKS)
FULL_TRAINING = P(lambda t: t in ("finetune", "pretrain"))  # every weight trains: AdamW states for all parameters
OFFLOAD_ECOSYSTEMS = ("cuda", "rocm")  # DeepSpeed's CPU Adam runs beside CUDA and ROCm devices (zero-offload)


class TrainingRules:
    @Rule(AS.workload << Workload(task=TRAINING, context=MATCH.context), subject(),
          Policy(checkpointing_min_saving_share=MATCH.min_share), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-activation-checkpointing",
               statement="activation checkpointing {verdict}: activations {without_bytes:gb} without, {with_bytes:gb} with",
               message="Activation checkpointing {verdict}: activations for micro-batch {micro_batch} x {context:,} tokens take "
               "{without_bytes:gb} without it and {with_bytes:gb} with it ({saved_bytes:gb} saved per device, for ~{extra_compute:pct} more "
               "compute). The peak here is {peak_bytes:gb} per device.",
               sources=["korthikanti", "measured-h200"], needs=("activation_checkpointing", "batch", "context"))
    def activation_checkpointing(self: Host, workload: Workload, rec: Recommendation, context: int, min_share: float) -> None:
        """## What it decides
        What activation checkpointing saves on this training run, computed, and whether it is on.

        ## Why
        The article's third technique. Its effect depends on the workload: measured on an H200 it halved the
        peak of a 7B LoRA run but did nothing for a 1.5B full fine-tune, where AdamW states dominate. It costs
        one extra forward pass (~33% more compute).

        ## Example
        7B LoRA at 2k tokens: 22.5 GB of activations without, 4.0 GB with.
        """
        option = self.option(rec)
        a = arch(self.catalog.models[workload["model"]])
        tokens = option.micro_batch * context
        hidden_bytes = training_sizing.training_hidden_bytes(workload["task"] in ("finetune", "pretrain"))
        without = training_sizing.training_activation_bytes(a, tokens, False, hidden_bytes)
        # an offloading stack (unsloth-class) keeps only part of the checkpointed activations on the device
        kept = self.catalog.runtimes[option.runtime].activation_device_fraction
        with_ = math.ceil(training_sizing.training_activation_bytes(a, tokens, True, hidden_bytes) * kept)
        saving, peak = without - with_, option.memory.total
        verdict = ("is on and needed to fit" if option.checkpointing else
                   "would save little here" if saving < min_share * peak else "would free memory for a larger micro-batch")
        self.conclude(Tip(effect_bytes=saving), verdict=verdict, micro_batch=option.micro_batch, without_bytes=without,
                      with_bytes=with_, saved_bytes=saving, peak_bytes=peak, extra_compute=training_sizing.recompute_extra_compute())

    @Rule(AS.workload << Workload(task=TRAINING, batch=MATCH.batch), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-gradient-accumulation", statement="batch {batch} = micro-batch {micro} x {steps} accumulation steps",
               message="Effective batch {batch} does not fit at once: run micro-batch {micro} x {steps} gradient-accumulation "
               "steps (same gradients, {steps} sequential passes per optimizer step).",
               sources=["article", "zero-paper"], needs=("batch",))
    def gradient_accumulation(self: Host, workload: Workload, rec: Recommendation, batch: int) -> None:
        """## What it decides
        How the requested effective batch is reached when it does not fit at once.

        ## Why
        The article's fourth technique: gradients of several micro-batches are summed before one optimizer step,
        so a large batch trains on small memory at the cost of more sequential steps.

        ## Example
        Batch 16 on one 24 GB card: micro-batch 2 x 8 accumulation steps.

        ## Limits
        The planner chooses the micro-batch with the configuration: whether it needs several steps is read
        from the sized option, in the body.
        """
        option = self.option(rec)
        if option.accumulation_steps <= 1:
            return
        self.conclude(Tip(effect_steps=option.accumulation_steps), micro=option.micro_batch, steps=option.accumulation_steps)

    @Rule(AS.workload << Workload(task=FULL_TRAINING), AS.spec << ModelSpec(params=MATCH.params), subject(), SEVERAL_DEVICES,
          salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-zero-sharding",
               statement="ZeRO-3/FSDP over {count} devices cuts model states from {full_bytes:gb} to {sharded_bytes:gb} per device",
               message="Shard model states with ZeRO-3 or FSDP (full shard) over the {count} devices: {full_bytes:gb} of weights, "
               "gradients and AdamW states become {sharded_bytes:gb} per device. Activations are not sharded; communication grows "
               "by ~50% over plain data parallel.",
               sources=["zero-paper"], needs=("task",))
    def zero_sharding(self: Host, workload: Workload, spec: ModelSpec, rec: Recommendation, params: int) -> None:
        """## What it decides
        For full training across several devices: what sharding the model states saves per device.

        ## Why
        Mixed-precision AdamW keeps 16 bytes per parameter (weights, gradients, fp32 master and two moments).
        ZeRO-3 (or FSDP full sharding) divides all of it by the number of devices; the saving grows with the
        device count and does not touch activations (so the article's "70%" is no constant).

        ## Example
        A 7B full fine-tune: 122 GB of model states, 15 GB per device over 8 GPUs.
        """
        count = self.option(rec).count
        full = training_sizing.MIXED_PRECISION_STATE_BYTES * params
        sharded = training_sizing.zero3_sharded_bytes(full, count)
        self.conclude(Tip(effect_bytes=int(full - sharded)), count=count, full_bytes=full, sharded_bytes=sharded)

    @Rule(AS.workload << Workload(task=FULL_TRAINING), AS.spec << ModelSpec(params=MATCH.params), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-mixed-precision", statement="mixed precision keeps {states_bytes:gb} of model states for {params:params} parameters",
               message="Train in BF16 mixed precision: {params:params} parameters x {bytes_per_param} bytes = {states_bytes:gb} of "
               "weights, gradients and AdamW states. FP16 needs loss scaling; FP8 (Hopper, Blackwell, MI300) speeds up matrix work "
               "but does not shrink these states.",
               sources=["zero-paper", "v3-readme", "article"], needs=("task",))
    def mixed_precision(self: Host, workload: Workload, spec: ModelSpec, params: int) -> None:
        """## What it decides
        States what mixed-precision training costs in memory for this model, and where FP8 helps.

        ## Why
        The article's second technique. BF16 compute with fp32 master weights and AdamW needs 16 bytes per
        parameter; FP8 training (Transformer Engine on Hopper/Blackwell, DeepSeek-V3's recipe) speeds up the
        matrix work but keeps the fp32 master and moments.

        ## Example
        A 1.5B full fine-tune: 28 GB of model states before any activation.
        """
        states = training_sizing.MIXED_PRECISION_STATE_BYTES * params
        self.conclude(Tip(effect_bytes=states), states_bytes=states, bytes_per_param=training_sizing.MIXED_PRECISION_STATE_BYTES)

    @Rule(AS.workload << Workload(task=FULL_TRAINING, context=MATCH.context), subject(), SEVERAL_DEVICES, salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-cpu-offload",
               statement="offloading the optimizer ({optimizer_bytes:gb}) to host RAM would fit on {fewer} devices instead of {count}",
               message="With the AdamW states ({optimizer_bytes:gb}) offloaded to host RAM (ZeRO-Offload), {fewer} device(s) would "
               "hold this run ({per_device_bytes:gb} each, micro-batch 1 with recomputation) instead of {count}; the host then needs "
               "~{optimizer_bytes:gb} more RAM and optimizer steps run on the CPU, several times slower.",
               sources=["zero-paper", "article"], needs=("task", "ram_gb"))
    def cpu_offload(self: Host, workload: Workload, rec: Recommendation, context: int) -> None:
        """## What it decides
        For full training on several devices: whether ZeRO-Offload (optimizer states in host RAM) would need fewer.

        ## Why
        AdamW's fp32 master weights and moments are 12 of the 16 bytes per parameter; moving them to CPU RAM
        (DeepSpeed ZeRO-Offload) frees most of the device memory at the cost of slower optimizer steps.

        ## Example
        A 7B full fine-tune: 2 x 48 GB GPUs instead of 4, with ~92 GB of optimizer state in RAM.

        ## Limits
        Tries half the devices; whether the run then fits is sized in the body.
        """
        option = self.option(rec)
        a = arch(self.catalog.models[workload["model"]])
        fewer = option.count // 2
        setup = training_sizing.TrainingSetup(mode="full", micro_batch=1, seq_len=context, checkpointing=True, devices=fewer,
                                     zero_stage=3 if fewer > 1 else 0, offload_optimizer=True)
        memory = training_sizing.training_memory(a, setup, self.catalog.runtimes[option.runtime].overhead_bytes)
        if memory.total > option.usable_bytes:
            return
        self.conclude(Tip(effect_devices=option.count - fewer), optimizer_bytes=training_sizing.ADAM_STATE_BYTES * a.params, fewer=fewer,
                      count=option.count, per_device_bytes=memory.total)

    @Rule(AS.workload << Workload(task="finetune", context=MATCH.context, lora_rank=MATCH.rank), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-lora-instead", statement="LoRA on the same model needs {lora_bytes:gb} per device instead of {full_bytes:gb}",
               message="A full fine-tune needs {full_bytes:gb} across {count} device(s); LoRA (rank {rank}) on one device needs "
               "~{lora_bytes:gb} and QLoRA ~{qlora_bytes:gb} (micro-batch 1, recomputation on). Adapters usually recover most of a "
               "full fine-tune's gain on narrow tasks.",
               sources=["measured-h200", "qlora-paper"], needs=("task", "lora_rank"))
    def lora_instead(self: Host, workload: Workload, rec: Recommendation, context: int, rank: int) -> None:
        """## What it decides
        For a full fine-tune: what LoRA and QLoRA would need instead.

        ## Why
        LoRA trains small adapters over frozen weights: optimizer states shrink from 16 bytes per parameter of the
        whole model to 16 bytes per adapter parameter (~0.5% of the model at rank 16). QLoRA stores the frozen
        weights in 4-bit NF4.

        ## Example
        DeepSeek-R1-Distill-Qwen-7B: ~122 GB of model states for a full fine-tune, ~16 GB of weights plus 0.6 GB of
        adapter state for LoRA.

        ## Limits
        Whether LoRA needs less than the full run is sized in the body.
        """
        option = self.option(rec)
        a = arch(self.catalog.models[workload["model"]])
        overhead = self.catalog.runtimes[option.runtime].overhead_bytes
        lora = training_sizing.training_memory(a, training_sizing.TrainingSetup("lora", 1, context, True, lora_rank=rank), overhead)
        qlora = training_sizing.training_memory(a, training_sizing.TrainingSetup("qlora", 1, context, True, lora_rank=rank,
                                                               frozen_bits_per_weight=self.catalog.precisions["nf4"].bits_per_weight), overhead)
        full = option.memory.total * option.count
        if lora.total >= full:
            return
        self.conclude(Tip(effect_bytes=full - lora.total), full_bytes=full, count=option.count, lora_bytes=lora.total,
                      qlora_bytes=qlora.total)

    @Rule(AS.workload << Workload(task=TRAINING, context=MATCH.context), subject(any_verdict=True), salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-training-stack",
               statement="{stack} needs {need_bytes:gb} per device; {other} needs {other_bytes:gb}, which {other_verdict}",
               message="This verdict assumes {stack_name}: {need_bytes:gb} per device at micro-batch {micro_batch} x {context:,} "
               "tokens. On the same {count} x {hardware}, {other_name} needs {other_bytes:gb} per device at its best "
               "micro-batch ({other_micro} x {context:,} tokens, recomputation {other_ckpt}), which {other_verdict} the "
               "{usable_bytes:gb} usable.",
               sources=["unsloth-benchmarks", "unsloth-requirements", "measured-h200"], needs=("task", "context"))
    def training_stack(self: Host, workload: Workload, rec: Recommendation, context: int) -> None:
        """## What it decides
        Names the training stack a training verdict assumes and what each other stack that trains on this device
        needs for the same run.

        ## Why
        Training memory depends on the stack as much as on the model. Plain transformers + PEFT keeps every
        layer's checkpoint and the full logits on the device; unsloth-class stacks offload the checkpoints to host
        RAM and never build the logits, and publish 23x longer QLoRA contexts on a 12 GB card (21,848 tokens
        against 932 for Llama 3.1 8B). A verdict that does not say which stack it assumes is half an answer.

        ## Example
        Qwen2.5-7B QLoRA at 8k tokens on an RTX 3060 12GB: unsloth-class needs 9.9 GB, plain transformers + PEFT
        20.0 GB.

        ## Limits
        Stacks are compared at the same device count, format and micro-batch search; a single-GPU stack is not
        offered on several devices.
        """
        option = self.option(rec)
        w = self.workload(workload)
        model = self.catalog.models[workload["model"]]
        accel = self.catalog.accelerators[option.hardware]
        precision = self.catalog.precisions[option.precision]
        stack = self.catalog.runtimes[option.runtime]
        a = arch(model)
        for other in offered(w, model, accel, precision, self.catalog):
            if other.id == stack.id or not runs_at(other, option.count):
                continue
            usable = usable_bytes(accel, other, self.policy.fit_headroom)
            memory, micro, ckpt = training_fit(w, a, precision, other, option.count, usable)
            if memory.total == option.memory.total:
                continue  # the other stack keeps the same bytes here (a full fine-tune's AdamW step): nothing to tell
            self.conclude(Tip(effect_bytes=option.memory.total - memory.total), stack=stack.id, stack_name=stack.name,
                          need_bytes=option.memory.total, micro_batch=option.micro_batch, count=option.count,
                          hardware=accel.name, other=other.id, other_name=other.name, other_bytes=memory.total,
                          other_micro=micro, other_ckpt="on" if ckpt else "off", usable_bytes=usable,
                          other_verdict="fits in" if memory.total <= usable else "exceeds")

    @Rule(AS.workload << Workload(task=FULL_TRAINING, context=MATCH.context), subject(any_verdict=True), ONE_DEVICE,
          salience=SALIENCE_ADVICE)
    @rule_meta(id="TRN-zero-offload",
               statement="ZeRO-Offload fits the run on one {hardware} at {offload_bytes:gb} instead of {need_bytes:gb}",
               message="With DeepSpeed ZeRO-Offload (AdamW states and step in host RAM), this 1 x {hardware} holds the run: "
               "{offload_bytes:gb} per device at micro-batch 1 x {context:,} tokens with recomputation, instead of "
               "{need_bytes:gb}. The host then needs {optimizer_bytes:gb} more RAM for the optimizer states; the published "
               "ZeRO-Offload run kept its GPU throughput (40 TFLOPS per V100 on a 10B model).",
               sources=["zero-offload", "zero-paper"], needs=("task", "ram_gb"))
    def zero_offload(self: Host, workload: Workload, rec: Recommendation, context: int) -> None:
        """## What it decides
        For a full fine-tune that does not fit on the one device checked: whether DeepSpeed ZeRO-Offload makes it fit.

        ## Why
        AdamW's fp32 master weights and moments are 12 of the 16 bytes per parameter. ZeRO-Offload keeps them, and
        the optimizer step, in host RAM (DeepSpeed's CPU Adam), so one GPU trains models several times larger; its
        paper trains a 10B model on one V100 at 40 TFLOPS, against 30 for plain PyTorch on a 1.4B model.

        ## Example
        Llama 3.1 8B full fine-tune on one H100 80GB: 161.6 GB without offload, about 50 GB with it, plus 96 GB of
        optimizer state in host RAM.

        ## Limits
        CUDA and ROCm devices only; whether the offloaded run fits is sized in the body.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        if option.fits or accel.ecosystem not in OFFLOAD_ECOSYSTEMS:
            return
        a = arch(self.catalog.models[workload["model"]])
        setup = training_sizing.TrainingSetup(mode="full", micro_batch=1, seq_len=context, checkpointing=True, offload_optimizer=True)
        memory = training_sizing.training_memory(a, setup, self.catalog.runtimes[option.runtime].overhead_bytes)
        if memory.total > option.usable_bytes:
            return
        self.conclude(Tip(effect_bytes=option.memory.total - memory.total), hardware=accel.name,
                      offload_bytes=memory.total, need_bytes=option.memory.total,
                      optimizer_bytes=training_sizing.ADAM_STATE_BYTES * a.params)
