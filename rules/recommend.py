"""REC and BUD: the ranked choice among the candidates, and what the budget buys."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from experta import AS, MATCH, TEST

from .. import money
from ..facts import Candidate, CandidateSet, Fit, Mode, Policy, Recommendation, Tip, Warning, Workload
from ..planner import Floors, Option, cheapest, largest_smaller_model, meets, pick_best, pick_minimum, pick_recommended
from ..planner import Workload as PlannerWorkload
from ..planner.costs import prices_of
from ..planner.tiers import comfortable
from ..units import Phrase, pct, wait
from . import SALIENCE_ADVICE, SALIENCE_SELECT, Host, Rule, listed, rule_meta, subject
from .candidates import considered


def _candidates(engine: Host) -> tuple[list[Option], list[Candidate]]:
    facts = engine.facts_of(Candidate)
    return [engine.option(f) for f in facts], facts


def _tiers(engine: Host, workload: Workload) -> tuple[list[Option], list[Candidate], PlannerWorkload, Floors]:
    """The candidates, their facts, the planner's workload and the promises the tiers keep for it."""
    options, facts = _candidates(engine)
    w = engine.workload(workload)
    return options, facts, w, Floors.of(w, engine.catalog)


def _priced_note(option: Option) -> str:
    return "" if option.price_known else "; price unknown (no price in the catalog), so ranked by the memory it buys"


def _prompt_note(option: Option, f: Floors) -> str:
    """How long the timed prompt takes before the first token, when that is beyond the target (CPU boxes, hybrid rigs)."""
    seconds = f.prompt_s(option)
    if seconds is None or f.prompt_ok(option):
        return ""
    return f"; a {f.prompt_tokens:,}-token prompt takes ~{wait(seconds)} before the first token"


def _recommend(engine: Host, tier: str, option: Option | None, candidates: list[Candidate], why: str, f: Floors,
               **bindings: Any) -> None:
    if option is None:
        return
    accel, option_id = engine.catalog.accelerators[option.hardware], option.id
    why += _prompt_note(option, f) + _priced_note(option)
    engine.conclude(
        Recommendation(tier=tier, id=option_id, hardware=option.hardware, count=option.count, precision=option.precision,
                       kind=accel.kind, utilization=round(option.utilization, 4), cost_usd=option.cost.budget_usd,
                       tokens_per_s=option.tokens_per_s, tp_over_pcie=option.tp_over_pcie, quality=option.quality,
                       price_known=option.price_known, offload=option.layout.offload, because=why),
        inputs=[c for c in candidates if c["id"] == option_id],
        tier=tier, count=option.count, hardware=accel.name, precision=option.precision, runtime=option.runtime,
        cost_usd=option.cost.budget_usd, because=why, **bindings,
    )


def _recommended_why(option: Option, minimum: Option, w: PlannerWorkload, f: Floors) -> str:
    """Why the recommended tier is what it is, read from the option itself (it may have moved to a dominating one)."""
    if f.budget is not None and (option.cost.budget_usd is None or option.cost.budget_usd > f.budget) and option is minimum:
        return "nothing within the budget meets the quality and speed floor, so this is the minimum again (see BUD-over-budget)"
    if not meets(option, f.quality, f.speed):
        if option is not minimum:
            within = "within the budget" if f.budget is not None else "that fits"
            return f"nothing reaches the {f.speed:g} tok/s floor: the fastest at acceptable quality {within}"
        return "nothing meets the quality and speed floor, so this is the minimum again"
    if w.training:
        room = "fits with memory to spare" if option.utilization <= f.comfortable else "fits, with memory tight"
        if option.tokens_per_s is None:
            return f"the cheapest that {room}; no training speed figure for this device (no published dense BF16 throughput)"
        return f"the lowest cost per training token/s that {room}; no cheaper option trains as fast at the same quality"
    if comfortable(option, f):
        return ("reaches the speed target with memory to spare and no tensor parallel over PCIe"
                + (", on a serving engine that batches users" if f.batching else ""))
    if (option.tokens_per_s or 0) >= f.target:
        short = [f"memory is {pct(option.utilization)} full" if option.utilization > f.comfortable else "",
                 "tensor parallel runs over PCIe" if option.tp_over_pcie else "",
                 "its runtime is no serving engine (no paged KV cache shared by the users)" if f.batching and not option.serves_many else "",
                 f"its first token comes later than {f.ttft_target:g} s" if not f.prompt_ok(option) else ""]
        return "reaches the speed target, though " + ", ".join(x for x in short if x) + "; no option costs less and runs as fast at the same quality"
    within = "within the budget" if f.budget is not None else "that fits"
    return f"the fastest at acceptable quality {within}: none reaches the {f.target:g} tok/s target"


