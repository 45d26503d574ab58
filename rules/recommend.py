"""REC and BUD: the ranked choice among the candidates, and what the budget buys."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from experta import AS, MATCH, TEST, Rule

from ..facts import Candidate, CandidateSet, Exclusion, Mode, Recommendation, Tip, Warning, Workload
from ..planner import Floors, Option, cheapest, largest_smaller_model, meets, pick_best, pick_minimum, pick_recommended
from ..planner.tiers import comfortable
from ..units import params, pct, rate, usd
from . import SALIENCE_ADVICE, SALIENCE_SELECT, rule_meta, subject
from .candidates import excluded


def _candidates(engine: Any) -> tuple[list[Option], list[Candidate]]:
    facts = engine.facts_of(Candidate)
    return [engine.option(f) for f in facts], facts


def _tiers(engine: Any, workload: Workload) -> tuple[list[Option], list[Candidate], Any, Floors]:
    """The candidates, their facts, the planner's workload and the promises the tiers keep for it."""
    options, facts = _candidates(engine)
    w = engine.workload(workload)
    return options, facts, w, Floors.of(w, engine.catalog)


def _priced_note(option: Option) -> str:
    return "" if option.price_known else "; price unknown (no price in the catalog), so ranked by the memory it buys"


def _recommend(engine: Any, tier: str, option: Option | None, candidates: list[Candidate], why: str, **bindings: Any) -> None:
    if option is None:
        return
    accel = engine.catalog.accelerators[option.hardware]
    why += _priced_note(option)
    engine.conclude(
        Recommendation(tier=tier, id=option.id, hardware=option.hardware, count=option.count, precision=option.precision,
                       kind=accel.kind, utilization=round(option.utilization, 4), cost_usd=option.cost.budget_usd,
                       tokens_per_s=option.tokens_per_s, tp_over_pcie=option.tp_over_pcie, quality=option.quality,
                       price_known=option.price_known, because=why),
        inputs=[c for c in candidates if c["id"] == option.id],
        tier=tier, option=f"{option.count} x {accel.name} at {option.precision} on {option.runtime}", cost=usd(option.cost.budget_usd),
        because=why, **bindings,
    )


def _recommended_why(option: Option, minimum: Option, w: Any, f: Floors) -> str:
    """Why the recommended tier is what it is, read from the option itself (it may have moved to a dominating one)."""
    if f.budget is not None and (option.cost.budget_usd is None or option.cost.budget_usd > f.budget) and option is minimum:
        return "nothing within the budget meets the quality and speed floor, so this is the minimum again (see BUD-over-budget)"
    if not meets(option, f.quality, f.speed):
        return "nothing meets the quality and speed floor, so this is the minimum again"
    if w.training:
        room = "fits with memory to spare" if option.utilization <= f.comfortable else "fits, with memory tight"
        if option.tokens_per_s is None:
            return f"the cheapest that {room}; no training speed figure for this device (no published dense BF16 throughput)"
        return f"the cheapest with a known training speed that {room}; no cheaper option trains as fast at the same quality"
    if comfortable(option, f):
        return ("reaches the speed target with memory to spare and no tensor parallel over PCIe"
                + (", on a serving engine that batches users" if f.batching else ""))
    if (option.tokens_per_s or 0) >= f.target:
        short = [f"memory is {pct(option.utilization)} full" if option.utilization > f.comfortable else "",
                 "tensor parallel runs over PCIe" if option.tp_over_pcie else "",
                 "its runtime is no serving engine (no paged KV cache shared by the users)" if f.batching and not option.serves_many else ""]
        return "reaches the speed target, though " + ", ".join(x for x in short if x) + "; no option costs less and runs as fast at the same quality"
    within = "within the budget" if f.budget is not None else "that fits"
    return f"the fastest at acceptable quality {within}: none reaches the {f.target:g} tok/s target"


