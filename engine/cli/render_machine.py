"""Text layouts of `llmhw detect` (this machine) and `llmhw fit` (the models a configuration runs)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..units import gb, params, rate

FLAG_NAMES = {"avx2": "AVX2", "avx512f": "AVX-512", "avx512_bf16": "AVX-512 BF16", "avx512_vnni": "AVX-512 VNNI",
              "amx_bf16": "AMX BF16", "amx_int8": "AMX INT8"}


def _cpu_line(cpu: Mapping[str, Any] | None) -> str:
    if cpu is None:
        return "CPU: not read"
    cores = f"{cpu['physical_cores'] or '?'} cores, {cpu['logical_cores'] or '?'} threads"
    flags = ", ".join(FLAG_NAMES[f] for f in cpu["flags"] if f in FLAG_NAMES) or "no AVX2"
    return f"CPU: {cpu['model']} · {cores} · {flags}"


def _gpu_lines(gpus: Sequence[Mapping[str, Any]]) -> list[str]:
    if not gpus:
        return ["GPU: none found"]
    groups: dict[tuple[Any, ...], list[Mapping[str, Any]]] = {}
    for g in gpus:
        groups.setdefault((g["name"], g["memory_total_bytes"], g["catalog_id"], g["catalog_note"]), []).append(g)
    lines = []
    for (name, total, catalog_id, note), same in groups.items():
        memory = f"{gb(total)} unified memory" if same[0]["vendor"] == "apple" else f"{gb(total)} each"
        free = sorted({g["memory_free_bytes"] for g in same if g["memory_free_bytes"] is not None})
        if free:
            memory += f" ({gb(free[0])} free)" if len(free) == 1 else f" ({gb(free[0]).removesuffix(' GB')}-{gb(free[-1])} free)"
        cores = f" · {same[0]['cores']} GPU cores" if same[0]["cores"] else ""
        entry = f"catalog: {catalog_id}" + (f" ({note})" if note else "") if catalog_id else f"not in the catalog: {note}"
        lines.append(f"GPU: {len(same)} x {name} · {memory}{cores} · {entry} [{same[0]['source']}]")
    return lines


def detect_text(d: Mapping[str, Any], this: str) -> str:
    """The terminal view of `llmhw detect`; ``this`` says what `--hardware this` resolves to (or why not)."""
    ram = f"RAM: {gb(d['ram_total_bytes'])}" + (f" ({gb(d['ram_available_bytes'])} available)" if d["ram_available_bytes"] else "")
    disks = "Disks: " + (", ".join(f"{k['name']} ({k['kind']})" for k in d["disks"]) or "none readable")
    lines = [_cpu_line(d["cpu"]), ram, disks, *_gpu_lines(d["gpus"])]
    lines += [f"  {note}" for note in d["notes"]]
    lines.append(f"--hardware this: {this}")
    return "\n".join(lines) + "\n"


def fit_text(d: Mapping[str, Any], default_context: int) -> str:
    """The terminal view of `llmhw fit`: one row per model that fits, then those that do not."""
    rows = d["fits"]
    total = len(rows) + len(d["does_not_fit"])
    lines = [f"Models that fit {d['count']} x {d['hardware_name']}: {len(rows)} of {total} (inference; sorted by {d['sort']})",
             f"format: what `check --precision auto` picks at {default_context:,} tokens; users: concurrent at that context "
             f"(searched up to {d['max_users_searched']:,}); tok/s: decode for one user",
             "",
             f"{'model':<32}{'params':>9}  {'format':<10}{'runtime':<14}{'max context':>13}{'users':>7}{'tok/s':>12}"]
    for r in rows:
        context = f"{r['max_context']:,}" + ("" if r["max_context"] < r["model_max_context"] else " (all)")
        users = f"{r['max_users']:,}" + ("+" if r["max_users"] >= d["max_users_searched"] else "")
        lines.append(f"{r['model']:<32}{params(r['params']):>9}  {r['precision']:<10}{r['runtime']:<14}{context:>13}{users:>7}"
                     f"{rate(r['tokens_per_s']).replace(' tok/s', ''):>12}")
    if not rows:
        lines.append("(none)")
    if d["does_not_fit"]:
        lines += ["", "Does not fit at any format: " + ", ".join(d["does_not_fit"])]
    return "\n".join(lines) + "\n"
