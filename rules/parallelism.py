"""NET and MOE: spreading a model over several devices, and what mixture-of-experts models change.

Tensor parallel splits every layer and all-reduces twice per layer, so it wants a
fast link inside one node (NVLink, Infinity Fabric); pipeline parallel splits by
layers and suits the slower links between nodes; ZeRO/FSDP shard training state;
expert parallel places whole experts on different devices.
"""

from __future__ import annotations

import math
from typing import Any

from experta import AS, OR, Rule

from .. import sizing
from ..facts import Fit, MemoryNeed, Recommendation, Tip, Warning, Workload
from ..planner import arch
from ..units import GB, gb, params, pct, rate
from . import SALIENCE_ADVICE, rule_meta, subject


class ParallelismRules:
    @Rule(AS.workload << Workload(task="inference"), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-tensor-parallel", statement="tensor parallel {count} ways over {link} ({gbs} GB/s) splits weights to {per_device} per device",
               sources=["gk-h100", "gk-b200", "article"], needs=("model", "concurrency"))
    def tensor_parallel(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        For a multi-device inference configuration inside one fast-linked node: how to split the model.

        ## Why
        Tensor parallel divides every layer's weights and KV cache across the devices and sums their memory
        bandwidth, which is what decode needs; its two all-reduces per layer are cheap over NVLink (900 GB/s
        on Hopper, 1.8 TB/s on Blackwell) or Infinity Fabric.

        ## Example
        A 70B model in BF16 on 2 x H200: `vllm serve ... --tensor-parallel-size 2`, ~71 GB of weights each.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        if (option.count < 2 or accel.interconnect not in ("nvlink", "infinity-fabric", "ici") or option.count > accel.max_devices
                or self.catalog.runtimes[option.runtime].split != "tensor"):
            return
        self.conclude(
            Tip(id="NET-tensor-parallel", effect_bytes=option.memory.weights,
                message=f"Split the model with tensor parallel over the {option.count} devices ({accel.interconnect}, "
                f"{accel.interconnect_gbs or '?'} GB/s): {gb(option.memory.weights)} of weights and {gb(option.memory.kv_cache)} of "
                f"KV cache per device, their bandwidth adds up for decode ({rate(option.tokens_per_s)} per user). In vLLM: "
                f"--tensor-parallel-size {option.count}."),
            count=option.count, link=accel.interconnect, gbs=accel.interconnect_gbs, per_device=gb(option.memory.weights),
        )

    @Rule(AS.workload << Workload(), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-pipeline-across-nodes", statement="{count} devices span {nodes} nodes: tensor parallel inside each, pipeline parallel across",
               sources=["korthikanti", "article"], needs=("scale",))
    def pipeline_across_nodes(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        When a configuration needs more devices than one node holds: how to split it across nodes.

        ## Why
        Links between nodes (InfiniBand, Ethernet) are an order of magnitude slower than NVLink; pipeline
        parallel sends activations once per stage boundary instead of all-reducing every layer.

        ## Example
        DeepSeek-R1 671B at FP8 on 16 x H100: two 8-GPU nodes, TP 8 inside, PP 2 across.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        per_node = accel.max_devices
        if option.count <= per_node:
            return
        nodes = math.ceil(option.count / per_node)
        self.conclude(
            Tip(id="NET-pipeline-across-nodes", effect_nodes=nodes,
                message=f"{option.count} x {accel.name} span {nodes} nodes of {per_node}: use tensor parallel {per_node} inside "
                f"each node and pipeline parallel {nodes} across them (vLLM: --tensor-parallel-size {per_node} "
                f"--pipeline-parallel-size {nodes}); put the nodes on InfiniBand or 400G Ethernet."),
            count=option.count, nodes=nodes,
        )

    @Rule(OR(AS.rec << Recommendation(tp_over_pcie=True), AS.rec << Fit(tp_over_pcie=True)), salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-tp-over-pcie", statement="{count} x {hardware} splits every layer over PCIe: the link sets the speed",
               sources=["llmhw-assumption", "l40s-datasheet-copy"], needs=("concurrency",))
    def tp_over_pcie(self: Any, rec: Any) -> None:
        """## What it decides
        Warns when tensor parallelism would run over PCIe across more than two cards.

        ## Why
        Tensor parallel all-reduces twice per layer per token; PCIe moves 32-64 GB/s against 900+ GB/s for
        NVLink, so beyond two cards the link, not the GPUs, bounds decode speed.

        ## Example
        Four RTX 4090s serving a 70B model.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        self.conclude(
            Warning(id="NET-tp-over-pcie", tier=rec.get("tier", "proposed"),
                    message=f"{option.count} x {accel.name} ({rec.get('tier', 'proposed')}) have no NVLink: tensor parallel over PCIe "
                    f"({accel.interconnect_gbs or '?'} GB/s) adds two all-reduces per layer per token. Expect "
                    f"{rate(option.tokens_per_s)} per user at best; prefer fewer, larger cards or pipeline parallel."),
            count=option.count, hardware=accel.name,
        )

    @Rule(AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="MOE-all-experts-stored", statement="{model} stores {total} parameters but computes with {active} per token",
               sources=["r1-readme", "v3-readme", "article"], needs=("model",))
    def all_experts_stored(self: Any, workload: Workload) -> None:
        """## What it decides
        For mixture-of-experts models: memory follows the total parameters, speed the active ones.

        ## Why
        Corrected from the article: MoE needs far less compute per token than its size suggests, but every
        expert must still be held in memory (or offloaded, at a large speed cost).

        ## Example
        DeepSeek-R1 671B activates 37B parameters per token, and all 671B must be stored.
        """
        model = self.catalog.models[workload["model"]]
        if not model.is_moe:
            return
        self.conclude(
            Tip(id="MOE-all-experts-stored", effect_params=model.params - model.active_params,
                message=f"{model.name} is a mixture of experts: all {params(model.params)} parameters must be in memory, "
                f"but each token computes with {params(model.active_params)} ({pct(model.active_params / model.params)}), so "
                f"decode reads far less than the full weights per token and runs faster than a dense model of its size."),
            model=model.name, total=params(model.params), active=params(model.active_params),
        )

    @Rule(AS.workload << Workload(), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="MOE-expert-parallel", statement="expert parallel places {per_device} of the {experts} experts on each of {count} devices",
               sources=["v3-readme", "r1-readme"], needs=("model",))
    def expert_parallel(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        For a mixture-of-experts model on several devices: spread the experts rather than split each one.

        ## Why
        Each token visits only a few experts; placing whole experts on different devices (expert parallel)
        keeps each expert's matrices local and exchanges only the routed tokens.

        ## Example
        DeepSeek-R1 671B (256 routed experts) on 8 GPUs: 32 experts per GPU.
        """
        model = self.catalog.models[workload["model"]]
        option = self.option(rec)
        if not model.is_moe or option.count < 2 or not model.experts:
            return
        per_device = math.ceil(model.experts / option.count)
        self.conclude(
            Tip(id="MOE-expert-parallel", effect_experts=per_device,
                message=f"{model.name} has {model.experts} routed experts: with expert parallel each of the {option.count} devices "
                f"holds {per_device} whole experts and only routed tokens cross the link (vLLM: --enable-expert-parallel)."),
            per_device=per_device, experts=model.experts, count=option.count,
        )

    @Rule(AS.workload << Workload(task="inference"), salience=SALIENCE_ADVICE)
    @rule_meta(id="MOE-expert-offload", statement="with experts in host RAM, one {gpu} holds {model}'s shared part and decodes at ~{speed}",
               sources=["l40s-datasheet-copy", "v3-readme", "article"], needs=("model", "ram_gb"))
    def expert_offload(self: Any, workload: Workload) -> None:
        """## What it decides
        For a MoE model too large for the GPUs at hand: what offloading the experts to host RAM costs in speed.

        ## Why
        All experts must be stored, but each token reads only the active ones. llama.cpp can keep the
        experts in system RAM (`--n-cpu-moe`, `-ot exps=CPU`) and the rest on the GPU; every token then
        streams its active experts' weights over PCIe, which sets the speed.

        ## Example
        Qwen3-30B-A3B at Q4_K_M with experts in RAM: the GPU holds ~1.5 GB; each token moves ~1.6 GB.
        """
        model = self.catalog.models[workload["model"]]
        needs = self.facts_of(MemoryNeed)
        if not (model.is_moe and model.experts and model.experts_active and needs):
            return
        a = arch(model)
        total = sizing.weight_bytes(model.params, self.catalog.precisions["q4_k_m"].bits_per_weight)
        experts = int(total * (1 - sizing.moe_shared_fraction(a)))
        on_gpu = total - experts + needs[0]["kv_cache"] + needs[0]["activations"] + self.catalog.runtimes["llama-cpp"].overhead_bytes
        per_step = experts * sizing.experts_touched(a, workload["concurrency"])
        speed = float(self.catalog.value("moe-offload-link-gbs")) * GB / per_step
        headroom = float(self.catalog.value("fit-headroom"))
        gpus = [g for g in self.catalog.accelerators.values() if g.kind == "gpu" and g.obtain == "buy"
                and (g.usable_memory_bytes or g.memory_bytes) * headroom >= on_gpu]
        if not gpus:
            return
        gpu = min(gpus, key=lambda g: (g.memory_bytes, g.id))
        reserve = float(self.catalog.value("host-os-reserve-bytes"))
        self.conclude(
            Tip(id="MOE-expert-offload", effect_bytes=experts,
                message=f"{model.name} at Q4_K_M is {gb(total)}; with its routed experts ({gb(experts)}) in host RAM a single "
                f"{gpu.name} holds the rest with this workload's KV cache ({gb(on_gpu)}), and each decode step streams "
                f"~{gb(per_step)} of the experts its {workload['concurrency']} sequence(s) route to over PCIe: ~{rate(speed)} per "
                f"user at best. The host then needs at least {gb(experts + reserve)} of RAM."),
            gpu=gpu.name, model=model.name, speed=rate(speed),
        )
