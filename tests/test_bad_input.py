"""Bad input, tried and answered (issue 6): the API raises InputError naming the field; the CLI exits 2 with one
line on stderr naming it; broken knowledge files raise KnowledgeError naming file, entry and key. Never a traceback,
never a hang or a memory blow-up. The classes and case counts are listed in docs/reliability.md.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from llmhw import api
from llmhw.cli import main
from llmhw.errors import InputError, KnowledgeError
from llmhw.knowledge.loader import load_catalog
from llmhw.knowledge.yamlio import MAX_FILE_BYTES

from .test_knowledge import GOOD_ACCEL

M = "deepseek-r1:7b"


def one_line_exit_2(result, field: str) -> None:
    """Exit 2 with one line on stderr naming the field. CliRunner catches exceptions instead of printing a
    traceback: a bug shows as an exception other than the SystemExit the group ends every run with."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"Error: {field}"), result.stderr
    assert len(result.stderr) < 600, f"message echoes its input: {len(result.stderr)} characters"


# -- the API: numbers, types, strings, names ------------------------------------------------------------------------

BAD_PROFILES = [
    # (profile, field, what the message says)
    ({"model": "deepseek-r1:7"}, "model", "'deepseek-r1-distill-qwen-7b'"),
    ({"model": "lama-3.1-70b"}, "model", "did you mean"),
    ({"model": "no-such-model-at-all-xyz"}, "model", "unknown model"),
    ({}, "model", "required"),
    ({"task": "inference"}, "model", "required"),
    ({"model": M, "context": -5}, "context", "from 1 to 10,000,000"),
    ({"model": M, "context": 0}, "context", "from 1 to 10,000,000"),
    ({"model": M, "concurrency": 0}, "concurrency", "from 1"),
    ({"model": M, "batch": -1}, "batch", "from 1"),
    ({"model": M, "budget": 0}, "budget", "from 1"),
    ({"model": M, "budget": -100.0}, "budget", "from 1"),
    ({"model": M, "hours_per_day": 25}, "hours_per_day", "to 24"),
    ({"model": M, "ram_gb": 0}, "ram_gb", "from 0.5"),
    ({"model": M, "context": float("nan")}, "context", "finite"),
    ({"model": M, "budget": float("inf")}, "budget", "finite"),
    ({"model": M, "budget": float("-inf")}, "budget", "finite"),
    ({"model": M, "context": "nan"}, "context", "finite"),
    ({"model": M, "context": "1e400"}, "context", "finite"),
    ({"model": M, "context": 10**400}, "context", "finite"),
    ({"model": M, "context": -(10**400)}, "context", "finite"),
    ({"model": M, "context": 10**5000}, "context", "finite"),
    ({"model": M, "context": 10**50}, "context", "to 10,000,000"),
    ({"model": M, "concurrency": 1e300}, "concurrency", "to 1,000,000"),
    ({"model": M, "cpu_cores": 10**9}, "cpu_cores", "to 4,096"),
    ({"model": M, "context": 8192.5}, "context", "whole number"),
    ({"model": M, "context": "8k"}, "context", "expected a number, got '8k'"),
    ({"model": M, "ram_gb": "80GB"}, "ram_gb", "expected a number, got '80GB'"),
    ({"model": M, "budget": "40k USD"}, "budget", "expected a number"),
    ({"model": M, "context": "0x10"}, "context", "expected a number"),
    ({"model": M, "context": True}, "context", "expected a number, got True"),
    ({"model": M, "context": [8192]}, "context", "got list"),
    ({"model": M, "context": {"tokens": 8192}}, "context", "got dict"),
    ({"model": M, "context": b"8192"}, "context", "got bytes"),
    ({"model": M, "context": ""}, "context", "expected a number"),
    ({"model": 7}, "model", "expected text, got int"),
    ({"model": ["deepseek-r1:7b"]}, "model", "expected text, got list"),
    ({"model": ""}, "model", "non-empty"),
    ({"model": "   "}, "model", "non-empty"),
    ({"model": "x" * 100_000}, "model", "at most 200 characters"),
    ({"model": "模型-70b"}, "model", "unknown model"),
    ({"model": "deepseek\x00r1"}, "model", "unknown model"),
    ({"model": "\ud800"}, "model", "unknown model"),
    ({"model": "🦙" * 150}, "model", "unknown model"),
    ({"model": M, "task": "dance"}, "task", "expected one of finetune, inference, lora, pretrain, qlora"),
    ({"model": M, "task": ""}, "task", "non-empty"),
    ({"model": M, "task": 3}, "task", "expected text"),
    ({"model": M, "ecosystem": "metal"}, "ecosystem", "expected one of"),
    ({"model": M, "deployment": "moon"}, "deployment", "expected one of"),
    ({"model": M, "scale": "galactic"}, "scale", "expected one of"),
    ({"model": M, "activation_checkpointing": "maybe"}, "activation_checkpointing", "expected one of"),
    ({"model": M, "precision": "fp3"}, "precision", "unknown precision"),
    ({"model": M, "precision": ""}, "precision", "non-empty"),
    ({"model": M, "contex": 4096}, "contex", "did you mean 'context'"),
    ({"model": M, "concurency": 4}, "concurency", "did you mean 'concurrency'"),
    ({"model": M, "Budget": 4}, "Budget", "did you mean 'budget'"),
    ({"model": M, "zzz": 1}, "zzz", "expected one of activation_checkpointing"),
    ({"model": M, None: 1}, "None", "unknown field"),
    ({"model": M, 42: 1}, "42", "unknown field"),
    ({"model": M, "con\ntext": 1}, "'con\\ntext'", "unknown field"),
    ({"model": M, "k" * 10_000: 1}, "k" * 80, "unknown field"),
    ("deepseek-r1:7b", "profile", "expected a mapping"),
    (["model", M], "profile", "expected a mapping"),
    (None, "profile", "expected a mapping"),
]


