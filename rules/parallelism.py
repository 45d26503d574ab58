"""NET and MOE: spreading a model over several devices, and what mixture-of-experts models change.

Tensor parallel splits every layer and all-reduces twice per layer, so it wants a
fast link inside one node (NVLink, Infinity Fabric); pipeline parallel splits by
layers and suits the slower links between nodes; ZeRO/FSDP shard training state;
expert parallel places whole experts on different devices.
"""

from __future__ import annotations

import math

from experta import AND, AS, MATCH, OR, P

from .. import sizing
from ..facts import Fit, MemoryNeed, Mode, ModelSpec, Policy, Recommendation, Tip, Warning, Workload
from ..launch import documented_flag
from ..planner import arch
from . import SALIENCE_ADVICE, SEVERAL_DEVICES, Host, Rule, rule_meta, subject, tiers_sharing

FAST_LINKS = ("nvlink", "infinity-fabric", "ici")  # links that carry tensor parallel's per-layer all-reduces well


def _vllm_flag(engine: Host, role: str) -> str:
    """vLLM's option for ``role``, from its launch table (runtimes.yaml), the one the launch plans write."""
    return documented_flag(engine.catalog.runtimes["vllm"], "vllm-serve", role)


class ParallelismRules:
    @Rule(AS.workload << Workload(task="inference"), subject(), SEVERAL_DEVICES, salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-tensor-parallel",
               statement="tensor parallel {count} ways over {link} ({link_gbs} GB/s) splits weights to {weights_bytes:gb} per device",
               message="Split the model with tensor parallel over the {count} devices ({link}, {link_gbs:known} GB/s): "
               "{weights_bytes:gb} of weights and {kv_bytes:gb} of KV cache per device, their bandwidth adds up for decode "
               "({tokens_per_s:rate} per user). In vLLM: {tp_flag} {count}.",
               sources=["gk-h100", "gk-b200", "article"], needs=("model", "concurrency"))
    def tensor_parallel(self: Host, workload: Workload, rec: Recommendation) -> None:
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
        if (accel.interconnect not in FAST_LINKS or option.count > accel.max_devices
                or self.catalog.runtimes[option.runtime].split != "tensor"):
            return  # a fast link inside one node, a runtime that splits by tensor: catalog facts the pattern does not carry
        self.conclude(Tip(effect_bytes=option.memory.weights), count=option.count, link=accel.interconnect,
                      link_gbs=accel.interconnect_gbs, weights_bytes=option.memory.weights, kv_bytes=option.memory.kv_cache,
                      tokens_per_s=option.tokens_per_s, tp_flag=_vllm_flag(self, "tensor_parallel"))

    @Rule(AS.workload << Workload(), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-pipeline-across-nodes",
               statement="{count} devices span {nodes} nodes: tensor parallel inside each, pipeline parallel across",
               message="{count} x {hardware} span {nodes} nodes of {per_node}: use tensor parallel {per_node} inside each node and "
               "pipeline parallel {nodes} across them (vLLM: {tp_flag} {per_node} {pp_flag} {nodes}); "
               "put the nodes on InfiniBand or 400G Ethernet.",
               sources=["korthikanti", "article"], needs=("scale",))
    def pipeline_across_nodes(self: Host, workload: Workload, rec: Recommendation) -> None:
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
        if option.count <= accel.max_devices:
            return  # devices per node is a catalog fact the pattern does not carry
        nodes = math.ceil(option.count / accel.max_devices)
        self.conclude(Tip(effect_nodes=nodes), count=option.count, hardware=accel.name, nodes=nodes, per_node=accel.max_devices,
                      tp_flag=_vllm_flag(self, "tensor_parallel"), pp_flag=_vllm_flag(self, "pipeline_parallel"))

    @Rule(OR(AND(AS.rec << Recommendation(tp_over_pcie=True), Mode(kind="recommend")), AS.rec << Fit(tp_over_pcie=True)),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-tp-over-pcie", statement="{count} x {hardware} splits every layer over PCIe: the link sets the speed",
               message="{count} x {hardware} ({tiers}) have no NVLink: tensor parallel over PCIe ({link_gbs:known} GB/s) adds two "
               "all-reduces per layer per token. Expect {tokens_per_s:rate} per user at best; prefer fewer, larger cards or pipeline parallel.",
               sources=["llmhw-assumption", "l40s-datasheet-copy"], needs=("concurrency",))
    def tp_over_pcie(self: Host, rec: Recommendation) -> None:
        """## What it decides
        Warns when tensor parallelism would run over PCIe across more than two cards, once per configuration,
        naming the tiers (or the proposal) it concerns.

        ## Why
        Tensor parallel all-reduces twice per layer per token; PCIe moves 32-64 GB/s against 900+ GB/s for
        NVLink, so beyond two cards the link, not the GPUs, bounds decode speed.

        ## Example
        Four RTX 4090s serving a 70B model.
        """
        tiers = tiers_sharing(self, rec, "id") if "tier" in rec else ["proposed"]
        if tiers[0] != rec.get("tier", "proposed"):
            return  # the same configuration in a better-known tier already carries this warning
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        self.conclude(Warning(tier=", ".join(tiers)), count=option.count, hardware=accel.name, tiers=", ".join(tiers),
                      link_gbs=accel.interconnect_gbs, tokens_per_s=option.tokens_per_s)

    @Rule(AS.workload << Workload(), AS.spec << ModelSpec(architecture="moe"), salience=SALIENCE_ADVICE)
    @rule_meta(id="MOE-all-experts-stored", statement="{model} stores {params:params} parameters but computes with {active:params} per token",
               message="{model} is a mixture of experts: all {params:params} parameters must be in memory, but each token computes "
               "with {active:params} ({active_share:pct}), so decode reads far less than the full weights per token and runs faster "
               "than a dense model of its size.",
               sources=["r1-readme", "v3-readme", "article"], needs=("model",))
    def all_experts_stored(self: Host, workload: Workload, spec: ModelSpec) -> None:
        """## What it decides
        For mixture-of-experts models: memory follows the total parameters, speed the active ones.

        ## Why
        Corrected from the article: MoE needs far less compute per token than its size suggests, but every
        expert must still be held in memory (or offloaded, at a large speed cost).

        ## Example
        DeepSeek-R1 671B activates 37B parameters per token, and all 671B must be stored.
        """
        model = self.catalog.models[workload["model"]]
        self.conclude(Tip(effect_params=model.params - model.active_params), model=model.name, params=model.params,
                      active=model.active_params, active_share=model.active_params / model.params)

    @Rule(AS.workload << Workload(), AS.spec << ModelSpec(architecture="moe", experts=MATCH.experts & P(bool)), subject(),
          SEVERAL_DEVICES, salience=SALIENCE_ADVICE)
    @rule_meta(id="MOE-expert-parallel", statement="expert parallel places {per_device} of the {experts} experts on each of {count} devices",
               message="{model} has {experts} routed experts: with expert parallel each of the {count} devices holds {per_device} "
               "whole experts and only routed tokens cross the link (vLLM: {ep_flag}).",
               sources=["v3-readme", "r1-readme"], needs=("model",))
    def expert_parallel(self: Host, workload: Workload, spec: ModelSpec, rec: Recommendation, experts: int) -> None:
        """## What it decides
        For a mixture-of-experts model on several devices: spread the experts rather than split each one.

        ## Why
        Each token visits only a few experts; placing whole experts on different devices (expert parallel)
        keeps each expert's matrices local and exchanges only the routed tokens.

        ## Example
        DeepSeek-R1 671B (256 routed experts) on 8 GPUs: 32 experts per GPU.
        """
        count = self.option(rec).count
        per_device = math.ceil(experts / count)
        self.conclude(Tip(effect_experts=per_device), model=self.catalog.models[workload["model"]].name, count=count, per_device=per_device,
                      ep_flag=_vllm_flag(self, "expert_parallel"))

    @Rule(AS.workload << Workload(task="inference", concurrency=MATCH.users),
          AS.spec << ModelSpec(architecture="moe", experts=P(bool), experts_active=P(bool)),
          AS.need << MemoryNeed(kv_cache=MATCH.kv_bytes, activations=MATCH.activations_bytes),
          Policy(moe_offload_link_gbs=MATCH.link_gbs, fit_headroom=MATCH.headroom, host_os_reserve_bytes=MATCH.reserve_bytes),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="MOE-expert-offload",
               statement="with experts in host RAM, one {gpu} holds {model}'s shared part and decodes at ~{tokens_per_s:rate}",
               message="{model} at Q4_K_M is {total_bytes:gb}; with its routed experts ({experts_bytes:gb}) in host RAM a single "
               "{gpu} holds the rest with this workload's KV cache ({on_gpu_bytes:gb}), and each decode step streams "
               "~{step_bytes:gb} of the experts its {users} sequence(s) route to over PCIe: ~{tokens_per_s:rate} per user at best. "
               "The host then needs at least {host_bytes:gb} of RAM; start llama.cpp with {cpu_moe_flag} {layers} to keep every "
               "layer's experts there.",
               sources=["l40s-datasheet-copy", "v3-readme", "article"], needs=("model", "ram_gb"))
    def expert_offload(self: Host, workload: Workload, spec: ModelSpec, need: MemoryNeed, users: int, kv_bytes: int, activations_bytes: int,
                       link_gbs: float, headroom: float, reserve_bytes: int) -> None:
        """## What it decides
        For a MoE model too large for the GPUs at hand: what offloading the experts to host RAM costs in speed.

        ## Why
        All experts must be stored, but each token reads only the active ones. llama.cpp can keep the
        experts in system RAM (`--n-cpu-moe`, `-ot exps=CPU`) and the rest on the GPU; every token then
        streams its active experts' weights over PCIe, which sets the speed.

        ## Example
        Qwen3-30B-A3B at Q4_K_M with experts in RAM: the GPU holds ~1.5 GB; each token moves ~1.6 GB.

        ## Limits
        Sized for Q4_K_M with llama.cpp on the smallest purchasable GPU that holds the shared part.
        """
        model = self.catalog.models[workload["model"]]
        a = arch(model)
        total = sizing.weight_bytes(model.params, self.catalog.precisions["q4_k_m"].bits_per_weight)
        experts = int(total * (1 - sizing.moe_shared_fraction(a)))
        on_gpu = total - experts + kv_bytes + activations_bytes + self.catalog.runtimes["llama-cpp"].overhead_bytes
        per_step = experts * sizing.experts_touched(a, users)
        llama_cpp = self.catalog.runtimes["llama-cpp"]  # the runtime that keeps experts in host RAM (-ot exps=CPU)
        gpus = [g for g in self.catalog.accelerators.values() if g.kind == "gpu" and g.obtain == "buy"
                and llama_cpp.runs("q4_k_m", g.ecosystem) and g.usable_memory_bytes * headroom >= on_gpu]
        if not gpus:
            return  # no GPU in the catalog holds the shared part: nothing to suggest
        gpu = min(gpus, key=lambda g: (g.memory_bytes, g.id))
        self.conclude(Tip(effect_bytes=experts), model=model.name, gpu=gpu.name, total_bytes=total, experts_bytes=experts,
                      on_gpu_bytes=on_gpu, step_bytes=per_step, tokens_per_s=sizing.streamed_steps_per_s(per_step, link_gbs),
                      host_bytes=experts + reserve_bytes, layers=model.layers,
                      cpu_moe_flag=documented_flag(llama_cpp, "llama-server", "cpu_moe"))
