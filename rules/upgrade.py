"""UPG: upgrade advice relative to the hardware the user owns (`recommend --have`).

What the owned machine already runs for the workload; when it does not reach the goal (fits, at the tiers' quality
and speed floors), each addition that would: more cards of the same kind (while the host takes them), host RAM for the
layers or experts the GPUs cannot hold, another card; the cheapest of those that reach the goal; and whether renting
is cheaper than buying that addition. Each addition is priced alone: the host is already there, and what the owned
card would sell for is not assumed.
"""

from __future__ import annotations

from experta import AS, MATCH, TEST, P

from .. import money
from ..facts import Candidate, Mode, Owned, Policy, Upgrade, Workload
from ..launch import documented_flag
from ..launch.serve import gpu_layers
from ..planner import Floors, Option
from ..planner import upgrade as plan
from ..units import Phrase
from . import SALIENCE_ADVICE, SALIENCE_CHOICE, Host, Rule, rule_meta

# Additions to a PCIe GPU host (or a machine with no GPU): a Mac, an APU box or a CPU server is a whole machine with no
# slot for a card or separate host RAM; what it can become is the tiers' answer.
EXTENSIBLE = P(lambda kind: kind in ("gpu", "none"))
WHAT = {"more-cards": "more cards of the same kind", "host-ram": "host RAM for offloaded weights", "other-card": "another card"}


def _options(engine: Host) -> list[Option]:
    return [engine.option(f) for f in engine.facts_of(Candidate)]


def _upgrade(kind: str, what: str, option: Option | None, cost_usd: float | None, reaches: bool, label: str,
             added: int = 0, **extra: object) -> Upgrade:
    """An Upgrade fact: the configuration it leads to (hardware, count, format, runtime, speed) and its cost."""
    fields = {"hardware": option.hardware, "count": option.count, "precision": option.precision, "runtime": option.runtime,
              "fits": option.fits, "tokens_per_s": round(option.tokens_per_s, 2) if option.fits and option.tokens_per_s else None,
              "utilization": round(option.utilization, 4)} if option else {}
    return Upgrade(kind=kind, what=what, cost_usd=None if cost_usd is None else round(cost_usd, 2), reaches=reaches,
                   label=label, added=added, **{**fields, **extra})


