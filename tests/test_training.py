"""Training verdicts: the stack they assume, what the other stacks change, and the smallest TPU slice sold."""

from __future__ import annotations

import dataclasses

import pytest
from llmhw import planner, sizing, training_sizing

from .conftest import run_json

GIB = 2**30


def workload(**fields: object) -> planner.Workload:
    base: dict[str, object] = dict(model="llama-3.1-8b", task="qlora", precision="auto", context=8192, concurrency=1, batch=1,
                                   activation_checkpointing="on", lora_rank=32, budget=None, ecosystem="any",
                                   deployment="local", scale="personal", hours_per_day=8.0, cpu_cores=None, ram_gb=None)
    base.update(fields)
    return planner.Workload(**base)  # type: ignore[arg-type]


# Unsloth's published maximum QLoRA contexts (rank 32, batch 1, all linear layers: unsloth-benchmarks), GiB cards.
UNSLOTH_MAX_CONTEXT = [("llama-3.1-8b", 24, 78_475), ("llama-3.1-8b", 80, 342_733),
                       ("llama-3.1-70b", 48, 12_106), ("llama-3.1-70b", 80, 89_389)]


@pytest.mark.parametrize(("model", "card_gib", "tokens"), UNSLOTH_MAX_CONTEXT)
def test_unsloth_stack_reproduces_its_published_context_table(catalog, model: str, card_gib: int, tokens: int) -> None:
    """At the longest context Unsloth publishes for a card, the sized need is within 5% of that card's memory."""
    rt, nf4 = catalog.runtimes["unsloth"], catalog.precisions["nf4"]
    need = planner.training_fit(workload(model=model, context=tokens), planner.arch(catalog.models[model]), nf4, rt, 1,
                                limit=10**15)[0].total
    assert need == pytest.approx(card_gib * GIB, rel=0.05)


def test_plain_transformers_keeps_what_unsloth_offloads(catalog) -> None:
    """The same run on transformers + PEFT keeps every checkpoint and the logits: several times the activations."""
    a, nf4 = planner.arch(catalog.models["llama-3.1-8b"]), catalog.precisions["nf4"]
    w = workload(context=21_848)
    plain = planner.training_fit(w, a, nf4, catalog.runtimes["transformers"], 1, limit=10**15)[0]
    fused = planner.training_fit(w, a, nf4, catalog.runtimes["unsloth"], 1, limit=10**15)[0]
    assert plain.activations > 6 * fused.activations
    assert plain.weights == fused.weights and plain.optimizer == fused.optimizer


def test_qlora_7b_on_a_12gb_card_fits_on_unsloth_and_names_the_stack(runner) -> None:
    data = run_json(runner, "check", "--model", "qwen2.5-7b", "--task", "qlora", "--hardware", "RTX 3060 12GB")
    assert data["fits"] is True and data["runtime"] == "unsloth"
    stack = next(t for t in data["tips"] if t["id"] == "TRN-training-stack")
    assert "Hugging Face Transformers" in stack["message"] and "exceeds the 12.2 GB usable" in stack["message"]


def test_a_single_gpu_stack_is_never_offered_on_several_devices(catalog) -> None:
    w = workload(model="qwen2.5-7b", task="lora", batch=16)
    options = planner.configurations(w, catalog.models["qwen2.5-7b"], catalog.accelerators["rtx-3090"], 2, catalog)
    assert options and "unsloth" not in {o.runtime for o in options}
    assert not planner.runs_at(catalog.runtimes["unsloth"], 2) and planner.runs_at(catalog.runtimes["transformers"], 8)


def test_unsloth_runs_on_cuda_only(catalog) -> None:
    w, model, bf16 = workload(task="lora"), catalog.models["llama-3.1-8b"], catalog.precisions["bf16"]
    assert "unsloth" in {r.id for r in planner.offered(w, model, catalog.accelerators["rtx-3090"], bf16, catalog)}
    for device in ("rx-7900-xtx", "tpu-v5e"):
        assert "unsloth" not in {r.id for r in planner.offered(w, model, catalog.accelerators[device], bf16, catalog)}