@pytest.mark.parametrize("profile, field, says", BAD_PROFILES, ids=[f"{i}-{c[1][:20]}" for i, c in enumerate(BAD_PROFILES)])
def test_api_refuses_bad_profile_naming_the_field(profile, field, says):
    for call in (lambda: api.advise(profile), lambda: api.check(profile, "h100", 1)):
        with pytest.raises(InputError) as err:
            call()
        assert err.value.field == field, str(err.value)
        assert says in str(err.value), str(err.value)
        assert "\n" not in str(err.value) and len(str(err.value)) < 600


BAD_CHECKS = [
    ("H1000", 1, "hardware", "did you mean"),
    ("a100 80", 1, "hardware", "'a100-80gb-sxm'"),
    ("", 1, "hardware", "expected a hardware name"),
    (None, 1, "hardware", "expected a hardware name"),
    (80, 1, "hardware", "expected a hardware name"),
    ("x" * 1_000_000, 1, "hardware", "unknown hardware"),
    ("h100", 0, "count", "from 1 to 256"),
    ("h100", -2, "count", "from 1 to 256"),
    ("h100", 10**6, "count", "from 1 to 256"),
    ("h100", 10**5000, "count", "from 1 to 256, got a huge-digit number"),
    ("h100", 2.0, "count", "whole number"),
    ("h100", "2", "count", "whole number"),
    ("h100", True, "count", "whole number"),
    ("h100", None, "count", "whole number"),
]


@pytest.mark.parametrize("hardware, count, field, says", BAD_CHECKS, ids=[f"{i}-{c[2]}" for i, c in enumerate(BAD_CHECKS)])
def test_api_check_refuses_bad_hardware_and_count(hardware, count, field, says):
    start = time.monotonic()
    with pytest.raises(InputError) as err:
        api.check({"model": M}, hardware, count)
    assert err.value.field == field and says in str(err.value), str(err.value)
    assert len(str(err.value)) < 600 and time.monotonic() - start < 5


