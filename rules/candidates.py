"""CAND and CMP: which hardware is considered for this workload, and what fits.

Exclusion rules fire first and say why a class of hardware is out; then one
rule sizes every remaining device (the planner solves the device count per
precision, so no rule joins the catalog with itself) and declares the
candidates that fit.
"""

from __future__ import annotations

from typing import Any

from experta import AS, MATCH, TEST, P

from ..facts import Candidate, CandidateSet, Exclusion, Fit, Mode, Note, Policy, Proposal, Recommendation, Workload
from ..planner import QUALITY_RANK, Option, choose, closest_context, configurations, enumerate_options, largest_smaller_model, remedies
from ..planner.check import MIN_CONTEXT
from ..planner.evaluate import trains_on
from ..planner.memo import per_catalog
from ..profile import TRAINING_TASKS
from ..units import Phrase
from . import SALIENCE_ADVICE, SALIENCE_COLLECT, SALIENCE_FILTER, Host, Rule, listed, rule_meta

TRAINING = P(lambda t: t in TRAINING_TASKS)


def candidate_fact(option: Option, accel: Any) -> Candidate:
    """The fields later rules match on; the full numbers stay with the option."""
    return Candidate(
        id=option.id, hardware=option.hardware, count=option.count, precision=option.precision,
        kind=accel.kind, ecosystem=accel.ecosystem, interconnect=accel.interconnect, fits=option.fits,
        utilization=round(option.utilization, 4), cost_usd=option.cost.budget_usd, quality=option.quality,
        tokens_per_s=option.tokens_per_s, tp_over_pcie=option.tp_over_pcie,
    )


def excluded(accel: Any, exclusions: frozenset[str]) -> bool:
    """Whether an Exclusion fact rules this device out."""
    return bool({f"kind:{accel.kind}", f"obtain:{accel.obtain}", f"ecosystem:{accel.ecosystem}"} & exclusions) or (
        any(e.startswith("ecosystem-only:") and e != f"ecosystem-only:{accel.ecosystem}" for e in exclusions)
    )


def considered(engine: Host) -> list[Any]:
    """The catalog's devices no Exclusion fact rules out, in catalog order: kept per catalog and set of exclusions (the
    enumerations of a consultation and later consultations ask again for the same; the same objects in the same order
    also find ``planner.undominated``'s answer kept)."""
    exclusions = frozenset(f["what"] for f in engine.facts_of(Exclusion))
    memo = per_catalog("considered", engine.catalog)
    found: list[Any] | None = memo.get(exclusions)
    if found is None:
        found = memo[exclusions] = [a for a in engine.catalog.accelerators.values() if not excluded(a, exclusions)]
    return list(found)


UNPRICED_NAMED = 3  # unpriced configurations a note names before "and N more": a line a reader takes in


