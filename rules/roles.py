"""CMP: processor roles. When a CPU is enough, what unified memory gives, when a device class does not suit.

The article's four roles: the CPU commands and runs light inference, the GPU is
the swarm, the TPU the custom factory (cloud only), the NPU the pocket butler
(small quantized models on the device, no training).
"""

from __future__ import annotations

from experta import AS, MATCH

from ..facts import Candidate, Policy, Recommendation, Tip, Warning, Workload
from ..planner import Floors, Option, meets
from ..units import Phrase
from . import SALIENCE_ADVICE, Host, Rule, rule_meta, subject


def _acceptable_of_kind(engine: Host, kind: str) -> list[Option]:
    """The candidates of one device kind at acceptable quality (4-bit or better)."""
    options = [engine.option(f) for f in engine.facts_of(Candidate) if f["kind"] == kind]
    return [o for o in options if meets(o, engine.policy.quality_floor_minimum, 0)]


def _fastest(options: list[Option]) -> Option | None:
    return max(options, key=lambda o: (o.tokens_per_s or 0, o.id), default=None)


def _best_of_kind(engine: Host, kind: str) -> Option | None:
    """The fastest candidate of one device kind at acceptable quality (4-bit or better), if any."""
    return _fastest(_acceptable_of_kind(engine, kind))


def _cheapest_at(options: list[Option], tokens_per_s: float) -> Option | None:
    """The cheapest priced option reaching ``tokens_per_s`` per user: what a buyer who needs no more would take."""
    priced = [o for o in options if (o.tokens_per_s or 0) >= tokens_per_s and o.cost.budget_usd is not None]
    return min(priced, key=lambda o: (o.cost.budget_usd or 0, -(o.tokens_per_s or 0), o.id), default=None)


