"""ART: where the source article is wrong, said next to this workload's own numbers.

Each rule fires only when the consultation touches the claim (the model size, the
format or the technique the claim is about), states what the article claimed, and
what the facts are, with the source.
"""

from __future__ import annotations

from experta import AS, MATCH, TEST

from .. import sizing, training_sizing
from ..facts import MemoryNeed, ModelSpec, Note, Policy, PrecisionSpec, Recommendation, Workload
from ..planner import arch, average_bits, weights_at
from ..units import Phrase
from . import SALIENCE_ADVICE, SEVERAL_DEVICES, Host, Rule, consulted_arch, rule_meta, subject


def weights_in(engine: Host, precision: str) -> int:
    """The weight bytes of the consultation's model at one catalog precision."""
    return weights_at(consulted_arch(engine), engine.catalog.precisions[precision])


def within(value: int, bounds: tuple[int, int]) -> bool:
    """Whether a model's parameter count falls in the range a claim is about (policy article-*-params)."""
    return bounds[0] <= value <= bounds[1]


class ArticleRules:
    @Rule(AS.workload << Workload(), AS.spec << ModelSpec(params=MATCH.params), AS.need << MemoryNeed(kv_cache=MATCH.kv_bytes),
          Policy(article_70b_params=MATCH.bounds, article_70b_claim_bytes=MATCH.claim_bytes),
          TEST(lambda params, bounds: within(params, bounds)), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-70b-needs-64gb", statement="the article's '{claim}' fits no common precision: {q4_bytes:gb} at Q4_K_M, "
               "{q8_bytes:gb} at Q8_0, {bf16_bytes:gb} at BF16",
               message="The article claims {claim}. {model} weights take {q4_bytes:gb} at Q4_K_M, {q8_bytes:gb} at Q8_0 and "
               "{bf16_bytes:gb} at BF16, and this workload's KV cache adds {kv_bytes:gb}: {claim_bytes:gb0} matches no common "
               "precision (public-facts: ollama 70b Q4_K_M 43 GB, Q8_0 74 GB, BF16 checkpoint 140.9 GB).",
               sources=["article", "ollama-tags-notes", "ollama-kr-test", "paddle-mirror"], needs=("model", "context", "concurrency"))
    def seventy_b_needs_64gb(self: Host, workload: Workload, spec: ModelSpec, need: MemoryNeed, params: int, claim_bytes: int,
                             **_: object) -> None:
        """## What it decides
        For a 70B-class model: sets the article's "70B needs 64 GB" against this model's real sizes.

        ## Why
        Q4_K_M is ~43 GB, 8-bit ~74 GB, BF16 ~141 GB, and the KV cache comes on top; 64 GB matches none.

        ## Example
        DeepSeek-R1-Distill-Llama-70B: 42.9 GB at Q4_K_M, 75.0 GB at Q8_0, 141.1 GB at BF16.
        """
        claim = Phrase("a 70B model needs {claim_bytes:gb0} of VRAM", claim_bytes=claim_bytes)
        self.conclude(Note(claim=str(claim)), claim=claim, model=self.catalog.models[workload["model"]].name,
                      q4_bytes=weights_in(self, "q4_k_m"), q8_bytes=weights_in(self, "q8_0"),
                      bf16_bytes=weights_in(self, "bf16"))

    @Rule(AS.workload << Workload(), AS.spec << ModelSpec(params=MATCH.params),
          Policy(article_32b_params=MATCH.bounds, article_32b_claim_bytes=MATCH.claim_bytes),
          TEST(lambda params, bounds: within(params, bounds)), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-32b-on-16gb", statement="the article's '{claim}' is wrong: the 4-bit weights alone are {q4_bytes:gb}",
               message="The article claims {claim}. {model} at Q4_K_M takes {q4_bytes:gb} for the weights alone, more than "
               "{claim_bytes:gb0} before the KV cache (ollama's deepseek-r1:32b file is 19,851,337,809 bytes).",
               sources=["article", "ollama-api-32b"], needs=("model",))
    def thirty_two_b_on_16gb(self: Host, workload: Workload, spec: ModelSpec, params: int, claim_bytes: int, **_: object) -> None:
        """## What it decides
        For a 32B-class model: corrects "4-bit lets 32B run on 16 GB".

        ## Why
        deepseek-r1:32b at Q4_K_M is a 19.9 GB file before any KV cache; it needs ~3-bit weights or CPU offload
        to touch a 16 GB card.

        ## Example
        DeepSeek-R1-Distill-Qwen-32B: 20.0 GB at Q4_K_M.
        """
        claim = Phrase("4-bit quantization lets a 32B model run on {claim_bytes:gb0}", claim_bytes=claim_bytes)
        self.conclude(Note(claim=str(claim)), claim=claim, model=self.catalog.models[workload["model"]].name,
                      q4_bytes=weights_in(self, "q4_k_m"))

    @Rule(AS.workload << Workload(), AS.spec << ModelSpec(params=MATCH.params),
          Policy(article_7b_params=MATCH.bounds, article_7b_claim_bytes=MATCH.claim_bytes),
          TEST(lambda params, bounds: within(params, bounds)), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-7b-needs-8gb", statement="the article's '{claim}' holds only at 4-bit: {q4_bytes:gb} at Q4_K_M, {bf16_bytes:gb} at BF16",
               message="The article claims {claim}. That holds only at 4-bit: {model} takes {q4_bytes:gb} at Q4_K_M but "
               "{bf16_bytes:gb} at BF16, plus the KV cache.",
               sources=["article", "ollama-api-14b-7b", "paddle-mirror"], needs=("model",))
    def seven_b_needs_8gb(self: Host, workload: Workload, spec: ModelSpec, params: int, claim_bytes: int, **_: object) -> None:
        """## What it decides
        For a 7B-class model: qualifies "7B needs at least 8 GB".

        ## Why
        The Q4_K_M file of deepseek-r1:7b is 4.68 GB, so 8 GB is enough at 4-bit with moderate context; BF16
        weights alone are 15.2 GB.

        ## Example
        DeepSeek-R1-Distill-Qwen-7B: 4.6 GB at Q4_K_M, 15.2 GB at BF16.
        """
        claim = Phrase("a 7B model needs at least {claim_bytes:gb0} of VRAM", claim_bytes=claim_bytes)
        self.conclude(Note(claim=str(claim)), claim=claim, model=self.catalog.models[workload["model"]].name,
                      q4_bytes=weights_in(self, "q4_k_m"), bf16_bytes=weights_in(self, "bf16"))

    @Rule(subject(precision=MATCH.precision_id), PrecisionSpec(id=MATCH.precision_id, bits_per_weight=MATCH.bits),
          PrecisionSpec(id="bf16", bits_per_weight=MATCH.bf16_bits),
          Policy(article_4bit_bits=MATCH.bits_range, article_4bit_saving=MATCH.claimed_saving),
          TEST(lambda bits, bits_range: bits_range[0] <= bits < bits_range[1]), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-4bit-saves-75", statement="the article's '{claim}' overstates it: {precision} saves {saving:pct} of the weights here",
               message="The article claims {claim}. {precision} stores {bits:g} bits per weight with its scales, so it saves "
               "{saving:pct} of the 16-bit weights, and nothing of the KV cache or activations.",
               sources=["article", "llamacpp-quant", "kquant-pr"], needs=("precision",))
    def four_bit_saves_75(self: Host, rec: Recommendation, precision_id: str, bits: float, bf16_bits: float, claimed_saving: float,
                          **_: object) -> None:
        """## What it decides
        When the chosen configuration uses a 4-bit format: what it really saves.

        ## Why
        75% holds only for ideal 4.0-bit weights against 16-bit; real formats carry scales and keep some tensors
        wider (Q4_K_M ~4.9 bits, AWQ ~4.5 bits), so the saving is ~69-72%, and the KV cache is not reduced.

        ## Example
        Q4_K_M saves 69.5% of BF16 weight memory.
        """
        claim = Phrase("4-bit quantization cuts VRAM by {claimed_saving:pct}", claimed_saving=claimed_saving)
        precision = self.catalog.precisions[precision_id]
        bits = average_bits(consulted_arch(self), precision)  # an experts-only format (MXFP4) averages more bits
        self.conclude(Note(claim=str(claim)), claim=claim, precision=precision.name, bits=bits, saving=1 - bits / bf16_bits)

    @Rule(AS.workload << Workload(), AS.spec << ModelSpec(params=MATCH.params, native_precision=MATCH.native),
          PrecisionSpec(id=MATCH.native, bits_per_weight=MATCH.native_bits), PrecisionSpec(id="q4_k_m", bits_per_weight=MATCH.q4_bits),
          Policy(article_mac_bytes=MATCH.mac_bytes),
          TEST(lambda params, native_bits, q4_bits, mac_bytes:
               sizing.weight_bytes(params, q4_bits) <= mac_bytes < sizing.weight_bytes(params, native_bits)),
          salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-671b-on-mac", statement="the article's '{claim}' holds only quantized: {q4_bytes:gb} at Q4_K_M, {native_bytes:gb} as released",
               message="The article claims {claim}. Only quantized: {model} takes {q4_bytes:gb} at Q4_K_M, which fits in "
               "{mac_bytes:gb0}, but {native_bytes:gb} at its released {native_name}, which does not.",
               sources=["article", "apple-m3ultra", "ollama-tags-notes", "paddle-mirror"], needs=("model",))
    def r1_on_mac(self: Host, workload: Workload, spec: ModelSpec, params: int, native: str, native_bits: float, q4_bits: float,
                  mac_bytes: int) -> None:
        """## What it decides
        For a model larger than a 512 GB Mac Studio's memory at its native precision: when it fits there.

        ## Why
        The M3 Ultra Mac Studio offers up to 512 GB of unified memory; DeepSeek-R1's released FP8 weights are
        ~687 GB, its Q4_K_M ~404 GB.

        ## Example
        DeepSeek-R1 671B: ~410 GB at Q4_K_M fits, ~690 GB at FP8 does not.
        """
        native_bytes = weights_at(arch(self.catalog.models[workload["model"]]), self.catalog.precisions[native])
        q4 = sizing.weight_bytes(params, q4_bits)
        claim = Phrase("DeepSeek-R1 671B runs on a {mac_bytes:gb0} Mac Studio", mac_bytes=mac_bytes)
        self.conclude(Note(claim=str(claim)), claim=claim, model=self.catalog.models[workload["model"]].name, q4_bytes=q4,
                      native_bytes=native_bytes, native_name=native.upper())

    @Rule(AS.workload << Workload(task="finetune"), subject(), SEVERAL_DEVICES,
          Policy(article_zero3_saving=MATCH.claimed_saving), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-zero3-saves-70",
               statement="the article's '{claim}' is no constant: over {count} devices ZeRO-3 saves {saving:pct} of model states",
               message="The article claims {claim}. ZeRO-3 divides weights, gradients and optimizer states by the number of "
               "devices: over {count} it saves {saving:pct} of them, and nothing of the activations (Rajbhandari et al., ZeRO).",
               sources=["article", "zero-paper"], needs=("task",))
    def zero3_saves_70(self: Host, workload: Workload, rec: Recommendation, claimed_saving: float) -> None:
        """## What it decides
        For full training over several devices: what ZeRO-3 really saves here.

        ## Why
        ZeRO-3 divides model states by the number of devices (1 - 1/N saved), never the activations; the
        article's "70%" is one point of that curve (N = 3.3).

        ## Example
        Over 8 GPUs ZeRO-3 saves 87.5% of model states.
        """
        count = self.option(rec).count
        claim = Phrase("ZeRO-3 reduces memory by {claimed_saving:pct}", claimed_saving=claimed_saving)
        self.conclude(Note(claim=str(claim)), claim=claim, count=count, saving=training_sizing.zero3_saving(count))

    @Rule(AS.workload << Workload(ecosystem="tpu"), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-tpu-tensorflow-only", statement="the article's '{claim}' is wrong: TPUs run JAX, PyTorch/XLA and TensorFlow",
               message="The article claims {claim}. Cloud TPU documents TensorFlow, PyTorch/XLA and JAX (MaxText is Google's JAX "
               "reference stack for LLMs); the 'not local' half is right: TPUs are rented from Google Cloud only.",
               sources=["article", "gcp-tpu-frameworks", "maxtext"], needs=("ecosystem",))
    def tpu_tensorflow_only(self: Host, workload: Workload) -> None:
        """## What it decides
        When TPUs are considered: corrects "TPUs support only TensorFlow".

        ## Why
        Google documents TensorFlow, PyTorch (PyTorch/XLA) and JAX on Cloud TPU; MaxText, Google's reference LLM
        stack, is JAX. The lock-in is Google Cloud itself, not one framework.

        ## Example
        Serving Llama on TPU v6e with vLLM TPU or JetStream.
        """
        claim = "TPUs support only TensorFlow and cannot be used locally"
        self.conclude(Note(claim=str(claim)), claim=claim)
