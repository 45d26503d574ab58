"""OFF: hybrid CPU+GPU configurations, where routed experts or whole layers stay in host RAM and the CPU computes them.

A hybrid tier is offered when the accelerators cannot hold the model (``--offload auto``) or the user forces the split
(``--offload experts|layers``). Its speed is set by the host's memory bandwidth, which a buyer must know before
choosing the host box: the rule here says so in the configuration's own numbers.
"""

from __future__ import annotations

from experta import AND, AS, MATCH, OR, P

from .. import hybrid
from ..facts import Fit, Mode, Policy, Recommendation, Tip, Workload
from ..launch import plan
from ..planner import arch
from . import SALIENCE_ADVICE, Host, Rule, rule_meta, tiers_sharing

HYBRID = P(lambda offload: offload != "none")
WHAT = {"experts": "the routed experts", "layers": "whole layers (weights and their KV cache)"}
RUNS_ALSO = {"experts": " (KTransformers runs the same split for DeepSeek and Qwen MoE models)"}
ON_GPU = {"experts": "attention, shared experts, embeddings", "layers": "the other layers"}


class OffloadRules:
    @Rule(AS.workload << Workload(model=MATCH.model_id),
          OR(AND(AS.rec << Recommendation(offload=HYBRID), Mode(kind="recommend")), AS.rec << Fit(fits=True, offload=HYBRID)),
          Policy(hybrid_cpu_bandwidth_efficiency=MATCH.cpu_efficiency), salience=SALIENCE_ADVICE)
    @rule_meta(id="OFF-hybrid-tier",
               statement="{tiers} keep {host_bytes:gb} of {what} in {host}'s RAM: its {host_gbs:g} GB/s set the speed, "
               "~{tokens_per_s:rate} per user",
               message="({tiers}) {count} x {gpu} + {host}: {what} ({host_bytes:gb}, of {offloaded} of the {layers} layers) "
               "stay in the host's RAM and its CPU computes them; the GPU keeps {gpu_bytes:gb} ({on_gpu}, the KV cache). A "
               "token reads ~{host_step_bytes:gb} from host RAM at {host_gbs:g} GB/s (the CPU reaches the calibrated "
               "{cpu_efficiency:pct} of it) against ~{gpu_step_bytes:gb} from the GPU's {gpu_gbs:,.0f} GB/s, so the host's "
               "memory bandwidth, not the GPU, sets the speed: ~{tokens_per_s:rate} per user; more memory channels are the "
               "upgrade that pays, a faster GPU is not. The host needs {host_ram_bytes:gb} of RAM. Run: {command}.",
               sources=["llamacpp-cpu-moe-15077", "ktransformers-r1-tutorial", "ktransformers-314", "llamacpp-server-args"],
               needs=("model", "offload"))
    def hybrid_tier(self: Host, workload: Workload, rec: Recommendation, model_id: str, cpu_efficiency: float) -> None:
        """## What it decides
        For a configuration that keeps part of the model in host RAM (a hybrid CPU+GPU rig): what sits where, what
        sets its speed, and the runtime settings that run it.

        ## Why
        The CPU reads its part at the host's memory bandwidth (channels x transfer rate), ten or more times below a
        GPU's; even though a token reads only its routed experts there, that read dominates the step. Published runs
        (KTransformers and llama.cpp `--n-cpu-moe`) match this within x0.75-1.33 (calibration.yaml).

        ## Example
        DeepSeek-R1 at Q4_K_M on one RTX 4090 and a 12-channel DDR5 server: ~400 GB of experts in RAM, ~12 GB read per
        token at ~614 GB/s, about 13 tok/s.

        ## Limits
        The CPU's compute is not modelled: with many users the touched experts grow and a CPU may become
        compute-bound before its memory is; prefill copies the offloaded weights to the GPU over PCIe (llama.cpp).
        """
        tiers = tiers_sharing(self, rec, "id") if "tier" in rec else ["proposed"]
        if tiers[0] != rec.get("tier", "proposed"):
            return  # a better-known tier with this configuration already carries the explanation
        option = self.option(rec)
        part = option.host_part
        assert part is not None  # an option whose layout offloads has a host part
        placement = part.placement
        gpu_step, host_step = hybrid.step_reads(arch(self.catalog.models[model_id]), placement, 1)
        accel = self.catalog.accelerators[option.hardware]
        launch = plan(option, self.workload(workload), self.catalog)  # the tier's own launch line, one source of its flags
        self.conclude(Tip(effect_bytes=placement.host_weight_bytes), tiers=", ".join(tiers), count=option.count, gpu=accel.name,
                      host=part.host_name, what=WHAT[placement.mode], host_bytes=placement.host_weight_bytes + placement.host_kv_bytes,
                      offloaded=placement.offloaded_layers, layers=placement.layers, gpu_bytes=option.memory.total * option.count,
                      on_gpu=ON_GPU[placement.mode], host_step_bytes=host_step, host_gbs=part.host_bandwidth_gbs,
                      cpu_efficiency=cpu_efficiency, gpu_step_bytes=gpu_step, gpu_gbs=accel.mem_bandwidth_gbs,
                      tokens_per_s=option.tokens_per_s, host_ram_bytes=placement.host_ram_bytes,
                      command=launch.commands[0] + RUNS_ALSO.get(placement.mode, ""))
