"""RUN: the launch plan of each configuration, the commands that start it with the options that make it true."""

from __future__ import annotations

from experta import AS, MATCH

from ..facts import Fit, Launch, Recommendation, Workload
from ..launch import Launch as LaunchPlan
from ..launch import plan
from . import SALIENCE_ADVICE, Host, Rule, rule_meta

LAUNCH_SOURCES = ["vllm-serve-args", "llamacpp-server-args", "trtllm-serve-args", "mlx-lm-server", "hf-accelerate-launch",
                  "trl-cli", "deepspeed-config-json", "unsloth-finetune-guide", "maxtext-base-config"]


def _launcher(launch: LaunchPlan) -> str:
    """The first command, else the API or entry point the note names."""
    return launch.commands[0] if launch.commands else launch.note


class LaunchRules:
    @Rule(AS.rec << Recommendation(tier=MATCH.tier), AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="RUN-launch-tier", since="0.3.0", sources=LAUNCH_SOURCES,
               statement="the {tier} tier starts on {runtime} with: {launcher}")
    def launch_tier(self: Host, rec: Recommendation, workload: Workload, tier: str) -> None:
        """## What it decides
        The commands that start a recommended tier on its runtime, each option set from a number of the plan: the
        layout's tensor, pipeline, data and expert parallel sizes, the context and users, the runtime's memory share,
        the layers on the GPU, the training plan's micro-batch, accumulation steps, ZeRO stage and recomputation.

        ## Why
        A plan is only as good as the flags it runs with: vLLM sized for 8k tokens and 20 users at 90% of memory
        must be started with exactly those limits, or it sizes its KV cache for the model's full context instead.

        ## Example
        DeepSeek-R1-Distill-Llama-70B for 20 users on 2 x H200:
        `vllm serve deepseek-ai/DeepSeek-R1-Distill-Llama-70B --tensor-parallel-size 2 --max-model-len 8192
        --max-num-seqs 20 --gpu-memory-utilization 0.9`.

        ## Limits
        Options come from each runtime's launch table in knowledge/runtimes.yaml (its source and version); a
        runtime with no single launch command (NPU stacks, Unsloth's Python API) gets its documented entry point.
        """
        option = self.option(rec)
        launch = plan(option, self.workload(workload), self.catalog)
        self.conclude(Launch(tier=tier, id=option.id, runtime=option.runtime, plan=launch.as_dict()), runtime=option.runtime,
                      launcher=_launcher(launch), **launch.numbers)

    @Rule(AS.fit << Fit(fits=True), AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="RUN-launch-proposal", since="0.3.0", sources=LAUNCH_SOURCES,
               statement="the proposed configuration starts on {runtime} with: {launcher}")
    def launch_proposal(self: Host, fit: Fit, workload: Workload) -> None:
        """## What it decides
        The commands that start a configuration `llmhw check` found to fit, each option set from the check's plan.

        ## Why
        The check's verdict holds for the context, users and memory share it assumed: the launch options say them to
        the runtime.

        ## Example
        Llama-3.1-70B at Q4_K_M on 2 x RTX 4090: `llama-server -m ./Llama-3.1-70B-Q4_K_M.gguf -ngl 81 -c 8192
        --parallel 1 --split-mode layer --tensor-split 1,1`.
        """
        option = self.option(fit)
        launch = plan(option, self.workload(workload), self.catalog)
        self.conclude(Launch(tier="proposed", id=option.id, runtime=option.runtime, plan=launch.as_dict()), runtime=option.runtime,
                      launcher=_launcher(launch), **launch.numbers)
