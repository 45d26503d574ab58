"""P1, P2, P3: the article's three pitfalls, with what each costs this workload."""

from __future__ import annotations

from dataclasses import replace

from experta import AS, MATCH, TEST, P

from .. import host_sizing
from ..facts import Candidate, Fit, HostNeed, Mode, Policy, PrecisionSpec, Recommendation, Tip, Warning, Workload
from ..planner import QUALITY_RANK, SELF_HOSTED, cheapest, cheapest_meeting, enumerate_options, meets, node_host
from ..profile import TRAINING_TASKS
from ..units import GB, Phrase
from . import SALIENCE_ADVICE, Host, Rule, rule_meta, subject
from .candidates import considered

# Host needs are worked out just before the advice that reads them.
SALIENCE_HOST_NEED = SALIENCE_ADVICE + 1
KNOWN = P(lambda v: v is not None)
OWNED = P(lambda d: d != "cloud")
# Devices that sit in a separate host, whose CPU and RAM are bought apart from them. A CPU host, a unified-memory
# machine (Mac, DGX Spark, Strix Halo) or a laptop NPU is its own host: its RAM is the device memory the fit already counts.
IN_A_HOST = P(lambda kind: kind in ("gpu", "tpu"))
HAS_CORES_TO_SIZE = P(lambda kind: kind in ("gpu", "tpu", "cpu"))  # a CPU host runs the model on the cores it has


def each_of(nodes: int) -> Phrase:
    """Names the node a host need is for, when the configuration spans several (one host box per node)."""
    return Phrase(" in each of {nodes} nodes", nodes=nodes) if nodes > 1 else Phrase("")


def compared_tier(recommended_usd: float | None, cost_usd: float | None) -> str:
    """The tier an oversized proposal is compared with: the recommended one if it is cheaper, else the minimum."""
    cheaper = recommended_usd is not None and cost_usd is not None and recommended_usd < cost_usd
    return "recommended" if cheaper else "minimum"


