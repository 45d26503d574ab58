"""Safetensors checkpoints written here: exact counts, dtype and bytes from the headers; the config gives the architecture."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import safetensors.numpy as safetensors_numpy
from llmhw.cli import main
from llmhw.knowledge.loader import load_catalog
from llmhw.models import open_model, with_model

HIDDEN, LAYERS, HEADS, KV_HEADS, FFN, VOCAB = 64, 2, 4, 2, 128, 256
PRECISIONS = tuple(load_catalog().precisions.values())
CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": HIDDEN, "num_hidden_layers": LAYERS,
          "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "intermediate_size": FFN, "vocab_size": VOCAB,
          "max_position_embeddings": 4096, "tie_word_embeddings": False, "torch_dtype": "float32"}


def llama_tensors(layers: range, prefix: str = "model.") -> dict[str, np.ndarray]:
    kv = KV_HEADS * HIDDEN // HEADS
    out: dict[str, np.ndarray] = {}
    for i in layers:
        p = f"{prefix}layers.{i}."
        shapes = {"self_attn.q_proj.weight": (HIDDEN, HIDDEN), "self_attn.k_proj.weight": (kv, HIDDEN), "self_attn.v_proj.weight": (kv, HIDDEN),
                  "self_attn.o_proj.weight": (HIDDEN, HIDDEN), "mlp.gate_proj.weight": (FFN, HIDDEN), "mlp.up_proj.weight": (FFN, HIDDEN),
                  "mlp.down_proj.weight": (HIDDEN, FFN), "input_layernorm.weight": (HIDDEN,), "post_attention_layernorm.weight": (HIDDEN,)}
        out |= {p + k: np.zeros(s, dtype=np.float16) for k, s in shapes.items()}
    return out


def write_checkpoint(folder: Path, config: dict, tensors: dict[str, np.ndarray], shards: int = 2) -> int:
    """config.json, the tensors in ``shards`` files and their index; returns the payload bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(config))
    names = sorted(tensors)
    weight_map = {}
    for s in range(shards):
        part = {n: tensors[n] for n in names[s::shards]}
        file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        safetensors_numpy.save_file(part, str(folder / file))
        weight_map |= {n: file for n in part}
    total = sum(t.nbytes for t in tensors.values())
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return total


def base_tensors() -> dict[str, np.ndarray]:
    return {"model.embed_tokens.weight": np.zeros((VOCAB, HIDDEN), dtype=np.float16), "model.norm.weight": np.zeros(HIDDEN, dtype=np.float16),
            "lm_head.weight": np.zeros((VOCAB, HIDDEN), dtype=np.float16), **llama_tensors(range(LAYERS))}


def test_a_folder_is_counted_from_its_safetensors_headers(tmp_path):
    tensors = base_tensors()
    payload = write_checkpoint(tmp_path / "tiny", CONFIG, tensors)
    model = open_model(str(tmp_path / "tiny"), PRECISIONS).model
    assert model.params == sum(t.size for t in tensors.values())
    assert model.checkpoint_bytes == payload
    assert model.native_precision == "fp16"  # the headers' F16, not the re-saved config's float32
    origins = dict(o.split(": ", 1) for o in model.origins)
    shards = "model-00001-of-00002.safetensors to model-00002-of-00002.safetensors headers"
    assert origins["params"] == f"{shards}: {len(tensors)} tensors, elements summed"
    assert origins["native_precision"] == f"{shards}: F16 holds most elements"
    assert model.id == str((tmp_path / "tiny").resolve())


def test_the_config_count_agrees_with_the_headers(tmp_path):
    write_checkpoint(tmp_path / "tiny", CONFIG, base_tensors())
    (tmp_path / "alone").mkdir()
    (tmp_path / "alone" / "config.json").write_text(json.dumps(CONFIG))
    from_headers = open_model(str(tmp_path / "tiny"), PRECISIONS).model
    from_config = open_model(str(tmp_path / "alone"), PRECISIONS).model
    assert from_headers.params == from_config.params and "differs" not in from_headers.notes


@pytest.mark.parametrize("pointed_at", ["model.safetensors.index.json", "model-00001-of-00002.safetensors", "config.json"])
def test_every_file_of_the_checkpoint_reads_the_same_model(tmp_path, pointed_at):
    write_checkpoint(tmp_path / "tiny", CONFIG, base_tensors())
    model = open_model(str(tmp_path / "tiny" / pointed_at), PRECISIONS).model
    assert model.aliases == (str(tmp_path / "tiny" / pointed_at),)  # the name as given still resolves
    assert replace(model, aliases=()) == open_model(str(tmp_path / "tiny"), PRECISIONS).model