def test_the_smallest_tpu_v5p_slice_is_four_chips(catalog) -> None:
    """gcp-tpu-v5p: the smallest v5p slice is v5p-8, 2x2x1 = 4 chips; v5e and v6e sell 1x1 slices (gcp-tpu-v5e, -v6e)."""
    w = dataclasses.replace(workload(task="inference"), scale="enterprise")
    assert min(planner.device_counts(w, catalog.accelerators["tpu-v5p"], catalog)) == 4
    assert min(planner.device_counts(w, catalog.accelerators["tpu-v5e"], catalog)) == 1
    assert min(planner.device_counts(w, catalog.accelerators["tpu-v6e"], catalog)) == 1


def test_no_recommendation_offers_one_tpu_v5p_chip(runner) -> None:
    data = run_json(runner, "recommend", "--model", "llama3.1:8b", "--ecosystem", "tpu", "--deployment", "cloud")
    for rec in data["recommendations"]:
        assert not (rec["hardware"] == "tpu-v5p" and rec["count"] < 4)


def test_offloaded_fraction_applies_only_with_recompute() -> None:
    a = sizing.Arch(8_030_261_248, 8_030_261_248, 32, 4096, 32, 8, 128, 14336, 128256)
    on = training_sizing.TrainingSetup("qlora", 1, 8192, True, offloaded_activation_fraction=0.15)
    off = training_sizing.TrainingSetup("qlora", 1, 8192, False, offloaded_activation_fraction=0.15)
    assert training_sizing.training_memory(a, on, 0).activations == pytest.approx(
        0.15 * training_sizing.training_activation_bytes(a, 8192, True), rel=1e-9)
    assert training_sizing.training_memory(a, off, 0).activations == training_sizing.training_activation_bytes(a, 8192, False)


def test_a_qlora_base_keeps_its_embeddings_and_lm_head_in_16_bit(catalog) -> None:
    """bitsandbytes quantizes the linear layers only: a 70B's two 128256 x 8192 tables stay bf16 (~3 GB more than NF4)."""
    nf4 = catalog.precisions["nf4"].bits_per_weight
    setup = training_sizing.TrainingSetup("qlora", 1, 2048, True, frozen_bits_per_weight=nf4)
    llama = planner.arch(catalog.models["llama-3.1-70b"])
    tables = 2 * 128256 * 8192  # untied: embed_tokens and lm_head
    weights = training_sizing.training_memory(llama, setup, 0).weights
    assert weights == sizing.weight_bytes(llama.params - tables, nf4) + 2 * tables
    assert weights - sizing.weight_bytes(llama.params, nf4) == pytest.approx(3.1e9, rel=0.02)
    tied = planner.arch(catalog.models["llama-3.2-3b"])  # one shared table
    assert training_sizing.training_memory(tied, setup, 0).weights == sizing.weight_bytes(tied.params - 128256 * 3072, nf4) + 2 * 128256 * 3072
    lora = training_sizing.TrainingSetup("lora", 1, 2048, True)  # a 16-bit frozen base: every weight at 16 bits, as before
    assert training_sizing.training_memory(llama, lora, 0).weights == 2 * llama.params


def test_tokens_give_the_time_and_power_cost_of_the_run(runner) -> None:
    from llmhw.cli import main

    result = runner.invoke(main, ["check", "--model", "qwen2.5-7b", "--task", "qlora", "--hardware", "RTX 3060 12GB",
                                  "--tokens", "100000000"])
    assert result.exit_code == 0, result.output
    assert "Training 100,000,000 tokens: 165.9 h (6.9 days), 3.67 USD of electricity." in result.output


def test_cloud_training_cost_is_rental_hours_times_price(runner) -> None:
    data = run_json(runner, "recommend", "--model", "llama-3.1-8b", "--task", "finetune", "--deployment", "cloud",
                    "--tokens", "1e9")
    for rec in data["recommendations"]:
        run = rec["training_run"]
        assert run["tokens"] == 10**9 and run["cost_basis"] == "rental"
        assert run["seconds"] == pytest.approx(10**9 / rec["tokens_per_s"], rel=1e-3)
        assert run["cost_usd"] == pytest.approx(run["seconds"] / 3600 * rec["cost"]["cloud_usd_per_hour"], rel=1e-3)


