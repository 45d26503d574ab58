"""ART: where the source article is wrong, said next to this workload's own numbers.

Each rule fires only when the consultation touches the claim (the model size, the
format or the technique the claim is about), states what the article claimed, and
what the facts are, with the source.
"""

from __future__ import annotations

from typing import Any

from experta import AS, Rule

from .. import sizing
from ..facts import MemoryNeed, Note, Workload
from ..units import gb, pct
from . import SALIENCE_ADVICE, rule_meta, subject


def _in(value: int, bounds: Any) -> bool:
    return bounds[0] <= value <= bounds[1]


def _memory_need(engine: Any) -> dict[str, Any]:
    needs = engine.facts_of(MemoryNeed)
    return dict(needs[0]) if needs else {}


def _note(engine: Any, rule_id: str, claim: str, facts: str, **bindings: Any) -> None:
    engine.conclude(Note(id=rule_id, claim=claim, message=f"The article claims {claim}. {facts}"), claim=claim, **bindings)


class ArticleRules:
    @Rule(AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-70b-needs-64gb", statement="the article's '{claim}' fits no common precision: {sizes}",
               sources=["article", "ollama-tags-notes", "ollama-kr-test", "paddle-mirror"], needs=("model", "context", "concurrency"))
    def seventy_b_needs_64gb(self: Any, workload: Workload) -> None:
        """## What it decides
        For a 70B-class model: sets the article's "70B needs 64 GB" against this model's real sizes.

        ## Why
        Q4_K_M is ~43 GB, 8-bit ~74 GB, BF16 ~141 GB, and the KV cache comes on top; 64 GB matches none.

        ## Example
        DeepSeek-R1-Distill-Llama-70B: 42.9 GB at Q4_K_M, 75.0 GB at Q8_0, 141.1 GB at BF16.
        """
        model = self.catalog.models[workload["model"]]
        if not _in(model.params, self.catalog.value("article-70b-params")):
            return
        sizes = {p: sizing.weight_bytes(model.params, self.catalog.precisions[p].bits_per_weight) for p in ("q4_k_m", "q8_0", "bf16")}
        need = _memory_need(self)
        facts = (f"{model.name} weights take {gb(sizes['q4_k_m'])} at Q4_K_M, {gb(sizes['q8_0'])} at Q8_0 and {gb(sizes['bf16'])} "
                 f"at BF16, and this workload's KV cache adds {gb(need.get('kv_cache'))}: 64 GB matches no common precision "
                 f"(public-facts: ollama 70b Q4_K_M 43 GB, Q8_0 74 GB, BF16 checkpoint 140.9 GB).")
        _note(self, "ART-70b-needs-64gb", "a 70B model needs 64 GB of VRAM", facts, sizes=facts)

    @Rule(AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-32b-on-16gb", statement="the article's '{claim}' is wrong: the 4-bit weights alone are {size}",
               sources=["article", "ollama-api-32b"], needs=("model",))
    def thirty_two_b_on_16gb(self: Any, workload: Workload) -> None:
        """## What it decides
        For a 32B-class model: corrects "4-bit lets 32B run on 16 GB".

        ## Why
        deepseek-r1:32b at Q4_K_M is a 19.9 GB file before any KV cache; it needs ~3-bit weights or CPU offload
        to touch a 16 GB card.

        ## Example
        DeepSeek-R1-Distill-Qwen-32B: 20.0 GB at Q4_K_M.
        """
        model = self.catalog.models[workload["model"]]
        if not _in(model.params, self.catalog.value("article-32b-params")):
            return
        size = sizing.weight_bytes(model.params, self.catalog.precisions["q4_k_m"].bits_per_weight)
        _note(self, "ART-32b-on-16gb", "4-bit quantization lets a 32B model run on 16 GB",
              f"{model.name} at Q4_K_M takes {gb(size)} for the weights alone, more than 16 GB before the KV cache "
              f"(ollama's deepseek-r1:32b file is 19,851,337,809 bytes).", size=gb(size))

    @Rule(AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-7b-needs-8gb", statement="the article's '{claim}' holds only at 4-bit: {q4} at Q4_K_M, {bf16} at BF16",
               sources=["article", "ollama-api-14b-7b", "paddle-mirror"], needs=("model",))
    def seven_b_needs_8gb(self: Any, workload: Workload) -> None:
        """## What it decides
        For a 7B-class model: qualifies "7B needs at least 8 GB".

        ## Why
        The Q4_K_M file of deepseek-r1:7b is 4.68 GB, so 8 GB is enough at 4-bit with moderate context; BF16
        weights alone are 15.2 GB.

        ## Example
        DeepSeek-R1-Distill-Qwen-7B: 4.6 GB at Q4_K_M, 15.2 GB at BF16.
        """
        model = self.catalog.models[workload["model"]]
        if not _in(model.params, self.catalog.value("article-7b-params")):
            return
        q4 = sizing.weight_bytes(model.params, self.catalog.precisions["q4_k_m"].bits_per_weight)
        bf16 = sizing.weight_bytes(model.params, self.catalog.precisions["bf16"].bits_per_weight)
        _note(self, "ART-7b-needs-8gb", "a 7B model needs at least 8 GB of VRAM",
              f"That holds only at 4-bit: {model.name} takes {gb(q4)} at Q4_K_M but {gb(bf16)} at BF16, plus the KV cache.",
              q4=gb(q4), bf16=gb(bf16))

    @Rule(subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-4bit-saves-75", statement="the article's '{claim}' overstates it: {precision} saves {saving} of the weights here",
               sources=["article", "llamacpp-quant", "kquant-pr"], needs=("precision",))
    def four_bit_saves_75(self: Any, rec: Any) -> None:
        """## What it decides
        When the chosen configuration uses a 4-bit format: what it really saves.

        ## Why
        75% holds only for ideal 4.0-bit weights against 16-bit; real formats carry scales and keep some tensors
        wider (Q4_K_M ~4.9 bits, AWQ ~4.5 bits), so the saving is ~69-72%, and the KV cache is not reduced.

        ## Example
        Q4_K_M saves 69.5% of BF16 weight memory.
        """
        precision = self.catalog.precisions[self.option(rec).precision]
        low, high = self.catalog.value("article-4bit-bits")
        if not low <= precision.bits_per_weight < high:
            return
        saving = 1 - precision.bits_per_weight / self.catalog.precisions["bf16"].bits_per_weight
        _note(self, "ART-4bit-saves-75", "4-bit quantization cuts VRAM by 75%",
              f"{precision.name} stores {precision.bits_per_weight:g} bits per weight with its scales, so it saves {pct(saving)} of "
              f"the 16-bit weights, and nothing of the KV cache or activations.", precision=precision.name, saving=pct(saving))

    @Rule(AS.workload << Workload(), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-671b-on-mac", statement="the article's '{claim}' holds only quantized: {q4} at Q4_K_M, {native} as released",
               sources=["article", "apple-m3ultra", "ollama-tags-notes", "paddle-mirror"], needs=("model",))
    def r1_on_mac(self: Any, workload: Workload) -> None:
        """## What it decides
        For a model larger than a 512 GB Mac Studio's memory at its native precision: when it fits there.

        ## Why
        The M3 Ultra Mac Studio offers up to 512 GB of unified memory; DeepSeek-R1's released FP8 weights are
        ~687 GB, its Q4_K_M ~404 GB.

        ## Example
        DeepSeek-R1 671B: ~410 GB at Q4_K_M fits, ~690 GB at FP8 does not.
        """
        model = self.catalog.models[workload["model"]]
        mac = float(self.catalog.value("article-mac-bytes"))
        native = sizing.weight_bytes(model.params, self.catalog.precisions[model.native_precision].bits_per_weight)
        q4 = sizing.weight_bytes(model.params, self.catalog.precisions["q4_k_m"].bits_per_weight)
        if native <= mac or q4 > mac:
            return
        _note(self, "ART-671b-on-mac", "DeepSeek-R1 671B runs on a 512 GB Mac Studio",
              f"Only quantized: {model.name} takes {gb(q4)} at Q4_K_M, which fits in 512 GB, but {gb(native)} at its released "
              f"{model.native_precision.upper()}, which does not.", q4=gb(q4), native=gb(native))

    @Rule(AS.workload << Workload(task="finetune"), subject(), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-zero3-saves-70", statement="the article's '{claim}' is no constant: over {count} devices ZeRO-3 saves {saving} of model states",
               sources=["article", "zero-paper"], needs=("task",))
    def zero3_saves_70(self: Any, workload: Workload, rec: Any) -> None:
        """## What it decides
        For full training over several devices: what ZeRO-3 really saves here.

        ## Why
        ZeRO-3 divides model states by the number of devices (1 - 1/N saved), never the activations; the
        article's "70%" is one point of that curve (N = 3.3).

        ## Example
        Over 8 GPUs ZeRO-3 saves 87.5% of model states.
        """
        option = self.option(rec)
        if option.count < 2:
            return
        saving = 1 - 1 / option.count
        _note(self, "ART-zero3-saves-70", "ZeRO-3 reduces memory by 70%",
              f"ZeRO-3 divides weights, gradients and optimizer states by the number of devices: over {option.count} it saves "
              f"{pct(saving)} of them, and nothing of the activations (Rajbhandari et al., ZeRO).",
              count=option.count, saving=pct(saving))

    @Rule(AS.workload << Workload(ecosystem="tpu"), salience=SALIENCE_ADVICE)
    @rule_meta(id="ART-tpu-tensorflow-only", statement="the article's '{claim}' is wrong: TPUs run JAX, PyTorch/XLA and TensorFlow",
               sources=["article", "gcp-tpu-frameworks", "maxtext"], needs=("ecosystem",))
    def tpu_tensorflow_only(self: Any, workload: Workload) -> None:
        """## What it decides
        When TPUs are considered: corrects "TPUs support only TensorFlow".

        ## Why
        Google documents TensorFlow, PyTorch (PyTorch/XLA) and JAX on Cloud TPU; MaxText, Google's reference LLM
        stack, is JAX. The lock-in is Google Cloud itself, not one framework.

        ## Example
        Serving Llama on TPU v6e with vLLM TPU or JetStream.
        """
        _note(self, "ART-tpu-tensorflow-only", "TPUs support only TensorFlow and cannot be used locally",
              "Cloud TPU documents TensorFlow, PyTorch/XLA and JAX (MaxText is Google's JAX reference stack for LLMs); the "
              "'not local' half is right: TPUs are rented from Google Cloud only.")
