"""Text, Markdown and JSON layouts of the API's results and views: a decision first, then the evidence."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..units import gb, layout_brief, params, pct, rate, usd

if TYPE_CHECKING:  # the listing commands render without loading the consultation, trace and planner modules
    from ..trace.audit import Audit
    from ..trace.explain import Explanation, Node
    from ..views import HowView, QuestionView, WhatIfView, WhyView

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


def _placement(pl: Mapping[str, Any] | None) -> str:
    """A hybrid CPU+GPU option's split: what stays in host RAM, on which host, computed by its CPU."""
    if not pl:
        return ""
    what = "routed experts" if pl["mode"] == "experts" else "whole layers"
    return (f"In host RAM: {gb(pl['host_weight_bytes'] + pl['host_kv_cache_bytes'])} of {what} ({pl['offloaded_layers']} of "
            f"{pl['layers']} layers) on {pl['host_name']} ({pl['host_bandwidth_gbs']:,g} GB/s), computed by its CPU; "
            f"the host needs {gb(pl['host_ram_bytes'])} of RAM.")


PRICE_KINDS = {"msrp": "list price", "street-new": "street price new", "used": "used price",
               "cloud-on-demand": "on-demand price", "cloud-spot": "spot price", "community": "community marketplace price"}


def _spaced(text: str) -> str:
    """A sentence appended to another: a space before it, nothing when it is empty."""
    return " " + text if text else ""


def _price_basis(cost: Mapping[str, Any]) -> str:
    """Which price the tier's cost is (its kind and date) and the host boxes bought with the cards."""
    if not cost.get("price_kind"):
        return ""
    if cost["basis"] == "cloud":
        return f"Rented at {usd(cost['cloud_usd_per_hour'])}/h, the {PRICE_KINDS[cost['price_kind']]} of {cost['price_date']}."
    text = f"Priced at the {PRICE_KINDS[cost['price_kind']]} of {cost['price_date']}"
    boxes = cost.get("hosts", 1)
    if cost.get("host_usd"):
        text += (f", with the host box ({usd(cost['host_usd'])}): {cost['host']}" if boxes == 1
                 else f", with {boxes} host boxes ({usd(cost['host_usd'])} in all): {cost['host']}")
    elif cost.get("host") == "not priced":
        text += "; no host box in the catalog takes these cards, so the cost is the cards' alone"
    return text + "."


def _training_run(run: Mapping[str, Any] | None) -> str:
    """The time and cost of training on the user's tokens (--tokens), or why there is none; empty without a budget."""
    if not run:
        return ""
    what = f"Training {run['tokens']:,} tokens"
    if run["hours"] is None:
        return f"{what}: no training speed figure for this device, so no time or cost to train."
    paid = "rental" if run["cost_basis"] == "rental" else "electricity"
    return f"{what}: {run['hours']:,.1f} h ({run['hours'] / 24:,.1f} days), {usd(run['cost_usd'])} of {paid}."


def _launch_lines(launch: Mapping[str, Any] | None, indent: int) -> list[str]:
    """The commands that start a configuration (its note where it has none), and the files they read."""
    if not launch:
        return []
    pad = " " * indent
    lines = [f"{pad}$ {c}" for c in launch["commands"]]
    files = [f["name"] for f in launch["files"]]
    shown = "" if not files else f"Files: {', '.join(files)} (--format json has their text)." if lines else f"{files[0]}:"
    text = " ".join(t for t in (launch["note"], shown) if t)
    lines += [textwrap.fill(text, WIDTH, initial_indent=pad, subsequent_indent=pad)] if text else []
    if not launch["commands"] and launch["files"]:  # settings of an API (Unsloth) stand in for the command: show them
        lines += [f"{pad}  {line}" for line in launch["files"][0]["text"].splitlines()]
    return lines