class RoleRules:
    @Rule(AS.workload << Workload(task="inference"),
          Policy(min_tokens_per_s=MATCH.floor_tokens_per_s, target_tokens_per_s=MATCH.target_tokens_per_s), salience=SALIENCE_ADVICE)
    @rule_meta(id="CMP-cpu-only-enough",
               statement="a CPU host alone runs {model} at {tokens_per_s:rate} per user from {bandwidth_gbs} GB/s of memory bandwidth",
               message="No GPU needed: {hardware} runs {model} at {precision} at about {tokens_per_s:rate} per user ({bandwidth_gbs:g} GB/s "
               "of memory bandwidth), for {cost_usd:usd}. {prompt}; use llama.cpp or ollama.",
               sources=["article", "llamacpp-issue-34"], needs=("model", "concurrency", "ecosystem"))
    def cpu_only_enough(self: Host, workload: Workload, floor_tokens_per_s: float, target_tokens_per_s: float) -> None:
        """## What it decides
        Says when no accelerator is needed: a CPU host decodes this model at reading speed or better and reads
        the timed prompt within the time-to-first-token target. It names the cheapest CPU box that reaches the
        speed target (else the cheapest at reading speed), as a buyer would.

        ## Why
        The article: a 1.5B model runs on a modern 4-8 core CPU (i5 / Ryzen 7) without a GPU. Decode speed on
        a CPU is bound by its memory bandwidth (two DDR5 channels give ~80 GB/s), so small quantized models
        are fast enough, larger ones are not.

        ## Example
        DeepSeek-R1-Distill-Qwen-1.5B at Q4_K_M on a DDR5 desktop: ~40 tokens/s.

        ## Limits
        Only for small models and few users: prefill (long prompts) is much slower than on a GPU, so a box that
        takes longer than the target over the prompt is not named.
        """
        floors = Floors.of(self.workload(workload), self.catalog)
        # "No GPU needed" holds only where a CPU box also reads the timed prompt within the time-to-first-token target.
        cpus = [o for o in _acceptable_of_kind(self, "cpu") if floors.prompt_ok(o)]
        # The box to name is the cheapest that reaches the speed target (a 20B model needs no 64-core server), else the
        # cheapest at reading speed, else the fastest.
        option = _cheapest_at(cpus, target_tokens_per_s) or _cheapest_at(cpus, floor_tokens_per_s) or _fastest(cpus)
        if option is None or (option.tokens_per_s or 0) < floor_tokens_per_s:
            return  # the CPU options come from the candidates' options, so this test stays in the body
        accel = self.catalog.accelerators[option.hardware]
        seconds = floors.prompt_s(option)  # the prompt is what a CPU reads slowly: say how slowly when its rate is known
        prompt = (Phrase("A {prompt_tokens:,}-token prompt takes ~{prompt_s:wait} before the first token",
                         prompt_tokens=floors.prompt_tokens, prompt_s=seconds) if seconds is not None
                  else Phrase("Prompts are processed much more slowly than on a GPU"))
        self.conclude(Tip(effect_usd=option.cost.budget_usd), model=self.catalog.models[workload["model"]].name, hardware=accel.name,
                      precision=option.precision, tokens_per_s=option.tokens_per_s, bandwidth_gbs=accel.mem_bandwidth_gbs,
                      cost_usd=option.cost.budget_usd, prompt=prompt)

    @Rule(AS.workload << Workload(task="inference", ecosystem="cpu"),
          Policy(min_tokens_per_s=MATCH.floor_tokens_per_s, cpu_max_params_interactive=MATCH.max_params), salience=SALIENCE_ADVICE)
    @rule_meta(id="CMP-cpu-too-slow",
               statement="on CPU only, {model} decodes at {speed} per user, below the {floor_tokens_per_s:g} tok/s reading speed",
               message="On CPU only, {model} reaches {speed} per user, below the ~{floor_tokens_per_s:g} tok/s of reading speed. Use a smaller "
               "model (up to ~{max_params:params} parameters at 4-bit) or add a GPU.",
               sources=["article", "brysbaert-2019", "llamacpp-issue-34"], needs=("ecosystem", "model"))
    def cpu_too_slow(self: Host, workload: Workload, floor_tokens_per_s: float, max_params: int) -> None:
        """## What it decides
        Warns when a CPU-only deployment cannot keep up with a reader.

        ## Why
        The article: CPU inference took 2.3 s where a GPU took 28 ms on its task; beyond a few billion
        parameters a CPU's memory bandwidth cannot feed decode at reading speed.

        ## Example
        A 70B model on CPU: about 1 token/s.
        """
        option = _best_of_kind(self, "cpu")
        if option is not None and (option.tokens_per_s or 0) >= floor_tokens_per_s:
            return  # the fastest CPU option comes from the candidates' options, so this test stays in the body
        speed = (Phrase("{tokens_per_s:rate}", tokens_per_s=option.tokens_per_s) if option else
                 Phrase("nothing (it does not fit any CPU host in the catalog)"))
        self.conclude(Warning(), model=self.catalog.models[workload["model"]].name, speed=speed)

    @Rule(AS.workload << Workload(), subject(kind="unified"), salience=SALIENCE_ADVICE)
    @rule_meta(id="CMP-unified-memory", statement="{hardware} shares {memory_bytes:gb} between CPU and GPU; the GPU may use {usable_bytes:gb}",
               message="{hardware} shares {memory_bytes:gb} between CPU and GPU; the GPU may use about {usable_bytes:gb} "
               "({usable_share:pct}). This workload fills {used:pct} of that. Its {bandwidth_gbs:g} GB/s is a fraction of HBM's "
               "3,000-8,000 GB/s, hence {tokens_per_s:rate} per user.",
               sources=["article", "apple-m3ultra", "ot-rapidmlx-183"], needs=("model",))
    def unified_memory(self: Host, workload: Workload, rec: Recommendation) -> None:
        """## What it decides
        For unified-memory machines (Apple M-series Max/Ultra, AMD Strix Halo, DGX Spark): how much of the RAM
        the GPU may actually use, and what the lower bandwidth means for speed.

        ## Why
        The article's fifth technique: one memory pool lets very large models fit in one box, at a fraction
        of HBM bandwidth. The operating system keeps part of RAM for itself (macOS caps the GPU's working set
        at about three quarters on large configurations).

        ## Example
        A 192 GB M2 Ultra gives the GPU ~155 GB; 800 GB/s decodes a 70B 4-bit model at ~8 tokens/s.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        usable = accel.usable_memory_bytes or accel.memory_bytes
        self.conclude(Tip(effect_bytes=usable), hardware=accel.name, memory_bytes=accel.memory_bytes, usable_bytes=usable,
                      usable_share=usable / accel.memory_bytes, used=option.utilization, bandwidth_gbs=accel.mem_bandwidth_gbs,
                      tokens_per_s=option.tokens_per_s)

    @Rule(AS.workload << Workload(ecosystem="npu"), salience=SALIENCE_ADVICE)
    @rule_meta(id="CMP-npu-role", statement="NPUs run {model} only if it is small and quantized: {verdict}",
               message="NPU check for {model}: {verdict}. NPU runtimes (ONNX Runtime, QNN, OpenVINO, Core ML) need models converted "
               "to their int4/int8 formats.",
               sources=["article", "npu-xda"], needs=("ecosystem", "model", "task"))
    def npu_role(self: Host, workload: Workload) -> None:
        """## What it decides
        When the user asks for an NPU: whether this workload suits one, and what to expect.

        ## Why
        The article's "pocket butler": laptop NPUs (Apple Neural Engine, Snapdragon X, Intel Core Ultra, Ryzen AI)
        give low-power on-device inference of small quantized models and no training.

        ## Example
        A 1.5B model at 4-bit on a Snapdragon X Elite: fits in 16 GB; a 70B model does not.
        """
        model = self.catalog.models[workload["model"]]
        option = _best_of_kind(self, "npu")
        if workload["task"] != "inference":
            verdict = Phrase("NPUs do not train models; use a GPU or rent one")
        elif option is None:
            verdict = Phrase("{params:params} parameters is beyond what a laptop NPU holds", params=model.params)
        else:
            verdict = Phrase("{count} x {hardware} at {precision}, ~{tokens_per_s:rate} per user", count=option.count,
                             hardware=self.catalog.accelerators[option.hardware].name, precision=option.precision,
                             tokens_per_s=option.tokens_per_s)
        self.conclude(Tip(), model=model.name, verdict=verdict)
