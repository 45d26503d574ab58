"""MEM: how much memory the workload needs, before any hardware is chosen."""

from __future__ import annotations

from typing import Any

from experta import AS

from ..facts import MemoryNeed, ModelSpec, Workload
from ..planner import reference_memory, reference_precision
from . import Host, Rule, rule_meta


class MemoryRules:
    @Rule(AS.workload << Workload())
    @rule_meta(id="MEM-model", statement="{name} has {params:params} parameters, {active_params:params} active per token ({architecture})",
               sources=["r1-readme", "v3-readme", "eleuther-tm101"], needs=("model",))
    def model_spec(self: Host, workload: Workload) -> None:
        """## What it decides
        Brings the model's size and architecture from the catalog into working memory, so rules about large,
        small or mixture-of-experts models state that condition in their patterns.

        ## Why
        Whether the article's claim about 70B models applies, or whether experts can be offloaded, depends on the
        model itself; a rule reads better when that test is part of what it matches.

        ## Example
        DeepSeek-R1 671B: 671B parameters, 37B active per token, a mixture of experts with 256 routed experts.
        """
        model = self.catalog.models[workload["model"]]
        self.conclude(ModelSpec(id=model.id, params=model.params, active_params=model.active_params, architecture=model.architecture,
                                experts=model.experts, experts_active=model.experts_active, native_precision=model.native_precision),
                      name=model.name, params=model.params, active_params=model.active_params, architecture=model.architecture)

    @Rule(AS.workload << Workload())
    @rule_meta(
        id="MEM-need",
        statement="{model_name} ({params:params}) for {task} at {precision} needs {total_bytes:gb} on one device: weights "
        "{weights_bytes:gb}, KV cache {kv_cache_bytes:gb}, activations {activations_bytes:gb}, gradients {gradients_bytes:gb}, "
        "optimizer {optimizer_bytes:gb}, runtime {overhead_bytes:gb}",
        sources=["eleuther-tm101", "nv-kv-blog", "mla-kv-tests", "zero-paper", "korthikanti", "measured-h200"],
        needs=("model", "task", "precision", "context", "concurrency", "batch", "lora_rank"),
    )
    def memory_need(self: Host, workload: Workload) -> None:
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
        breakdown: dict[str, Any] = {f"{k}_bytes": v for k, v in memory.as_dict().items()}
        self.conclude(
            MemoryNeed(precision=precision.id, runtime=runtime.id, **memory.as_dict()),
            model_name=model.name, params=model.params, task=w.task, precision=precision.name,
            **breakdown,
        )
