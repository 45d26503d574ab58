"""MEM: how much memory the workload needs, before any hardware is chosen."""

from __future__ import annotations

from typing import Any

from experta import AS, Rule

from ..facts import MemoryNeed, Workload
from ..planner import reference_memory, reference_precision
from ..units import gb, params
from . import rule_meta


class MemoryRules:
    @Rule(AS.workload << Workload())
    @rule_meta(
        id="MEM-need",
        statement="{model_name} ({params}) for {task} at {precision} needs {total} on one device: weights {weights}, "
        "KV cache {kv_cache}, activations {activations}, gradients {gradients}, optimizer {optimizer}, runtime {overhead}",
        sources=["eleuther-tm101", "nv-kv-blog", "mla-kv-tests", "zero-paper", "korthikanti", "measured-h200"],
        needs=("model", "task", "precision", "context", "concurrency", "batch", "lora_rank"),
    )
    def memory_need(self: Any, workload: Workload) -> None:
        """## What it decides
        The memory breakdown of the workload at its reference precision (the one asked for, or the model's
        native format) on a single device with no memory limit: the yardstick every candidate is measured by.

        ## Why
        Weights are parameters x bits per weight; the KV cache is 2 x layers x KV heads x head size per token
        (grouped-query attention counts KV heads, not query heads; DeepSeek's MLA caches a 576-wide latent;
        sliding-window layers stop at their window); training adds gradients, AdamW states (16 bytes per
        parameter for mixed precision) and activations (Korthikanti et al.), calibrated on a measured H200.

        ## Example
        DeepSeek-R1-Distill-Qwen-7B in BF16 holds 15.2 GB of weights and 57,344 bytes of KV cache per token.

        ## Limits
        Per-device figures for several devices come with each candidate: weights and KV cache split across
        tensor-parallel devices, the runtime's reserve does not.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        precision = self.catalog.precisions[reference_precision(w, model)]
        memory, runtime = reference_memory(w, model, precision, self.catalog)
        self.conclude(
            MemoryNeed(precision=precision.id, runtime=runtime.id, **memory.as_dict()),
            model_name=model.name, params=params(model.params), task=w.task, precision=precision.name,
            **{k: gb(v) for k, v in memory.as_dict().items()},
        )
