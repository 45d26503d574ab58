"""P1, P2, P3: the article's three pitfalls, with what each costs this workload."""

from __future__ import annotations

import math
from typing import Any

from experta import AS, MATCH, TEST, P, Rule

from ..facts import Candidate, Fit, Mode, Recommendation, Tip, Warning, Workload
from ..planner import Option, cheapest, enumerate_options, meets
from ..units import GB, gb, pct, rate, usd
from . import SALIENCE_ADVICE, rule_meta, subject


def _tier(engine: Any, tier: str) -> Any | None:
    recs = [f for f in engine.facts_of(Recommendation) if f["tier"] == tier]
    return recs[0] if recs else None


def _host_need(engine: Any, w: Any, option: Option) -> tuple[int, float]:
    """Cores and RAM (bytes) the host needs to feed ``option`` (pitfall P2)."""
    cat = engine.catalog
    accel = cat.accelerators[option.hardware]
    if accel.kind in ("cpu", "unified", "npu"):
        cores = int(cat.value("host-min-cores-cpu-inference"))
    else:
        cores = option.count * int(cat.value("host-cores-per-device"))
    cores += math.ceil(w.concurrency / int(cat.value("host-users-per-core"))) if not w.training else 0
    weights = option.memory.weights * option.count
    ram = weights * float(cat.value("host-ram-per-weights")) + float(cat.value("host-os-reserve-bytes"))
    return cores, ram