def test_an_index_without_its_shards_gives_the_bytes_and_the_config_count(tmp_path):
    payload = write_checkpoint(tmp_path / "tiny", CONFIG, base_tensors())
    (tmp_path / "tiny" / "model-00002-of-00002.safetensors").unlink()
    model = open_model(str(tmp_path / "tiny"), PRECISIONS).model
    assert model.checkpoint_bytes == payload
    assert "checkpoint_bytes: model.safetensors.index.json, key metadata.total_size (shards not at hand)" in model.origins
    assert model.params == sum(t.size for t in base_tensors().values())  # the config's count


def test_multi_token_prediction_layers_are_left_out(tmp_path):
    tensors = base_tensors() | llama_tensors(range(LAYERS, LAYERS + 1))  # an MTP layer numbered after the last decoder layer
    write_checkpoint(tmp_path / "mtp", {**CONFIG, "num_nextn_predict_layers": 1}, tensors)
    model = open_model(str(tmp_path / "mtp"), PRECISIONS).model
    assert model.params == sum(t.size for t in base_tensors().values())
    extra = sum(t.size for n, t in tensors.items() if ".layers.2." in n)
    assert f"The checkpoint's {extra:,} multi-token-prediction parameters are left out." in model.notes


def test_a_vision_tower_is_counted_from_the_headers_and_said_so(tmp_path):
    text = {k: v for k, v in CONFIG.items() if k not in ("architectures", "torch_dtype")}
    config = {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava", "text_config": text,
              "vision_config": {"model_type": "clip_vision_model", "hidden_size": 32}, "torch_dtype": "float16"}
    tower = {"vision_tower.encoder.weight": np.zeros((32, 32), dtype=np.float16),
             "multi_modal_projector.weight": np.zeros((HIDDEN, 32), dtype=np.float16)}
    text_tensors = {f"language_model.{k}": v for k, v in base_tensors().items()}
    write_checkpoint(tmp_path / "llava", config, text_tensors | tower)
    model = open_model(str(tmp_path / "llava"), PRECISIONS).model
    text_params = sum(t.size for t in text_tensors.values())
    assert model.params == text_params + 32 * 32 + HIDDEN * 32
    assert model.active_params == text_params
    assert f"Counts the vision tower(s): {32 * 32 + HIDDEN * 32:,} parameters beyond the {text_params:,} of the text decoder" in model.notes


def test_a_changed_header_is_a_new_reading(tmp_path):
    write_checkpoint(tmp_path / "tiny", CONFIG, base_tensors())
    before = with_model(load_catalog(), str(tmp_path / "tiny"))
    write_checkpoint(tmp_path / "tiny", {**CONFIG, "num_hidden_layers": 1}, base_tensors() | {"extra.weight": np.zeros(4, dtype=np.float16)})
    after = with_model(load_catalog(), str(tmp_path / "tiny"))
    key = f"model:{(tmp_path / 'tiny').resolve()}"
    assert before.hashes[key] != after.hashes[key]


def test_models_show_an_index_names_the_file_and_key_of_each_number(runner, tmp_path):
    tensors = base_tensors()
    payload = write_checkpoint(tmp_path / "tiny", CONFIG, tensors)
    index = tmp_path / "tiny" / "model.safetensors.index.json"
    shards = "model-00001-of-00002.safetensors to model-00002-of-00002.safetensors headers"
    text = runner.invoke(main, ["models", "show", str(index)])
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    (params,) = [line for line in lines if line.startswith("  parameters ")]
    assert params.startswith(f"  parameters     {sum(t.size for t in tensors.values()):,} (")
    assert params.endswith(f"    <- {shards}: {len(tensors)} tensors, elements summed")
    assert f"  checkpoint     {payload:,} bytes    <- {shards}: tensor bytes summed" in lines
    assert "  layers         2    <- config.json, key num_hidden_layers" in lines
    assert f"  format         fp16 (as released)    <- {shards}: F16 holds most elements" in lines
    sheet = json.loads(runner.invoke(main, ["models", "show", str(index), "--format", "json"]).stdout)
    assert (sheet["params"], sheet["checkpoint_bytes"], sheet["native_precision"]) == (sum(t.size for t in tensors.values()), payload, "fp16")
    assert sheet["origins"]["kv_heads"] == "config.json, key num_key_value_heads"
    assert sheet["kv_bytes_per_token"]["bf16"] == 2 * KV_HEADS * (HIDDEN // HEADS) * 2 * LAYERS
    assert sheet["sources"][0]["title"].startswith("config.json, model-00001-of-00002.safetensors, model-00002-of-00002.safetensors and 1 more "
                                                   "(config.json and safetensors headers; SHA-256 ")
