"""--model accepts what the user points at, in every command, the API, `ask`, traces and audits; the Hub works offline from its cache."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from llmhw import Consultation, api
from llmhw.cli import main
from llmhw.knowledge.loader import load_catalog
from llmhw.models import with_model

from tests.test_models_gguf import write_tiny

CONFIGS = Path(__file__).parent / "data" / "configs"


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "Llama-3.2-1B-Instruct"
    folder.mkdir()
    shutil.copy(CONFIGS / "llama-3.2-1b-instruct.json", folder / "config.json")
    return folder


@pytest.fixture
def offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    return cache


def test_check_with_a_hub_id_offline_and_an_empty_cache_fails_in_one_line(runner, offline_cache):
    result = runner.invoke(main, ["check", "--model", "someorg/some-model", "--hardware", "h100-sxm"])
    assert result.exit_code == 2
    assert result.stderr == ("Error: model: 'someorg/some-model' is not in the Hugging Face cache and HF_HUB_OFFLINE forbids the network: "
                             "point --model at a local model folder, config.json or .gguf file, or allow network access to huggingface.co\n")


def test_a_hub_id_with_no_network_fails_fast_in_one_line(runner, tmp_path, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens, the connection is refused
    result = runner.invoke(main, ["models", "show", "someorg/other-model"])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: model: 'someorg/other-model' is not in the Hugging Face cache and the Hub cannot be reached (")
    assert result.stderr.endswith("point --model at a local model folder, config.json or .gguf file, or allow network access to huggingface.co\n")
    assert result.stderr.count("\n") == 1


def test_a_hub_id_is_read_from_the_cache_offline(runner, offline_cache):
    snapshot = offline_cache / "models--meta-llama--Llama-3.2-1B-Instruct" / "snapshots" / "0123abcd"
    snapshot.mkdir(parents=True)
    shutil.copy(CONFIGS / "llama-3.2-1b-instruct.json", snapshot / "config.json")
    (offline_cache / "models--meta-llama--Llama-3.2-1B-Instruct" / "refs").mkdir()
    (offline_cache / "models--meta-llama--Llama-3.2-1B-Instruct" / "refs" / "main").write_text("0123abcd")
    index = {"metadata": {"total_size": 2_471_645_184}, "weight_map": {"model.embed_tokens.weight": "model.safetensors"}}
    (snapshot / "model.safetensors.index.json").write_text(json.dumps(index))  # metadata only: the weights are never fetched
    result = runner.invoke(main, ["models", "show", "meta-llama/Llama-3.2-1B-Instruct", "--format", "json"])
    assert result.exit_code == 0, result.output
    sheet = json.loads(result.stdout)
    assert (sheet["id"], sheet["params"], sheet["tied_embeddings"]) == ("meta-llama/Llama-3.2-1B-Instruct", 1_235_814_400, True)
    assert sheet["checkpoint_bytes"] == 2_471_645_184
    assert sheet["origins"]["checkpoint_bytes"] == "model.safetensors.index.json, key metadata.total_size (shards not at hand)"
    assert sheet["sources"][0]["url"] == "https://huggingface.co/meta-llama/Llama-3.2-1B-Instruct"


def test_a_catalog_name_still_wins_and_an_unknown_name_keeps_its_suggestions(runner):
    assert api.show_model("qwen3:32b").numbers["id"] == "qwen3-32b"
    result = runner.invoke(main, ["check", "--model", "lama-3.1-70b", "--hardware", "h100-sxm"])
    assert result.exit_code == 2 and "did you mean" in result.stderr


def test_recommend_text_and_json_for_a_model_folder(runner, model_dir):
    result = runner.invoke(main, ["recommend", "--model", str(model_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["profile"]["model"] == str(model_dir.resolve())
    assert answer["profile"]["model_name"] == "Llama-3.2-1B-Instruct"
    assert answer["memory_need"]["weights"] == 2 * 1_235_814_400  # bf16, as released


def test_a_trace_names_the_files_hash_and_audit_reports_when_the_file_changed(runner, model_dir, tmp_path):
    trace_file = tmp_path / "run.json"
    result = runner.invoke(main, ["recommend", "--model", str(model_dir), "--trace", str(trace_file)])
    assert result.exit_code == 0, result.output
    doc = json.loads(trace_file.read_text())
    key = f"model:{model_dir.resolve()}"
    assert key in doc["knowledge"]["files"]
    entry = doc["knowledge"]["entries"][f"model:{model_dir.resolve()}"]
    (source,) = entry["sources"]
    assert source.startswith("file-") and "SHA-256" in doc["knowledge"]["sources"][source]["title"]
    assert runner.invoke(main, ["audit", str(trace_file)]).exit_code == 0
    config = json.loads((model_dir / "config.json").read_text())
    (model_dir / "config.json").write_text(json.dumps({**config, "intermediate_size": 4096}))
    audit = runner.invoke(main, ["audit", str(trace_file)])
    assert audit.exit_code == 1
    assert f"Knowledge: changed since the trace was written ({key} changed)" in audit.stdout


def test_ask_accepts_a_path_as_the_model(model_dir):
    consultation = Consultation()
    assert consultation.next_question().slot == "model"
    consultation.answer(str(model_dir))
    assert consultation.answers["model"] == str(model_dir.resolve())
    question = consultation.next_question()
    assert question.slot != "model"


def test_models_show_text_names_where_each_number_came_from(runner, model_dir):
    result = runner.invoke(main, ["models", "show", str(model_dir / "config.json")])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"Llama-3.2-1B-Instruct ({model_dir.resolve()})"
    assert "  layers         16    <- config.json, key num_hidden_layers" in lines
    assert "  attention      GQA, 32 query heads, 8 KV heads x 64    <- config.json, key num_key_value_heads" in lines
    assert any(line.startswith("  KV per token   bf16 32,768 B, fp8 16,384 B") for line in lines)


def test_models_still_lists_the_catalog(runner):
    result = runner.invoke(main, ["models"])
    assert result.exit_code == 0 and "qwen3-32b" in result.stdout


def test_a_folder_named_like_a_catalog_model_is_read_from_its_files(runner, tmp_path):
    folder = tmp_path / "gpt-oss-20b"  # what `huggingface-cli download openai/gpt-oss-20b --local-dir gpt-oss-20b` makes
    folder.mkdir()
    shutil.copy(CONFIGS / "gpt-oss-20b.json", folder / "config.json")
    result = runner.invoke(main, ["check", "--model", str(folder), "--hardware", "RTX 4090", "--format", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["profile"]["model"] == str(folder.resolve())
    assert answer["profile"]["model_name"] == "gpt-oss-20b, read from files"
    assert answer["fits"] and answer["memory"]["weights"] == 13_761_264_768  # MXFP4 experts + BF16 rest: the checkpoint, not the catalog's average


@pytest.mark.parametrize(("config", "architecture"), [
    ("qwen3.5-27b.json", "Qwen3_5ForConditionalGeneration is a hybrid architecture (layer types linear_attention)"),
    ("kimi-k3.json", "KimiK3ForConditionalGeneration is a hybrid architecture (key linear_attn_config)"),
])
def test_check_refuses_a_hybrid_architecture_in_one_line(runner, tmp_path, config, architecture):
    folder = tmp_path / "hybrid"
    folder.mkdir()
    shutil.copy(CONFIGS / config, folder / "config.json")
    result = runner.invoke(main, ["check", "--model", str(folder), "--hardware", "h100-sxm"])
    assert result.exit_code == 2
    assert result.stderr == (f"Error: model: config.json: text_config: {architecture}: its recurrent layers (linear attention, SSM, "
                             "convolution) keep a state per sequence, not a KV cache per token, and llmhw does not size them; "
                             "refused rather than sized wrong\n")


def test_fit_accepts_a_model_folder(runner, model_dir):
    result = runner.invoke(main, ["fit", "--hardware", "RTX 4090", "--model", str(model_dir), "--format", "json"])
    assert result.exit_code == 0, result.output
    (mine,) = json.loads(result.stdout)["fits"]
    assert mine["model"] == str(model_dir.resolve())
    assert (mine["model_name"], mine["params"], mine["precision"]) == ("Llama-3.2-1B-Instruct", 1_235_814_400, "bf16")
    assert mine["model_max_context"] == 131072


def test_a_profile_file_names_a_model_folder(runner, model_dir, tmp_path):
    profile = tmp_path / "team.yaml"
    profile.write_text(f"model: {model_dir}\nconcurrency: 4\n")
    result = runner.invoke(main, ["recommend", "--profile", str(profile), "--format", "json"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["profile"]["model"], answer["profile"]["concurrency"]) == (str(model_dir.resolve()), 4)


def test_the_recommendation_table_keeps_a_long_own_format_id_in_its_column(runner, tmp_path):
    path = tmp_path / "tiny-q8_0.gguf"
    write_tiny(path)  # a GGUF file's own format: q8_0-<hash>
    own_id = with_model(load_catalog(), str(path)).model(str(path)).native_precision
    result = runner.invoke(main, ["recommend", "--model", str(path), "--concurrency", "8", "--precision", own_id])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    header = next(line for line in lines if line.startswith("#  tier"))
    rows = [line for line in lines if line[:1] in "123" and " x " in line[:60]]
    own = [row for row in rows if f" {own_id} " in row]
    assert own, rows
    for row in own:  # the memory column starts where its header does, after at least two spaces
        column = header.index("memory used/usable")
        assert row[column - 2:column] == "  " and row[column].isdigit()