class PitfallRules:
    @Rule(AS.fit << Fit(fits=True, utilization=MATCH.used, cost_usd=MATCH.cost_usd),
          Policy(p1_max_utilization=MATCH.limit, p1_min_waste_usd=MATCH.min_waste_usd),
          TEST(lambda used, limit: used is not None and used < limit),
          Recommendation(tier="recommended", cost_usd=MATCH.recommended_usd),
          AS.alt << Recommendation(tier=MATCH.tier, cost_usd=MATCH.alt_cost_usd),
          TEST(lambda tier, recommended_usd, cost_usd: tier == compared_tier(recommended_usd, cost_usd)),
          TEST(lambda cost_usd, alt_cost_usd, min_waste_usd:
               cost_usd is not None and alt_cost_usd is not None and cost_usd - alt_cost_usd >= min_waste_usd),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="P1-oversized-vram",
               statement="{count} x {hardware} uses {used:pct} of its memory; {alt_count} x {alt_hardware} ({alt_precision}) fits for "
               "{saving_usd:usd} less",
               message="{count} x {hardware} would sit {idle:pct} idle: this workload needs {need_bytes:gb} of {usable_bytes:gb} per "
               "device. {alt_count} x {alt_hardware} ({alt_precision}), the {tier} tier, also fits, for {alt_cost_usd:usd} instead of "
               "{cost_usd:usd}: {saving_usd:usd} at stake, at {alt_tokens_per_s:rate} instead of {tokens_per_s:rate} per user.",
               sources=["article"], needs=("model", "precision", "context", "concurrency"))
    def oversized_proposal(self: Host, fit: Fit, alt: Recommendation, used: float, cost_usd: float, alt_cost_usd: float, tier: str,
                           **_: object) -> None:
        """## What it decides
        Flags a configuration whose memory is far beyond the need at the chosen precision, with the money
        a smaller configuration that also fits would save.

        ## Why
        The article's first pitfall, "more VRAM is always better": an 80 GB A100 for a 7B model gains little
        speed at many times the cost ("a luxury kitchen used to boil instant noodles").

        ## Example
        `llmhw check --model deepseek-r1:7b --hardware "A100 80GB" --precision q4_k_m` warns with the saving.

        ## Limits
        Fires when the need fills less than the policy's share of memory and the saving is worth a warning. The
        proposal is compared with the recommended tier if that is cheaper, else with the minimum; with no
        recommended tier (no candidate reaches the quality floor) it makes no comparison.
        """
        option, other = self.option(fit), self.option(alt)
        saving = cost_usd - alt_cost_usd
        self.conclude(
            Warning(at_stake_usd=round(saving, 2)),
            count=option.count, hardware=self.catalog.accelerators[option.hardware].name, idle=1 - used,
            need_bytes=option.memory.total, usable_bytes=option.usable_bytes, alt_count=other.count,
            alt_hardware=self.catalog.accelerators[other.hardware].name, alt_precision=other.precision, saving_usd=saving,
            alt_tokens_per_s=other.tokens_per_s, tokens_per_s=option.tokens_per_s,
        )

    @Rule(AS.rec << Recommendation(tier="best-in-budget", cost_usd=MATCH.cost_usd),
          AS.cheap << Recommendation(tier="recommended", cost_usd=MATCH.base_usd), Mode(kind="recommend"),
          Policy(p1_min_waste_usd=MATCH.min_waste_usd),
          TEST(lambda cost_usd, base_usd, min_waste_usd: cost_usd is not None and base_usd is not None and cost_usd - base_usd >= min_waste_usd),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="P1-oversized-tier",
               statement="the best-in-budget option costs {extra_usd:usd} more than the recommended one for only {gain:.2f}x the throughput",
               message="The best-in-budget option ({count} x {hardware}) costs {extra_usd:usd} more than the recommended one for "
               "{gain:.2f}x its throughput ({tokens_per_s:rate} against {base_tokens_per_s:rate}) and fills {used:pct} of its memory. {use}",
               sources=["article"], needs=("budget",))
    def oversized_tier(self: Host, rec: Recommendation, cheap: Recommendation, cost_usd: float, base_usd: float, **_: object) -> None:
        """## What it decides
        Warns when spending the budget on the top tier buys little more than the recommended tier gives.

        ## Why
        Pitfall P1 applies to our own top tier too: a bigger budget is not a reason to buy capacity the
        workload does not turn into speed.

        ## Example
        A 7B model with a 40,000 USD budget: the best tier costs 30,000 USD more for 1.2x the throughput.

        ## Limits
        The throughput ratio is read from the tiers' options, not from the Recommendation facts, so its test
        (below the policy's p1-min-speed-gain) is made in the body.
        """
        option, base_option = self.option(rec), self.option(cheap)
        gain = (option.total_tokens_per_s or 0) / (base_option.total_tokens_per_s or 1)
        if gain >= self.policy.p1_min_speed_gain:
            return
        growth = "planned growth (longer contexts, more users, larger models)"
        use = (Phrase("What it buys is quality ({quality} weights against {base_quality}): buy it for that or for " + growth + ".",
                      quality=option.quality, base_quality=base_option.quality)
               if QUALITY_RANK[option.quality] > QUALITY_RANK[base_option.quality] else Phrase("Buy it only for " + growth + "."))
        self.conclude(
            Warning(at_stake_usd=round(cost_usd - base_usd, 2)),
            extra_usd=cost_usd - base_usd, gain=gain, count=option.count, hardware=self.catalog.accelerators[option.hardware].name,
            tokens_per_s=option.total_tokens_per_s, base_tokens_per_s=base_option.total_tokens_per_s, used=option.utilization,
            use=use,
        )

    @Rule(AS.workload << Workload(), subject(any_verdict=True),
          # the policy node_host sizes the RAM with, matched so that the trace names it
          Policy(host_ram_per_weights=MATCH.ram_per_weights, host_os_reserve_bytes=MATCH.reserve_bytes),
          salience=SALIENCE_HOST_NEED)
    @rule_meta(id="P2-host-need",
               statement="the host around {count} x {hardware}{each} needs {cores} CPU cores ({runtime}) and {ram_bytes:gb} of RAM "
               "to load {weights_bytes:gb} of weights",
               sources=["article", "vllm-cpu-resources", "llamacpp-pr-2915", "mle-cpu-cores", "gk-h100"],
               needs=("concurrency", "task"))
    def host_need(self: Host, workload: Workload, rec: Recommendation, **_: object) -> None:
        """## What it decides
        The CPU cores and RAM the host around the configuration under discussion needs, which the other P2 rules
        compare with the host the user has (or describe, when none is given), whether the configuration fits or not.
        The cores are the ones each tier's host box is bought with, so the advice and the tier's price never disagree.

        ## Why
        The article's second pitfall: the accelerators wait on a starved CPU, and loaders stage the checkpoint through
        host RAM. The cores are what the runtime keeps busy, as its own documentation counts them: vLLM's API server
        and engine core per replica and a worker per GPU (2 + N at least), llama.cpp's single thread when every layer
        is on the GPUs, a training process per GPU plus the system's share; serving many users adds tokenization.

        ## Example
        Two GPUs running two vLLM replicas for 20 users: 2 API servers + 2 engine cores + 2 workers + 1 coordinator,
        plus one core per 16 users, 9 cores in all; the same GPUs under llama.cpp for one user need 2.

        ## Limits
        A runtime that publishes no figure (TensorRT-LLM, JAX on TPU) is counted at policy host-cores-per-device, DGX
        H100's share; DataLoader workers a training script adds take one core each on top.
        """
        option = self.option(rec)
        w = self.workload(workload)
        accel = self.catalog.accelerators[option.hardware]
        runtime = self.catalog.runtimes[option.runtime]
        need = node_host(w, accel, runtime, option.count, option.layout, option.checkpoint_bytes, self.catalog)  # as the tier buys each node's
        buy = accel.counted_prices[0]
        self.conclude(HostNeed(count=need.cards, hardware=accel.name, kind=rec["kind"], system=bool(buy and buy.system),
                               cores=need.cores, ram_bytes=need.ram_bytes, weights_bytes=need.weights_bytes, runtime=runtime.id,
                               nodes=need.boxes),
                      count=need.cards, hardware=accel.name, each=each_of(need.boxes), cores=need.cores, runtime=runtime.name,
                      ram_bytes=need.ram_bytes, weights_bytes=need.weights_bytes)

    @Rule(AS.workload << Workload(cpu_cores=MATCH.cores & KNOWN, concurrency=MATCH.users, task=MATCH.task),
          AS.host << HostNeed(cores=MATCH.need, count=MATCH.count, hardware=MATCH.hardware, runtime=MATCH.runtime_id,
                              kind=HAS_CORES_TO_SIZE),
          Policy(host_users_per_core=MATCH.users_per_core),
          TEST(lambda cores, need: cores < need), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-weak-cpu", statement="{cores} CPU cores feed {count} x {hardware}: {need} are needed",
               message="The host has {cores} CPU cores; {count} x {hardware} {use} wants at least {need} ({why}). With fewer, "
               "the accelerators wait on the CPU: the article reports whole-system efficiency dropping 50% or more.",
               sources=["article", "vllm-cpu-resources", "llamacpp-pr-2915", "mle-cpu-cores", "gk-h100"], needs=("cpu_cores", "concurrency"))
    def weak_cpu(self: Host, workload: Workload, host: HostNeed, cores: int, need: int, users: int, task: str, runtime_id: str,
                 users_per_core: int, **_: object) -> None:
        """## What it decides
        Whether the host's CPU cores can drive the accelerators and the users' requests.

        ## Why
        The article's second pitfall: the CPU preprocesses and schedules; a weak one can halve the whole
        system's efficiency. Each GPU wants cores for kernel launches and data, and serving many users adds
        tokenization and scheduling work.

        ## Example
        A 70B model on two GPUs for 20 users from a 4-core host: vLLM's API server, engine core and two workers, and
        two cores for the users, 6 in all. The same GPUs serving one user through llama.cpp need 2.
        """
        runtime = self.catalog.runtimes[runtime_id]
        system = runtime.host_cores.system if runtime.host_cores else 0
        runs = (Phrase("the cores that run the model") if host["kind"] in SELF_HOSTED
                else Phrase("the processes {runtime} runs on the host and {system} for the system", runtime=runtime.name, system=system)
                if system else Phrase("the processes {runtime} runs on the host", runtime=runtime.name))
        training = task in TRAINING_TASKS
        use = Phrase("training") if training else Phrase("serving {users} user(s)", users=users)
        why = runs if training else Phrase("{runs}, plus one per {users_per_core} concurrent users", runs=runs, users_per_core=users_per_core)
        self.conclude(Warning(shortfall=need - cores), use=use, why=why)

    @Rule(AS.workload << Workload(ram_gb=MATCH.ram_gb & KNOWN),
          AS.host << HostNeed(ram_bytes=MATCH.need_bytes, weights_bytes=MATCH.weights_bytes, kind=IN_A_HOST),
          Policy(host_os_reserve_bytes=MATCH.reserve_bytes),
          TEST(lambda ram_gb, need_bytes: ram_gb * GB < need_bytes), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-small-ram", statement="{have_bytes:gb} of system RAM is below the {need_bytes:gb} needed to load {weights_bytes:gb} of weights",
               message="The host has {have_bytes:gb} of RAM; loading {weights_bytes:gb} of weights plus {reserve_bytes:gb} for the "
               "system wants {need_bytes:gb}. Loading will swap or fail: add {short_bytes:gb} of RAM.",
               sources=["article"], needs=("ram_gb",))
    def small_ram(self: Host, workload: Workload, host: HostNeed, ram_gb: float, need_bytes: float, **_: object) -> None:
        """## What it decides
        Whether system RAM can hold the checkpoint while it loads, with room for the operating system.

        ## Why
        The article: too little RAM makes loading slow or crash. Loaders stage weights through host memory.

        ## Example
        A 70B model (141 GB in BF16, 40 GB at 4-bit) on a host with 16 GB RAM.
        """
        have = ram_gb * GB
        self.conclude(Warning(shortfall_bytes=int(need_bytes - have)), have_bytes=have, short_bytes=need_bytes - have)

    @Rule(AS.workload << Workload(cpu_cores=None, deployment=OWNED),
          AS.host << HostNeed(count=MATCH.count, hardware=MATCH.hardware, cores=MATCH.cores, ram_bytes=MATCH.ram_bytes,
                              weights_bytes=MATCH.weights_bytes, kind=IN_A_HOST, system=False),
          Policy(host_isa_required=MATCH.isa), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-host-sizing", statement="the host for {count} x {hardware}{each} needs at least {cores} cores and {ram_bytes:gb} of RAM",
               message="Host for {count} x {hardware}{each}: at least {cores} CPU cores with {isa_name}, {ram_bytes:gb} of RAM (to load "
               "{weights_bytes:gb} of weights) and an NVMe SSD. Give --cpu-cores and --ram to check a host you already have.",
               sources=["article", "vllm-cpu-resources", "llamacpp-pr-2915", "mle-cpu-cores", "gk-h100"], needs=("cpu_cores", "ram_gb"))
    def host_sizing(self: Host, workload: Workload, host: HostNeed, isa: str, **_: object) -> None:
        """## What it decides
        When the user has not described a host, what the host around the accelerators needs (for devices that sit in
        one: a Mac, a DGX Spark or a CPU host is its own host, and an HGX/DGX server or an NVL72 rack is bought with its
        own CPUs, whose sizing is the vendor's).

        ## Why
        Pitfall P2 is avoided at purchase time: cores and RAM are cheap next to the accelerators they feed. The need is
        P2-host-need's, the one the tier's host box is bought with, so the tip never asks for more than the price includes.

        ## Example
        Two 96 GB GPUs running two vLLM replicas of a 70B model for 20 users: at least 9 cores, 48 GB of RAM and an NVMe drive.
        """
        self.conclude(Tip(), isa_name=isa.upper(), each=each_of(host["nodes"]))

    @Rule(AS.workload << Workload(ecosystem="tpu", deployment=MATCH.deployment), salience=SALIENCE_ADVICE)
    @rule_meta(id="P3-tpu-lock-in",
               statement="TPUs tie the workload to Google Cloud ({deployment} deployment asked); the GPU alternative is {alternative}",
               message="TPUs are rented only through Google Cloud.{consequence} They run JAX, PyTorch/XLA and TensorFlow (not "
               "TensorFlow only, as the article says), but CUDA-specific kernels and serving stacks do not carry over. GPU "
               "alternative: {alternative}.",
               sources=["gcp-tpu-frameworks", "maxtext", "article"], needs=("ecosystem", "deployment"))
    def tpu_lock_in(self: Host, workload: Workload, deployment: str) -> None:
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
        alt = cheapest_meeting(w, model, gpus, self.catalog, self.policy.quality_floor_recommended)
        if alt is None:
            alternative = Phrase("no CUDA configuration in the catalog for this workload")
        else:
            basis = " (purchase)" if alt.cost.basis == "purchase" else " per year of rental"
            alternative = Phrase("{count} x {hardware} at {precision} for {cost_usd:usd}{basis}", count=alt.count,
                                 hardware=self.catalog.accelerators[alt.hardware].name, precision=alt.precision,
                                 cost_usd=alt.cost.budget_usd, basis=basis)
        consequence = (" TPUs are not sold: a local or air-gapped deployment cannot use them at all." if deployment != "cloud" else
                       " Every job, dataset and checkpoint lives in Google Cloud; moving away later means re-validating on another stack.")
        self.conclude(Warning(), alternative=alternative, consequence=consequence)

    @Rule(AS.workload << Workload(task="inference"),  # training keeps 16-bit weights (quantized training is the qlora task)
          AS.fit << Fit(fits=True, utilization=MATCH.used, cost_usd=MATCH.cost_usd, precision=MATCH.precision),
          Policy(p1_max_utilization=MATCH.limit, p1_min_waste_usd=MATCH.min_waste_usd),
          TEST(lambda used, limit, cost_usd: cost_usd is not None and used >= limit),  # below the limit, P1-oversized-vram speaks
          PrecisionSpec(id=MATCH.precision, bits_per_weight=MATCH.bits), PrecisionSpec(id="bf16", bits_per_weight=MATCH.bf16_bits),
          TEST(lambda bits, bf16_bits: bits >= bf16_bits),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="P1-quantize-instead",
               statement="{count} x {hardware} at {precision} costs {cost_usd:usd}; {alt_count} x {alt_hardware} at {alt_precision} "
               "serves the same speed need for {saving_usd:usd} less",
               message="{count} x {hardware} holds the {precision_name} weights, but {alt_count} x {alt_hardware} at {alt_precision} "
               "({alt_quality}) reaches {alt_tokens_per_s:rate} per user (here {tokens_per_s:rate}) for {alt_cost_usd:usd} instead of "
               "{cost_usd:usd}: {saving_usd:usd} at stake.",
               sources=["article", "kquant-pr"], needs=("precision", "concurrency"))
    def quantize_instead(self: Host, workload: Workload, fit: Fit, cost_usd: float, precision: str, bits: float, min_waste_usd: float,
                         **_: object) -> None:
        """## What it decides
        Flags a proposed 16-bit configuration when a smaller card with 8-bit or 4-bit weights reaches the same
        speed per user for less money.

        ## Why
        Pitfall P1 in its quieter form: the memory is used, but only because the weights are stored wider than
        the quality needs. Near-lossless 8-bit or small-loss 4-bit formats halve or quarter that memory.

        ## Example
        A 32B model in BF16 on an 80 GB card, where a 48 GB card at FP8 is as fast and costs less.

        ## Limits
        Inference only. The cheaper configuration with narrower weights is sized in the body (the candidates hold
        only the precision asked for), so whether one exists is tested there.
        """
        option = self.option(fit)
        speed = option.tokens_per_s or 0
        # The candidates hold the precision asked for; the narrower formats are sized here, on the hardware not excluded.
        w = replace(self.workload(workload), precision="auto")
        accels = considered(self)
        narrower = [o for o in enumerate_options(w, self.catalog.models[w.model], accels, self.catalog)
                    if self.catalog.precisions[o.precision].bits_per_weight < bits]
        alt = cheapest(o for o in narrower if meets(o, self.policy.quality_floor_recommended, speed) and o.cost.budget_usd is not None
                       and cost_usd - o.cost.budget_usd >= min_waste_usd)
        if alt is None:
            return
        saving = cost_usd - (alt.cost.budget_usd or 0)
        self.conclude(
            Warning(at_stake_usd=round(saving, 2)),
            count=option.count, hardware=self.catalog.accelerators[option.hardware].name, precision_name=precision.upper(),
            alt_count=alt.count, alt_hardware=self.catalog.accelerators[alt.hardware].name, alt_precision=alt.precision,
            alt_quality=alt.quality, alt_tokens_per_s=alt.tokens_per_s, tokens_per_s=option.tokens_per_s, alt_cost_usd=alt.cost.budget_usd,
            saving_usd=saving,
        )

    @Rule(AS.workload << Workload(deployment=OWNED), AS.host << HostNeed(weights_bytes=MATCH.weights_bytes),
          Policy(sata_gbs=MATCH.sata_gbs, nvme_gbs=MATCH.nvme_gbs, slow_load_seconds=MATCH.slow_s),
          TEST(lambda weights_bytes, sata_gbs, slow_s: host_sizing.load_seconds(weights_bytes, sata_gbs) > slow_s),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-slow-storage", statement="loading {weights_bytes:gb} takes {sata_s:min} from a SATA SSD and {nvme_s:min} from NVMe",
               message="Loading {weights_bytes:gb} of weights takes ~{sata_s:min} from a SATA SSD but ~{nvme_s:min} from an NVMe "
               "drive ({nvme_gbs} GB/s): keep checkpoints on NVMe (or several in RAID 0) so restarts and scaling do not stall.",
               sources=["article", "llmhw-assumption"], needs=("deployment", "model"))
    def slow_storage(self: Host, workload: Workload, host: HostNeed, weights_bytes: float, sata_gbs: float, nvme_gbs: float,
                     **_: object) -> None:
        """## What it decides
        For large checkpoints: whether the storage it loads from matters.

        ## Why
        Pitfall P2 includes slow storage: every restart reads the whole checkpoint; at SATA speed (~0.55 GB/s)
        a few hundred gigabytes take minutes, at NVMe speed seconds.

        ## Example
        DeepSeek-R1 671B at FP8: ~690 GB, 21 minutes from SATA, 3 minutes from one NVMe drive.
        """
        sata = host_sizing.load_seconds(weights_bytes, sata_gbs)
        nvme = host_sizing.load_seconds(weights_bytes, nvme_gbs)
        self.conclude(Tip(effect_s=round(sata - nvme)), sata_s=sata, nvme_s=nvme)

    @Rule(subject(any_verdict=True, kind="cpu"), Policy(host_isa_required=MATCH.required), salience=SALIENCE_ADVICE)
    @rule_meta(id="P2-cpu-isa", statement="{hardware} runs the model on its CPU: {isa} is {verdict}",
               message="{hardware} runs the model on its CPU cores; instruction sets {isa}: {verdict}. Decode speed follows memory "
               "bandwidth ({bandwidth_gbs:g} GB/s).",
               sources=["article", "llamacpp-issue-34"], needs=("ecosystem",))
    def cpu_isa(self: Host, rec: Recommendation, required: str) -> None:
        """## What it decides
        When the configuration runs the model on a CPU: whether its instruction set suits LLM kernels.

        ## Why
        The article: AVX2/AVX-512 matter. llama.cpp's fast kernels need AVX2; AVX-512 (and AMX on Xeon)
        speed up prompt processing, while decode stays bound by memory bandwidth.

        ## Example
        A Core i5-12400 has AVX2 but not AVX-512: fine for decode, slower prompts.
        """
        accel = self.catalog.accelerators[self.option(rec).hardware]
        has = set(accel.isa)
        verdict = ("missing: llama.cpp will be several times slower" if required not in has else
                   "enough; AVX-512/AMX would speed up prompt processing" if not has & {"avx512", "amx"} else "well suited")
        kind = Warning if required not in has else Tip
        self.conclude(kind(), hardware=accel.name, isa=", ".join(sorted(has)) or "unknown", verdict=verdict,
                      bandwidth_gbs=accel.mem_bandwidth_gbs)

    @Rule(AS.workload << Workload(ecosystem="any", deployment="cloud"), AS.rec << Recommendation(kind="tpu", tier=MATCH.tier),
          Mode(kind="recommend"), Policy(p3_alternative_min_speed_share=MATCH.share), salience=SALIENCE_ADVICE)
    @rule_meta(id="P3-tpu-in-ranking",
               statement="the {tier} tier is a TPU: it ties serving to Google Cloud; the GPU alternative is {alternative}",
               message="The {tier} tier is {count} x {hardware} ({usd_per_hour:usd}/h). TPUs are rented from Google Cloud only: "
               "multi-cloud or a later move on-premises means porting to another stack (JAX, PyTorch/XLA and TensorFlow run on TPU; "
               "CUDA kernels do not). GPU alternative: {alternative}.",
               sources=["gcp-tpu-frameworks", "article"], needs=("ecosystem", "deployment"))
    def tpu_in_ranking(self: Host, workload: Workload, rec: Recommendation, tier: str, share: float) -> None:
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
        alt = cheapest(o for o in gpus if (o.tokens_per_s or 0) >= (option.tokens_per_s or 0) * share) or cheapest(gpus)
        alternative = (Phrase("{count} x {hardware} at {usd_per_hour:usd}/h", count=alt.count,
                              hardware=self.catalog.accelerators[alt.hardware].name, usd_per_hour=alt.cost.cloud_usd_per_hour)
                       if alt else Phrase("none in the catalog"))
        self.conclude(Warning(tier=tier), count=option.count, hardware=self.catalog.accelerators[option.hardware].name,
                      usd_per_hour=option.cost.cloud_usd_per_hour, alternative=alternative)

    @Rule(AS.workload << Workload(ram_gb=MATCH.ram_gb & KNOWN),
          AS.tip << Tip(id="MOE-expert-offload", effect_bytes=MATCH.experts_bytes), Policy(host_os_reserve_bytes=MATCH.reserve_bytes),
          TEST(lambda ram_gb, experts_bytes, reserve_bytes: ram_gb * GB < experts_bytes + reserve_bytes), salience=SALIENCE_ADVICE - 1)
    @rule_meta(id="P2-offload-ram", statement="offloading {experts_bytes:gb} of experts needs {need_bytes:gb} of RAM; the host has {have_bytes:gb}",
               message="Expert offload puts {experts_bytes:gb} of weights in system RAM; with the system's share that needs "
               "{need_bytes:gb}, and the host has {have_bytes:gb}: it would swap. Add {short_bytes:gb} of RAM or choose a GPU "
               "configuration.",
               sources=["article", "llmhw-assumption"], needs=("ram_gb",))
    def offload_ram(self: Host, workload: Workload, tip: Tip, ram_gb: float, experts_bytes: int, reserve_bytes: int) -> None:
        """## What it decides
        When expert offload is suggested: whether the host's RAM can hold the offloaded experts.

        ## Why
        Pitfall P2: offloading moves the weights to system RAM, so RAM, not VRAM, becomes the limit; too little
        and the system swaps.

        ## Example
        Qwen3-235B-A22B's experts at Q4_K_M (~140 GB) on a 64 GB host.
        """
        need, have = experts_bytes + reserve_bytes, ram_gb * GB
        self.conclude(Warning(shortfall_bytes=int(need - have)), need_bytes=need, have_bytes=have, short_bytes=need - have)