def advice_text(d: Mapping[str, Any]) -> str:
    """The terminal view of `llmhw recommend`."""
    p = d["profile"]
    speeds = ("speeds are training tokens/s" if p["task"] != "inference"
              else "speeds are decode tokens/s per user, and for all users together")
    lines = _workload_line(p) + [_defaults(d["defaults_used"]), f"(GB = 10^9 bytes; {speeds})"]
    if d.get("upgrade"):
        lines += _upgrade_lines(d["upgrade"], p)
    need = d.get("memory_need") or {}
    if need:
        lines += ["", f"Memory need at {need['precision']} on one device (reference, runtime {need['runtime']})  [MEM-need]"]
        lines += _memory_rows(need)
    recs = d["recommendations"]
    if recs:
        speed_head = "train tok/s" if p["task"] != "inference" else "tok/s user / all"
        fmt_width = max(11, *(len(r["precision"]) + 2 for r in recs))  # a GGUF's or MXFP4 release's own format has a longer id
        hardware = [f"{r['count']} x {r['hardware']}" + (" + host" if r.get("placement") else "") for r in recs]
        hw_width = max(32, *(len(hw) + 2 for hw in hardware))  # a long host-box id must not run into the format
        lines += ["", f"{'#':<3}{'tier':<16}{'hardware':<{hw_width}}{'precision':<{fmt_width}}{'memory used/usable':<20}{speed_head:<23}cost"]
        for i, (r, hw) in enumerate(zip(recs, hardware, strict=True), 1):
            used = f"{r['memory']['total'] / 1e9:,.0f}/{gb(r['available'], 0)} {pct(r['utilization'])}"
            speed = (rate(r["tokens_per_s"]) if p["task"] != "inference"
                     else f"{rate(r['tokens_per_s']).replace(' tok/s', '')} / {rate(r['total_tokens_per_s'])}")
            cost = usd(r["cost"]["budget_usd"]) + _cost_suffix(r["cost"])
            lines.append(f"{i:<3}{r['tier']:<16}{hw:<{hw_width}}{r['precision']:<{fmt_width}}{used:<20}{speed:<23}{cost}")
        lines.append("")
        for i, r in enumerate(recs, 1):
            lines.append(_wrap(f"#{i} {r['count']} x {r['hardware_name']} ({r['tier']}): {r['because']}; runs on {r['runtime']}"
                               + layout_brief(r.get("layout"), r["count"], " in ", p["task"] != "inference")
                               + (f", micro-batch {r['micro_batch']} x {r['accumulation_steps']} steps" if r["micro_batch"] else "")
                               + ". Per device: " + ", ".join(f"{k.replace('_', ' ')} {gb(v)}" for k, v in r["memory"].items()
                                                               if v and k in MEMORY_PARTS) + "."
                               + _spaced(_placement(r.get("placement"))) + _spaced(_training_run(r.get("training_run")))
                               + _spaced(_price_basis(r["cost"])), 4))
            lines += _launch_lines(r.get("launch"), 4)
        lines.append("Ask `llmhw recommend ... --trace FILE` then `llmhw explain FILE` for the full chain of each conclusion.")
    lines += _items("Warnings", d["warnings"]) + _items("Tips", d["tips"]) + _items("Notes", d["notes"])
    return "\n".join(lines) + "\n"


def _upgrade_title(u: Mapping[str, Any], p: Mapping[str, Any]) -> str:
    """What is owned, and what the tiers below are: a whole new machine, or (the host described by its cores or RAM,
    which the tiers are then priced without: costs.cost_of) new GPUs for that host."""
    have = u["have"]
    owned = f"{have['count']} x {have['hardware_name']}" if have["hardware"] != "none" else "no GPU"
    where = " (this machine)" if have["source"] == "this machine" else ""
    tiers = ("new GPUs for the host you described" if p.get("cpu_cores") is not None or p.get("ram_gb") is not None
             else "a whole new machine")
    return f"Upgrade from what you have: {owned}{where} ({tiers}: the tiers below)"


def _upgrade_lines(u: Mapping[str, Any], p: Mapping[str, Any]) -> list[str]:
    """The answer to `recommend --have`: what is owned and runs, the cheapest addition, the others, renting."""
    return _items(_upgrade_title(u, p), u["answers"])