def test_absurd_but_valid_numbers_answer_without_crashing():
    """The far ends of every range (context: the model's max_context; count: the policy's max-check-devices): answered, never an exception."""
    for profile in ({"model": "deepseek-r1:671b", "context": 163_840, "concurrency": 1_000_000, "scale": "enterprise"},
                    {"model": M, "task": "lora", "lora_rank": 4096, "batch": 1_000_000, "context": 131_072},
                    {"model": M, "budget": 1, "hours_per_day": 0.1, "cpu_cores": 1, "ram_gb": 0.5, "deployment": "cloud"},
                    {"model": M, "budget": 1e10, "hours_per_day": 24, "cpu_cores": 4096, "ram_gb": 1_000_000}):
        data = api.advise(profile).to_dict()
        json.dumps(data, allow_nan=False)
        json.dumps(api.check(profile, "h200", 256).to_dict(), allow_nan=False)


# -- the CLI: exit 2, one line naming the field ---------------------------------------------------------------------

LONG = "x" * 50_000
NINES = "9" * 5000
BAD_ARGS = [
    (["recommend", "--model", "deepseek-r1:7"],
     "model: unknown model 'deepseek-r1:7'; did you mean 'deepseek-r1', 'deepseek-r1-distill-llama-70b', 'deepseek-r1-distill-qwen-7b'?"),
    (["recommend", "--model", ""], "model: expected a non-empty name of at most 200 characters, got ''"),
    (["recommend", "--model", LONG], f"model: expected a non-empty name of at most 200 characters, got {LONG[:40]!r}"),
    (["recommend", "--model", "模型"], "model: unknown model '模型'; see `llmhw models`"),
    (["recommend", "--model", M, "--context", "1e400"], "context: expected a finite number, got '1e400'"),
    (["recommend", "--model", M, "--context", NINES], f"context: expected a finite number, got '{NINES[:39]}..."),
    (["recommend", "--model", M, "--context", "inf"], "context: expected a finite number, got 'inf'"),
    (["recommend", "--model", M, "--budget", "-1"], "budget: expected a number from 1 to 10,000,000,000, got '-1'"),
    (["recommend", "--model", M, "--ram", "80GB"], "ram_gb: expected a number, got '80GB'"),
    (["recommend", "--model", M, "--batch", "1.5"], "batch: expected a whole number, got '1.5'"),
    (["recommend", "--model", M, "--ecosystem", "metal"], "ecosystem: expected one of any, apple, cpu, cuda, npu, rocm, tpu; got 'metal'"),
    (["recommend", "--model", M, "--precision", "int3"], "precision: unknown precision 'int3'; did you mean 'int8'?"),
    (["recommend"], "model: required; `llmhw models` lists the models"),
    (["check", "--model", M, "--hardware", "H1000"], "hardware: unknown hardware 'H1000'; did you mean 'h100-sxm', 'h200'?"),
    (["check", "--model", M, "--hardware", "h100", "--count", "two"], "count: expected a whole number, got 'two'"),
    (["check", "--model", M, "--hardware", "h100", "--count", "0"], "count: expected a whole number from 1 to 256, got 0"),
    (["check", "--model", M, "--hardware", "h100", "--count", NINES], f"count: expected a whole number, got '{NINES[:40]}'"),
    (["check", "--model", M, "--hardware", ""], "hardware: expected a hardware name, got ''"),
    (["check", "--model", M], "Missing option '--hardware'."),
    (["recommend", "--modle", M], "No such option '--modle'. (Did you mean one of: '--model', '--profile'?)"),
    (["recommend", "--model", M, "--format", "xml"], "Invalid value for '--format': 'xml' is not one of 'text', 'json', 'markdown', 'html'."),
    (["recommend", "--model", M, "--knowledge", "/no/such/dir"], "/no/such/dir: not a directory of knowledge files"),
]


@pytest.mark.parametrize("args, says", BAD_ARGS, ids=[f"{i}" for i in range(len(BAD_ARGS))])
def test_cli_bad_option_is_one_line_exit_2(args, says):
    result = CliRunner().invoke(main, args)
    one_line_exit_2(result, says)
    assert result.stderr == f"Error: {says}\n"  # verbatim: a changed message shows in review


# -- profile files ----------------------------------------------------------------------------------------------------