class RecommendRules:
    @Rule(AS.done << CandidateSet(count=MATCH.count), AS.workload << Workload(), TEST(lambda count: count > 0), salience=SALIENCE_SELECT)
    @rule_meta(id="REC-minimum", statement="the minimum that works is {count} x {hardware} at {precision} on {runtime} for {cost_usd:usd}: {because}",
               sources=["article", "brysbaert-2019", "kquant-pr"], needs=("budget", "concurrency"))
    def minimum(self: Host, done: CandidateSet, workload: Workload, count: int) -> None:
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
        _recommend(self, "minimum", pick, facts, why, f)

    @Rule(AS.done << CandidateSet(count=MATCH.count), AS.workload << Workload(), TEST(lambda count: count > 0), salience=SALIENCE_SELECT)
    @rule_meta(id="REC-recommended",
               statement="the recommended choice is {count} x {hardware} at {precision} on {runtime} for {cost_usd:usd}: {because}",
               sources=["brysbaert-2019", "kquant-pr", "llmhw-assumption"], needs=("concurrency", "context", "budget"))
    def recommended(self: Host, done: CandidateSet, workload: Workload, count: int) -> None:
        """## What it decides
        Within the budget, at least as fast as the minimum: the cheapest configuration that reaches the target
        speed per user (about three times reading speed), keeps 15% of memory free, needs no tensor parallel over
        PCIe beyond two cards, reads a 4k-token prompt within 10 s (a CPU box decodes a 20B MoE at the target but
        takes a minute over a pasted page: a GPU within the premium takes its place) and, for several
        users, runs on a serving engine that batches them; else the cheapest
        that reaches the target with some room (not over best-max-utilization: a card 99% full fails on the first
        longer prompt), else the cheapest that reaches the target; else the fastest at acceptable quality, also when
        nothing reaches the speed floor. If another option costs no more, runs no slower and is of no
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
            _recommend(self, "recommended", pick, facts, _recommended_why(pick, minimum, w, f), f)

    @Rule(AS.done << CandidateSet(count=MATCH.count), AS.workload << Workload(budget=MATCH.budget), TEST(lambda count: count > 0),
          salience=SALIENCE_SELECT)
    @rule_meta(id="REC-best-in-budget",
               statement="the best within a budget of {limit} is {count} x {hardware} at {precision} on {runtime} for {cost_usd:usd}",
               sources=["article"], needs=("budget",))
    def best_in_budget(self: Host, done: CandidateSet, workload: Workload, count: int, budget: float | None) -> None:
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
        pick, idle = pick_best(options, recommended, f, self.policy.p1_max_utilization)
        speed = "training speed" if w.training else "speed per user"
        why = (f"the best quality class, then the highest {speed}" + (" within the budget" if budget else " (no budget given)")
               + ("" if w.training else f", at least {f.speed:g} tok/s per user")
               + ("; every option that good leaves most of its memory idle" if idle else ""))
        _recommend(self, "best-in-budget", pick, facts, why, f, limit=Phrase("{budget:usd}", budget=budget) if budget else Phrase("no limit"))

    @Rule(AS.workload << Workload(budget=MATCH.budget), AS.rec << Recommendation(tier="minimum", cost_usd=MATCH.cost),
          Mode(kind="recommend"),
          TEST(lambda budget, cost: budget is not None and cost is not None and cost > budget), salience=SALIENCE_ADVICE)
    @rule_meta(id="BUD-over-budget", statement="the minimum configuration costs {cost:usd}, {short_usd:usd} over the {budget:usd} budget",
               message="The cheapest configuration that fits costs {cost:usd}, {short_usd:usd} over the budget of {budget:usd}. "
               "The budget buys: {buys}",
               sources=["article"], needs=("budget",))
    def over_budget(self: Host, workload: Workload, rec: Recommendation, budget: float, cost: float) -> None:
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
        smaller = _smaller_model_within(self, w, budget)
        if smaller:
            offers.append(smaller)
        f = Floors.of(w, self.catalog)
        lowest = cheapest(o for o in options if meets(o, f.quality, f.speed))
        if lowest is not None and (lowest.cost.budget_usd or math.inf) <= budget:
            offers.append(Phrase("{count} x {hardware} at {precision} ({quality}, {tokens_per_s:rate} per user) for {cost_usd:usd}",
                                 count=lowest.count, hardware=self.catalog.accelerators[lowest.hardware].name,
                                 precision=lowest.precision, quality=lowest.quality, tokens_per_s=lowest.tokens_per_s,
                                 cost_usd=lowest.cost.budget_usd))
        hourly = [(o.cost.cloud_usd_per_hour, o.id, o) for o in options if o.cost.cloud_usd_per_hour]
        if hourly:
            per_hour, _, rent = min(hourly)
            offers.append(Phrase("about {hours:,.0f} hours of {count} x {hardware} rented at {usd_per_hour:usd}/h",
                                 hours=money.rental_hours(budget, per_hour), count=rent.count,
                                 hardware=self.catalog.accelerators[rent.hardware].name, usd_per_hour=per_hour))
        buys = Phrase("{offers}.", offers=listed(offers)) if offers else Phrase("nothing in the catalog for this workload.")
        self.conclude(Warning(at_stake_usd=round(cost - budget, 2)), short_usd=cost - budget, buys=buys)

    @Rule(AS.workload << Workload(deployment=MATCH.deployment), AS.fit << Fit(hardware=MATCH.hardware, count=MATCH.count),
          TEST(lambda deployment: deployment != "cloud"), salience=SALIENCE_ADVICE)
    @rule_meta(id="BUD-whole-system",
               statement="{name} is sold as {unit}-GPU systems: {count} of them means buying {systems} for {purchase_usd:usd}",
               message="{name} is sold only as whole {unit}-GPU systems ({system_usd:usd} each, {price_kind} of {price_date}, "
               "{price_source}): the {share_usd:usd} above is the share of {count} of its GPUs. The smallest purchase that holds "
               "them is {systems} for {purchase_usd:usd}; renting pays for exactly {count}.",
               sources=["amcompute-hgx", "aa-gb200nvl72"], needs=("deployment",))
    def whole_system(self: Host, workload: Workload, fit: Fit, hardware: str, count: int, **_: object) -> None:
        """## What it decides
        For a checked count of a part bought only as a whole system (an 8-GPU HGX/DGX server, a 4-GPU SXM2 carrier board, a
        72-GPU NVL72 rack), what the purchase really is: the systems that hold that many, and their price.

        ## Why
        One SXM module cannot be put in a desktop: the price per GPU is a share of a system, and a check of 2 x H100 SXM
        priced at two shares would hide that the smallest purchase is the 8-GPU server.

        ## Example
        `llmhw check --hardware "H100 SXM" --count 2`: 49,750 USD is two GPUs' share; the purchase is one 8-GPU system
        for 199,000 USD, or rent two.

        ## Limits
        Whether the part is sold whole and the count is not a whole number of systems is tested in the body (from the
        catalog price).
        """
        accel = self.catalog.accelerators[hardware]
        buy = prices_of(accel)[0]
        unit = accel.purchase_unit
        if buy is None or not buy.system or unit <= 1 or count % unit == 0:
            return
        n = math.ceil(count / unit)
        systems = Phrase("one system") if n == 1 else Phrase("{n} systems", n=n)
        self.conclude(Warning(at_stake_usd=round(buy.per_device_usd * (n * unit - count), 2)), name=accel.name, unit=unit,
                      systems=systems, system_usd=buy.per_device_usd * unit, share_usd=buy.per_device_usd * count,
                      purchase_usd=buy.per_device_usd * unit * n, price_kind=buy.kind, price_date=buy.date, price_source=buy.source)

    @Rule(AS.workload << Workload(deployment=MATCH.deployment, hours_per_day=MATCH.hours), subject(),
          Policy(ownership_years=MATCH.years), salience=SALIENCE_ADVICE)
    @rule_meta(id="BUD-buy-vs-rent", statement="buying pays off against renting after {months:,.0f} months at {hours:g} h/day",
               message="Buying {count} x {hardware} ({purchase_usd:usd}{with_host}{with_power}) breaks even with renting them at "
               "{usd_per_hour:usd}/h ({rent_kind} price of {rent_date}, {rent_source}) after {months:,.0f} months "
               "at {hours:g} h/day: {verdict}.",
               sources=["llmhw-assumption"], needs=("deployment", "hours_per_day"))
    def buy_vs_rent(self: Host, workload: Workload, rec: Recommendation, deployment: str, hours: float, years: float) -> None:
        """## What it decides
        For the configuration checked (or the recommended one), after how many months of use its purchase (the devices and
        the host box they need, plus power) costs less than renting the same devices, at the hours a day the user gives
        (--hours-per-day), and which rent price that is (the cheapest on-demand device-hour, its date and source).

        ## Why
        Buy or rent is the first money question; the answer depends on hours of use, not on the hardware alone, and a
        purchase is the whole system (cards alone run nothing), while a rented device-hour includes its host.

        ## Example
        An H100 bought for ~25,000 USD against ~2.5 USD/h: about 3 years at 8 h/day, under a year at 24 h/day.

        ## Limits
        Power counts the devices' rated power and the host's CPU where its TDP is known, at the policy's electricity
        price (not for a cloud deployment, whose cost carries none: the message says so); cooling, space and resale
        value are left out. Nothing is said when either price is missing, when the devices are not bought that way (one
        module of an 8-GPU board) or when power costs more per hour than renting.
        """
        option = self.option(rec)
        cost = option.cost
        accel = self.catalog.accelerators[option.hardware]
        rent = prices_of(accel)[1]
        # a purchase that cannot be made (one SXM module of an 8-GPU board, two GPUs of an NVL72 rack) is no alternative
        if not (cost.purchase_usd and cost.cloud_usd_per_hour and rent) or option.count % accel.purchase_unit:
            return
        months = money.break_even_months(cost.purchase_usd, cost.cloud_usd_per_hour, cost.power_usd_per_year, hours)
        if months is None:
            return
        verdict = Phrase("buying pays off") if months <= years * 12 else Phrase("renting is cheaper over {years:g} years", years=years)
        boxes = cost.hosts
        with_host = (Phrase("") if not cost.host_usd else Phrase(" incl. a {host_usd:usd} host box", host_usd=cost.host_usd)
                     if boxes == 1 else Phrase(" incl. {boxes} host boxes ({host_usd:usd})", boxes=boxes, host_usd=cost.host_usd))
        # a rented deployment's cost carries no power figure: the comparison then leaves power out, and says so
        with_power = Phrase(" + power") if cost.power_usd_per_year else Phrase(", power not counted")
        self.conclude(Tip(effect_usd=round(cost.purchase_usd, 2)), count=option.count, hardware=accel.name,
                      purchase_usd=cost.purchase_usd, with_host=with_host, with_power=with_power,
                      usd_per_hour=cost.cloud_usd_per_hour,
                      rent_kind=rent.kind, rent_date=rent.date, rent_source=rent.source, months=months,
                      verdict=verdict)


def _smaller_model_within(engine: Host, w: PlannerWorkload, budget: float) -> Phrase | None:
    """The largest smaller model of the same family whose minimum configuration fits the budget."""
    model = engine.catalog.models[w.model]
    accels = considered(engine)
    found = largest_smaller_model(replace(w, budget=budget), model, accels, engine.catalog, floors_only=True)
    if found is None:
        return None
    other, pick = found
    return Phrase("{model} ({params:params}) on {count} x {hardware} at {precision} for {cost_usd:usd}", model=other.name,
                  params=other.params, count=pick.count, hardware=engine.catalog.accelerators[pick.hardware].name,
                  precision=pick.precision, cost_usd=pick.cost.budget_usd)
