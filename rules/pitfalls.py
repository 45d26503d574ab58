"""P1, P2, P3: the article's three pitfalls, with what each costs this workload."""

from __future__ import annotations

import math
from typing import Any, Optional

from experta import AS, MATCH, NOT, OR, TEST, P, Rule

from ..facts import Fit, Mode, Recommendation, Tip, Warning, Workload
from ..planner import Option, cheapest, enumerate_options, meets
from ..units import gb, pct, rate, usd
from . import SALIENCE_ADVICE, rule_meta, subject


def _tier(engine: Any, tier: str) -> Optional[Any]:
    recs = [f for f in engine.facts.values() if isinstance(f, Recommendation) and f["tier"] == tier]
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
    def oversized_proposal(self: Any, fit: Fit, used: float, cost: Optional[float]) -> None:
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

    @Rule(AS.rec << Recommendation(tier="best-in-budget", utilization=MATCH.used, cost_usd=MATCH.cost),
          AS.cheap << Recommendation(tier="recommended", cost_usd=MATCH.base), Mode(kind="recommend"),
          TEST(lambda used, cost, base: cost is not None and base is not None and cost > base), salience=SALIENCE_ADVICE)
    @rule_meta(id="P1-oversized-tier", statement="the best-in-budget option fills {used} of its memory and costs {extra} more than the recommended one",
               sources=["article"], needs=("budget",))
    def oversized_tier(self: Any, rec: Recommendation, cheap: Recommendation, used: float, cost: float, base: float) -> None:
        """## What it decides
        Warns when spending the whole budget buys memory the workload leaves idle.

        ## Why
        Pitfall P1 applies to our own top tier too: a bigger budget is not a reason to buy idle capacity.

        ## Example
        A 7B model with a 40,000 USD budget: the best tier is a B200 that sits 90% empty.
        """
        if used >= float(self.catalog.value("p1-max-utilization")) or cost - base < float(self.catalog.value("p1-min-waste-usd")):
            return
        option, base_option = self.option(rec), self.option(cheap)
        name = self.catalog.accelerators[option.hardware].name
        self.conclude(
            Warning(id="P1-oversized-tier", at_stake_usd=round(cost - base, 2),
                    message=f"The best-in-budget option ({option.count} x {name}) would sit {pct(1 - used)} idle; the recommended "
                    f"one costs {usd(cost - base)} less and reaches {rate(base_option.tokens_per_s)} per user. Buy the bigger "
                    f"one only for planned growth (longer contexts, more users, larger models)."),
            used=pct(used), extra=usd(cost - base),
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
        have = ram * 1e9
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
        load_nvme = option.memory.weights * option.count / (float(self.catalog.value("nvme-gbs")) * 1e9)
        load_sata = option.memory.weights * option.count / (float(self.catalog.value("sata-gbs")) * 1e9)
        self.conclude(
            Tip(id="P2-host-sizing",
                message=f"Host for {option.count} x {name}: at least {cores} CPU cores with AVX2, {gb(ram)} of RAM and an NVMe "
                f"SSD (loading {gb(option.memory.weights * option.count)} takes ~{load_nvme:,.0f} s from NVMe, ~{load_sata:,.0f} s "
                f"from SATA). Give --cpu-cores and --ram to check a host you already have."),
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