def _profile(tmp_path: Path, content: str | bytes, name: str = "p.yaml") -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


BAD_PROFILE_FILES = [
    ("not-yaml", "model: [unclosed\n", "--profile: ", "not valid YAML"),
    ("not-json", '{"model": "deepseek-r1:7b",', "--profile: ", "not valid YAML"),
    ("tabs", "model:\tdeepseek-r1:7b\n\tcontext: 1\n", "--profile: ", "not valid YAML"),
    ("list", "- model: deepseek-r1:7b\n", "--profile: ", "expected a mapping of fields, got list"),
    ("scalar", "deepseek-r1:7b\n", "--profile: ", "expected a mapping of fields, got str"),
    ("empty", "", "--profile: ", "expected a mapping of fields, got NoneType"),
    ("missing-model", "context: 4096\n", "model: ", "required"),
    ("wrong-unit", "model: deepseek-r1:7b\nram_gb: 80GB\n", "ram_gb: ", "expected a number, got '80GB'"),
    ("wrong-unit-json", '{"model": "deepseek-r1:7b", "context": "8k"}', "context: ", "expected a number, got '8k'"),
    ("wrong-type", "model: deepseek-r1:7b\ncontext: [1, 2]\n", "context: ", "got list"),
    ("date", "model: deepseek-r1:7b\ncontext: 2024-01-01\n", "context: ", "got date"),
    ("binary", "model: !!binary AAAA\n", "model: ", "expected text, got bytes"),
    ("python-tag", "model: !!python/object/apply:os.system [echo hi]\n", "--profile: ", "not valid YAML"),
    ("unknown-key", "model: deepseek-r1:7b\ncontex: 4096\n", "contex: ", "did you mean 'context'"),
    ("duplicate-key", "model: deepseek-r1:7b\ncontext: 4096\ncontext: 8192\n", "--profile: ", "duplicate key 'context'"),
    ("nan", "model: deepseek-r1:7b\ncontext: .nan\n", "context: ", "finite"),
    ("huge-int", "model: deepseek-r1:7b\ncontext: " + "9" * 4000 + "\n", "context: ", "finite"),
    ("alias-bomb", "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n", "--profile: ", "aliases are not allowed"),
    ("deep-lists", "[" * 100_000 + "]" * 100_000, "--profile: ", "nested too deeply"),
    ("deep-json-maps", '{"a": ' * 50_000 + "1" + "}" * 50_000, "--profile: ", "nested too deeply"),
    ("deep-block", "".join("  " * i + "- \n" for i in range(600)), "--profile: ", "nested too deeply"),
    ("latin-1", b"model: d\xe9epseek\n", "--profile: ", "cannot read: UnicodeDecodeError"),
    ("nul", "model: deepseek\x00\n", "--profile: ", "not valid YAML"),
    ("bom", "\ufeffmodel: deepseek-r1:7\n", "model: ", "did you mean"),
]


@pytest.mark.parametrize("case, content, field, says", BAD_PROFILE_FILES, ids=[c[0] for c in BAD_PROFILE_FILES])
def test_bad_profile_file_is_one_line_exit_2(tmp_path, case, content, field, says):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = CliRunner().invoke(main, ["recommend", "--profile", _profile(tmp_path, content)])
    one_line_exit_2(result, field)
    assert says in result.stderr, result.stderr
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 200, f"parsing took {grown_mb:.0f} MB"