class RecommendRules:
    @Rule(AS.done << CandidateSet(count=MATCH.count), AS.workload << Workload(), TEST(lambda count: count > 0), salience=SALIENCE_SELECT)
    @rule_meta(id="REC-minimum", statement="the minimum that works is {option} for {cost}: {because}",
               sources=["article", "brysbaert-2019", "kquant-pr"], needs=("budget", "concurrency"))
    def minimum(self: Any, done: CandidateSet, workload: Workload, count: int) -> None:
        """## What it decides
        The cheapest configuration that holds the workload at acceptable quality (4-bit or better) and, for
        inference, at least reading speed per user (with users taking turns on a runtime that does not batch them).

        ## Why
        The article's thesis: hardware is a matching problem; the floor is what the workload needs, not more.

        ## Example
        DeepSeek-R1-Distill-Qwen-1.5B for one person: a desktop CPU or an 8 GB RTX 3060.

        ## Limits
        Configurations without a price in the catalog are ranked after priced ones, smallest memory first, and
        chosen only when no priced configuration meets the floor; they are marked "price unknown".
        """
        options, facts, w, f = _tiers(self, workload)
        pick, ok = pick_minimum(options, f)
        why = ("the cheapest that fits at acceptable quality" + ("" if w.training else f" and at least {f.speed:g} tok/s per user")
               if ok else "nothing meets the quality and speed floor: this is the cheapest that fits at all")
        _recommend(self, "minimum", pick, facts, why)

    @Rule(AS.done << CandidateSet(count=MATCH.count), AS.workload << Workload(), TEST(lambda count: count > 0), salience=SALIENCE_SELECT)
    @rule_meta(id="REC-recommended", statement="the recommended choice is {option} for {cost}: {because}",
               sources=["brysbaert-2019", "kquant-pr", "llmhw-assumption"], needs=("concurrency", "context", "budget"))
    def recommended(self: Any, done: CandidateSet, workload: Workload, count: int) -> None:
        """## What it decides
        Within the budget, at least as fast as the minimum: the cheapest configuration that reaches the target
        speed per user (about three times reading speed), keeps 15% of memory free, needs no tensor parallel over
        PCIe beyond two cards and, for several users, runs on a serving engine that batches them; else the cheapest
        that reaches the target; else the fastest. If another option costs no more, runs no slower and is of no
        lower quality class, it takes its place: the recommended tier is never dominated.

        ## Why
        The minimum works on paper; the recommended one works on a busy day.

        ## Example
        A 70B model for 20 users at 8k: two 48 GB cards or one H200 rather than four 24 GB cards over PCIe.
        """
        options, facts, w, f = _tiers(self, workload)
        minimum, _ = pick_minimum(options, f)
        pick = pick_recommended(options, minimum, f)
        if pick is not None and minimum is not None:
            _recommend(self, "recommended", pick, facts, _recommended_why(pick, minimum, w, f))

    @Rule(AS.done << CandidateSet(count=MATCH.count), AS.workload << Workload(budget=MATCH.budget), TEST(lambda count: count > 0),
          salience=SALIENCE_SELECT)
    @rule_meta(id="REC-best-in-budget", statement="the best within a budget of {limit} is {option} for {cost}",
               sources=["article"], needs=("budget",))
    def best_in_budget(self: Any, done: CandidateSet, workload: Workload, count: int, budget: float | None) -> None:
        """## What it decides
        The best configuration the budget pays for: the best quality class, then the highest speed, above the
        speed floor and never below the recommended tier, among those the workload does not leave mostly idle
        (pitfall P1).

        ## Why
        Some buyers want the most their money buys, not the least that works; the ranking shows both.

        ## Example
        With 40,000 USD for a 70B model, a single H200 at FP8 rather than 4-bit cards.

        ## Limits
        With no budget, the best configuration overall within the scale's device limit.
        """
        options, facts, w, f = _tiers(self, workload)
        minimum, _ = pick_minimum(options, f)
        recommended = pick_recommended(options, minimum, f)
        pick, idle = pick_best(options, recommended, f, float(self.catalog.value("p1-max-utilization")))
        speed = "training speed" if w.training else "speed per user"
        why = (f"the best quality class, then the highest {speed}" + (" within the budget" if budget else " (no budget given)")
               + ("" if w.training else f", at least {f.speed:g} tok/s per user")
               + ("; every option that good leaves most of its memory idle" if idle else ""))
        _recommend(self, "best-in-budget", pick, facts, why, limit=usd(budget) if budget else "no limit")

    @Rule(AS.workload << Workload(budget=MATCH.budget), AS.rec << Recommendation(tier="minimum", cost_usd=MATCH.cost),
          Mode(kind="recommend"),
          TEST(lambda budget, cost: budget is not None and cost is not None and cost > budget), salience=SALIENCE_ADVICE)
    @rule_meta(id="BUD-over-budget", statement="the minimum configuration costs {cost}, {short} over the {budget} budget",
               sources=["article"], needs=("budget",))
    def over_budget(self: Any, workload: Workload, rec: Recommendation, budget: float, cost: float) -> None:
        """## What it decides
        When even the minimum costs more than the budget: by how much, and what the budget buys instead: the
        largest smaller model of the same family that fits it, a lower-quality quantization, or rental hours.

        ## Why
        A budget that cannot be met deserves numbers, not silence.

        ## Example
        1,000 USD for a 70B model: the 14B distill fits on a 16 GB card within it, or the budget rents the 70B
        configuration for a few hundred hours.
        """
        w = self.workload(workload)
        options, _ = _candidates(self)
        offers = []
        smaller = self._smaller_model_within(w, budget)
        if smaller:
            offers.append(smaller)
        f = Floors.of(w, self.catalog)
        lowest = cheapest(o for o in options if meets(o, f.quality, f.speed))
        if lowest is not None and (lowest.cost.budget_usd or math.inf) <= budget:
            offers.append(f"{lowest.count} x {self.catalog.accelerators[lowest.hardware].name} at {lowest.precision} "
                          f"({lowest.quality}, {rate(lowest.tokens_per_s)} per user) for {usd(lowest.cost.budget_usd)}")
        hourly = [(o.cost.cloud_usd_per_hour, o.id, o) for o in options if o.cost.cloud_usd_per_hour]
        if hourly:
            per_hour, _, rent = min(hourly)
            offers.append(f"about {budget / per_hour:,.0f} hours of {rent.count} x "
                          f"{self.catalog.accelerators[rent.hardware].name} rented at {usd(per_hour)}/h")
        buys = ("; ".join(offers) + ".") if offers else "nothing in the catalog for this workload."
        self.conclude(
            Warning(id="BUD-over-budget", at_stake_usd=round(cost - budget, 2),
                    message=f"The cheapest configuration that fits costs {usd(cost)}, {usd(cost - budget)} over the budget of "
                    f"{usd(budget)}. The budget buys: {buys}"),
            cost=usd(cost), short=usd(cost - budget), budget=usd(budget),
        )

    def _smaller_model_within(self: Any, w: Any, budget: float) -> str | None:
        """The largest smaller model of the same family whose minimum configuration fits the budget."""
        model = self.catalog.models[w.model]
        exclusions = {f["what"] for f in self.facts_of(Exclusion)}
        accels = [a for a in self.catalog.accelerators.values() if not excluded(a, exclusions)]
        found = largest_smaller_model(replace(w, budget=budget), model, accels, self.catalog, floors_only=True)
        if found is None:
            return None
        other, pick = found
        return (f"{other.name} ({params(other.params)}) on {pick.count} x {self.catalog.accelerators[pick.hardware].name} "
                f"at {pick.precision} for {usd(pick.cost.budget_usd)}")

    @Rule(AS.workload << Workload(deployment=MATCH.deployment, hours_per_day=MATCH.hours), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="BUD-buy-vs-rent", statement="buying pays off against renting after {months} months at {hours:g} h/day",
               sources=["llmhw-assumption"], needs=("deployment", "hours_per_day"))
    def buy_vs_rent(self: Any, workload: Workload, rec: Recommendation, deployment: str, hours: float) -> None:
        """## What it decides
        For the configuration checked (or the recommended one), after how many months of use its purchase (plus power) costs less
        than renting the same devices.

        ## Why
        Buy or rent is the first money question; the answer depends on hours of use, not on the hardware alone.

        ## Example
        An H100 bought for ~25,000 USD against ~2.5 USD/h: about 3 years at 8 h/day, under a year at 24 h/day.
        """
        cost = self.option(rec).cost
        if not (cost.purchase_usd and cost.cloud_usd_per_hour):
            return
        power_per_hour = (cost.power_usd_per_year or 0) / (hours * 365)
        saving_per_hour = cost.cloud_usd_per_hour - power_per_hour
        if saving_per_hour <= 0:
            return
        months = cost.purchase_usd / saving_per_hour / (hours * 365 / 12)
        years = float(self.catalog.value("ownership-years"))
        verdict = "buying pays off" if months <= years * 12 else f"renting is cheaper over {years:g} years"
        self.conclude(
            Tip(id="BUD-buy-vs-rent", effect_usd=round(cost.purchase_usd, 2),
                message=f"Buying ({usd(cost.purchase_usd)} + power) breaks even with renting ({usd(cost.cloud_usd_per_hour)}/h) "
                f"after {months:,.0f} months at {hours:g} h/day: {verdict}."),
            months=f"{months:,.0f}", hours=hours,
        )
