"""Published config.json files (tests/data/configs, sources in its README) sized by the architecture reader."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from llmhw import sizing
from llmhw.cli import main
from llmhw.errors import InputError
from llmhw.knowledge.loader import load_catalog
from llmhw.models import open_model
from llmhw.planner import arch

from .conftest import run_json

CONFIGS = Path(__file__).parent / "data" / "configs"
CATALOG = load_catalog()
PRECISIONS = tuple(CATALOG.precisions.values())


def read(name: str):  # noqa: ANN201 - a Reading
    reading = open_model(str(CONFIGS / name), PRECISIONS)
    assert reading is not None
    return reading


# config file -> the catalog entries it describes (DeepSeek-R1 ships DeepSeek-V3's config: source tt-v3-hfcfg)
SAME_AS_CATALOG = [
    ("llama-3.1-8b-instruct.json", "llama-3.1-8b"), ("llama-3.1-70b-instruct.json", "llama-3.1-70b"),
    ("mistral-7b-instruct-v0.3.json", "mistral-7b"), ("phi-4.json", "phi-4"), ("qwen2.5-7b-instruct.json", "qwen2.5-7b"),
    ("qwen3-32b.json", "qwen3-32b"), ("gpt-oss-120b.json", "gpt-oss-120b"), ("gemma-3-27b-it.json", "gemma-3-27b"),
    ("deepseek-v3.json", "deepseek-v3"), ("deepseek-v3.json", "deepseek-r1"),
    ("qwen2.5-32b-instruct.json", "qwen2.5-32b"), ("qwen2.5-14b.json", "qwen2.5-14b"), ("qwen3-8b.json", "qwen3-8b"),
    ("llama-3.2-3b-instruct.json", "llama-3.2-3b"), ("qwen3-30b-a3b.json", "qwen3-30b-a3b"),
    # The R1 distills are fine-tunes of these bases with the same shapes (r1-readme; the catalog entries' notes)
    ("llama-3.1-8b-instruct.json", "deepseek-r1-distill-llama-8b"), ("llama-3.1-70b-instruct.json", "deepseek-r1-distill-llama-70b"),
    ("qwen2.5-7b-instruct.json", "deepseek-r1-distill-qwen-7b"), ("qwen2.5-14b.json", "deepseek-r1-distill-qwen-14b"),
    ("qwen2.5-32b-instruct.json", "deepseek-r1-distill-qwen-32b"),
    ("llama-3.1-405b.json", "llama-3.1-405b"), ("qwen2.5-72b-instruct.json", "qwen2.5-72b"),
    ("qwen3-235b-a22b.json", "qwen3-235b-a22b"), ("mixtral-8x7b-v0.1.json", "mixtral-8x7b"), ("gpt-oss-20b.json", "gpt-oss-20b"),
    ("gemma-3-12b.json", "gemma-3-12b"), ("deepseek-r1-distill-qwen-1.5b.json", "deepseek-r1-distill-qwen-1.5b"),
]
ARCH_FIELDS = ("layers", "hidden", "heads", "kv_heads", "head_dim", "vocab", "tied_embeddings", "experts", "experts_active",
               "shared_experts", "moe_intermediate", "moe_layers", "kv_lora_rank", "qk_rope_head_dim", "sliding_window", "sliding_layers")


@pytest.mark.parametrize(("config", "model_id"), SAME_AS_CATALOG)
def test_sizing_from_the_config_equals_the_catalog(config, model_id):
    reading, entry = read(config), CATALOG.models[model_id]
    model = reading.model
    # The catalog counts text decoders only (its models.yaml header): compare Gemma 3 without its SigLIP tower.
    params = reading.text_params if "vision tower" in model.notes else model.params
    # Both sides in the released format, through the one sizing function (an MXFP4 release: experts 4.25 bits, the rest 16)
    fmt = CATALOG.precisions[entry.native_precision]
    assert model.native_precision == entry.native_precision
    from_config = sizing.model_weight_bytes(replace(arch(model), params=params), fmt.bits_per_weight, fmt.quantizes)
    assert from_config == pytest.approx(sizing.model_weight_bytes(arch(entry), fmt.bits_per_weight, fmt.quantizes), rel=0.005)
    for context in (4096, 131072):
        got = sizing.kv_cache_bytes(arch(model), context, 4, 2)
        assert got == pytest.approx(sizing.kv_cache_bytes(arch(entry), context, 4, 2), rel=0.005)
    # and the catalog entry could be generated from the config: every architecture number agrees
    assert {f: getattr(model, f) for f in ARCH_FIELDS} == {f: getattr(entry, f) for f in ARCH_FIELDS}


def test_every_catalog_model_has_a_published_config_that_sizes_it():
    assert {model_id for _, model_id in SAME_AS_CATALOG} == set(CATALOG.models)


def test_exact_counts_reproduce_the_catalogs_derived_ones():
    assert read("deepseek-v3.json").model.params == CATALOG.models["deepseek-v3"].params == 671_026_419_200
    assert read("gpt-oss-120b.json").model.params == CATALOG.models["gpt-oss-120b"].params == 116_829_156_672
    assert read("gemma-3-27b-it.json").text_params == CATALOG.models["gemma-3-27b"].params


# Models the catalog does not hold, with their published counts (README of tests/data/configs names each source).
@pytest.mark.parametrize(("config", "published", "what"), [
    ("gemma-3-4b-it.json", 4_300_079_472, "multimodal: text_config + SigLIP vision tower, sliding/global 5:1"),
    ("gemma-3-27b-it.json", 27_432_406_640, "multimodal: text_config + SigLIP vision tower"),
    ("devstral-small-2-24b-instruct.json", 24_011_361_280, "FP8 release, mistral3 text_config + pixtral tower"),
    ("llama-3.2-1b-instruct.json", 1.23e9, "dense GQA, tied embeddings"),
    ("glm-4.5-air.json", 106e9, "MoE with a shared expert and a dense first layer"),
    ("deepseek-v2-lite-chat.json", 15.7e9, "MoE with two shared experts, MLA without a q low-rank projection"),
    ("allam-7b-instruct-preview.json", 7e9, "dense multi-head attention (32 KV heads), untied"),
    ("kimi-k2-instruct.json", 1_026_408_235_864, "MLA (Moonshot's, DeepSeek-V3 layout), 384 experts + 1 shared, FP8 release"),
    ("gemma-3-12b.json", 12_187_325_040, "multimodal: text_config + SigLIP vision tower"),
])
def test_models_beyond_the_catalog_size_within_one_percent_of_their_published_count(config, published, what):
    assert read(config).model.params == pytest.approx(published, rel=0.01), what


@pytest.mark.parametrize(("config", "non_embedding"), [
    ("qwen2.5-3b.json", 2.77e9), ("qwen3-4b.json", 3.6e9), ("qwen3-14b.json", 13.2e9),
])
def test_qwen_models_beyond_the_catalog_match_their_cards_non_embedding_counts(config, non_embedding):
    model = read(config).model
    embeddings = model.vocab * model.hidden * (1 if model.tied_embeddings else 2)
    assert model.params - embeddings == pytest.approx(non_embedding, rel=0.01)


def test_exaone_sliding_global_mix_matches_its_non_embedding_count():
    model = read("exaone-4.0-32b.json").model
    embeddings = 2 * model.vocab * model.hidden  # untied
    assert model.params - embeddings == pytest.approx(30.95e9, rel=0.01)
    assert (model.sliding_window, model.sliding_layers, model.layers) == (4096, 48, 64)  # layer_types: 3 local, 1 global


def test_gemma2_local_global_alternation_matches_the_papers_non_embedding_count():
    model = read("gemma-2-2b-it.json").model
    assert model.params - model.vocab * model.hidden == 2_024_517_888  # tied: one embedding table
    assert (model.sliding_window, model.sliding_layers, model.layers, model.tied_embeddings) == (4096, 13, 26, True)


def test_qwen3_small_tied_model_matches_its_non_embedding_count():
    model = read("qwen3-0.6b-base-think-sft.json").model  # a Qwen3-0.6B-Base fine-tune: Qwen3-0.6B's shape, saved in float32
    assert model.params - model.vocab * model.hidden == pytest.approx(0.44e9, rel=0.01)
    assert model.tied_embeddings and model.native_precision == "fp32" and model.sliding_window is None


def test_mla_caches_its_latent_whatever_the_head_count():
    lite = read("deepseek-v2-lite-chat.json").model
    assert (lite.kv_lora_rank, lite.qk_rope_head_dim, lite.shared_experts, lite.experts, lite.experts_active) == (512, 64, 2, 64, 6)
    assert sizing.kv_bytes_per_token_layer(arch(lite), 2) == (512 + 64) * 2


def test_an_mla_model_not_from_deepseek_caches_its_latent():
    kimi = read("kimi-k2-instruct.json").model  # Moonshot's Kimi-K2: DeepSeek-V3's layout, 64 heads, 384 experts
    assert (kimi.kv_lora_rank, kimi.qk_rope_head_dim, kimi.layers, kimi.heads) == (512, 64, 61, 64)
    assert kimi.native_precision == "fp8"
    # KV bytes per token = (kv_lora_rank + qk_rope_head_dim) x layers x bytes, whatever the 64 heads would cache uncompressed
    assert sizing.kv_cache_bytes(arch(kimi), 1, 1, 2) == (512 + 64) * 61 * 2 == 70_272
    assert sizing.kv_cache_bytes(arch(kimi), 131072, 1, 1) == (512 + 64) * 61 * 131072
    # the card's "32B activated" leaves out the input embedding, as OpenAI's gpt-oss counts do
    assert kimi.active_params - kimi.vocab * kimi.hidden == pytest.approx(32e9, rel=0.01)


def test_moe_active_parameters_and_shared_experts():
    glm = read("glm-4.5-air.json").model
    assert (glm.experts, glm.experts_active, glm.shared_experts, glm.moe_intermediate, glm.intermediate) == (128, 8, 1, 1408, 10944)
    assert glm.active_params - 2 * glm.vocab * glm.hidden == pytest.approx(12e9, rel=0.02)  # the card's 12B leaves out the embeddings
    assert "multi-token-prediction" in glm.notes
    ds = read("deepseek-v3.json").model
    assert ds.active_params == pytest.approx(CATALOG.models["deepseek-v3"].active_params, abs=58 * 256)  # + the router biases


@pytest.mark.parametrize(("config", "fmt", "scheme"), [
    ("deepseek-v3.json", "fp8", "Released as FP8 e4m3 with 128x128 block scales."),
    ("devstral-2-123b-instruct.json", "fp8", "Released as FP8 e4m3 per-tensor/channel scales."),
    ("gpt-oss-120b.json", "mxfp4", "Released as MXFP4 (4-bit, shared 8-bit exponent per 32 values) on the quantized modules, BF16 elsewhere."),
    ("qwen3-32b.json", "bf16", ""),
])
def test_quantization_config_gives_the_released_format(config, fmt, scheme):
    reading = read(config)
    assert (reading.precisions[0].variant_of if reading.precisions else reading.model.native_precision) == fmt
    assert scheme in reading.model.notes


# The published checkpoints (tests/data/configs README): the Hub's safetensors counts give the payload exactly (BF16
# parameters x 2 + the MXFP4 experts' 17 bytes per 32 values), and OpenAI's card states it in GiB.
@pytest.mark.parametrize(("config", "model_id", "payload_bytes", "card_gib", "bf16_params"), [
    ("gpt-oss-20b.json", "gpt-oss-20b", 13_761_264_768, 12.8, 1_804_459_584),
    ("gpt-oss-120b.json", "gpt-oss-120b", 65_248_815_744, 60.8, 2_167_371_072),
])
def test_an_mxfp4_release_weighs_its_published_checkpoint(config, model_id, payload_bytes, card_gib, bf16_params):
    model, entry, mxfp4 = read(config).model, CATALOG.models[model_id], CATALOG.precisions["mxfp4"]
    assert model.native_precision == entry.native_precision == "mxfp4"
    # the routed experts' matrices are MXFP4, every other parameter BF16: the Hub's BF16 count is exactly the rest
    assert entry.params - sizing.routed_expert_weights(arch(entry)) == bf16_params
    catalog = sizing.model_weight_bytes(arch(entry), mxfp4.bits_per_weight, mxfp4.quantizes)
    from_config = sizing.model_weight_bytes(arch(model), mxfp4.bits_per_weight, mxfp4.quantizes)
    assert catalog == from_config == entry.checkpoint_bytes == payload_bytes
    assert catalog == pytest.approx(card_gib * 2**30, rel=0.005)
    # what every recommendation sizes: the planner's weights for the released format
    assert sizing.inference_memory(arch(entry), mxfp4.bits_per_weight, 2, 1, 1, None, 0, quantizes=mxfp4.quantizes).weights == catalog


def test_models_show_says_which_weights_the_released_format_quantizes(runner):
    result = runner.invoke(main, ["models", "show", str(CONFIGS / "gpt-oss-20b.json")])
    assert result.exit_code == 0, result.output
    assert ("  weights        13,761,264,768 bytes in that format: 19,110,297,600 routed-expert weights at 4.25 bits, "
            "the other 1,804,459,584 16-bit") in result.stdout.splitlines()
    # FP8: the linear layers at 8 bits; embeddings, output head and the 58 x 256 routers BF16
    result = runner.invoke(main, ["models", "show", "deepseek-v3"])
    assert ("  weights        672,986,207,744 bytes in that format: 669,066,630,656 linear-layer weights at 8 bits, "
            "the other 1,959,788,544 16-bit") in result.stdout.splitlines()
    assert 1_959_788_544 == 2 * 129280 * 7168 + 58 * 256 * 7168
    sheet = run_json(runner, "models", "show", "deepseek-v3")
    assert (sheet["weight_bytes"], sheet["moe_layers"]) == (672_986_207_744, 58)


def test_the_experts_are_the_routed_ones_in_moe_layers_only():
    v3 = CATALOG.models["deepseek-v3"]  # first_k_dense_replace 3: 58 of 61 layers route to 256 experts
    assert v3.moe_layers == read("deepseek-v3.json").model.moe_layers == 58
    assert sizing.routed_expert_weights(arch(v3)) == 58 * 256 * 3 * 7168 * 2048
    for entry in CATALOG.models.values():  # the expert matrices are part of the count, never more
        assert 0 <= sizing.routed_expert_weights(arch(entry)) < entry.params
    # a dense model in an experts-only format has its linear layers at the format's bits, embeddings 16-bit
    llama, mxfp4 = arch(CATALOG.models["llama-3.1-70b"]), CATALOG.precisions["mxfp4"]
    embeddings = 2 * 128256 * 8192
    assert sizing.model_weight_bytes(llama, 4.25, mxfp4.quantizes) == sizing.weight_bytes(llama.params - embeddings, 4.25) + 2 * embeddings


def test_an_unknown_quark_weight_type_is_refused_by_name(tmp_path):
    config = json.loads((CONFIGS / "llama-3.2-1b-instruct.json").read_text())
    config["quantization_config"] = {"quant_method": "quark", "global_quant_config": {"weight": {"dtype": "fp6_e3m2", "group_size": 32}}}
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    with pytest.raises(InputError) as err:
        open_model(str(path), PRECISIONS)
    assert str(err.value) == ("model: config.json, key quantization_config: quark fp6_e3m2 weights (group size 32): "
                              "expected fp4 in groups of 32, fp8 or int8")


@pytest.mark.parametrize(("config", "named"), [
    ("qwen3.5-27b.json", "Qwen3_5ForConditionalGeneration is a hybrid architecture (layer types linear_attention)"),
    ("lfm2.5-vl-1.6b.json", "Lfm2VlForConditionalGeneration is a hybrid architecture (layer types conv)"),
    # Kimi-K3: MLA on 24 of 93 layers, Kimi Delta Attention (linear) on the rest; released in MXFP4
    ("kimi-k3.json", "KimiK3ForConditionalGeneration is a hybrid architecture (key linear_attn_config)"),
])
def test_hybrid_architectures_are_refused_in_one_line(config, named):
    with pytest.raises(InputError) as err:
        read(config)
    assert str(err.value) == (
        f"model: {config}: text_config: {named}: its recurrent layers (linear attention, SSM, convolution) keep a state per "
        "sequence, not a KV cache per token, and llmhw does not size them; refused rather than sized wrong")


def test_every_number_names_the_key_it_came_from():
    origins = dict(o.split(": ", 1) for o in read("gemma-3-4b-it.json").model.origins)
    assert origins["layers"] == "gemma-3-4b-it.json: text_config, key num_hidden_layers"
    assert origins["kv_heads"] == "gemma-3-4b-it.json: text_config: num_key_value_heads absent, the transformers default 4"
    assert origins["native_precision"] == "gemma-3-4b-it.json, key torch_dtype"


@pytest.mark.parametrize(("quant", "fmt"), [
    ({"quant_method": "awq", "bits": 4, "group_size": 128}, "awq-int4"),
    ({"quant_method": "gptq", "bits": 4, "group_size": 128}, "gptq-int4"),
    ({"quant_method": "gptq", "bits": 8}, "int8"),
    ({"quant_method": "bitsandbytes", "load_in_4bit": True, "bnb_4bit_quant_type": "nf4"}, "nf4"),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {"num_bits": 8, "type": "float"}}}}, "fp8"),
    ({"quant_method": "compressed-tensors", "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "float", "group_size": 16}}}}, "nvfp4"),
    # Kimi-K3's quantization_config (tests/data/configs/kimi-k3.json): 32-value groups with uint8 power-of-two scales
    (json.loads((CONFIGS / "kimi-k3.json").read_text())["text_config"]["quantization_config"], "mxfp4"),
    # AMD Quark, as in the amd/*-MXFP4-Preview releases (vLLM's Quark tests: OCP MX fp4, groups of 32, e8m0 scales)
    ({"quant_method": "quark", "global_quant_config": {"weight": {"dtype": "fp4", "qscheme": "per_group", "group_size": 32,
                                                                  "scale_format": "e8m0", "is_dynamic": False}},
      "exclude": ["lm_head"]}, "mxfp4"),
    ({"quant_method": "quark", "global_quant_config": {"weight": {"dtype": "fp8_e4m3", "qscheme": "per_tensor"}}}, "fp8"),
    ({"quant_method": "compressed-tensors",
      "config_groups": {"group_0": {"weights": {"num_bits": 4, "type": "int", "group_size": 128}}}}, "gptq-int4"),
])
def test_quantized_releases_map_to_catalog_formats(tmp_path, quant, fmt):
    config = json.loads((CONFIGS / "llama-3.2-1b-instruct.json").read_text())
    config["quantization_config"] = quant
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    model = open_model(str(path), PRECISIONS).model
    assert model.native_precision == fmt
    assert model.params == read("llama-3.2-1b-instruct.json").model.params  # the architecture count, not the packed tensors