def check_text(d: Mapping[str, Any], hardware_name: str) -> str:
    """The terminal view of `llmhw check`."""
    p = d["profile"]
    verdict = "FITS" if d["fits"] else "DOES NOT FIT"
    layout = layout_brief(d.get("layout"), d["count"], ", ", p["task"] != "inference")
    how = f" at {d['precision']} with {d['runtime']}{layout}" if d.get("precision") else ""
    lines = [f"{verdict}: {p['model_name']} on {d['count']} x {hardware_name}{how}"]
    lines += _workload_line(p) + [_defaults(d["defaults_used"]), "(GB = 10^9 bytes)"]
    if d.get("memory"):
        lines += ["", f"Memory per device (usable {gb(d['available'])}, {pct(d['utilization'])} used)"] + _memory_rows(d["memory"])
        if d.get("placement"):
            lines.append(_wrap(_placement(d["placement"]), 0))
        if d["fits"]:  # a configuration that does not fit has no speed to show
            lines += ["", f"Decode: {rate(d['tokens_per_s'])} per user, {rate(d['total_tokens_per_s'])} in all; "
                          f"prefill {rate(d['prefill_tokens_per_s'])}" if p["task"] == "inference"
                      else f"Training throughput: {rate(d['tokens_per_s'])}"]
        if d.get("training_run"):
            lines.append(_training_run(d["training_run"]) if d["fits"] else
                         f"Training {d['training_run']['tokens']:,} tokens: no time or cost, the configuration does not fit.")
        cost = d["cost"]
        lines.append(f"Cost: purchase {usd(cost.get('purchase_usd'))}, rent {usd(cost.get('cloud_usd_per_hour'))}/h")
        if basis := _price_basis(cost):
            lines.append(_wrap("  " + basis, 2))
        if d.get("launch"):
            lines += ["", "Launch  [RUN-launch-proposal]"] + _launch_lines(d["launch"], 2)
    lines += _items("Warnings", d["warnings"]) + _items("Tips", d["tips"]) + _items("Notes", d["notes"])
    return "\n".join(lines) + "\n"


