"""GGUF files written here with the gguf package's GGUFWriter: the weights are the file's tensor bytes, exactly."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import numpy as np
import pytest
from llmhw import api, sizing
from llmhw.cli import main
from llmhw.errors import InputError
from llmhw.knowledge.loader import load_catalog
from llmhw.models import with_model
from llmhw.planner import arch

Q8 = gguf.GGMLQuantizationType.Q8_0
LAYERS, HIDDEN, HEADS, KV_HEADS, FFN, VOCAB = 2, 64, 4, 2, 128, 256


def write_tiny(path: Path, *, split_max_tensors: int = 0, arch_name: str = "llama", tied: bool = False) -> None:
    """A 2-layer llama-shaped model: Q8_0 matrices, F32 norms, F16 embeddings (the mix a real Q8_0 file has)."""
    w = gguf.GGUFWriter(str(path), arch_name, split_max_tensors=split_max_tensors)
    w.add_name("tiny-llama")
    w.add_block_count(LAYERS)
    w.add_context_length(2048)
    w.add_embedding_length(HIDDEN)
    w.add_feed_forward_length(FFN)
    w.add_head_count(HEADS)
    w.add_head_count_kv(KV_HEADS)
    w.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    rng = np.random.default_rng(0)

    def q8(rows: int, cols: int) -> np.ndarray:
        return gguf.quants.quantize(rng.random((rows, cols), dtype=np.float32), Q8)

    w.add_tensor("token_embd.weight", rng.random((VOCAB, HIDDEN)).astype(np.float16))
    head_dim = HIDDEN // HEADS
    for i in range(LAYERS):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        w.add_tensor(f"blk.{i}.attn_q.weight", q8(HIDDEN, HIDDEN), raw_dtype=Q8)
        w.add_tensor(f"blk.{i}.attn_k.weight", q8(KV_HEADS * head_dim, HIDDEN), raw_dtype=Q8)
        w.add_tensor(f"blk.{i}.attn_v.weight", q8(KV_HEADS * head_dim, HIDDEN), raw_dtype=Q8)
        w.add_tensor(f"blk.{i}.attn_output.weight", q8(HIDDEN, HIDDEN), raw_dtype=Q8)
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(HIDDEN, dtype=np.float32))
        w.add_tensor(f"blk.{i}.ffn_gate.weight", q8(FFN, HIDDEN), raw_dtype=Q8)
        w.add_tensor(f"blk.{i}.ffn_up.weight", q8(FFN, HIDDEN), raw_dtype=Q8)
        w.add_tensor(f"blk.{i}.ffn_down.weight", q8(HIDDEN, FFN), raw_dtype=Q8)
    w.add_tensor("output_norm.weight", np.ones(HIDDEN, dtype=np.float32))
    if not tied:
        w.add_tensor("output.weight", q8(VOCAB, HIDDEN), raw_dtype=Q8)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def tensor_table(*paths: Path) -> tuple[int, int]:
    """Elements and bytes of every tensor, read independently with GGUFReader."""
    tensors = [t for p in paths for t in gguf.GGUFReader(str(p)).tensors]
    return sum(int(t.n_elements) for t in tensors), sum(int(t.n_bytes) for t in tensors)


def expected_params(tied: bool) -> int:
    head_dim = HIDDEN // HEADS
    layer = 2 * HIDDEN + 2 * HIDDEN * HIDDEN + 2 * KV_HEADS * head_dim * HIDDEN + 3 * HIDDEN * FFN
    return VOCAB * HIDDEN * (1 if tied else 2) + LAYERS * layer + HIDDEN


def test_gguf_weights_are_the_files_tensor_bytes_exactly(tmp_path):
    path = tmp_path / "tiny-q8_0.gguf"
    write_tiny(path)
    cat = with_model(load_catalog(), str(path))
    model = cat.model(str(path))
    params, tensor_bytes = tensor_table(path)
    assert model.params == params == expected_params(tied=False)
    assert model.checkpoint_bytes == tensor_bytes
    own = cat.precisions[model.native_precision]
    assert sizing.weight_bytes(model.params, own.bits_per_weight) == tensor_bytes  # what every option sizes at the file's format
    assert own.quality == cat.precisions["q8_0"].quality and own.variant_of == "q8_0"
    assert cat.runtimes["llama-cpp"].runs(own.id, "cuda") and not cat.runtimes["vllm"].runs(own.id, "cuda")
    assert (model.layers, model.hidden, model.heads, model.kv_heads, model.head_dim, model.vocab) == (LAYERS, HIDDEN, HEADS, KV_HEADS, 16, VOCAB)
    assert not model.tied_embeddings and model.max_context == 2048 and model.name == "tiny-llama"
    assert sizing.kv_bytes_per_token_layer(arch(model), 2) == 2 * KV_HEADS * 16 * 2


def test_a_consultation_sizes_a_gguf_at_its_tensor_bytes(tmp_path):
    path = tmp_path / "tiny-q8_0.gguf"
    write_tiny(path)
    advice = api.advise({"model": str(path), "context": 1024})
    assert advice.memory_need["weights"] == tensor_table(path)[1]
    assert advice.memory_need["precision"].startswith("q8_0-")
    assert advice.profile["model"] == str(path.resolve()) and advice.profile["model_name"] == "tiny-llama"


def test_tied_embeddings_are_read_from_the_tensor_table(tmp_path):
    path = tmp_path / "tied.gguf"
    write_tiny(path, tied=True)
    model = with_model(load_catalog(), str(path)).model(str(path))
    assert model.tied_embeddings and model.params == expected_params(tied=True)


def test_a_split_gguf_is_read_from_its_first_shard(tmp_path):
    write_tiny(tmp_path / "tiny.gguf", split_max_tensors=8)
    shards = sorted(tmp_path.glob("tiny-*-of-*.gguf"))
    assert len(shards) >= 3 and shards[0].name.endswith("-00001-of-" + shards[0].name[-10:])
    model = with_model(load_catalog(), str(shards[0])).model(str(shards[0]))
    params, tensor_bytes = tensor_table(*shards)
    assert (model.params, model.checkpoint_bytes) == (params, tensor_bytes) == (expected_params(tied=False), tensor_bytes)


def test_a_later_shard_or_a_missing_shard_is_one_line(tmp_path):
    write_tiny(tmp_path / "tiny.gguf", split_max_tensors=8)
    shards = sorted(tmp_path.glob("tiny-*-of-*.gguf"))
    with pytest.raises(InputError) as err:
        with_model(load_catalog(), str(shards[1]))
    assert "point at the first shard" in str(err.value)
    shards[-1].unlink()
    with pytest.raises(InputError) as err:
        with_model(load_catalog(), str(shards[0]))
    assert str(err.value) == f"model: {shards[0]}: split GGUF of {len(shards)} shards; missing {shards[-1].name} next to it"


def test_hybrid_gguf_is_refused_by_name(tmp_path):
    path = tmp_path / "mamba.gguf"
    w = gguf.GGUFWriter(str(path), "mamba")
    w.add_block_count(2)
    w.add_tensor("token_embd.weight", np.zeros((8, 4), dtype=np.float32))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    with pytest.raises(InputError) as err:
        with_model(load_catalog(), str(path))
    assert "mamba is a hybrid architecture" in str(err.value) and "refused rather than sized wrong" in str(err.value)


def test_models_show_gguf_json_names_the_tensor_table(runner, tmp_path):
    path = tmp_path / "tiny-q8_0.gguf"
    write_tiny(path)
    result = runner.invoke(main, ["models", "show", str(path), "--format", "json"])
    assert result.exit_code == 0, result.output
    sheet = json.loads(result.stdout)
    assert sheet["params"] == expected_params(tied=False)
    assert sheet["origins"]["params"].startswith("tiny-q8_0.gguf: tensor table (")
    assert sheet["kv_bytes_per_token"]["bf16"] == 2 * KV_HEADS * 16 * 2 * LAYERS
    assert sheet["sources"][0]["url"] == path.resolve().as_uri()
    assert sheet["checkpoint_bytes"] == tensor_table(path)[1]


def write_arch(path: Path, arch_name: str, keys: dict[str, int], tensors: dict[str, np.ndarray]) -> None:
    w = gguf.GGUFWriter(str(path), arch_name)
    for key, value in keys.items():
        w.add_uint32(f"{arch_name}.{key}", value)
    for name, data in tensors.items():
        w.add_tensor(name, data)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def test_moe_active_parameters_come_from_the_expert_tensors(tmp_path):
    experts, used = 4, 1
    tensors = {"token_embd.weight": np.zeros((VOCAB, HIDDEN), dtype=np.float16)}
    for i in range(LAYERS):
        tensors |= {f"blk.{i}.attn_q.weight": np.zeros((HIDDEN, HIDDEN), dtype=np.float16),
                    f"blk.{i}.ffn_gate_inp.weight": np.zeros((experts, HIDDEN), dtype=np.float32),
                    **{f"blk.{i}.ffn_{p}_exps.weight": np.zeros((experts, FFN, HIDDEN), dtype=np.float16) for p in ("gate", "up", "down")}}
    path = tmp_path / "moe.gguf"
    write_arch(path, "qwen3moe", {"block_count": LAYERS, "embedding_length": HIDDEN, "attention.head_count": HEADS,
                                  "attention.head_count_kv": KV_HEADS, "expert_count": experts, "expert_used_count": used,
                                  "expert_feed_forward_length": FFN, "context_length": 4096}, tensors)
    model = with_model(load_catalog(), str(path)).model(str(path))
    expert_elements = LAYERS * 3 * experts * FFN * HIDDEN
    assert model.params == sum(t.size for t in tensors.values())
    assert model.active_params == model.params - expert_elements * (experts - used) // experts
    assert (model.architecture, model.experts, model.experts_active, model.moe_intermediate, model.tied_embeddings) == ("moe", 4, 1, FFN, True)


def test_gemma3_layers_follow_llama_cpps_sliding_pattern(tmp_path):
    path = tmp_path / "gemma3.gguf"
    write_arch(path, "gemma3", {"block_count": 12, "embedding_length": HIDDEN, "attention.head_count": HEADS, "context_length": 8192,
                                "attention.sliding_window": 512, "feed_forward_length": FFN},
               {"token_embd.weight": np.zeros((VOCAB, HIDDEN), dtype=np.float16)})
    model = with_model(load_catalog(), str(path)).model(str(path))
    assert (model.sliding_window, model.sliding_layers, model.layers) == (512, 10, 12)  # 5 local, then 1 global


def test_a_split_gguf_trace_names_the_shards_hash_and_audit_reports_a_requantized_file(runner, tmp_path):
    write_tiny(tmp_path / "tiny.gguf", split_max_tensors=8)
    first = sorted(tmp_path.glob("tiny-*-of-*.gguf"))[0]
    trace_file = tmp_path / "run.json"
    result = runner.invoke(main, ["check", "--model", str(first), "--hardware", "RTX 4090", "--trace", str(trace_file)])
    assert result.exit_code == 0, result.output
    knowledge = json.loads(trace_file.read_text())["knowledge"]
    key = f"model:{first.resolve()}"
    (source,) = knowledge["entries"][key]["sources"]
    assert knowledge["files"][key] in knowledge["sources"][source]["title"]  # the combined SHA-256 of the shards' headers
    assert runner.invoke(main, ["audit", str(trace_file)]).exit_code == 0
    for shard in tmp_path.glob("tiny-*-of-*.gguf"):
        shard.unlink()
    write_tiny(tmp_path / "tiny.gguf", split_max_tensors=8, tied=True)  # the same name, other tensors
    audit = runner.invoke(main, ["audit", str(trace_file)])
    assert audit.exit_code == 1
    assert f"Knowledge: changed since the trace was written ({key} changed)" in audit.stdout
