"""NET and MOE: spreading a model over several devices, and what mixture-of-experts models change.

Tensor parallel splits every layer and all-reduces twice per layer, so it wants a
fast link inside one node (NVLink, Infinity Fabric); pipeline parallel splits by
layers and suits the slower links between nodes; ZeRO/FSDP shard training state;
expert parallel places whole experts on different devices.
"""

from __future__ import annotations

import math

from experta import AND, AS, MATCH, OR, P

from .. import hybrid
from ..facts import Fit, MemoryNeed, Mode, ModelSpec, Policy, Recommendation, Tip, Warning, Workload
from ..launch import documented_flag
from ..planner import arch, layouts, offload
from . import SALIENCE_ADVICE, SEVERAL_DEVICES, Host, Rule, rule_meta, subject, tiers_sharing

FAST_LINKS = ("nvlink", "infinity-fabric", "ici")  # links that carry tensor parallel's per-layer all-reduces well


def _vllm_flag(engine: Host, role: str) -> str:
    """vLLM's option for ``role``, from its launch table (runtimes.yaml), the one the launch plans write."""
    return documented_flag(engine.catalog.runtimes["vllm"], "vllm-serve", role)


class ParallelismRules:
    @Rule(AS.workload << Workload(task="inference"), subject(), SEVERAL_DEVICES, salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-tensor-parallel",
               statement="tensor parallel {tp} ways over {link} ({link_gbs} GB/s) splits weights to {weights_bytes:gb} per device",
               message="Split the model with tensor parallel over {tp} devices ({link}, {link_gbs:known} GB/s): "
               "{weights_bytes:gb} of weights and {kv_bytes:gb} of KV cache per device, their bandwidth adds up for decode "
               "({tokens_per_s:rate} per user). In vLLM: {tp_flag} {tp}.",
               sources=["gk-h100", "gk-b200", "article", "vllm-kv-replication"], needs=("model", "concurrency"))
    def tensor_parallel(self: Host, workload: Workload, rec: Recommendation) -> None:
        """## What it decides
        For a multi-device inference configuration whose layout splits each layer over a fast link inside one node:
        how to split the model.

        ## Why
        Tensor parallel divides every layer's weights and KV heads across the devices and sums their memory
        bandwidth, which is what decode needs; its two all-reduces per layer are cheap over NVLink (900 GB/s
        on Hopper, 1.8 TB/s on Blackwell) or Infinity Fabric. Ranks beyond the KV-head count hold a replicated
        KV head (vLLM), and DeepSeek's MLA cache, a single latent head, is whole on every rank.

        ## Example
        A 70B model in BF16 on 2 x H200: `vllm serve ... --tensor-parallel-size 2`, ~71 GB of weights each.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        if accel.interconnect not in FAST_LINKS or option.layout.tensor_parallel < 2:
            return  # a fast link and a layout that splits layers: catalog facts the pattern does not carry
        self.conclude(Tip(effect_bytes=option.memory.weights), tp=option.layout.tensor_parallel, link=accel.interconnect,
                      link_gbs=accel.interconnect_gbs, weights_bytes=option.memory.weights, kv_bytes=option.memory.kv_cache,
                      tokens_per_s=option.tokens_per_s, tp_flag=_vllm_flag(self, "tensor_parallel"))

    @Rule(AS.workload << Workload(), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-pipeline-across-nodes",
               statement="each replica spans {stages} pipeline stages of tensor parallel {tp} over {network}",
               message="One copy of the model takes {per_replica} x {hardware}, more than a node's {per_node}: use tensor "
               "parallel {tp} inside each node and pipeline parallel {stages} across nodes over {network} (vLLM: {tp_flag} {tp} "
               "{pp_flag} {stages}); each token waits for every stage, so pipeline parallel adds memory, not speed per user.",
               sources=["korthikanti", "article", "nv-superpod-ndr", "nccl-latency-model"], needs=("scale",))
    def pipeline_across_nodes(self: Host, workload: Workload, rec: Recommendation) -> None:
        """## What it decides
        When one copy of the model needs more devices than one node holds: how to split it across nodes.

        ## Why
        Links between nodes (InfiniBand, Ethernet) are an order of magnitude slower than NVLink; pipeline
        parallel sends activations once per stage boundary instead of all-reducing every layer, so tensor
        parallel stays inside a node.

        ## Example
        DeepSeek-R1 671B at FP8 on 16 x H100: two 8-GPU nodes, TP 8 inside, PP 2 across over InfiniBand.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        lay = option.layout
        if lay.pipeline_parallel < 2 or lay.tensor_parallel * lay.pipeline_parallel <= accel.max_devices:
            return  # the layout (a planner result) is not in the pattern
        self.conclude(Tip(effect_nodes=lay.nodes), per_replica=lay.tensor_parallel * lay.pipeline_parallel, hardware=accel.name,
                      per_node=accel.max_devices, tp=lay.tensor_parallel, stages=lay.pipeline_parallel,
                      network=layouts.network_of(accel, self.catalog),
                      tp_flag=_vllm_flag(self, "tensor_parallel"), pp_flag=_vllm_flag(self, "pipeline_parallel"))

    @Rule(AS.workload << Workload(task="inference", concurrency=MATCH.users), subject(), SEVERAL_DEVICES,
          salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-data-parallel-replicas",
               statement="{replicas} replicas of {per_replica} device(s) each serve about {users_each} of the {users} users",
               message="Run {replicas} replicas of the model, {per_replica} x {hardware} each, behind one endpoint (vLLM: "
               "{dp_flag} {replicas}, or one server per replica behind a load balancer): each serves about "
               "{users_each} of the {users} users, so the devices add throughput ({total_tokens_per_s:rate} in all) instead "
               "of splitting every layer and paying its all-reduces.",
               sources=["vllm-dp-deploy"], needs=("model", "concurrency"))
    def data_parallel_replicas(self: Host, workload: Workload, rec: Recommendation, users: int) -> None:
        """## What it decides
        For many users on a model that fits fewer devices than the configuration has: serve copies of it.

        ## Why
        Replicas need no communication between them; splitting a small model over many devices pays two
        all-reduces per layer and a replicated KV head per rank. Each replica serves its share of the users, so
        the speed per user is a replica's, and the total is the sum.

        ## Example
        Llama 3.1 8B for 500 users on 8 x B200: 8 one-GPU replicas of about 63 users each.
        """
        option = self.option(rec)
        lay = option.layout
        if lay.data_parallel < 2 or lay.dp_attention:
            return  # the layout (a planner result) is not in the pattern; data-parallel attention: NET-dp-attention
        self.conclude(Tip(effect_nodes=lay.nodes), replicas=lay.data_parallel, per_replica=option.count // lay.data_parallel,
                      hardware=self.catalog.accelerators[option.hardware].name, users=users,
                      users_each=math.ceil(users / lay.data_parallel), total_tokens_per_s=option.total_tokens_per_s,
                      dp_flag=_vllm_flag(self, "data_parallel"))

    @Rule(AS.workload << Workload(task="inference", concurrency=MATCH.users), subject(), SEVERAL_DEVICES,
          salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-dp-attention",
               statement="attention runs data-parallel over {ranks} devices, each holding the MLA cache of about {users_each} "
               "of the {users} users, and the routed experts expert-parallel over all of them",
               message="Run {model}'s attention data-parallel and its routed experts expert-parallel over the {ranks} x {hardware} "
               "(vLLM: {dp_flag} {ranks} {ep_flag}; SGLang: --enable-dp-attention). Its MLA cache is one latent per token that "
               "tensor parallel cannot split, so under TP every device would keep the cache of all {users} users; here each "
               "keeps only its own ~{users_each} users' ({kv_bytes:gb}), beside the attention and shared weights whole and "
               "1/{ranks} of the experts ({weights_bytes:gb} of weights per device). Two all-to-alls per MoE layer carry the "
               "tokens to their experts' devices ({tokens_per_s:rate} per user, {total_tokens_per_s:rate} in all).",
               sources=["vllm-dp-deploy", "sglang-dp-attention", "sglang-mla-replicated", "vllm-ep-deployment"],
               needs=("model", "concurrency"))
    def dp_attention(self: Host, workload: Workload, rec: Recommendation, users: int) -> None:
        """## What it decides
        For an MLA mixture-of-experts model (DeepSeek-V3/R1) served to many users: run the attention data-parallel and
        the experts expert-parallel, instead of tensor parallel, when that fits where TP does not or runs faster.

        ## Why
        MLA caches one compressed latent per token, a single KV head that tensor parallel cannot divide: every TP rank
        keeps the whole cache (sglang-mla-replicated), so many users' cache fills every device. Data-parallel attention
        gives each rank its own requests, hence only their cache, while the routed experts, most of the weights, are
        still spread over all ranks; the ranks meet before and after every MoE layer to exchange tokens.

        ## Example
        DeepSeek-R1 at FP8 for 1,000 users at 8k context on 8 x MI300X: ~125 users' cache (72 GB) and ~99 GB of weights
        per GPU, where TP 8 would need all 576 GB of cache on each.

        ## Limits
        Users are taken as spread evenly over the ranks and routing as uniform over the experts; vLLM is the catalog
        runtime that runs it (SGLang does too, TensorRT-LLM's enable_attention_dp is not written by its launch plan).
        """
        option = self.option(rec)
        lay = option.layout
        if not lay.dp_attention:
            return  # the layout (a planner result) is not in the pattern
        self.conclude(Tip(effect_bytes=option.memory.kv_cache), model=self.catalog.models[workload["model"]].name,
                      ranks=lay.data_parallel, hardware=self.catalog.accelerators[option.hardware].name, users=users,
                      users_each=math.ceil(users / lay.data_parallel), kv_bytes=option.memory.kv_cache,
                      weights_bytes=option.memory.weights, tokens_per_s=option.tokens_per_s,
                      total_tokens_per_s=option.total_tokens_per_s, dp_flag=_vllm_flag(self, "data_parallel"),
                      ep_flag=_vllm_flag(self, "expert_parallel"))

    @Rule(OR(AND(AS.rec << Recommendation(tp_over_pcie=True), Mode(kind="recommend")), AS.rec << Fit(tp_over_pcie=True)),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="NET-tp-over-pcie", statement="{count} x {hardware} split every layer {tp} ways over PCIe: the link sets the speed",
               message="{count} x {hardware} ({tiers}) have no NVLink: tensor parallel {tp} over PCIe ({link_gbs:known} GB/s) adds "
               "two all-reduces per layer per token. Expect {tokens_per_s:rate} per user at best; prefer fewer, larger cards or "
               "pipeline parallel.",
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
                      tp=option.layout.tensor_parallel, link_gbs=accel.interconnect_gbs, tokens_per_s=option.tokens_per_s)

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
               sources=["v3-readme", "r1-readme", "vllm-ep-deploy"], needs=("model",))
    def expert_parallel(self: Host, workload: Workload, spec: ModelSpec, rec: Recommendation, experts: int) -> None:
        """## What it decides
        For a mixture-of-experts model on several devices under a runtime that places experts (vLLM, SGLang,
        TensorRT-LLM): spread the experts over the tensor-parallel ranks rather than split each one.

        ## Why
        Each token visits only a few experts; placing whole experts on different devices (expert parallel)
        keeps each expert's matrices local and exchanges only the routed tokens.

        ## Example
        DeepSeek-R1 671B (256 routed experts) on 8 GPUs: 32 experts per GPU.
        """
        count = self.option(rec).layout.expert_parallel
        if count < 2:
            return  # the runtime keeps a layer's experts together (llama.cpp's layer split): a planner fact
        per_device = math.ceil(experts / count)
        self.conclude(Tip(effect_experts=per_device), model=self.catalog.models[workload["model"]].name, count=count, per_device=per_device,
                      ep_flag=_vllm_flag(self, "expert_parallel"))

    @Rule(AS.workload << Workload(task="inference"),
          AS.spec << ModelSpec(architecture="moe", experts=P(bool), experts_active=P(bool)),
          AS.need << MemoryNeed(), Policy(hybrid_cpu_bandwidth_efficiency=MATCH.cpu_efficiency), salience=SALIENCE_ADVICE)
    @rule_meta(id="MOE-expert-offload",
               statement="with its routed experts in host RAM computed by the CPU, one {gpu} holds {model}'s shared part "
               "and decodes at ~{tokens_per_s:rate} on {host}",
               message="{model} at Q4_K_M is {total_bytes:gb}; keep the routed experts of {layers} of its {all_layers} layers "
               "({experts_bytes:gb}) in host RAM and let the CPU compute them (llama.cpp {cpu_moe_flag} {layers}; "
               "KTransformers for DeepSeek): a single {gpu} holds the rest with this workload's KV cache "
               "({on_gpu_bytes:gb}). Each token then reads "
               "~{step_bytes:gb} of experts from host RAM, so the host's memory bandwidth sets the speed: ~{tokens_per_s:rate} "
               "per user on {host} ({host_gbs:g} GB/s at the calibrated {cpu_efficiency:pct} of it). The host needs at least "
               "{host_bytes:gb} of RAM.",
               sources=["llamacpp-cpu-moe-15077", "ktransformers-r1-tutorial", "ktransformers-314", "v3-readme"],
               needs=("model", "ram_gb"))
    def expert_offload(self: Host, workload: Workload, spec: ModelSpec, need: MemoryNeed, cpu_efficiency: float) -> None:
        """## What it decides
        For a mixture-of-experts model: what a hybrid rig gives, with the routed experts in host RAM and computed by the
        host CPU, the rest (attention, shared experts, KV cache) on one GPU.

        ## Why
        All experts must be stored, but each token computes only the few it is routed to. llama.cpp (`--n-cpu-moe N`,
        `-ot exps=CPU`) and KTransformers keep the experts in system RAM and compute them on the CPU, so a token reads a
        few GB at the host's memory bandwidth instead of the whole model: DeepSeek-R1/V3 at Q4 decodes at 9-14 tok/s on
        one 24 GB GPU and a 1-2 socket DDR5 server (calibration.yaml, within x0.75-1.33 of every published run).

        ## Example
        DeepSeek-R1 at Q4_K_M: ~400 GB of experts in the RAM of a 12-channel DDR5 server, ~12 GB of them read per token.

        ## Limits
        Sized for Q4_K_M with llama.cpp on the purchasable GPU with the least memory that holds the shared part, and the
        host the user named (--host, --host-bandwidth) or else the cheapest catalog host box that holds the experts.
        """
        model = self.catalog.models[workload["model"]]
        plan = offload.expert_offload_plan(self.workload(workload), model, self.catalog, "q4_k_m")
        if plan is None or plan.host_part is None:
            return  # no catalog GPU holds the shared part, or no host holds the experts: nothing to suggest
        part = plan.host_part
        placement = part.placement
        self.conclude(Tip(effect_bytes=placement.host_weight_bytes), model=model.name, gpu=self.catalog.accelerators[plan.hardware].name,
                      total_bytes=placement.gpu_weight_bytes + placement.host_weight_bytes, experts_bytes=placement.host_weight_bytes,
                      layers=placement.offloaded_layers, all_layers=placement.layers, on_gpu_bytes=plan.memory.total,
                      step_bytes=hybrid.step_reads(arch(model), placement, 1)[1], tokens_per_s=plan.tokens_per_s,
                      host=part.host_name, host_gbs=part.host_bandwidth_gbs, cpu_efficiency=cpu_efficiency,
                      host_bytes=placement.host_ram_bytes,
                      cpu_moe_flag=documented_flag(self.catalog.runtimes["llama-cpp"], "llama-server", "cpu_moe"))