def advice_markdown(d: Mapping[str, Any]) -> str:
    """A report view of `llmhw recommend` for pasting into documents."""
    p = d["profile"]
    lines = [f"# Hardware for {p['model_name']}", "", *(f"- {line}" for line in _workload_line(p)), f"- {_defaults(d['defaults_used'])}", ""]
    if d.get("upgrade"):
        lines += [f"## {_upgrade_title(d['upgrade'], p)}", ""] + [f"- **{i['id']}**: {i['message']}" for i in d["upgrade"]["answers"]] + [""]
    lines += ["| # | tier | hardware | precision | memory used / usable (GB = 1e9 B) | tok/s per user | tok/s all | cost (USD) |",
              "|---|---|---|---|---|---|---|---|"]
    for i, r in enumerate(d["recommendations"], 1):
        host = f" + {r['placement']['host_name']}" if r.get("placement") else ""
        lines.append(f"| {i} | {r['tier']} | {r['count']} x {r['hardware_name']}{host} | {r['precision']} | "
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


# -- explanations and audits -------------------------------------------------------------------------------


def node_lines(node: Node, depth: int) -> list[str]:
    """One step of a derivation and the steps it rested on, indented by depth (a loop: derivations can be deep)."""
    lines: list[str] = []
    stack = [(node, depth)]
    while stack:
        n, d = stack.pop()
        pad = "  " * d
        if n.rule_id is None:
            lines.append(f"{pad}- {n.text} (fact {n.fact})")
            continue
        if n.repeated:
            lines.append(f"{pad}- [{n.rule_id}] (as above)")
            continue
        lines += [f"{pad}- [{n.rule_id}] {n.text}", f"{pad}  sources: {'; '.join(n.sources)}"]
        for e in n.entries:
            cited = ", ".join(f"{s} ({quality})" if quality else s for s, quality in e.sources)
            lines.append(f"{pad}  knowledge: {e.label} {e.name} ({e.file}), sources: {cited}")
        stack.extend((child, d + 1) for child in reversed(n.because))
    return lines


def explanation_lines(e: Explanation) -> list[str]:
    """`llmhw explain`: the trace's header, then each conclusion's derivation, then the knowledge sources cited."""
    given = ", ".join(f"{k}={v}" for k, v in sorted(e.inputs.items())) or "none"
    used = ", ".join(f"{k}={v}" for k, v in sorted(e.defaults.items())) or "none"
    lines = [f"Trace of `llmhw {e.command}` written {e.created} by llmhw {e.version}.", f"Your inputs: {given}", f"Defaults applied: {used}"]
    for c in e.conclusions:
        lines += ["", f"{c.kind.capitalize()} {c.summary}", *node_lines(c.node, 1)]
    if e.sources:
        lines += ["", "Knowledge sources:", *(f"  {s}: {title} <{url}>" for s, title, url in e.sources)]
    return lines


def audit_lines(a: Audit) -> list[str]:
    """`llmhw audit`: the verdict, each difference, where the runs part, and what changed since the trace."""
    from ..trace.explain import summary

    out = []
    if a.verdict == "inconsistent":
        out.append("INCONSISTENT: this trace is not trusted.")
        out += [f"  - {p}" for p in a.problems]
    elif a.verdict == "same":
        out.append("Same conclusions as the trace.")
    elif a.differences:
        out.append(f"Conclusions changed: {len(a.differences)} difference(s).")
    else:
        out.append("Same conclusions, but today's replay differs in what the trace records.")
    if a.claims_changed and a.verdict != "inconsistent":
        out.append(f"  - the replay differs in: {', '.join(a.claims_changed)}")
    for d in a.differences:
        what = f"{d['change']} {d['kind']} {d['key']}"
        if d.get("reason"):
            what = d["reason"]
        elif d["change"] == "changed":
            what += f" (changed: {', '.join(d['fields'])})"
        else:
            what += f": {summary(d['kind'], d['key'], d['after'] if d['change'] == 'added' else d['before'])}"
        out.append(f"  - {what}")
    if a.parted_at:
        p = a.parted_at
        was = f"[{p['recorded']['rule_id']}] {p['recorded']['statement']}" if p["recorded"] else "(no more firings)"
        now = f"[{p['replayed']['rule_id']}] {p['replayed']['statement']}" if p["replayed"] else "(no more firings)"
        out += [f"The runs part at firing #{p['firing']}:", f"  trace: {was}", f"  today: {now}"]
    out.append("Rulebase: " + (f"changed since the trace was written ({', '.join(a.rulebase_changed)})"
                               if a.rulebase_changed else "unchanged since the trace was written"))
    out.append("Knowledge: " + (f"changed since the trace was written ({', '.join(a.knowledge_changed)})"
                                if a.knowledge_changed else "unchanged since the trace was written"))
    if a.version[0] != a.version[1]:
        out.append(f"llmhw version: {a.version[0]} when written, {a.version[1]} today")
    if a.signature != "not signed":
        out.append(f"Signature: {a.signature}")
    return out


# -- the views of a consultation (`llmhw ask`) ---------------------------------------------------------------


def question_text(q: QuestionView) -> str:
    """A question as `llmhw ask` poses it: the text, the hint, the choices or range, the default."""
    lines = ["", f"Question {q.number}: {q.text}", f"  {q.hint}"]
    if q.slot == "model":  # the list with sizes is the guide for someone who does not know what to ask
        cells = [f"{i:>2}. {c} ({label})" for i, (c, label) in enumerate(zip(q.choices, q.labels, strict=True), 1)]
        lines += ["  " + "".join(f"{cell:<50}" for cell in cells[i:i + 2]).rstrip() for i in range(0, len(cells), 2)]
    elif q.choices:
        lines.append("  choices: " + ", ".join(f"{i} {c}" for i, c in enumerate(q.choices, 1)))
    if q.range:
        lines.append(f"  {q.range_text()}" + (f"; typical: {', '.join(q.suggestions)}" if q.suggestions else ""))
    if q.default is None:
        lines.append("  no default: an answer is needed")
    else:
        lines.append(f"  default: {q.default}" + (" (answer none to leave it empty)" if q.optional else ""))
    return "\n".join(lines)


def help_text(q: QuestionView) -> str:
    """`help` at a question: what it means, its choices or range, and its default."""
    from ..consult import AT_ANY_QUESTION

    lines = [f"{q.text}  ({q.slot})", f"  {q.hint}"]
    if q.choices:
        lines.append("  Answer with a name or its number:")
        lines += [f"    {i:>2}. {c}" + (f"  ({label})" if label else "") for i, (c, label) in enumerate(zip(q.choices, q.labels, strict=True), 1)]
        if q.slot == "model":
            lines.append("  Ollama tags and Hugging Face ids work too (e.g. deepseek-r1:70b).")
    if q.range:
        lines.append(f"  Answer with {q.range_text()}" + (" (32k reads 32768)." if q.slot == "context" else "."))
    if q.suggestions:
        lines.append(f"  Typical values: {', '.join(q.suggestions)}.")
    if q.default is None:
        lines.append("  No default: an answer is needed.")
    else:
        lines.append(f"  Press Enter for the default: {q.default}" + (" (left empty on purpose)." if q.optional else "."))
    if q.optional:
        lines.append("  Answer `none` to leave it empty.")
    lines.append(f"  {AT_ANY_QUESTION}")
    return "\n".join(lines)


def why_text(w: WhyView) -> str:
    """`why` at a question: the rule that asked it, and each rule that reads the answer with what it decides."""
    lines = [f"Why `{w.slot}`?"]
    if w.asker is not None:
        lines.append(f"  [{w.asker.id}] asks it: {w.asker.statement}")
    lines.append(f"  {len(w.readers)} rule(s) read this answer:" if w.readers else "  No other rule reads this answer yet.")
    for rule in w.readers:
        lines.append(f"  - [{rule.id}] {rule.statement}")
        if rule.decides:
            lines.append(f"      decides: {rule.decides}")
    return "\n".join(lines)


def _option(rec: Mapping[str, Any] | None) -> str:
    if rec is None:
        return "nothing"
    return f"{rec['count']} x {rec['hardware_name']} at {rec['precision']}, {usd(rec['cost']['budget_usd'])}"


def how_text(h: HowView) -> str:
    """`how` after a result: the conclusion, the chain of rules and facts behind it, and the inputs."""
    from ..consult import show

    s = h.subject
    title = f"#{h.number} {h.key}: {_option(s)}" if h.kind == "recommendation" else f"{s['id']}: {s['message']}"
    lines = [title, "How it was reached (each rule with its sources, then what it rested on):"]
    for c in h.explained:
        lines += node_lines(c.node, 1)
    lines.append("Your inputs and the defaults: " + ", ".join(f"{k}={show(v)}" for k, v in h.profile.items()))
    return "\n".join(lines)


def what_if_text(w: WhatIfView) -> str:
    """`what-if` after a result: what changes with one answer changed."""
    from ..consult import show

    lines = [f"What if {w.field}={show(w.value)} (was {show(w.was)}):"]
    lines += [f"  {key} follows: {show(a)} -> {show(b)}" for key, a, b in w.follows]
    changed = bool(w.items) or w.memory_need[0] != w.memory_need[1]
    for tier, a, b in w.tiers:
        changed |= _option(a) != _option(b)
        lines.append(f"  {tier}: {_option(a)} -> {_option(b)}" if _option(a) != _option(b) else f"  {tier}: unchanged ({_option(b)})")
    if w.memory_need[0] != w.memory_need[1]:
        lines.append(f"  memory need: {gb(w.memory_need[0])} -> {gb(w.memory_need[1])}")
    for item in w.items:
        lines.append({"added": f"  + {item.kind} {item.id}: {item.message}", "removed": f"  - {item.kind} {item.id} no longer applies",
                      "changed": f"  ~ {item.kind} {item.id}: {item.message}"}[item.change])
    if not changed:
        lines.append("  Nothing else changes: the same recommendations, warnings and tips.")
    return "\n".join(lines)


def _cost_suffix(cost: dict[str, Any]) -> str:
    """What the cost column's figure covers: a year of rent, the host boxes it includes (one per node), or hosts still to
    buy."""
    if cost["basis"] == "cloud":
        return "/year rented"
    boxes = cost.get("hosts", 1)
    if cost.get("host") == "not priced":
        return f" + {boxes} hosts" if boxes > 1 else " + host"
    return (f" incl. {boxes} hosts" if boxes > 1 else " incl. host") if cost.get("host") else ""