class PitfallRules:
    @Rule(AS.fit << Fit(fits=True, utilization=MATCH.used, cost_usd=MATCH.cost), TEST(lambda used: used is not None),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="P1-oversized-vram",
               statement="{config} uses {used} of its memory; {cheaper} fits for {saving} less",
               sources=["article"], needs=("model", "precision", "context", "concurrency"))
    def oversized_proposal(self: Any, fit: Fit, used: float, cost: float | None) -> None:
        """## What it decides
        Flags a configuration whose memory is far beyond the need at the chosen precision, with the money
        a smaller configuration that also fits would save.

        ## Why
        The article's first pitfall, "more VRAM is always better": an 80 GB A100 for a 7B model gains little
        speed at many times the cost ("a luxury kitchen used to boil instant noodles").

        ## Example
        `llmhw check --model deepseek-r1:7b --hardware "A100 80GB" --precision q4_k_m` warns with the saving.

        ## Limits
        Fires when the need fills less than the policy's share of memory and the saving is worth a warning.
        """
        limit = float(self.catalog.value("p1-max-utilization"))
        option = self.option(fit)
        # Compare with the tier that meets the speed target if it is cheaper, else with the minimum.
        tiers = [t for t in (_tier(self, "recommended"), _tier(self, "minimum")) if t is not None]
        cheaper_tiers = [t for t in tiers if cost is not None and t["cost_usd"] is not None and t["cost_usd"] < cost]
        if used >= limit or not cheaper_tiers:
            return
        tier = cheaper_tiers[0]
        alt = self.option(tier)
        saving = cost - alt.cost.budget_usd
        if saving < float(self.catalog.value("p1-min-waste-usd")):
            return
        accel = self.catalog.accelerators[option.hardware]
        cheaper = f"{alt.count} x {self.catalog.accelerators[alt.hardware].name} ({alt.precision})"
        self.conclude(
            Warning(id="P1-oversized-vram", at_stake_usd=round(saving, 2),
                    message=f"{option.count} x {accel.name} would sit {pct(1 - used)} idle: this workload needs "
                    f"{gb(option.memory.total)} of {gb(option.usable_bytes)} per device. {cheaper}, the {tier['tier']} tier, also fits, for "
                    f"{usd(alt.cost.budget_usd)} instead of {usd(cost)}: {usd(saving)} at stake, at "
                    f"{rate(alt.tokens_per_s)} instead of {rate(option.tokens_per_s)} per user."),
            inputs=[tier],
            config=f"{option.count} x {accel.name}", used=pct(used), cheaper=cheaper, saving=usd(saving),
        )

    @Rule(AS.rec << Recommendation(tier="best-in-budget", cost_usd=MATCH.cost),
          AS.cheap << Recommendation(tier="recommended", cost_usd=MATCH.base), Mode(kind="recommend"),
          TEST(lambda cost, base: cost is not None and base is not None and cost > base), salience=SALIENCE_ADVICE)
    @rule_meta(id="P1-oversized-tier", statement="the best-in-budget option costs {extra} more than the recommended one for only {gain} the throughput",
               sources=["article"], needs=("budget",))
    def oversized_tier(self: Any, rec: Recommendation, cheap: Recommendation, cost: float, base: float) -> None:
        """## What it decides
        Warns when spending the budget on the top tier buys little more than the recommended tier gives.

        ## Why
        Pitfall P1 applies to our own top tier too: a bigger budget is not a reason to buy capacity the
        workload does not turn into speed.

        ## Example
        A 7B model with a 40,000 USD budget: the best tier costs 30,000 USD more for 1.2x the throughput.
        """
        option, base_option = self.option(rec), self.option(cheap)
        gain = (option.total_tokens_per_s or 0) / (base_option.total_tokens_per_s or 1)
        if cost - base < float(self.catalog.value("p1-min-waste-usd")) or gain >= float(self.catalog.value("p1-min-speed-gain")):
            return
        name = self.catalog.accelerators[option.hardware].name
        self.conclude(
            Warning(id="P1-oversized-tier", at_stake_usd=round(cost - base, 2),
                    message=f"The best-in-budget option ({option.count} x {name}) costs {usd(cost - base)} more than the recommended "
                    f"one for {gain:.2f}x its throughput ({rate(option.total_tokens_per_s)} against {rate(base_option.total_tokens_per_s)}) "
                    f"and fills {pct(option.utilization)} of its memory. Buy it only for planned growth (longer contexts, more users, "
                    f"larger models)."),
            extra=usd(cost - base), gain=f"{gain:.2f}x",
        )

    @Rule(AS.workload << Workload(cpu_cores=MATCH.cores & P(lambda c: c is not None)),
          subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-weak-cpu", statement="{cores} CPU cores feed {devices}: {need} are needed",
               sources=["article", "gk-h100"], needs=("cpu_cores", "concurrency"))
    def weak_cpu(self: Any, workload: Workload, rec: Any, cores: int) -> None:
        """## What it decides
        Whether the host's CPU cores can drive the accelerators and the users' requests.

        ## Why
        The article's second pitfall: the CPU preprocesses and schedules; a weak one can halve the whole
        system's efficiency. Each GPU wants cores for kernel launches and data, and serving many users adds
        tokenization and scheduling work.

        ## Example
        A 70B model on two GPUs for 20 users from a 4-core host.
        """
        w = self.workload(workload)
        option = self.option(rec)
        need, _ = _host_need(self, w, option)
        if cores >= need:
            return
        name = self.catalog.accelerators[option.hardware].name
        self.conclude(
            Warning(id="P2-weak-cpu", shortfall=need - cores,
                    message=f"The host has {cores} CPU cores; {option.count} x {name} serving {w.concurrency} user(s) wants at "
                    f"least {need} ({self.catalog.value('host-cores-per-device')} per device plus one per "
                    f"{self.catalog.value('host-users-per-core')} concurrent users). With fewer, the accelerators wait on the CPU: "
                    f"the article reports whole-system efficiency dropping 50% or more."),
            cores=cores, devices=f"{option.count} x {name}", need=need,
        )

    @Rule(AS.workload << Workload(ram_gb=MATCH.ram & P(lambda r: r is not None)),
          subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-small-ram", statement="{ram} of system RAM is below the {need} needed to load {weights} of weights",
               sources=["article"], needs=("ram_gb",))
    def small_ram(self: Any, workload: Workload, rec: Any, ram: float) -> None:
        """## What it decides
        Whether system RAM can hold the checkpoint while it loads, with room for the operating system.

        ## Why
        The article: too little RAM makes loading slow or crash. Loaders stage weights through host memory.

        ## Example
        A 70B model (141 GB in BF16, 40 GB at 4-bit) on a host with 16 GB RAM.
        """
        w = self.workload(workload)
        option = self.option(rec)
        _, need = _host_need(self, w, option)
        have = ram * GB
        if have >= need:
            return
        self.conclude(
            Warning(id="P2-small-ram", shortfall_bytes=int(need - have),
                    message=f"The host has {gb(have)} of RAM; loading {gb(option.memory.weights * option.count)} of weights "
                    f"plus {gb(float(self.catalog.value('host-os-reserve-bytes')))} for the system wants {gb(need)}. "
                    f"Loading will swap or fail: add {gb(need - have)} of RAM."),
            ram=gb(have), need=gb(need), weights=gb(option.memory.weights * option.count),
        )

    @Rule(AS.workload << Workload(cpu_cores=None, deployment=P(lambda d: d != "cloud")),
          subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-host-sizing", statement="the host for {devices} needs at least {cores} cores and {ram} of RAM",
               sources=["article", "gk-h100"], needs=("cpu_cores", "ram_gb"))
    def host_sizing(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        When the user has not described a host, what the host around the recommended accelerators needs.

        ## Why
        Pitfall P2 is avoided at purchase time: cores and RAM are cheap next to the accelerators they feed.

        ## Example
        Two 48 GB GPUs for a 70B model: at least 10 cores, 48 GB of RAM and an NVMe drive.
        """
        w = self.workload(workload)
        option = self.option(rec)
        cores, ram = _host_need(self, w, option)
        name = self.catalog.accelerators[option.hardware].name
        self.conclude(
            Tip(id="P2-host-sizing",
                message=f"Host for {option.count} x {name}: at least {cores} CPU cores with AVX2, {gb(ram)} of RAM (to load "
                f"{gb(option.memory.weights * option.count)} of weights) and an NVMe SSD. Give --cpu-cores and --ram to check a host "
                f"you already have."),
            devices=f"{option.count} x {name}", cores=cores, ram=gb(ram),
        )

    @Rule(AS.workload << Workload(ecosystem="tpu", deployment=MATCH.deployment), salience=SALIENCE_ADVICE)
    @rule_meta(id="P3-tpu-lock-in", statement="TPUs tie the workload to Google Cloud ({deployment} deployment asked); the GPU alternative is {alternative}",
               sources=["gcp-tpu-frameworks", "maxtext", "article"], needs=("ecosystem", "deployment"))
    def tpu_lock_in(self: Any, workload: Workload, deployment: str) -> None:
        """## What it decides
        When a TPU is considered: what it commits the user to, and what a GPU alternative costs.

        ## Why
        The article's third pitfall. Corrected: TPUs run JAX, PyTorch/XLA and TensorFlow (not TensorFlow only);
        the lock-in is Google Cloud itself, since TPUs are rented only there (no on-premises sale). Moving a
        CUDA stack means converting serving and training code to XLA and re-validating it.

        ## Example
        `--ecosystem tpu --deployment local` cannot be met: TPUs cannot be bought.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        gpus = [a for a in self.catalog.accelerators.values() if a.ecosystem == "cuda"]
        alternative = cheapest(o for o in enumerate_options(w, model, gpus, self.catalog)
                               if meets(o, str(self.catalog.value("quality-floor-recommended")), 0))
        alt = (f"{alternative.count} x {self.catalog.accelerators[alternative.hardware].name} at {alternative.precision} "
               f"for {usd(alternative.cost.budget_usd)}" + (" (purchase)" if alternative.cost.basis == "purchase" else " per year of rental")
               if alternative else "no CUDA configuration in the catalog for this workload")
        local = (" TPUs are not sold: a local or air-gapped deployment cannot use them at all."
                 if deployment != "cloud" else " Every job, dataset and checkpoint lives in Google Cloud; moving away later means re-validating on another stack.")
        self.conclude(
            Warning(id="P3-tpu-lock-in",
                    message=f"TPUs are rented only through Google Cloud.{local} They run JAX, PyTorch/XLA and TensorFlow "
                    f"(not TensorFlow only, as the article says), but CUDA-specific kernels and serving stacks do not carry over. "
                    f"GPU alternative: {alt}."),
            deployment=deployment, alternative=alt,
        )

    @Rule(AS.fit << Fit(fits=True, utilization=MATCH.used, cost_usd=MATCH.cost, precision=MATCH.precision), salience=SALIENCE_ADVICE)
    @rule_meta(id="P1-quantize-instead", statement="{config} at {precision} costs {cost}; {cheaper} serves the same speed need for {saving} less",
               sources=["article", "kquant-pr"], needs=("precision", "concurrency"))
    def quantize_instead(self: Any, fit: Fit, used: float, cost: float | None, precision: str) -> None:
        """## What it decides
        Flags a proposed 16-bit configuration when a smaller card with 8-bit or 4-bit weights reaches the same
        speed per user for less money.

        ## Why
        Pitfall P1 in its quieter form: the memory is used, but only because the weights are stored wider than
        the quality needs. Near-lossless 8-bit or small-loss 4-bit formats halve or quarter that memory.

        ## Example
        A 32B model in BF16 on an 80 GB card, where a 48 GB card at FP8 is as fast and costs less.
        """
        option = self.option(fit)
        if cost is None or self.catalog.precisions[precision].bits_per_weight < self.catalog.precisions["bf16"].bits_per_weight:
            return
        if used < float(self.catalog.value("p1-max-utilization")):
            return  # P1-oversized-vram speaks for this case
        speed = option.tokens_per_s or 0
        floor = str(self.catalog.value("quality-floor-recommended"))
        cheaper = [self.option(f) for f in self.facts_of(Candidate)]
        cheaper = [o for o in cheaper if meets(o, floor, speed) and o.cost.budget_usd is not None
                   and cost - o.cost.budget_usd >= float(self.catalog.value("p1-min-waste-usd"))]
        alt = cheapest(cheaper)
        if alt is None:
            return
        accel, alt_accel = self.catalog.accelerators[option.hardware], self.catalog.accelerators[alt.hardware]
        saving = cost - (alt.cost.budget_usd or 0)
        config = f"{option.count} x {accel.name}"
        label = f"{alt.count} x {alt_accel.name} at {alt.precision}"
        self.conclude(
            Warning(id="P1-quantize-instead", at_stake_usd=round(saving, 2),
                    message=f"{config} holds the {precision.upper()} weights, but {label} ({alt.quality}) reaches "
                    f"{rate(alt.tokens_per_s)} per user (here {rate(option.tokens_per_s)}) for {usd(alt.cost.budget_usd)} "
                    f"instead of {usd(cost)}: {usd(saving)} at stake."),
            config=config, precision=precision, cost=usd(cost), cheaper=label, saving=usd(saving),
        )

    @Rule(AS.workload << Workload(deployment=P(lambda d: d != "cloud")), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-slow-storage", statement="loading {weights} takes {sata} from a SATA SSD and {nvme} from NVMe",
               sources=["article", "llmhw-assumption"], needs=("deployment", "model"))
    def slow_storage(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        For large checkpoints: whether the storage it loads from matters.

        ## Why
        Pitfall P2 includes slow storage: every restart reads the whole checkpoint; at SATA speed (~0.55 GB/s)
        a few hundred gigabytes take minutes, at NVMe speed seconds.

        ## Example
        DeepSeek-R1 671B at FP8: ~690 GB, 21 minutes from SATA, 3 minutes from one NVMe drive.
        """
        option = self.option(rec)
        weights = option.memory.weights * option.count
        sata = weights / (float(self.catalog.value("sata-gbs")) * GB)
        nvme = weights / (float(self.catalog.value("nvme-gbs")) * GB)
        if sata <= float(self.catalog.value("slow-load-seconds")):
            return
        self.conclude(
            Tip(id="P2-slow-storage", effect_s=round(sata - nvme),
                message=f"Loading {gb(weights)} of weights takes ~{sata / 60:,.1f} min from a SATA SSD but ~{nvme / 60:,.1f} min "
                f"from an NVMe drive ({self.catalog.value('nvme-gbs')} GB/s): keep checkpoints on NVMe (or several in RAID 0) "
                f"so restarts and scaling do not stall."),
            weights=gb(weights), sata=f"{sata / 60:,.1f} min", nvme=f"{nvme / 60:,.1f} min",
        )

    @Rule(subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-cpu-isa", statement="{hardware} runs the model on its CPU: {isa} is {verdict}",
               sources=["article", "llamacpp-issue-34"], needs=("ecosystem",))
    def cpu_isa(self: Any, rec: Any) -> None:
        """## What it decides
        When the configuration runs the model on a CPU: whether its instruction set suits LLM kernels.

        ## Why
        The article: AVX2/AVX-512 matter. llama.cpp's fast kernels need AVX2; AVX-512 (and AMX on Xeon)
        speed up prompt processing, while decode stays bound by memory bandwidth.

        ## Example
        A Core i5-12400 has AVX2 but not AVX-512: fine for decode, slower prompts.
        """
        option = self.option(rec)
        accel = self.catalog.accelerators[option.hardware]
        if accel.kind != "cpu":
            return
        required = str(self.catalog.value("host-isa-required"))
        has = set(accel.isa)
        verdict = ("missing: llama.cpp will be several times slower" if required not in has else
                   "enough; AVX-512/AMX would speed up prompt processing" if not has & {"avx512", "amx"} else "well suited")
        kind = Warning if required not in has else Tip
        self.conclude(
            kind(id="P2-cpu-isa", message=f"{accel.name} runs the model on its CPU cores; instruction sets {', '.join(sorted(has)) or 'unknown'}: "
                 f"{verdict}. Decode speed follows memory bandwidth ({accel.mem_bandwidth_gbs:g} GB/s)."),
            hardware=accel.name, isa=", ".join(sorted(has)) or "unknown", verdict=verdict,
        )

    @Rule(AS.workload << Workload(ecosystem="any", deployment="cloud"), AS.rec << Recommendation(kind="tpu"), salience=SALIENCE_ADVICE)
    @rule_meta(id="P3-tpu-in-ranking", statement="the {tier} tier is a TPU: it ties serving to Google Cloud; the GPU alternative is {alternative}",
               sources=["gcp-tpu-frameworks", "article"], needs=("ecosystem", "deployment"))
    def tpu_in_ranking(self: Any, workload: Workload, rec: Recommendation) -> None:
        """## What it decides
        When a TPU makes the ranking on its price: what choosing it commits to, and the GPU option beside it.

        ## Why
        Pitfall P3: a TPU can be the cheapest hour, but it is rented from one cloud only; multi-cloud plans,
        a later move on-premises, or CUDA-only kernels make the saving expensive.

        ## Example
        A 7B model served from a TPU v5e at 1.20 USD/h against an L4 at 0.80 USD/h.
        """
        option = self.option(rec)
        gpus = [self.option(f) for f in self.facts_of(Candidate) if f["kind"] == "gpu"]
        share = float(self.catalog.value("p3-alternative-min-speed-share"))
        alt = cheapest(o for o in gpus if (o.tokens_per_s or 0) >= (option.tokens_per_s or 0) * share) or cheapest(gpus)
        alternative = (f"{alt.count} x {self.catalog.accelerators[alt.hardware].name} at {usd(alt.cost.cloud_usd_per_hour)}/h"
                       if alt else "none in the catalog")
        self.conclude(
            Warning(id="P3-tpu-in-ranking", tier=rec["tier"],
                    message=f"The {rec['tier']} tier is {option.count} x {self.catalog.accelerators[option.hardware].name} "
                    f"({usd(option.cost.cloud_usd_per_hour)}/h). TPUs are rented from Google Cloud only: multi-cloud or a later "
                    f"move on-premises means porting to another stack (JAX, PyTorch/XLA and TensorFlow run on TPU; CUDA kernels do "
                    f"not). GPU alternative: {alternative}."),
            tier=rec["tier"], alternative=alternative,
        )

    @Rule(AS.workload << Workload(ram_gb=MATCH.ram & P(lambda r: r is not None)),
          AS.tip << Tip(id="MOE-expert-offload", effect_bytes=MATCH.experts), salience=SALIENCE_ADVICE - 1)
    @rule_meta(id="P2-offload-ram", statement="offloading {experts} of experts needs {need} of RAM; the host has {ram}",
               sources=["article", "llmhw-assumption"], needs=("ram_gb",))
    def offload_ram(self: Any, workload: Workload, tip: Tip, ram: float, experts: int) -> None:
        """## What it decides
        When expert offload is suggested: whether the host's RAM can hold the offloaded experts.

        ## Why
        Pitfall P2: offloading moves the weights to system RAM, so RAM, not VRAM, becomes the limit; too little
        and the system swaps.

        ## Example
        Qwen3-235B-A22B's experts at Q4_K_M (~140 GB) on a 64 GB host.
        """
        need = experts + float(self.catalog.value("host-os-reserve-bytes"))
        have = ram * GB
        if have >= need:
            return
        self.conclude(
            Warning(id="P2-offload-ram", shortfall_bytes=int(need - have),
                    message=f"Expert offload puts {gb(experts)} of weights in system RAM; with the system's share that needs {gb(need)}, "
                    f"and the host has {gb(have)}: it would swap. Add {gb(need - have)} of RAM or choose a GPU configuration."),
            experts=gb(experts), need=gb(need), ram=gb(have),
        )
