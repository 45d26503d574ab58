"""Refit the speed model's constants on the calibration runs that are not held out, and print them.

    .venv/bin/python benchmarks/fit_speed.py        (or: make fit-speed)

The constants are knowledge/policy.yaml's bandwidth efficiencies and decode-* overheads. Each is moved in turn
over a grid (coordinate descent, a few rounds) to maximise the number of runs within x0.75-1.33, then to
minimise the squared log error with each run's error capped (old builds that nothing explains should not drag
the rest). Held-out runs (held_out: true) are never looked at. Every run is estimated with the test's own
function, through planner.evaluate. Runtimes without calibration runs borrow a fitted value (TIED); the script
prints the fitted values, it does not edit policy.yaml: copy them there with their reasons.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import llmhw  # noqa: E402,F401  (applies the experta compatibility shim first)
from llmhw.knowledge.build import build_policy  # noqa: E402
from llmhw.knowledge.loader import Catalog, load_catalog  # noqa: E402

from tests.test_calibration import BAND, estimate  # noqa: E402

# (policy id, key in its table or None for a scalar) -> grid of values tried
US = 1e-6
GRIDS: dict[tuple[str, str | None], list[float]] = {
    ("bandwidth-efficiency-gpu", None): [0.6 + 0.025 * i for i in range(13)],
    ("bandwidth-efficiency-unified", None): [0.6 + 0.025 * i for i in range(13)],
    ("decode-layer-overhead-s", "llama-cpp"): [5 * i * US for i in range(81)],
    ("decode-layer-overhead-s", "llama-cpp@apple"): [5 * i * US for i in range(81)],
    ("decode-layer-overhead-s", "vllm"): [5 * i * US for i in range(81)],
    ("decode-layer-overhead-s", "vllm@rocm"): [5 * i * US for i in range(81)],
    ("decode-moe-layer-overhead-s", "llama-cpp"): [5 * i * US for i in range(81)],
    ("decode-moe-layer-overhead-s", "vllm"): [5 * i * US for i in range(81)],
    ("decode-sequence-layer-overhead-s", "vllm"): [0.5 * i * US for i in range(41)],
}
# MLX has one run, a check, not a fit: it takes llama.cpp's Metal figures
TIED = {("decode-layer-overhead-s", "mlx"): "llama-cpp@apple", ("decode-moe-layer-overhead-s", "mlx"): "llama-cpp"}
MAX_SQUARED_LOG_ERROR = 0.25  # an error beyond x1.65 counts no more than x1.65


def with_values(cat: Catalog, values: dict[tuple[str, str | None], float]) -> Catalog:
    """The catalog with these policy values (tables copied; a tied key follows the key it borrows from)."""
    policy = dict(cat.policy_entries)
    for (pid, key), value in values.items():
        table: Any = value if key is None else {**policy[pid].value, key: value}
        policy[pid] = dataclasses.replace(policy[pid], value=table)
    for (pid, key), source in TIED.items():
        policy[pid] = dataclasses.replace(policy[pid], value={**policy[pid].value, key: policy[pid].value[source]})
    return dataclasses.replace(cat, policy_entries=types.MappingProxyType(policy), policy=build_policy(policy))


def score(cat: Catalog, runs: list[Any]) -> tuple[int, float]:
    logs = [math.log(estimate(run, cat).ratio) for run in runs]
    in_band = sum(math.log(BAND[0]) <= x <= math.log(BAND[1]) for x in logs)
    return in_band, -sum(min(x * x, MAX_SQUARED_LOG_ERROR) for x in logs)


def main() -> None:
    base = load_catalog()
    train = [run for run in base.calibration.values() if not run.held_out]
    values = {k: (base.policy_entries[k[0]].value if k[1] is None else base.policy_entries[k[0]].value[k[1]]) for k in GRIDS}
    for _ in range(4):
        for k, grid in GRIDS.items():
            values[k] = max(grid, key=lambda v, k=k: score(with_values(base, {**values, k: v}), train))
    fitted = with_values(base, values)
    for (pid, key), value in values.items():
        print(f"{pid}{'[' + key + ']' if key else ''}: {value:.6g}")
    held = [run for run in base.calibration.values() if run.held_out]
    for name, runs in (("fitted on", train), ("held out", held)):
        print(f"{name}: {score(fitted, runs)[0]} of {len(runs)} within x{BAND[0]}-{BAND[1]}")


if __name__ == "__main__":
    main()