class UpgradeRules:
    @Rule(AS.owned << Owned(hardware=MATCH.hardware, count=MATCH.count), TEST(lambda hardware: hardware != "none"),
          AS.workload << Workload(), Mode(kind="recommend"), salience=SALIENCE_ADVICE)
    @rule_meta(id="UPG-owned-runs", statement="{count} x {hardware} owned: {verdict}",
               message="You have {count} x {hardware}: {verdict}.",
               sources=["llmhw-assumption"], needs=("model",))
    def owned_runs(self: Host, owned: Owned, workload: Workload, hardware: str, count: int) -> None:
        """## What it decides
        What the hardware the user already owns runs for this workload: the format and runtime `check --precision auto`
        picks, its speed, and whether that reaches the goal every tier promises (fits, quality and speed floors).

        ## Why
        An upgrade is judged against what is already there: nothing to buy when the owned cards run it, and an
        addition only has to close the gap.

        ## Example
        One RTX 3090 and Llama 3.1 70B: even Q4_K_M (43 GB of weights) needs about twice its 24 GB.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        accel = self.catalog.accelerators[hardware]
        option = plan.owned_option(w, model, accel, count, self.catalog)
        floors = Floors.of(w, self.catalog)
        reached = plan.reaches(option, floors)
        if option is None:
            verdict = Phrase("no runtime in the catalog runs this workload on it")
        elif reached:
            verdict = Phrase("it already runs {model} for this workload: {precision} on {runtime}{hybrid} at ~{tokens_per_s:rate} per "
                             "user, {utilization:pct} of its memory; nothing to buy", model=model.name, precision=option.precision,
                             runtime=option.runtime, tokens_per_s=option.tokens_per_s, utilization=option.utilization,
                             hybrid=Phrase(" with its {offload} in host RAM", offload=option.layout.offload)
                             if option.layout.offload != "none" else "")
        elif option.fits:
            verdict = Phrase("it holds {model} at {precision} ({quality}) on {runtime}, ~{tokens_per_s:rate} per user, short of the goal "
                             "({speed:rate} per user at {floor} or better)", model=model.name, precision=option.precision,
                             quality=option.quality, runtime=option.runtime, tokens_per_s=option.tokens_per_s, speed=floors.speed,
                             floor=floors.quality)
        else:
            verdict = Phrase("it does not hold {model} for this workload: the smallest format it runs, {precision}, needs "
                             "{need_bytes:gb} per device against {usable_bytes:gb} usable ({utilization:pct})", model=model.name,
                             precision=option.precision, need_bytes=option.memory.total, usable_bytes=option.usable_bytes,
                             utilization=option.utilization)
        self.conclude(_upgrade("owned", "owned", option, 0.0, reached, f"{count} x {accel.name}"),
                      count=count, hardware=accel.name, verdict=verdict)

    @Rule(AS.owned << Owned(hardware="none", ram_bytes=MATCH.ram_bytes, cpu=MATCH.cpu), AS.workload << Workload(task="inference"),
          Mode(kind="recommend"), salience=SALIENCE_ADVICE)
    @rule_meta(id="UPG-owned-host", statement="no GPU owned: the CPU and {ram_bytes:gb} of RAM {verdict}",
               message="You have no GPU ({cpu}, {ram_bytes:gb} of RAM): {verdict}.",
               sources=["llamacpp-issue-34", "bestllmfor-bom"], needs=("model",))
    def owned_host(self: Host, owned: Owned, workload: Workload, ram_bytes: int | None, cpu: str) -> None:
        """## What it decides
        On a machine without a GPU: whether its CPU can run the model from RAM (llama.cpp), and how fast.

        ## Why
        With no GPU, RAM holds the weights and the CPU reads them at the host's memory bandwidth on every token:
        it runs what fits in RAM, slowly.

        ## Example
        A 25 GB RAM machine and Llama 3.1 8B at Q4_K_M: it fits and decodes at a few tokens per second.

        ## Limits
        The speed is the planner's for the host box as the device, at the bandwidth of the host given (`--host`,
        `--host-bandwidth`), else a dual-channel DDR5 desktop's (policy upgrade-reference-host): the probe reads the
        CPU and RAM size, not the memory's speed.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        run = plan.host_run(w, model, None, 0, self.catalog)
        floors = Floors.of(w, self.catalog)
        if run is None:
            verdict = Phrase("no format at the quality floor runs {model} on a CPU", model=model.name)
            reached = False
        elif ram_bytes is not None and run.ram_need_bytes <= ram_bytes:
            reached = (run.option.tokens_per_s or 0.0) >= floors.speed
            verdict = Phrase("its CPU runs {model} at {precision} from RAM ({need_bytes:gb} with the system's share) at "
                             "~{tokens_per_s:rate} per user, reading RAM at {bandwidth_gbs:,.1f} GB/s ({host})",
                             model=model.name, precision=run.option.precision, need_bytes=run.ram_need_bytes,
                             tokens_per_s=run.option.tokens_per_s, host=run.host.name, bandwidth_gbs=run.host.bandwidth_gbs)
        else:
            reached = False
            verdict = Phrase("{model} at {precision} needs {need_bytes:gb} of RAM to run on the CPU", model=model.name,
                             precision=run.option.precision, need_bytes=run.ram_need_bytes)
        self.conclude(_upgrade("owned", "owned", None, 0.0, reached, "this machine's CPU and RAM", hardware="none", count=0),
                      cpu=cpu or "CPU not described", ram_bytes=ram_bytes, verdict=verdict)

    @Rule(AS.owned << Owned(hardware=MATCH.hardware, count=MATCH.count, kind="gpu"),
          AS.have << Upgrade(kind="owned", reaches=False), AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="UPG-more-cards",
               statement="{added} more {hardware} reach the goal: {total} x {hardware} at {precision} for {cost_usd:usd}",
               message="Add {added} x {hardware} ({card_usd:usd} each): {total} x {hardware} run {model} at {precision} on {runtime}, "
               "~{tokens_per_s:rate} per user, {utilization:pct} of each card's memory{host}; the addition costs {cost_usd:usd}.",
               sources=["bestllmfor-bom", "xiongjiedai-bench"], needs=("model",))
    def more_cards(self: Host, owned: Owned, have: Upgrade, workload: Workload, hardware: str, count: int) -> None:
        """## What it decides
        The fewest cards of the kind the user owns that reach the goal, and what adding them costs: the cards, plus a
        new host when the owned one cannot take that many (policy upgrade-host-gpus).

        ## Why
        A second card of the same kind is the cheapest way to double memory: the runtimes split one model over
        identical cards (a layer split in llama.cpp, tensor parallel in vLLM), and the host usually takes two.

        ## Example
        One RTX 3090 and Llama 3.1 70B: a second used 3090 holds Q4_K_M; two 3090s decode it at 16.29 tok/s in
        llama.cpp (xiongjiedai-bench).
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        accel = self.catalog.accelerators[hardware]
        more = plan.more_cards(w, model, accel, count, self.catalog)
        if more is None:
            return  # no count of these cards reaches the goal at this scale: the other additions say what does
        o = more.option
        host = Phrase("") if more.host is None else Phrase(
            "; more than {host_gpus} cards need a new host, {host} ({host_usd:usd}), counted in", host_gpus=self.policy.upgrade_host_gpus,
            host=more.host.name, host_usd=more.host.buy_price.per_device_usd if more.host.buy_price else None)
        self.conclude(_upgrade("addition", "more-cards", o, more.cost_usd, True, f"{more.added} more {accel.name}", added=more.added),
                      added=more.added, hardware=accel.name, card_usd=more.card_usd, total=o.count, model=model.name,
                      precision=o.precision, runtime=o.runtime, tokens_per_s=o.tokens_per_s, utilization=o.utilization, host=host,
                      cost_usd=more.cost_usd)

    @Rule(AS.owned << Owned(hardware=MATCH.hardware, count=MATCH.count, ram_bytes=MATCH.ram_bytes, kind=EXTENSIBLE),
          AS.have << Upgrade(kind="owned", reaches=False), AS.workload << Workload(task="inference"),
          Policy(upgrade_ram_usd_per_gb=MATCH.usd_per_gb), salience=SALIENCE_ADVICE)
    @rule_meta(id="UPG-host-ram",
               statement="{ram_weights_bytes:gb} of {model}'s {what} in host RAM decode at ~{tokens_per_s:rate} per user",
               message="{keep} hold {ram_weights_bytes:gb} of {model}'s {what} at {precision} in host RAM ({placed}; llama.cpp {flag}), "
               "computed by the CPU of {host} ({bandwidth_gbs:,.1f} GB/s): ~{tokens_per_s:rate} per user; the host needs "
               "{ram_need_bytes:gb} of RAM ({ram}).",
               sources=["llamacpp-cpu-moe-15077", "ktransformers-r1-tutorial", "bestllmfor-bom"], needs=("model", "ram_gb"))
    def host_ram(self: Host, owned: Owned, have: Upgrade, workload: Workload, hardware: str, count: int, ram_bytes: int | None,
                 usd_per_gb: float) -> None:
        """## What it decides
        Keeping the owned GPUs (or the CPU alone) and putting the weights they cannot hold in host RAM: the speed
        that gives, the placement and its llama.cpp setting, the RAM the host needs, and what adding that RAM costs.

        ## Why
        llama.cpp keeps whole layers (`-ngl`) or a MoE's routed experts (`--n-cpu-moe`) on the CPU, which reads them
        at the host's memory bandwidth every token: RAM is cheap, but a desktop reads it ten times slower than a GPU
        reads its own memory, so dense models slow to a few tokens per second while MoE models, which read only the
        routed experts, stay usable. The split and its speed are the planner's hybrid option for these GPUs and this
        host (the same placement and calibrated step time `check --offload` gives).

        ## Example
        One RTX 3090 and Llama 3.1 70B Q4_K_M: 38 of its 80 layers (about 20 GB) in a desktop's RAM, about 2 tok/s.

        ## Limits
        The host is the one given (`--host`, `--host-bandwidth`), else a dual-channel DDR5 desktop (policy
        upgrade-reference-host); a server CPU with more channels reads several times faster.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        accel = self.catalog.accelerators[hardware] if hardware != "none" else None
        run = plan.host_run(w, model, accel, count, self.catalog)
        if run is None or run.ram_weights_bytes <= 0:
            return  # nothing to offload, or the GPUs cannot even hold what must stay on them: the other additions answer
        o = run.option
        add_bytes, add_usd = plan.ram_addition(run.ram_need_bytes, ram_bytes, usd_per_gb)
        if add_bytes is None:
            ram = Phrase("give --ram to check your host; more RAM costs ~{usd_per_gb:usd} per GB", usd_per_gb=usd_per_gb)
        elif add_bytes == 0:
            ram = Phrase("it has {ram_bytes:gb}: nothing to buy", ram_bytes=ram_bytes)
        else:
            ram = Phrase("add {add_bytes:gb} for ~{add_usd:usd} at {usd_per_gb:usd} per GB", add_bytes=add_bytes, add_usd=add_usd,
                         usd_per_gb=usd_per_gb)
        runtime = self.catalog.runtimes[o.runtime]
        part = o.host_part
        if accel is None or part is None:
            keep, what = Phrase("Or run it on the CPU:"), "layers"
            placed = Phrase("all {layers} layers", layers=model.layers)
            flag = f"{documented_flag(runtime, 'llama-server', 'gpu_layers')} 0"
        else:
            keep, what = Phrase("Or keep the {count} x {hardware} and", count=count, hardware=accel.name), part.placement.mode
            placed = Phrase("{what_of}{offloaded} of {layers} layers", what_of="the experts of " if what == "experts" else "",
                            offloaded=part.placement.offloaded_layers, layers=part.placement.layers)
            flag = (f"{documented_flag(runtime, 'llama-server', 'cpu_moe')} {part.placement.offloaded_layers}" if what == "experts"
                    else f"{documented_flag(runtime, 'llama-server', 'gpu_layers')} {gpu_layers(o, model, self.catalog)}")
        floors = Floors.of(w, self.catalog)
        speed = o.tokens_per_s or 0.0
        label = f"{what} offloaded to host RAM" if accel else "RAM to run it on the CPU"
        self.conclude(_upgrade("addition", "host-ram", None, add_usd, speed >= floors.speed, label, hardware=hardware,
                               count=count, precision=o.precision, runtime=o.runtime, fits=True, tokens_per_s=round(speed, 2),
                               offload=what, ram_need_bytes=run.ram_need_bytes, host=run.host.id, launch_flag=flag),
                      keep=keep, ram_weights_bytes=run.ram_weights_bytes, model=model.name, what=what, precision=o.precision,
                      placed=placed, flag=flag, host=run.host.name, bandwidth_gbs=run.host.bandwidth_gbs, tokens_per_s=speed,
                      ram_need_bytes=run.ram_need_bytes, ram=ram)

    @Rule(AS.owned << Owned(hardware=MATCH.hardware, count=MATCH.owned_count, kind=EXTENSIBLE),
          AS.have << Upgrade(kind="owned", reaches=False),
          AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="UPG-other-card", statement="{count} x {other} reach the goal for {cost_usd:usd} in the cards alone",
               message="{action} {count} x {other} for {cost_usd:usd} (the cards alone{resale}): {model} at {precision} on {runtime}, "
               "~{tokens_per_s:rate} per user, {utilization:pct} of each card's memory.",
               sources=["bestllmfor-bom", "llmhw-assumption"], needs=("model",))
    def other_card(self: Host, owned: Owned, have: Upgrade, workload: Workload, hardware: str, owned_count: int) -> None:
        """## What it decides
        The cheapest bigger card (more memory each than the owned ones, no more of them; with no GPU, as many as the
        host takes) that reaches the goal, priced by its cards alone.

        ## Why
        A bigger card can beat adding to the one owned; the host is already there, so only the cards are paid for, and
        what the owned card would sell for is left out (used prices vary too much to assume).

        ## Example
        One RTX 3090 and Llama 3.1 70B: the cheapest alternative may be two other 24 GB cards or one 48 GB card.
        """
        w = self.workload(workload)
        model = self.catalog.models[w.model]
        owns_gpu = hardware != "none"
        o = plan.other_card(_options(self), self.catalog.accelerators[hardware] if owns_gpu else None, owned_count, w, self.catalog)
        if o is None:
            return  # no card the host takes reaches the goal: a new machine is the tiers' answer
        cost = plan.card_only_usd(o, self.catalog)
        other = self.catalog.accelerators[o.hardware].name
        action = Phrase("Or put in" if not owns_gpu else "Or replace it with" if owned_count == 1 else "Or replace them with")
        resale = Phrase("; what yours would sell for is not counted" if owns_gpu else "; the host must take them")
        self.conclude(_upgrade("addition", "other-card", o, cost, True, f"{o.count} x {other}", added=o.count),
                      action=action, count=o.count, other=other, cost_usd=cost, resale=resale, model=model.name,
                      precision=o.precision, runtime=o.runtime, tokens_per_s=o.tokens_per_s, utilization=o.utilization)

    @Rule(AS.owned << Owned(), AS.have << Upgrade(kind="owned", reaches=False), Policy(target_tokens_per_s=MATCH.target),
          salience=SALIENCE_CHOICE)
    @rule_meta(id="UPG-cheapest-addition", statement="the cheapest addition that reaches the goal: {verdict}",
               message="Cheapest way to reach the goal from what you have: {verdict}.",
               sources=["llmhw-assumption"], needs=("model",))
    def cheapest_addition(self: Host, owned: Owned, have: Upgrade, target: float) -> None:
        """## What it decides
        Among the additions that reach the goal and have a price, the cheapest of those that also reach the speed
        target (policy target-tokens-per-s), else the cheapest.

        ## Why
        The user asked what to buy next: one answer first, the alternatives beside it. As for the recommended tier,
        a few hundred dollars saved at half the speed target is no recommendation.

        ## Example
        One RTX 3090 and Llama 3.1 70B: a second used 3090 (offloading to RAM is cheaper but too slow).
        """
        done = [f for f in self.facts_of(Upgrade) if f["kind"] == "addition" and f["reaches"] and f["cost_usd"] is not None]
        best = min(done, key=lambda f: ((f["tokens_per_s"] or 0.0) < target, f["cost_usd"], -(f["tokens_per_s"] or 0.0), f["what"]),
                   default=None)
        if best is None:
            verdict = Phrase("no addition to it reaches the goal; the tiers below are a new machine")
        else:
            price = Phrase("nothing to buy") if best["cost_usd"] == 0 else Phrase("{cost_usd:usd}", cost_usd=best["cost_usd"])
            verdict = Phrase("{label}, {price}, ~{tokens_per_s:rate} per user", label=best["label"], price=price,
                             tokens_per_s=best["tokens_per_s"])
        fields = {k: best[k] for k in ("what", "hardware", "count", "added", "precision", "runtime", "tokens_per_s", "label")
                  if best is not None and k in best}
        self.conclude(Upgrade(kind="choice", cost_usd=best["cost_usd"] if best else None, reaches=best is not None, **fields),
                      inputs=[best] if best is not None else [], verdict=verdict)

    @Rule(AS.owned << Owned(), AS.choice << Upgrade(kind="choice", reaches=True, cost_usd=MATCH.cost),
          TEST(lambda cost: cost > 0), AS.workload << Workload(hours_per_day=MATCH.hours), Policy(ownership_years=MATCH.years),
          salience=SALIENCE_CHOICE - 1)
    @rule_meta(id="UPG-rent-instead",
               statement="renting {count} x {hardware} at {usd_per_hour:usd}/h against a {cost:usd} addition: {verdict}",
               message="Renting {count} x {hardware} instead costs {usd_per_hour:usd}/h (~{tokens_per_s:rate} per user), "
               "{year_usd:usd} a year at {hours:g} h/day: {verdict}.",
               sources=["llmhw-assumption"], needs=("hours_per_day",))
    def rent_instead(self: Host, owned: Owned, choice: Upgrade, workload: Workload, cost: float, hours: float, years: float) -> None:
        """## What it decides
        Whether renting the cheapest configuration that reaches the goal costs less than buying the chosen addition,
        over the ownership period at the hours of use given.

        ## Why
        An addition is a purchase like any other: at a few hours a week, renting a GPU by the hour can stay cheaper
        for years.

        ## Example
        A 750 USD second RTX 3090 against a rented 48 GB card at ~0.4 USD/h, 8 h/day: it pays for itself within a year.
        """
        w = self.workload(workload)
        rent = plan.cheapest_rental(_options(self), w, self.catalog)
        if rent is None or rent.cost.cloud_usd_per_hour is None:
            return  # nothing that reaches the goal is rented by the hour in the catalog
        per_hour = rent.cost.cloud_usd_per_hour
        power = None
        if choice["what"] in ("more-cards", "other-card"):
            power = plan.addition_power_usd_per_year(self.catalog.accelerators[choice["hardware"]], choice["added"], w, self.catalog)
        months = money.break_even_months(cost, per_hour, power, hours)
        if months is None:
            verdict = Phrase("the addition's power costs more per hour than the rental, so renting stays cheaper")
        elif months <= years * 12:
            verdict = Phrase("the {cost:usd} addition pays for itself after {months:,.0f} months, so buying it is cheaper over "
                             "{years:g} years", cost=cost, months=months, years=years)
        else:
            verdict = Phrase("the {cost:usd} addition would take {months:,.0f} months to pay for itself: renting is cheaper over "
                             "{years:g} years", cost=cost, months=months, years=years)
        self.conclude(_upgrade("rent", "rent", rent, per_hour * w.hours_per_year, True,
                               f"rent {rent.count} x {self.catalog.accelerators[rent.hardware].name}",
                               usd_per_hour=per_hour, rent_cheaper=months is None or months > years * 12,
                               break_even_months=None if months is None else round(months, 1)),
                      count=rent.count, hardware=self.catalog.accelerators[rent.hardware].name, usd_per_hour=per_hour,
                      tokens_per_s=rent.tokens_per_s, year_usd=per_hour * w.hours_per_year, hours=hours, verdict=verdict)