def test_a_tier_without_a_speed_figure_says_it_has_no_time_to_train(runner) -> None:
    from llmhw.cli import main

    # on CUDA the minimum tier is a DGX Spark, whose catalog entry has no dense 16-bit rate
    result = runner.invoke(main, ["recommend", "--model", "llama-3.1-70b", "--task", "qlora", "--budget", "10000",
                                  "--tokens", "50000000", "--ecosystem", "cuda"])
    assert result.exit_code == 0, result.output
    assert "no training speed figure for this device, so no time or cost to train." in " ".join(result.output.split())
    assert "reaches the speed target" not in result.output


def test_without_tokens_no_training_run_is_shown(runner) -> None:
    data = run_json(runner, "recommend", "--model", "qwen2.5:7b", "--task", "lora")
    assert all("training_run" not in rec for rec in data["recommendations"])


@pytest.mark.parametrize("bad", ["0", "-5", "1.5", "lots", "1e16"])
def test_bad_tokens_are_refused_naming_the_field(runner, bad: str) -> None:
    from llmhw.cli import main

    result = runner.invoke(main, ["check", "--model", "qwen2.5-7b", "--task", "qlora", "--hardware", "RTX 3060 12GB",
                                  "--tokens", bad])
    assert result.exit_code == 2 and "tokens" in result.output and "Traceback" not in result.output


def test_checking_one_tpu_v5p_chip_is_refused_with_the_smallest_slice(runner) -> None:
    from llmhw.cli import main

    result = runner.invoke(main, ["check", "--model", "llama3.1:8b", "--hardware", "TPU v5p"])
    assert result.exit_code == 2
    assert "count: expected at least 4 for Google Cloud TPU v5p (per chip, 95GB HBM2e), the smallest unit sold; got 1" \
        in result.output
    assert runner.invoke(main, ["check", "--model", "llama3.1:8b", "--hardware", "TPU v5p", "--count", "4"]).exit_code == 0


def test_a_full_fine_tune_too_big_for_one_gpu_names_zero_offload(runner) -> None:
    """8B full fine-tune on one H100: 16 bytes per parameter do not fit; ZeRO-Offload moves the 12 of AdamW to host RAM."""
    data = run_json(runner, "check", "--model", "llama-3.1-8b", "--task", "finetune", "--hardware", "H100 SXM")
    assert data["fits"] is False
    tip = next(t for t in data["tips"] if t["id"] == "TRN-zero-offload")
    assert "holds the run: 48.2 GB per device" in tip["message"] and "96.4 GB more RAM" in tip["message"]


def test_zero_offload_is_not_offered_where_deepspeed_does_not_run(runner) -> None:
    data = run_json(runner, "check", "--model", "llama-3.1-8b", "--task", "finetune", "--hardware", "M4 Max")
    assert all(t["id"] != "TRN-zero-offload" for t in data["tips"])


def test_training_is_never_planned_on_a_card_without_16_bit_matrix_products():
    """A Tesla P40 (FP16 at 1/64 rate, no Tensor Cores) serves GGUF inference, but a LoRA run is planned elsewhere."""
    from llmhw import api

    data = api.advise({"model": "qwen2.5:7b", "task": "lora", "batch": 32}).to_dict()
    assert data["recommendations"] and all(r["hardware"] != "tesla-p40" for r in data["recommendations"])
    checked = api.check({"model": "qwen2.5:7b", "task": "lora"}, "Tesla P40", 1).to_dict()
    assert checked["fits"] is False
    assert [n["message"] for n in checked["notes"] if n["id"] == "CAND-proposal"] == [
        "No runtime in the catalog runs lora in any format on NVIDIA Tesla P40 24GB (used): training needs 16-bit matrix "
        "products (BF16 or FP16), which it lacks."]


def test_a_card_without_bf16_trains_in_fp16_and_says_so(runner) -> None:
    """A V100 has FP16 tensor cores but no BF16: its run holds FP16 weights, and the launch turns FP16 on, not BF16."""
    data = run_json(runner, "check", "--model", "qwen2.5-7b", "--task", "lora", "--hardware", "V100 SXM2 32GB", "--count", "4")
    assert data["fits"] is True and data["precision"] == "fp16"
    assert "--bf16 false --fp16 true" in data["launch"]["commands"][0]
    assert run_json(runner, "check", "--model", "qwen2.5-7b", "--task", "lora", "--hardware", "RTX 3090")["precision"] == "bf16"