class CandidateRules:
    @Rule(Workload(deployment=MATCH.deployment & P(lambda d: d in ("local", "edge"))), salience=SALIENCE_FILTER)
    @rule_meta(id="CAND-cloud-only-excluded", statement="cloud-only hardware (Google TPUs) cannot be bought for a {deployment} deployment",
               sources=["gcp-tpu-frameworks", "article"], needs=("deployment",))
    def cloud_only_excluded(self: Host, deployment: str) -> None:
        """## What it decides
        Leaves out accelerators that are only rented (TPUs) when the hardware must be owned.

        ## Why
        Cloud TPUs are consumed as Google Cloud VMs and slices; no source offers them for sale (pitfall P3).

        ## Example
        `--deployment local` never recommends a TPU v5e.
        """
        self.conclude(Exclusion(what="obtain:cloud"), deployment=deployment)

    @Rule(Workload(ecosystem=MATCH.ecosystem & P(lambda e: e != "any")), salience=SALIENCE_FILTER)
    @rule_meta(id="CAND-ecosystem", statement="only {ecosystem} hardware is considered, as asked",
               sources=["article"], needs=("ecosystem",))
    def ecosystem_only(self: Host, ecosystem: str) -> None:
        """## What it decides
        Keeps only the hardware of the ecosystem the user lives in.

        ## Why
        Moving a stack between CUDA, ROCm, Apple, TPU and NPU runtimes costs conversion and rework.

        ## Example
        `--ecosystem rocm` considers AMD Instinct and Radeon cards only.
        """
        self.conclude(Exclusion(what=f"ecosystem-only:{ecosystem}"), ecosystem=ecosystem)

    @Rule(Workload(deployment="edge"), salience=SALIENCE_FILTER)
    @rule_meta(id="CAND-edge-devices", statement="an edge deployment runs on the device itself: only NPUs, unified-memory SoCs and CPUs",
               sources=["article"], needs=("deployment",))
    def edge_devices(self: Host) -> None:
        """## What it decides
        For on-device use, leaves out data-centre and desktop accelerators and TPUs.

        ## Why
        The article's "pocket butler": on-device inference runs on the laptop's NPU, SoC GPU or CPU.

        ## Example
        `--deployment edge --model deepseek-r1:1.5b` looks at NPUs, Apple M-series and CPUs.
        """
        for kind in ("gpu", "tpu"):
            self.conclude(Exclusion(what=f"kind:{kind}"))

    @Rule(Workload(task=TRAINING), salience=SALIENCE_FILTER)
    @rule_meta(id="CMP-no-training-on-npu-or-cpu", statement="NPUs and CPUs are left out: they are for inference, training on them is impractical",
               sources=["article"], needs=("task",))
    def no_training_on_npu_or_cpu(self: Host) -> None:
        """## What it decides
        Leaves NPUs and CPU-only hosts out of any training workload.

        ## Why
        The article: NPUs do low-power inference of small models only, and training on a CPU is impractical
        (its dense throughput is one to two orders of magnitude below a GPU's).

        ## Example
        `--task lora` never proposes a Snapdragon NPU.
        """
        for kind in ("npu", "cpu"):
            self.conclude(Exclusion(what=f"kind:{kind}"))

    @Rule(AS.workload << Workload(task="inference"), Policy(npu_max_params=MATCH.limit), salience=SALIENCE_FILTER)
    @rule_meta(id="CMP-npu-small-models-only",
               statement="NPUs are left out: {model} has {params:params} parameters, above the {limit:params} NPUs handle",
               sources=["article", "npu-xda"], needs=("model",))
    def npu_small_models_only(self: Host, workload: Workload, limit: int) -> None:
        """## What it decides
        Leaves laptop NPUs out for models too large for them.

        ## Why
        NPUs share a laptop's 16-32 GB and run small quantized models (a few billion parameters).

        ## Example
        A 70B model never lands on an NPU; a 1.5B model may.

        ## Limits
        The model's size is compared in the body: exclusions fire before MEM-model declares ModelSpec, the fact that
        carries it.
        """
        model = self.catalog.models[workload["model"]]
        if model.params > limit:
            self.conclude(Exclusion(what="kind:npu"), model=model.name, params=model.params)

    @Rule(AS.workload << Workload())
    @rule_meta(id="CAND-enumerate",
               statement="{count} x {hardware} at {precision} fits: {need_bytes:gb} per device, {tokens_per_s:rate} per user, {cost_usd:usd}",
               sources=["eleuther-tm101", "nv-kv-blog", "zero-paper"], needs=("model", "task", "scale", "ecosystem", "deployment"))
    def enumerate_candidates(self: Host, workload: Workload) -> None:
        """## What it decides
        For every device not excluded, and every precision worth trying, the fewest devices that hold the
        workload (and the fewest that also reach the speed target); keeps the configurations no other beats
        on cost, quality and speed.

        ## Why
        The minimum, recommended and best tiers are chosen among these; sizing each device once keeps the
        consultation fast however large the catalog.

        ## Example
        A 70B model at 4-bit for 20 users fits on two 48 GB cards, one 141 GB H200, or four 24 GB cards.

        ## Limits
        Device counts follow the scale: a desktop holds two cards, a server node eight, a cluster 256.
        """
        inputs = self.facts_of(Exclusion)
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        accels = considered(self)
        for option in enumerate_options(w, model, accels, self.catalog):
            accel = self.catalog.accelerators[self.remember(option).hardware]
            self.conclude(candidate_fact(option, accel), inputs=inputs, count=option.count, hardware=accel.name,
                          precision=option.precision, need_bytes=option.memory.total, tokens_per_s=option.tokens_per_s,
                          cost_usd=option.cost.budget_usd)

    @Rule(AS.workload << Workload(), salience=SALIENCE_COLLECT)
    @rule_meta(id="CAND-collected", statement="{count} configurations fit and no other beats them on cost, quality and speed together",
               sources=["llmhw-assumption"], needs=("model",))
    def collected(self: Host, workload: Workload) -> None:
        """## What it decides
        Closes candidate generation, so that the tiers are chosen among all candidates at once.

        ## Why
        Tier rules compare candidates with each other; they must not start before the last one exists.

        ## Example
        For a 70B model at a team scale, about twenty configurations remain after pruning.
        """
        found = self.facts_of(Candidate)
        self.conclude(CandidateSet(count=len(found)), count=len(found))

    @Rule(AS.workload << Workload(), AS.proposal << Proposal(hardware=MATCH.hardware, count=MATCH.count))
    @rule_meta(id="CAND-proposal",
               statement="{count} x {name} at {precision}: needs {need_bytes:gb} per device of {usable_bytes:gb} usable; fits: {fits}",
               message="No runtime in the catalog runs {precision} on {name}{why}.",
               sources=["eleuther-tm101", "nv-kv-blog", "zero-paper"], needs=("model", "task", "precision"))
    def proposal_fit(self: Host, workload: Workload, proposal: Proposal, hardware: str, count: int) -> None:
        """## What it decides
        Whether the configuration the user names holds the workload, at the requested precision or, on
        `auto`, at the best-quality precision that fits it.

        ## Why
        `llmhw check` answers "will this model run on that hardware?" with the breakdown behind the answer.

        ## Example
        `llmhw check --model deepseek-r1:7b --hardware "A100 80GB" --precision q4_k_m` fits with room to spare.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        accel = self.catalog.accelerators[hardware]
        option = choose(configurations(w, model, accel, count, self.catalog), model)
        if option is None:
            wanted = w.precision if w.precision != "auto" else Phrase("{task} in any format", task=w.task)
            why = (Phrase(": training needs 16-bit matrix products (BF16 or FP16), which it lacks")
                   if w.training and not trains_on(accel) else "")
            self.conclude(Note(), name=accel.name, precision=wanted, need_bytes=None, usable_bytes=None, fits=False, why=why)
            return
        self.remember(option)
        self.conclude(
            Fit(id=option.id, hardware=hardware, count=count, precision=option.precision, fits=option.fits,
                utilization=round(option.utilization, 4), cost_usd=option.cost.budget_usd, kind=accel.kind,
                ecosystem=accel.ecosystem, tp_over_pcie=option.tp_over_pcie, quality=option.quality, offload=option.layout.offload),
            name=accel.name, precision=option.precision, need_bytes=option.memory.total,
            usable_bytes=option.usable_bytes, fits=option.fits,
        )

    @Rule(AS.workload << Workload(), AS.fit << Fit(fits=False, hardware=MATCH.hardware, count=MATCH.count, utilization=MATCH.used))
    @rule_meta(id="CAND-remedy", statement="{count} x {name} does not hold the workload; what fits instead: {remedies}",
               message="{count} x {name} does not hold this workload (it needs {used:pct} of its usable memory); no speed is given "
               "for a configuration that cannot run. What fits instead: {remedies}.",
               sources=["eleuther-tm101", "nv-kv-blog"], needs=("model", "precision", "context"))
    def remedy(self: Host, workload: Workload, fit: Fit, hardware: str, count: int, used: float) -> None:
        """## What it decides
        For a configuration that does not fit, the nearest changes that do, each on its own: another format at
        the same device count, an 8-bit KV cache, the fewest devices that fit, the longest shorter context that fits.

        ## Why
        "Does not fit" is half an answer; the user wants to know what to change.

        ## Example
        `llmhw check --model llama-3.1-70b --hardware "RTX 4090"` names Q3_K_M on one card, Q4_K_M on two, or a
        shorter context.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        accel = self.catalog.accelerators[hardware]
        found = remedies(w, model, accel, count, self.catalog)
        offers = []
        if found.precision is not None:
            o = found.precision
            offers.append(Phrase("--precision {precision} ({quality}) fits {count} x {hardware} at {used:pct} of its memory on {runtime}",
                                 precision=o.precision, quality=o.quality, count=count, hardware=accel.name, used=o.utilization,
                                 runtime=o.runtime))
        if found.kv is not None:
            kv, o = found.kv
            offers.append(Phrase("a {kv} KV cache on {runtime} fits at {precision}, {used:pct} of each device", kv=kv.upper(),
                                 runtime=o.runtime, precision=o.precision, used=o.utilization))
        if found.count is not None:
            o = found.count
            offers.append(Phrase("--count {count} fits at {precision} ({quality}) on {runtime}, {used:pct} of each device",
                                 count=o.count, precision=o.precision, quality=o.quality, runtime=o.runtime, used=o.utilization))
        if found.context is not None:
            offers.append(Phrase("--context {context:,} fits on {count} x {hardware}", context=found.context, count=count,
                                 hardware=accel.name))
        found_any = listed(offers) if offers else Phrase("nothing within the catalog's device counts and a context down to "
                                                         "{min_context:,} tokens", min_context=MIN_CONTEXT)
        self.conclude(Note(), name=accel.name, remedies=found_any)

    @Rule(AS.done << CandidateSet(count=0), AS.workload << Workload(scale=MATCH.scale, ecosystem=MATCH.ecosystem,
          deployment=MATCH.deployment, precision=MATCH.precision), Mode(kind="recommend"))
    @rule_meta(id="CAND-none-fit", statement="no configuration in the catalog holds {model} under these constraints",
               message="Nothing in the catalog holds {model} for this workload with these constraints ({scale} scale, {ecosystem} "
               "ecosystem, {deployment} deployment, precision {precision}).{nearest} Also try {hints}.",
               sources=["article"], needs=("scale", "ecosystem", "deployment", "precision"))
    def none_fit(self: Host, done: CandidateSet, workload: Workload, scale: str, ecosystem: str, deployment: str, precision: str) -> None:
        """## What it decides
        Says so plainly when nothing fits, and which constraint to relax.

        ## Why
        An empty answer with no reason is no advice at all.

        ## Example
        DeepSeek-R1 671B at `--scale personal` fits no desktop: allow a team server or a cluster; the closest that
        fits is a shorter context or the 70B distill.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        accels = considered(self)
        closest = []
        context = closest_context(w, model, accels, self.catalog)
        if context is not None:
            closest.append(Phrase("--context {context:,} fits", context=context))
        smaller = largest_smaller_model(w, model, accels, self.catalog)
        if smaller is not None:
            other, o = smaller
            closest.append(Phrase("{model} ({params:params}) fits on {count} x {hardware} at {precision} ({tokens_per_s:rate} per user) "
                                  "for {cost_usd:usd}", model=other.name, params=other.params, count=o.count,
                                  hardware=self.catalog.accelerators[o.hardware].name, precision=o.precision,
                                  tokens_per_s=o.tokens_per_s, cost_usd=o.cost.budget_usd))
        hints = []
        if scale != "enterprise":
            hints.append("a larger --scale (more devices)")
        if precision != "auto":
            hints.append("--precision auto (quantized formats)")
        if ecosystem != "any":
            hints.append("--ecosystem any")
        if deployment != "cloud":
            hints.append("--deployment cloud")
        hints.append("a shorter --context or fewer concurrent users")
        nearest = Phrase(" Closest that fits: {closest}.", closest=listed(closest)) if closest else Phrase("")
        self.conclude(Note(), model=model.name, nearest=nearest, hints=", ".join(hints))

    @Rule(AS.done << CandidateSet(count=MATCH.count), AS.workload << Workload(), Mode(kind="recommend"),
          TEST(lambda count: count > 0), salience=SALIENCE_ADVICE)
    @rule_meta(id="CAND-unpriced", statement="{unpriced} of the {count} configurations that fit {have} no price in the catalog",
               message="{unpriced} of the {count} configurations that fit {have} no price in the catalog{where} Get a quote to compare them.",
               sources=["llmhw-assumption"], needs=("model",))
    def unpriced(self: Host, done: CandidateSet, workload: Workload, count: int) -> None:
        """## What it decides
        Names the configurations that fit but have no price, so none is dropped silently: they rank after
        priced ones and enter the tiers only when no priced configuration qualifies.

        ## Why
        A machine the catalog cannot price (a 512 GB Mac Studio, an MI300X sold only through OEMs) may be exactly
        what the user can get; an empty answer would hide it.

        ## Example
        DeepSeek-R1 671B on Apple: only the M3 Ultra 512GB holds it, shown with "price unknown".

        ## Limits
        Whether any candidate lacks a price is tested in the body: a pattern over Candidate facts would fire once
        per unpriced candidate.
        """
        shown = {f["id"] for f in self.facts_of(Recommendation)}
        unpriced = [self.option(c) for c in self.facts_of(Candidate) if c["cost_usd"] is None]
        if not unpriced:
            return
        hidden = sorted((o for o in unpriced if o.id not in shown), key=lambda o: (-QUALITY_RANK[o.quality], -(o.tokens_per_s or 0), o.id))
        best = [Phrase("{count} x {hardware} at {precision} ({tokens_per_s:rate})", count=o.count,
                       hardware=self.catalog.accelerators[o.hardware].name, precision=o.precision, tokens_per_s=o.tokens_per_s)
                for o in hidden[:UNPRICED_NAMED]]
        more = [Phrase(" and {more} more", more=len(hidden) - UNPRICED_NAMED)] if len(hidden) > UNPRICED_NAMED else []
        named = listed([listed(best, ", "), *more], "")
        where = (Phrase(", none of them among the tiers; the best: {best}.", best=named) if len(hidden) == len(unpriced)
                 else Phrase("; {hidden} of them are not among the tiers, the best of which: {best}.", hidden=len(hidden),
                             best=named) if hidden
                 else Phrase(", all shown above as price unknown."))
        self.conclude(Note(), unpriced=len(unpriced), where=where, have="has" if len(unpriced) == 1 else "have")
