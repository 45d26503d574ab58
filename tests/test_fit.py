"""`llmhw fit`: the models a configuration runs, each at its best format, longest context and most users."""

from __future__ import annotations

import json
from typing import Any

import llmhw
import pytest
from hypothesis import given
from hypothesis import strategies as st
from llmhw.cli import main
from llmhw.fit import largest

FOUR_BIT = 5.0  # bits per weight below which a format is of the 4-bit class (q4_k_m is 4.85, awq/gptq-int4 ~4.25)
FIVE_BIT = 6.0  # ... and of the 5-bit class (q5_k_m is 5.5): what a 32B model needs to fit 24 GB with room for its cache


@pytest.fixture(scope="module")
def rtx_4090() -> dict[str, Any]:
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["fit", "--hardware", "RTX 4090", "--format", "json"])
    assert result.exit_code == 0, result.output
    data: dict[str, Any] = json.loads(result.stdout)
    return data


def _class(rows: list[dict[str, Any]], low_b: float, high_b: float) -> list[dict[str, Any]]:
    return [r for r in rows if low_b * 1e9 <= r["params"] <= high_b * 1e9]


def test_one_rtx_4090_runs_8b_to_32b_models_but_no_70b(rtx_4090, catalog):
    rows = rtx_4090["fits"]
    assert (rtx_4090["hardware"], rtx_4090["count"]) == ("rtx-4090", 1)
    assert {"llama-3.1-8b", "qwen2.5-7b", "qwen2.5-14b", "qwen2.5-32b"} <= {r["model"] for r in rows}
    dense_32b = [r for r in _class(rows, 30, 34) if catalog.models[r["model"]].active_params == catalog.models[r["model"]].params]
    assert dense_32b and all(catalog.precisions[r["precision"]].bits_per_weight < FIVE_BIT for r in dense_32b), dense_32b
    for r in _class(rows, 7, 34):  # every 8B-32B model that fits also fits at 4-bit, at the context fit reports
        assert llmhw.check({"model": r["model"], "precision": "q4_k_m", "context": r["context"]}, "RTX 4090").fits, r["model"]
    assert not _class(rows, 65, 1e6), "no 70B-class model fits one 24 GB card, even at 4-bit"
    assert {"llama-3.1-70b", "qwen2.5-72b", "deepseek-r1-distill-llama-70b"} <= set(rtx_4090["does_not_fit"])
    assert len(rows) + len(rtx_4090["does_not_fit"]) == len(catalog.models)


def test_rows_are_sorted_by_speed_and_within_each_models_limits(rtx_4090):
    rows = rtx_4090["fits"]
    assert [r["tokens_per_s"] for r in rows] == sorted((r["tokens_per_s"] for r in rows), reverse=True)
    for r in rows:
        assert r["context"] <= r["max_context"] <= r["model_max_context"], r
        assert 1 <= r["max_users"] <= rtx_4090["max_users_searched"], r


@pytest.mark.parametrize("model", ["llama-3.1-8b", "qwen2.5-32b"])
def test_the_limits_are_the_checks_own(rtx_4090, model):
    """At the reported limit `check` says it fits; one step beyond, it does not."""
    row = next(r for r in rtx_4090["fits"] if r["model"] == model)
    fits = lambda **p: llmhw.check({"model": model, "precision": row["precision"], **p}, "RTX 4090").fits  # noqa: E731
    assert fits(context=row["max_context"])
    if row["max_context"] < row["model_max_context"]:
        assert not fits(context=row["max_context"] + 1024)
    assert fits(context=row["context"], concurrency=row["max_users"])
    assert not fits(context=row["context"], concurrency=row["max_users"] + 1)


def test_text_lists_each_fit_and_what_does_not(runner, rtx_4090):
    result = runner.invoke(main, ["fit", "--hardware", "RTX 4090"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    n = len(rtx_4090["fits"])
    assert lines[:4] == [
        f"Models that fit 1 x NVIDIA GeForce RTX 4090 24GB: {n} of {n + len(rtx_4090['does_not_fit'])} (inference; sorted by speed)",
        "format: what `check --precision auto` picks at 8,192 tokens; users: concurrent at that context (searched up to 1,024); "
        "tok/s: decode for one user",
        "",
        "model                              params  format    runtime         max context  users       tok/s",
    ]
    assert [line.split()[0] for line in lines[4:4 + n]] == [r["model"] for r in rtx_4090["fits"]]
    assert lines[-1] == "Does not fit at any format: " + ", ".join(rtx_4090["does_not_fit"])


def test_two_cards_run_a_70b_at_4_bit(runner, catalog):
    data = json.loads(runner.invoke(main, ["fit", "--hardware", "RTX 4090", "--count", "2", "--model", "llama-3.1-70b",
                                           "--format", "json"]).stdout)
    assert [r["model"] for r in data["fits"]] == ["llama-3.1-70b"] and data["count"] == 2
    assert catalog.precisions[data["fits"][0]["precision"]].bits_per_weight < FOUR_BIT


@pytest.mark.parametrize(("sort", "key"), [("size", lambda r: (-r["params"], r["model"])), ("name", lambda r: r["model"])])
def test_sort(runner, sort, key):
    models = ["qwen2.5-7b", "llama-3.2-3b", "qwen2.5-14b"]
    args = ["fit", "--hardware", "A100 80GB", "--sort", sort, "--format", "json"] + [a for m in models for a in ("--model", m)]
    rows = json.loads(runner.invoke(main, args).stdout)["fits"]
    assert [r["model"] for r in rows] == [r["model"] for r in sorted(rows, key=key)] and len(rows) == 3


@pytest.mark.parametrize(("args", "message"), [
    (["--hardware", "RTX 9090"], "Error: hardware: unknown hardware 'RTX 9090'; did you mean 'rtx-3090', 'rtx-4090', 'rtx-5090'?\n"),
    (["--hardware", "RTX 4090", "--model", "llama-9"],
     "Error: model: unknown model 'llama-9'; did you mean 'llama-3.1-70b', 'llama-3.1-8b', 'llama-3.2-3b'?\n"),
    (["--hardware", "RTX 4090", "--count", "two"], "Error: count: expected a whole number, got 'two'\n"),
    (["--hardware", "RTX 4090", "--count", "0"], "Error: count: expected a whole number from 1 to 256, got 0\n"),
])
def test_bad_input_is_one_line_and_exit_2(runner, args, message):
    result = runner.invoke(main, ["fit", *args])
    assert (result.exit_code, result.stderr) == (2, message)


# The search must find exactly the largest value that fits, whatever the guess: thresholds and grids up to
# the model limits llmhw knows (10M-token contexts are the profile's bound; 1,024 users the search's cap).
@given(known=st.integers(1, 100_000), span=st.integers(1, 200_000), step=st.integers(1, 4096), cut=st.floats(0, 1),
       guess=st.integers(-10, 400_000))
def test_largest_finds_the_last_value_that_fits(known, span, step, cut, guess):
    limit = known + span
    threshold = known + int(cut * span)
    calls: list[int] = []

    def fits(value: int) -> bool:
        calls.append(value)
        return value <= threshold

    expected = limit if limit <= threshold else max(v for v in range(known, limit, step) if v <= threshold)
    assert largest(fits, known, limit, guess, step) == expected
    assert len(calls) <= 3 + (span // step + 1).bit_length()
