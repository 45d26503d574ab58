"""Text, Markdown and JSON views of the API's results: a decision first, then the evidence."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import Any

from .units import gb, params, pct, rate, usd

MEMORY_PARTS = ("weights", "kv_cache", "activations", "gradients", "optimizer", "overhead")
WIDTH = 100


def to_json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=True)


def _wrap(text: str, indent: int) -> str:
    return textwrap.fill(text, WIDTH, initial_indent="", subsequent_indent=" " * indent)


def _workload_line(p: Mapping[str, Any]) -> list[str]:
    task = p["task"]
    if task == "inference":
        what = f"{p['concurrency']} concurrent user(s) x {p['context']:,} tokens"
    else:
        what = f"batch {p['batch']} x {p['context']:,} tokens" + (f", LoRA rank {p['lora_rank']}" if task in ("lora", "qlora") else "")
    budget = usd(p["budget"]) if p.get("budget") else "no budget limit"
    return [
        f"{p['model_name']} · {task} · {what}",
        f"Budget {budget} · ecosystem: {p['ecosystem']} · deployment: {p['deployment']} · scale: {p['scale']} · precision: {p['precision']}",
    ]


def _defaults(defaults: Mapping[str, Any]) -> str:
    shown = ", ".join(f"{k}={'none' if v is None or v == 'none' else v}" for k, v in defaults.items())
    return f"Defaults used: {shown}" if shown else "Defaults used: none (every input was given)"


def _memory_rows(memory: Mapping[str, int]) -> list[str]:
    rows = [f"  {part.replace('_', ' '):<12}{gb(memory[part]):>12}" for part in MEMORY_PARTS if memory.get(part)]
    rows.append(f"  {'total':<12}{gb(memory['total']):>12}")
    return rows


def _items(title: str, items: Sequence[Mapping[str, Any]]) -> list[str]:
    if not items:
        return []
    out = ["", title]
    for item in items:
        out.append("  " + _wrap(f"{item['id']:<28} {item['message']}", 31))
    return out


def advice_text(d: Mapping[str, Any]) -> str:
    """The terminal view of `llmhw recommend`."""
    p = d["profile"]
    speeds = ("speeds are training tokens/s" if p["task"] != "inference"
              else "speeds are decode tokens/s per user, and for all users together")
    lines = _workload_line(p) + [_defaults(d["defaults_used"]), f"(GB = 10^9 bytes; {speeds})"]
    need = d.get("memory_need") or {}
    if need:
        lines += ["", f"Memory need at {need['precision']} on one device (reference, runtime {need['runtime']})  [MEM-need]"]
        lines += _memory_rows(need)
    recs = d["recommendations"]
    if recs:
        speed_head = "train tok/s" if p["task"] != "inference" else "tok/s user / all"
        lines += ["", f"{'#':<3}{'tier':<16}{'hardware':<32}{'precision':<11}{'memory used/usable':<20}{speed_head:<23}cost"]
        for i, r in enumerate(recs, 1):
            used = f"{r['memory']['total'] / 1e9:,.0f}/{gb(r['available'], 0)} {pct(r['utilization'])}"
            hw = f"{r['count']} x {r['hardware']}"
            speed = (rate(r["tokens_per_s"]) if p["task"] != "inference"
                     else f"{rate(r['tokens_per_s']).replace(' tok/s', '')} / {rate(r['total_tokens_per_s'])}")
            cost = usd(r["cost"]["budget_usd"]) + ("/year rented" if r["cost"]["basis"] == "cloud" else " + host")
            lines.append(f"{i:<3}{r['tier']:<16}{hw:<32}{r['precision']:<11}{used:<20}{speed:<23}{cost}")
        lines.append("")
        for i, r in enumerate(recs, 1):
            lines.append(_wrap(f"#{i} {r['count']} x {r['hardware_name']} ({r['tier']}): {r['because']}; runs on {r['runtime']}"
                               + (f", micro-batch {r['micro_batch']} x {r['accumulation_steps']} steps" if r["micro_batch"] else "")
                               + ". Per device: " + ", ".join(f"{k.replace('_', ' ')} {gb(v)}" for k, v in r["memory"].items()
                                                               if v and k in MEMORY_PARTS) + ".", 4))
        lines.append("Ask `llmhw recommend ... --trace FILE` then `llmhw explain FILE` for the full chain of each conclusion.")
    lines += _items("Warnings", d["warnings"]) + _items("Tips", d["tips"]) + _items("Notes", d["notes"])
    return "\n".join(lines) + "\n"


def check_text(d: Mapping[str, Any], hardware_name: str) -> str:
    """The terminal view of `llmhw check`."""
    p = d["profile"]
    verdict = "FITS" if d["fits"] else "DOES NOT FIT"
    lines = [f"{verdict}: {p['model_name']} on {d['count']} x {hardware_name}" + (f" at {d['precision']} with {d['runtime']}" if d.get("precision") else "")]
    lines += _workload_line(p) + [_defaults(d["defaults_used"]), "(GB = 10^9 bytes)"]
    if d.get("memory"):
        lines += ["", f"Memory per device (usable {gb(d['available'])}, {pct(d['utilization'])} used)"] + _memory_rows(d["memory"])
        if d["fits"]:  # a configuration that does not fit has no speed to show
            lines += ["", f"Decode: {rate(d['tokens_per_s'])} per user, {rate(d['total_tokens_per_s'])} in all; "
                          f"prefill {rate(d['prefill_tokens_per_s'])}" if p["task"] == "inference"
                      else f"Training throughput: {rate(d['tokens_per_s'])}"]
        cost = d["cost"]
        lines.append(f"Cost: purchase {usd(cost.get('purchase_usd'))}, rent {usd(cost.get('cloud_usd_per_hour'))}/h")
    lines += _items("Warnings", d["warnings"]) + _items("Tips", d["tips"]) + _items("Notes", d["notes"])
    return "\n".join(lines) + "\n"


def advice_markdown(d: Mapping[str, Any]) -> str:
    """A report view of `llmhw recommend` for pasting into documents."""
    p = d["profile"]
    lines = [f"# Hardware for {p['model_name']}", "", *(f"- {line}" for line in _workload_line(p)), f"- {_defaults(d['defaults_used'])}", ""]
    lines += ["| # | tier | hardware | precision | memory used / usable (GB = 1e9 B) | tok/s per user | tok/s all | cost (USD) |",
              "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(d["recommendations"], 1):
        lines.append(f"| {i} | {r['tier']} | {r['count']} x {r['hardware_name']} | {r['precision']} | "
                     f"{gb(r['memory']['total'])} / {gb(r['available'])} | {rate(r['tokens_per_s'])} | {rate(r['total_tokens_per_s'])} | "
                     f"{usd(r['cost']['budget_usd'])} |")
    for title, key in (("Warnings", "warnings"), ("Tips", "tips"), ("Notes", "notes")):
        if d[key]:
            lines += ["", f"## {title}", ""] + [f"- **{i['id']}**: {i['message']}" for i in d[key]]
    return "\n".join(lines) + "\n"


def catalog_models_text(models: Sequence[Mapping[str, Any]]) -> str:
    rows = [f"{'id':<32}{'params':>10}{'active':>10}  {'native':<7} aliases"]
    for m in models:
        rows.append(f"{m['id']:<32}{params(m['params']):>10}{params(m['active_params']):>10}  {m['native_precision']:<7} "
                    f"{', '.join(m['aliases'][:3])}")
    return "\n".join(rows) + "\n"


def catalog_hardware_text(accels: Sequence[Mapping[str, Any]]) -> str:
    rows = [f"{'id':<28}{'kind':<9}{'ecosystem':<10}{'memory':>11}{'GB/s':>8}  price"]
    for a in accels:
        price = next((f"{usd(p['usd'])} ({p['kind']}, {p['date']})" for p in a["prices"]), "no price")
        rows.append(f"{a['id']:<28}{a['kind']:<9}{a['ecosystem']:<10}{gb(a['memory_bytes'], 0):>11}{a['mem_bandwidth_gbs']:>8,.0f}  {price}")
    return "\n".join(rows) + "\n"


def rules_text(rules: Sequence[Mapping[str, Any]], full: bool) -> str:
    """`llmhw rules`: one block per rule; with an ID, its documentation and where it is defined too."""
    out = []
    for r in rules:
        out.append(f"{r['id']}  [{r['topic']}, {r['status']} since {r['since']}]")
        out.append("  " + _wrap(r["statement"], 2))
        for s in r["sources"]:
            out.append("  source: " + _wrap(f"{s['id']}: {s['title']}", 10))
        if full:
            out += ["", textwrap.indent(r["doc"], "  "), f"  defined in {r['source_location']['file']}:{r['source_location']['line']}"]
        out.append("")
    return "\n".join(out)
