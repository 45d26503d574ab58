"""A fixed, varied set of consultation profiles (deterministic: the same on every machine)."""

from __future__ import annotations

import random
from typing import Any

MODELS = (
    "deepseek-r1:1.5b", "deepseek-r1:7b", "deepseek-r1:8b", "deepseek-r1:14b", "deepseek-r1:32b", "deepseek-r1:70b",
    "deepseek-r1", "llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "qwen2.5-7b", "qwen2.5-14b", "qwen2.5-32b",
    "qwen2.5-72b", "qwen3-30b-a3b", "qwen3-235b-a22b", "mixtral-8x7b", "gpt-oss-20b", "gpt-oss-120b", "gemma-3-27b",
    "mistral-7b", "phi-4", "llama-3.2-3b", "qwen3-8b", "qwen3-32b", "gemma-3-12b", "deepseek-v3",
)
PRECISIONS = ("auto", "auto", "auto", "auto", "bf16", "fp8", "int8", "q4_k_m", "awq-int4", "q8_0")


def profiles(n: int = 240, seed: int = 7) -> list[dict[str, Any]]:
    """``n`` profiles mixing models, tasks, contexts, users, budgets, ecosystems, deployments and scales.

    Contexts stop at each model's own limit (a longer one is refused, as a user would be told).
    """
    from llmhw.api import catalog

    limit = {m: catalog().model(m).max_context for m in MODELS}
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        p: dict[str, Any] = {"model": MODELS[i % len(MODELS)]}
        task = rng.choice(("inference",) * 6 + ("finetune", "lora", "qlora"))
        if task != "inference":
            p["task"] = task
            p["batch"] = rng.choice((8, 16, 32))
            if rng.random() < 0.3:
                p["activation_checkpointing"] = rng.choice(("on", "off"))
            if task in ("lora", "qlora") and rng.random() < 0.5:
                p["lora_rank"] = rng.choice((8, 16, 64))
        else:
            p["concurrency"] = rng.choice((1, 1, 2, 4, 20, 64, 200))
            if rng.random() < 0.5:
                p["precision"] = rng.choice(PRECISIONS)
        p["context"] = min(rng.choice((2048, 4096, 8192, 8192, 32768, 131072)), limit[p["model"]])
        if rng.random() < 0.5:
            p["budget"] = rng.choice((1000, 5000, 40000, 250000))
        if rng.random() < 0.3:
            p["ecosystem"] = rng.choice(("cuda", "rocm", "apple", "tpu", "cpu"))
        p["deployment"] = rng.choice(("local", "local", "cloud", "edge")) if task == "inference" else rng.choice(("local", "cloud"))
        if rng.random() < 0.3:
            p["scale"] = rng.choice(("personal", "team", "enterprise"))
        if rng.random() < 0.2:
            p["hours_per_day"] = rng.choice((2, 8, 24))
        if rng.random() < 0.2 and p["deployment"] != "cloud":
            p["cpu_cores"] = rng.choice((4, 8, 32))
            p["ram_gb"] = rng.choice((16, 64, 256))
        out.append(p)
    return out


HARD_MODELS = ("deepseek-r1:671b", "deepseek-v3", "llama-3.1-405b", "qwen3-235b-a22b")
LARGE_MODELS = ("deepseek-r1:70b", "llama-3.1-70b", "qwen2.5-72b", "gpt-oss-120b")


def hard_profiles(n: int = 120, seed: int = 11) -> list[dict[str, Any]]:
    """``n`` profiles of the kinds that make the slow tail, a quarter each (deterministic):

    - 671B-class models at enterprise scale with large budgets (the largest device enumerations);
    - large models over a small budget (the budget fallback sizes every smaller model of the family);
    - training of large models (every training stack sized, data-parallel layouts);
    - enterprise inference under an ecosystem or deployment constraint (TPU lock-in and cloud alternatives).
    """
    from llmhw.api import catalog

    limit = {m: catalog().model(m).max_context for m in (*HARD_MODELS, *LARGE_MODELS)}
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for i in range(n):
        kind = i % 4
        model = rng.choice(HARD_MODELS if kind in (0, 3) else LARGE_MODELS + HARD_MODELS[:1])
        p: dict[str, Any] = {"model": model}
        if kind == 0:
            p.update(scale="enterprise", concurrency=rng.choice((64, 200, 1000)), budget=rng.choice((250000, 1000000, 5000000)))
        elif kind == 1:
            p.update(concurrency=rng.choice((1, 4, 20)), budget=rng.choice((1000, 3000, 8000)))
        elif kind == 2:
            p.update(task=rng.choice(("finetune", "lora", "qlora")), batch=rng.choice((8, 16, 32)), budget=rng.choice((40000, 250000)))
        else:
            p.update(scale="enterprise", concurrency=rng.choice((20, 64)), ecosystem=rng.choice(("tpu", "rocm", "cuda")),
                     deployment=rng.choice(("cloud", "local")))
        if "task" not in p:
            p["context"] = min(rng.choice((8192, 32768, 131072)), limit[model])
        out.append(p)
    return out