def test_profile_file_over_the_size_limit(tmp_path):
    path = _profile(tmp_path, "model: deepseek-r1:7b\n" + "# padding\n" * (MAX_FILE_BYTES // 10 + 1))
    result = CliRunner().invoke(main, ["recommend", "--profile", path])
    one_line_exit_2(result, "--profile: ")
    assert "over the 2,000,000-byte limit" in result.stderr


@pytest.mark.parametrize("where", ["missing", "directory", "dangling-link", "fifo"])
def test_unreadable_profile_path(tmp_path, where):
    path = tmp_path / "p.yaml"
    if where == "directory":
        path.mkdir()
    elif where == "dangling-link":
        path.symlink_to(tmp_path / "nowhere.yaml")
    elif where == "fifo":
        os.mkfifo(path)  # reading it would block forever: must be refused, not read
    if where == "fifo":
        proc = subprocess.run([sys.executable, "-m", "llmhw.cli", "recommend", "--profile", str(path)], capture_output=True,
                              text=True, timeout=60)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr, proc.stderr
        return
    result = CliRunner().invoke(main, ["recommend", "--profile", str(path)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "--profile" in result.stderr and ("cannot read" in result.stderr or "is a directory" in result.stderr), result.stderr


def test_options_override_a_bad_free_profile_value_only_when_valid(tmp_path):
    """A valid option on the command line does not hide a bad field elsewhere in the file."""
    path = _profile(tmp_path, "model: deepseek-r1:7b\nbudget: lots\n")
    result = CliRunner().invoke(main, ["recommend", "--profile", path, "--context", "4096"])
    one_line_exit_2(result, "budget: ")


# -- knowledge files --------------------------------------------------------------------------------------------------

NESTED = "schema_version: 1\naccelerators: " + "[" * 20_000 + "]" * 20_000 + "\n"  # far beyond the recursion limit

BAD_KNOWLEDGE = [
    ("not-yaml", "accelerators.yaml", "accelerators: [unclosed\n", "not valid YAML"),
    ("not-json", "models.yaml", '{"schema_version": 1, "models": [', "not valid YAML"),
    ("empty", "accelerators.yaml", "", "expected a mapping with schema_version and accelerators, got NoneType"),
    ("top-list", "accelerators.yaml", "- id: x\n", "expected a mapping with schema_version and accelerators, got list"),
    ("no-version", "accelerators.yaml", "accelerators: []\n", "schema_version: expected 1, got None"),
    ("bad-version", "accelerators.yaml", "schema_version: 2\naccelerators: []\n", "schema_version: expected 1, got 2"),
    ("entries-not-list", "accelerators.yaml", "schema_version: 1\naccelerators: {id: x}\n", "accelerators: expected a list of entries"),
    ("entry-not-mapping", "accelerators.yaml", "schema_version: 1\naccelerators: [x]\n", "accelerator #1: expected a mapping, got 'x'"),
    ("unknown-top-key", "accelerators.yaml", "schema_version: 1\naccelerators: []\nextra: 1\n", "unknown top-level key 'extra'"),
    ("missing-field", "accelerators.yaml", GOOD_ACCEL.replace("    memory_bytes: 48000000000\n", ""), "key 'memory_bytes': missing"),
    ("wrong-unit", "accelerators.yaml", GOOD_ACCEL.replace("48000000000", "80GB"), "key 'memory_bytes': expected an integer, got '80GB'"),
    ("float-for-int", "accelerators.yaml", GOOD_ACCEL.replace("48000000000", "4.8e10"), "key 'memory_bytes': expected an integer"),
    ("negative", "accelerators.yaml", GOOD_ACCEL.replace("48000000000", "-1"), "key 'memory_bytes': expected a number above 0"),
    ("zero", "accelerators.yaml", GOOD_ACCEL.replace("mem_bandwidth_gbs: 960", "mem_bandwidth_gbs: 0"), "expected a number above 0"),
    ("nan", "accelerators.yaml", GOOD_ACCEL.replace("mem_bandwidth_gbs: 960", "mem_bandwidth_gbs: .nan"), "expected a number, got nan"),
    ("absurd", "accelerators.yaml", GOOD_ACCEL.replace("48000000000", "9" * 400), "key 'memory_bytes': expected an integer of at most"),
    ("bool-for-number", "accelerators.yaml", GOOD_ACCEL.replace("48000000000", "true"), "expected an integer, got True"),
    ("long-string", "accelerators.yaml", GOOD_ACCEL.replace("kind: gpu", "kind: " + "g" * 100_000), "key 'kind': expected one of"),
    ("duplicate-in-file", "accelerators.yaml", GOOD_ACCEL + GOOD_ACCEL.split("accelerators:\n")[1], "accelerator 'my-card': duplicate id"),
    ("duplicate-builtin", "accelerators.yaml", GOOD_ACCEL.replace("id: my-card", "id: h100-sxm"), "accelerator 'h100-sxm': duplicate id"),
    ("duplicate-alias", "accelerators.yaml", GOOD_ACCEL.replace("name: My Card 48GB", "name: H100"), "'H100' already names"),
    ("duplicate-key", "accelerators.yaml", GOOD_ACCEL.replace("    obtain: buy\n", "    obtain: buy\n    obtain: cloud\n"), "duplicate key 'obtain'"),
    ("unknown-source", "accelerators.yaml", GOOD_ACCEL.replace("[article]", "[nowhere]"), "unknown source 'nowhere'"),
    ("alias-bomb", "accelerators.yaml", "a: &a [x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\nd: [*c, *c, *c, *c, *c, *c, *c, *c]\n", "YAML aliases are not allowed"),
    ("deep-nesting", "accelerators.yaml", NESTED, "nested too deeply"),
    ("latin-1", "accelerators.yaml", b"schema_version: 1\naccelerators: []\n# \xe9\n", "cannot read: UnicodeDecodeError"),
    ("over-size", "accelerators.yaml", "schema_version: 1\naccelerators: []\n" + "#" * MAX_FILE_BYTES, "over the 2,000,000-byte limit"),
]


@pytest.mark.parametrize("case, name, content, says", BAD_KNOWLEDGE, ids=[c[0] for c in BAD_KNOWLEDGE])
def test_broken_knowledge_file_is_refused(tmp_path, case, name, content, says):
    path = tmp_path / name  # a fresh directory per case: load_catalog is cached by its tuple of directories
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    with pytest.raises(KnowledgeError) as err:
        load_catalog((str(tmp_path),))
    message = str(err.value)
    assert says in message and name in message, message
    assert "\n" not in message and len(message) < 600 + len(str(tmp_path)), message[:800]
    # through the CLI: exit 2 (the user's directory is the input), one line
    result = CliRunner().invoke(main, ["recommend", "--model", M, "--knowledge", str(tmp_path)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and says in result.stderr, result.stderr[:800]


@pytest.mark.parametrize("where", ["missing", "a-file", "empty-dir", "models-is-a-directory"])
def test_unusable_knowledge_directory(tmp_path, where):
    target = tmp_path / "k"
    if where == "a-file":
        target.write_text("x")
    elif where == "empty-dir":
        target.mkdir()
    elif where == "models-is-a-directory":
        (target / "models.yaml").mkdir(parents=True)
    with pytest.raises(KnowledgeError):
        load_catalog((str(target),))
    result = CliRunner().invoke(main, ["models", "--knowledge", str(target)])
    assert result.exit_code == 2 and result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr


# -- trace files for explain and audit ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_trace(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("trace") / "run.json"
    result = CliRunner().invoke(main, ["recommend", "--model", "deepseek-r1:1.5b", "--trace", str(path)])
    assert result.exit_code == 0, result.output
    return path.read_text()


def _bad_traces(text: str) -> dict[str, str | bytes]:
    doc = json.loads(text)
    out: dict[str, str | bytes] = {
        "truncated": text[: len(text) // 2], "truncated-1-byte": text[:-2], "empty": "", "not-json": "model: x\n",
        "json-list": "[1, 2]", "json-null": "null", "binary": b"\x89PNG\r\n\x1a\n\x00\x00", "deep": "[" * 100_000 + "]" * 100_000,
    }
    for name, change in (("schema-2", {"schema_version": 2}), ("schema-str", {"schema_version": "1"}),
                         ("no-schema", {"schema_version": None}), ("wrong-format", {"format": "something-else"})):
        d = dict(doc)
        d.update(change)
        if change.get("schema_version", 0) is None:
            d.pop("schema_version")
        out[name] = json.dumps(d)
    return out


BAD_TRACE_CASES = ["truncated", "truncated-1-byte", "empty", "not-json", "json-list", "json-null", "binary", "deep",
                   "schema-2", "schema-str", "no-schema", "wrong-format"]


@pytest.mark.parametrize("command", ["explain", "audit"])
@pytest.mark.parametrize("case", BAD_TRACE_CASES)
def test_bad_trace_file_is_one_line_exit_2(tmp_path, good_trace, command, case):
    content = _bad_traces(good_trace)[case]
    path = tmp_path / "t.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    result = CliRunner().invoke(main, [command, str(path)])
    assert result.exit_code == 2, (result.exit_code, result.output[:500])
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr[:800]
    assert result.stderr.startswith(f"Error: trace: {path}: "), result.stderr
    if case in SCHEMA_MESSAGES:
        assert result.stderr == f"Error: trace: {path}: not a valid llmhw trace: {SCHEMA_MESSAGES[case]}\n"


SCHEMA_MESSAGES = {
    "json-list": "$: expected object, got list",
    "json-null": "$: expected object, got NoneType",
    "schema-2": "$.schema_version: expected 1, got 2",
    "schema-str": "$.schema_version: expected 1, got '1'",
    "no-schema": "$: missing key 'schema_version'",
    "wrong-format": "$.format: expected 'llmhw-trace', got 'something-else'",
}


@pytest.mark.parametrize("command", ["explain", "audit"])
@pytest.mark.parametrize("where", ["missing", "directory", "over-size"])
def test_unreadable_trace_file(tmp_path, good_trace, command, where):
    path = tmp_path / "t.json"
    if where == "directory":
        path.mkdir()
    elif where == "over-size":
        path.write_text(" " * 60_000_000 + good_trace)
    result = CliRunner().invoke(main, [command, str(path)])
    assert result.exit_code == 2, (result.exit_code, result.output[:500])
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr[:800]


# -- closed pipe and Ctrl-C -------------------------------------------------------------------------------------------

CLI = [sys.executable, "-m", "llmhw.cli"]


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_closed_pipe_exits_quietly(fmt):
    """`llmhw recommend ... | head -1`: the reader leaves after one line; no traceback, exit 0."""
    proc = subprocess.Popen([*CLI, "recommend", "--model", M, "--format", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert code == 0, (code, err)


def test_closed_pipe_before_anything_is_read():
    r, w = os.pipe()
    os.close(r)  # the reader is already gone: the first write fails
    proc = subprocess.run([*CLI, "models"], stdout=w, stderr=subprocess.PIPE, timeout=120)
    os.close(w)
    err = proc.stderr.decode()
    assert "Traceback" not in err and "Exception ignored" not in err, err
    assert proc.returncode == 0, (proc.returncode, err)


# A consultation that waits until it is interrupted, so that Ctrl-C always lands inside the command.
WAITING_CONSULTATION = """
import sys, time
from llmhw import api
from llmhw.cli import main

def advise(*args, **kwargs):
    print("consulting", file=sys.stderr, flush=True)
    time.sleep(60)

api.advise = advise
main(["recommend", "--model", "deepseek-r1:7b"])
"""


def test_ctrl_c_during_a_command_is_one_line_exit_130():
    proc = subprocess.Popen([sys.executable, "-c", WAITING_CONSULTATION], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None and proc.stderr.readline() == "consulting\n"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert (proc.returncode, out, err) == (130, "", "Interrupted.\n")


def test_broken_installed_catalog_exits_1_naming_the_file(tmp_path, monkeypatch):
    """Not the input's fault: exit 1, while the same file in a --knowledge directory exits 2 (above)."""
    import shutil

    from llmhw.knowledge import loader

    copy = tmp_path / "builtin"
    shutil.copytree(loader.BUILTIN_DIR, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    (copy / "accelerators.yaml").write_text("schema_version: 2\naccelerators: []\n")
    monkeypatch.setattr(loader, "BUILTIN_DIR", copy)
    loader.load_catalog.cache_clear()
    try:
        result = CliRunner().invoke(main, ["models"])
    finally:
        monkeypatch.undo()
        loader.load_catalog.cache_clear()
    assert result.exit_code == 1, result.output
    assert result.stderr == f"Error: {copy / 'accelerators.yaml'}: schema_version: expected 1, got 2\n"
