"""CMP: processor roles. When a CPU is enough, what unified memory gives, when a device class does not suit.

The article's four roles: the CPU commands and runs light inference, the GPU is
the swarm, the TPU the custom factory (cloud only), the NPU the pocket butler
(small quantized models on the device, no training).
"""

from __future__ import annotations

from typing import Any

from experta import AS, Rule

from ..facts import Candidate, Tip, Warning, Workload
from ..planner import meets
from ..units import gb, params, pct, rate, usd
from . import SALIENCE_ADVICE, rule_meta, subject


def _best_of_kind(engine: Any, kind: str) -> Any:
    """The fastest candidate of one device kind at acceptable quality (4-bit or better), if any."""
    floor = str(engine.catalog.value("quality-floor-minimum"))
    options = [engine.option(f) for f in engine.facts_of(Candidate) if f["kind"] == kind]
    return max((o for o in options if meets(o, floor, 0)), key=lambda o: (o.tokens_per_s or 0, o.id), default=None)


class RoleRules:
    @Rule(AS.workload << Workload(task="inference"), salience=SALIENCE_ADVICE)
    @rule_meta(id="CMP-cpu-only-enough", statement="a CPU host alone runs {model} at {speed} per user from {bandwidth} GB/s of memory bandwidth",
               sources=["article", "llamacpp-issue-34"], needs=("model", "concurrency", "ecosystem"))
    def cpu_only_enough(self: Any, workload: Workload) -> None:
        """## What it decides
        Says when no accelerator is needed: a CPU host decodes this model at reading speed or better.

        ## Why
        The article: a 1.5B model runs on a modern 4-8 core CPU (i5 / Ryzen 7) without a GPU. Decode speed on
        a CPU is bound by its memory bandwidth (two DDR5 channels give ~80 GB/s), so small quantized models
        are fast enough, larger ones are not.

        ## Example
        DeepSeek-R1-Distill-Qwen-1.5B at Q4_K_M on a DDR5 desktop: ~40 tokens/s.

        ## Limits
        Only for small models and few users; prefill (long prompts) is much slower than on a GPU.
        """
        option = _best_of_kind(self, "cpu")
        if option is None or (option.tokens_per_s or 0) < float(self.catalog.value("min-tokens-per-s")):
            return
        model = self.catalog.models[workload["model"]]
        accel = self.catalog.accelerators[option.hardware]
        self.conclude(
            Tip(id="CMP-cpu-only-enough", effect_usd=option.cost.budget_usd,
                message=f"No GPU needed: {accel.name} runs {model.name} at {option.precision} at about "
                f"{rate(option.tokens_per_s)} per user ({accel.mem_bandwidth_gbs:g} GB/s of memory bandwidth), for "
                f"{usd(option.cost.budget_usd)}. Prompts are processed much more slowly than on a GPU; use llama.cpp or ollama."),
            model=model.name, speed=rate(option.tokens_per_s), bandwidth=accel.mem_bandwidth_gbs,
        )

    @Rule(AS.workload << Workload(task="inference", ecosystem="cpu"), salience=SALIENCE_ADVICE)
    @rule_meta(id="CMP-cpu-too-slow", statement="on CPU only, {model} decodes at {speed} per user, below the {floor} tok/s reading speed",
               sources=["article", "brysbaert-2019", "llamacpp-issue-34"], needs=("ecosystem", "model"))
    def cpu_too_slow(self: Any, workload: Workload) -> None:
        """## What it decides
        Warns when a CPU-only deployment cannot keep up with a reader.

        ## Why
        The article: CPU inference took 2.3 s where a GPU took 28 ms on its task; beyond a few billion
        parameters a CPU's memory bandwidth cannot feed decode at reading speed.

        ## Example
        A 70B model on CPU: about 1 token/s.
        """
        floor = float(self.catalog.value("min-tokens-per-s"))
        option = _best_of_kind(self, "cpu")
        if option is not None and (option.tokens_per_s or 0) >= floor:
            return
        model = self.catalog.models[workload["model"]]
        speed = rate(option.tokens_per_s) if option else "nothing (it does not fit any CPU host in the catalog)"
        self.conclude(
            Warning(id="CMP-cpu-too-slow",
                    message=f"On CPU only, {model.name} reaches {speed} per user, below the ~{floor:g} tok/s of reading speed. "
                    f"Use a smaller model (up to ~{params(int(self.catalog.value('cpu-max-params-interactive')))} parameters at 4-bit) "
                    f"or add a GPU."),
            model=model.name, speed=speed, floor=floor,
        )

    @Rule(AS.workload << Workload(), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="CMP-unified-memory", statement="{hardware} shares {ram} between CPU and GPU; the GPU may use {usable}",
               sources=["article", "apple-m3ultra", "ot-rapidmlx-183"], needs=("model",))
    def unified_memory(self: Any, workload: Workload, rec: Any) -> None:
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
        if accel.kind != "unified":
            return
        usable = accel.usable_memory_bytes or accel.memory_bytes
        self.conclude(
            Tip(id="CMP-unified-memory", effect_bytes=usable,
                message=f"{accel.name} shares {gb(accel.memory_bytes)} between CPU and GPU; the GPU may use about {gb(usable)} "
                f"({pct(usable / accel.memory_bytes)}). This workload fills {pct(option.utilization)} of that. Its "
                f"{accel.mem_bandwidth_gbs:g} GB/s is a fraction of HBM's 3,000-8,000 GB/s, hence {rate(option.tokens_per_s)} per user."),
            hardware=accel.name, ram=gb(accel.memory_bytes), usable=gb(usable),
        )

    @Rule(AS.workload << Workload(ecosystem="npu"), salience=SALIENCE_ADVICE)
    @rule_meta(id="CMP-npu-role", statement="NPUs run {model} only if it is small and quantized: {verdict}",
               sources=["article", "npu-xda"], needs=("ecosystem", "model", "task"))
    def npu_role(self: Any, workload: Workload) -> None:
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
            verdict = "NPUs do not train models; use a GPU or rent one"
        elif option is None:
            verdict = f"{params(model.params)} parameters is beyond what a laptop NPU holds"
        else:
            verdict = (f"{option.count} x {self.catalog.accelerators[option.hardware].name} at {option.precision}, "
                       f"~{rate(option.tokens_per_s)} per user")
        self.conclude(
            Tip(id="CMP-npu-role", message=f"NPU check for {model.name}: {verdict}. NPU runtimes (ONNX Runtime, QNN, OpenVINO, "
                f"Core ML) need models converted to their int4/int8 formats."),
            model=model.name, verdict=verdict,
        )
