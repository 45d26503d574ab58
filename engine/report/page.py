"""The HTML report: one self-contained page laid out from a result's JSON, with its charts and derivations.

The page is a view: every number on it is read from the result (``recommend`` or ``check`` as
``--format json`` prints it), the compared configurations (``Advice.compared``) and the explanation of
the consultation's trace (``llmhw.trace.explain``). Optional fields are shown when present, so the page
keeps working as the planner adds some. No script, no external resource: inline CSS and SVG only.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from html import escape
from typing import Any

from ..profile import SLOT_BY_NAME, SLOTS
from ..trace.explain import Explanation
from ..units import gb, layout_brief, params, pct, rate, usd
from . import svg
from .derivation import Derivations
from .style import CSS

TIER_LABELS = {"minimum": "the minimum that works", "recommended": "recommended", "best-in-budget": "the best within budget"}


def _e(value: Any) -> str:
    return escape(str(value))


def _quality(option: Mapping[str, Any]) -> str:
    """The option's quality class (``quality_class``, or ``quality`` in results before it was renamed)."""
    return str(option.get("quality_class") or option.get("quality") or "unknown")


def _shown(slot: str, value: Any) -> str:
    if value is None or value == "none":
        return (SLOT_BY_NAME[slot].unset if slot in SLOT_BY_NAME else "") or "none"
    if slot == "budget":
        return usd(value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _arg(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return shlex.quote(str(value))


def workload_args(data: Mapping[str, Any], skip: Sequence[str] = ()) -> list[str]:
    """The command-line options that give this result's inputs again: what was given, not what was defaulted."""
    profile, defaulted = data.get("profile", {}), data.get("defaults_used", {})
    args = []
    for slot in SLOTS:
        value = profile.get(slot.name)
        if slot.name in defaulted or slot.name in skip or value is None or value == "none":
            continue
        if "/" in slot.flag:  # a switch: only on or off can be typed
            if value in ("on", "off"):
                args.append(slot.flag.split("/")[0 if value == "on" else 1])
            continue
        args += [slot.flag, _arg(value)]
    return args


def reproduce(command: str, data: Mapping[str, Any], extra: Sequence[str] = ()) -> str:
    """The command that asks this question again; options in ``extra`` replace the workload's own."""
    return " ".join(["llmhw", command, *workload_args(data, [o[2:] for o in extra if o.startswith("--")]), *extra])


# -- page pieces ------------------------------------------------------------------------------------------------


def head(title: str, style: str = "") -> str:
    return (f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>{_e(title)}</title>\n'
            f"<style>{CSS}{style}</style>\n</head>\n<body>\n<main>\n")


def _foot(command: str) -> str:
    from .. import __version__

    return (f'<footer><p>Made by llmhw {_e(__version__)} from the answer to <code>{_e(command)}</code>. '
            "Memory in GB = 10^9 bytes; money in USD. Each figure is the engine's estimate: see the README for its accuracy.</p>"
            "</footer>\n</main>\n</body>\n</html>\n")


def _workload_line(p: Mapping[str, Any]) -> str:
    task = p.get("task", "inference")
    if task == "inference":
        what = f"{_shown('concurrency', p.get('concurrency'))} concurrent user(s) × {_shown('context', p.get('context'))} tokens"
    else:
        what = f"batch {p.get('batch')} × {_shown('context', p.get('context'))} tokens"
        if task in ("lora", "qlora"):
            what += f", LoRA rank {p.get('lora_rank')}"
    budget = f"budget {usd(p['budget'])}" if p.get("budget") else "no budget limit"
    return f"{_e(task)} · {_e(what)} · {_e(budget)}"


def _profile(data: Mapping[str, Any]) -> str:
    """Every input, given or defaulted; the defaults are tagged."""
    p, defaulted = data.get("profile", {}), data.get("defaults_used", {})
    cells = []
    for slot in SLOTS:
        if slot.name not in p:
            continue
        tag = ' <span class="tag">default</span>' if slot.name in defaulted else ""
        value = (p.get("model_name") or p["model"]) if slot.name == "model" else _shown(slot.name, p[slot.name])
        cells.append(f'<div><dt>{_e(slot.name.replace("_", " "))}</dt><dd>{_e(value)}{tag}</dd></div>\n')
    given = [s.name for s in SLOTS if s.name in p and s.name not in defaulted]
    return (f'<section id="workload"><h2>Workload</h2><dl class="profile">\n{"".join(cells)}</dl>'
            f'<p class="caption">Given: {_e(", ".join(given) or "nothing")}. Tagged <span class="tag">default</span>: '
            "filled with the documented default (knowledge/policy.yaml).</p></section>\n")


def _cost(cost: Mapping[str, Any], price_known: Any) -> str:
    if price_known is False or (not cost.get("budget_usd") and not cost.get("purchase_usd") and not cost.get("cloud_usd_per_hour")):
        return "price unknown: fits, but no price in the catalog"
    dated = " ".join(str(cost[k]) for k in ("price_kind", "price_date") if cost.get(k))
    dated = f" ({_e(dated)})" if dated else ""
    if cost.get("basis") == "cloud":
        parts = [f"{_e(usd(cost.get('budget_usd')))} per year rented", f"{_e(usd(cost.get('cloud_usd_per_hour')))}/h{dated}"]
    else:
        parts = [f"{_e(usd(cost.get('purchase_usd')))} to buy{dated}"]
        if cost.get("power_usd_per_year"):
            parts.append(f"power {_e(usd(cost['power_usd_per_year']))}/year")
        if cost.get("cloud_usd_per_hour"):
            parts.append(f"or rent at {_e(usd(cost['cloud_usd_per_hour']))}/h")
    return " · ".join(parts)


def _speed(option: Mapping[str, Any], training: bool) -> str:
    if option.get("tokens_per_s") is None:
        return "no speed figure for this device and workload"
    if training:
        text = f"{rate(option.get('tokens_per_s'))} training"
        if option.get("micro_batch"):
            text += f"; micro-batch {option['micro_batch']} × {option.get('accumulation_steps')} steps"
        return _e(text)
    text = f"{rate(option.get('tokens_per_s'))} per user · {rate(option.get('total_tokens_per_s'))} all users"
    if option.get("prefill_tokens_per_s"):
        text += f" · prefill {rate(option['prefill_tokens_per_s'])}"
    return _e(text)


def _layout(o: Mapping[str, Any], training: bool) -> str:
    """How the devices split the work, as the text answer says it (``units.layout_brief``), and what stays in host RAM."""
    layout = o["layout"]
    text = layout_brief(layout, o.get("count") or 1, "", training) or "one device"
    offload = layout.get("offload")
    return text + (f", its {offload} in host RAM" if offload and offload != "none" else "")


def _option_facts(o: Mapping[str, Any], training: bool) -> str:
    total = (o.get("memory") or {}).get("total")
    used = f"{gb(total)} of {gb(o.get('available'))} usable per device"
    if o.get("utilization") is not None:
        used += f" ({pct(o['utilization'])})"
    rows = [("precision", f"{_e(o.get('precision'))} <span class=\"tag\">{_e(_quality(o))}</span>"), ("runtime", _e(o.get("runtime")))]
    if o.get("layout"):
        rows.append(("layout", _e(_layout(o, training))))
    rows += [("speed", _speed(o, training)), ("memory", _e(used)), ("cost", _cost(o.get("cost") or {}, o.get("price_known")))]
    return '<dl class="facts">' + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _launch_html(launch: Mapping[str, Any] | None) -> str:
    """The commands that start a configuration, or what starts it where there is no single command (an API, an NPU stack)."""
    if not launch:
        return ""
    if not launch["commands"]:
        return f'<p class="cmd">Launch: {_e(launch["note"])}</p>'
    return "".join(f'<p class="cmd">Launch: <code>{_e(c)}</code></p>' for c in launch["commands"])


def _card(n: int, rec: Mapping[str, Any], data: Mapping[str, Any], how: str) -> str:
    tier = str(rec.get("tier"))
    warned = [f'<a href="#warning-{i}">{_e(w.get("id"))}</a>' for i, w in enumerate(data.get("warnings", ()), 1) if w.get("tier") == tier]
    warned_html = f'<p class="warned">Warning: {", ".join(warned)}</p>' if warned else ""
    training = data.get("profile", {}).get("task", "inference") != "inference"
    command = reproduce("check", data, ["--hardware", shlex.quote(str(rec.get("hardware"))), "--count", str(rec.get("count")),
                                        "--precision", shlex.quote(str(rec.get("precision")))])
    launch_html = _launch_html(rec.get("launch"))
    return (f'<article class="card" id="tier-{_e(tier)}"><header><span class="num">{n}</span><h3>{_e(TIER_LABELS.get(tier, tier))}</h3>'
            f'</header><p class="hw">{_e(rec.get("count"))} × {_e(rec.get("hardware_name") or rec.get("hardware"))}</p>'
            f'{_option_facts(rec, training)}<p class="why">Why: {_e(rec.get("because", ""))}.</p>{warned_html}{launch_html}'
            f'<p class="cmd">Reproduce: <code>{_e(command)}</code></p>{how}</article>\n')


def _memory_section(rows: Sequence[svg.MemoryRow], intro: str) -> str:
    header = "".join(f"<th>{_e(label)}</th>" for key, label, _ in svg.PARTS if any(r.parts.get(key) for r in rows))
    body = []
    for r in rows:
        cells = "".join(f"<td>{_e(gb(r.parts.get(key)))}</td>" for key, _, _ in svg.PARTS if any(x.parts.get(key) for x in rows))
        total = sum(r.parts.get(k, 0) for k, _, _ in svg.PARTS)
        free, usable = ("-", "-") if r.usable_bytes is None else (gb(r.usable_bytes - total), gb(r.usable_bytes))
        body.append(f"<tr><td>{_e(r.label)}</td>{cells}<td>{_e(free)}</td><td>{_e(usable)}</td></tr>\n")
    return (f'<section id="memory"><h2>Memory per device</h2><p class="caption">{intro}</p>'
            f'<div class="chart-box">{svg.memory_bars(rows)}</div>'
            f'<div class="table-box"><table><thead><tr><th>per device</th>{header}<th>free</th><th>usable</th></tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div></section>\n')


def _memory_row(label: str, option: Mapping[str, Any]) -> svg.MemoryRow:
    memory = option.get("memory") or {}
    return svg.MemoryRow(label, {k: int(memory.get(k) or 0) for k, _, _ in svg.PARTS}, option.get("available"))


STAKES: dict[str, Callable[[float], str]] = {
    "at_stake_usd": lambda v: f"{usd(v)} at stake", "effect_usd": usd, "effect_bytes": gb, "effect_params": lambda v: params(int(v)),
    "effect_s": lambda v: f"{v:,.0f} s" if v < 600 else f"{v / 60:,.0f} min", "effect_bits": lambda v: f"{v:g} bits/weight",
}


def _stakes(item: Mapping[str, Any]) -> str:
    """The money or speed at stake in a warning or tip, from its ``at_stake_*`` and ``effect_*`` fields."""
    out = []
    for key, value in sorted(item.items()):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and key.startswith(("at_stake_", "effect_")):
            shown = STAKES[key](value) if key in STAKES else f"{value:,} {key.split('_', 1)[1].replace('_', ' ')}"
            out.append(f'<span class="stake">{_e(shown)}</span>')
    if item.get("tier"):
        out.append(f'<span class="tag">{_e(item["tier"])}</span>')
    return " ".join(out)


def _items(title: str, kind: str, items: Sequence[Mapping[str, Any]], how: Derivations) -> str:
    if not items:
        return ""
    out = [f'<section id="{kind}s"><h2>{title}</h2>']
    for i, item in enumerate(items, 1):
        key = f"{item.get('id')}: {item.get('message', '')}"
        tree = how.html(kind, key, "How this was derived") or '<p class="caption">No derivation recorded.</p>'
        summary = f'<code>{_e(item.get("id"))}</code> {_stakes(item)} {_e(item.get("message", ""))}'
        out.append(f'<details class="item {kind}" id="{kind}-{i}"><summary>{summary}</summary>{tree}</details>\n')
    return "".join(out) + "</section>\n"


# -- the two reports --------------------------------------------------------------------------------------------


def _points(data: Mapping[str, Any], compared: Sequence[Mapping[str, Any]]) -> list[svg.Point]:
    """Every compared configuration with a speed; the chosen tiers numbered as in the cards."""
    tiers: dict[str, list[int]] = {}
    recs = list(data.get("recommendations", ()))
    for n, rec in enumerate(recs, 1):
        tiers.setdefault(str(rec.get("id")), []).append(n)
    options = {str(o.get("id")): o for o in [*compared, *recs]}  # a tier missing from the compared list still shows
    points = []
    for oid, o in sorted(options.items()):
        if o.get("tokens_per_s") is None:
            continue
        cost = (o.get("cost") or {}).get("budget_usd")
        label = (f"{o.get('count')} x {o.get('hardware_name') or o.get('hardware')} at {o.get('precision')} ({_quality(o)}): "
                 f"{rate(o.get('tokens_per_s'))} per user, {usd(cost)}")
        points.append(svg.Point(cost, float(o["tokens_per_s"]), _quality(o), label, tuple(tiers.get(oid, ()))))
    return points


def _compare_section(data: Mapping[str, Any], compared: Sequence[Mapping[str, Any]]) -> str:
    points = _points(data, compared)
    if not compared or len(points) < 2:  # without the compared list (a JSON result read back) there is nothing to compare
        return ""
    p = data.get("profile", {})
    training = p.get("task", "inference") != "inference"
    cloud = any((o.get("cost") or {}).get("basis") == "cloud" for o in compared)
    speed_label = "training tokens/s" if training else "decode tokens/s per user"
    cost_label = "USD per year rented" if cloud else "purchase USD"
    unspeeded = sum(1 for o in compared if o.get("tokens_per_s") is None)
    tiers = [str(n) for n, r in enumerate(data.get("recommendations", ()), 1) if r.get("tokens_per_s") is None]
    one = unspeeded == 1
    missing = "" if not unspeeded else (f" {unspeeded} of them {'has' if one else 'have'} no speed figure and {'is' if one else 'are'} "
                                        f"not drawn" + (f" (tier{'s' if len(tiers) > 1 else ''} {', '.join(tiers)})" if tiers else "") + ".")
    return (f'<section id="compare"><h2>Every option compared</h2><p class="caption">The {len(compared)} configurations the engine '
            f"kept (each fits, and none is beaten on cost, quality and speed together by another): {_e(cost_label)} against "
            f"{_e(speed_label)}, coloured by quality class. Each line joins, within one quality class, the cheapest for their speed; "
            f"the numbered rings are the tiers above; hover a point for its configuration.{missing}</p>"
            f'<div class="chart-box">{svg.cost_speed(points, p.get("budget"), speed_label, cost_label)}</div></section>\n')


def advice_html(data: Mapping[str, Any], compared: Sequence[Mapping[str, Any]] = (), explanation: Explanation | None = None,
                before: str = "", style: str = "") -> str:
    """The report of `llmhw recommend`: workload, tiers as cards, memory per device, every option compared, warnings and tips.

    :param data: the result as `llmhw recommend --format json` prints it.
    :param compared: every configuration compared (``Advice.compared``), for the cost/speed chart.
    :param explanation: the consultation's explanation (``llmhw.trace.explain``), for the derivations.
    :param before: HTML placed first in the page (the web app's form), and ``style`` the CSS it needs.
    """
    p = data.get("profile", {})
    how = Derivations(explanation)
    command = reproduce("recommend", data, [*_have_args(data.get("upgrade")), "--format", "html"])
    recs = list(data.get("recommendations", ()))
    out = [head(f"llmhw: hardware for {p.get('model_name', p.get('model'))}", style), before,
           f"<header><h1>Hardware for {_e(p.get('model_name', p.get('model')))}</h1><p class=\"sub\">{_workload_line(p)}</p></header>\n",
           _profile(data)]
    out.append(_items("Upgrade from what you have", "upgrade", (data.get("upgrade") or {}).get("answers", ()), how))
    out.append('<section id="tiers"><h2>Recommendations</h2>')
    if recs:
        out.append('<div class="cards">\n' + "".join(
            _card(n, r, data, how.html("recommendation", str(r.get("tier")), "How this was chosen")) for n, r in enumerate(recs, 1)) + "</div>")
    else:
        out.append("<p>Nothing in the catalog fits this workload under these constraints: see the notes below.</p>")
    out.append("</section>\n")
    if recs:
        rows = [_memory_row(f"{n}. {r.get('tier')}: {r.get('count')} × {r.get('hardware_name') or r.get('hardware')} at {r.get('precision')}", r)
                for n, r in enumerate(recs, 1)]
        need = data.get("memory_need") or {}
        if need.get("total"):
            label = f"the need at {need.get('precision')} on one device with {need.get('runtime')} (reference)"
            rows.insert(0, _memory_row(label, {"memory": need}))
        out.append(_memory_section(rows, "The workload's need at its reference precision, then each tier's memory on one of its devices, "
                                         "against the memory its runtime can use there."))
    out.append(_compare_section(data, compared))
    out += [_items("Warnings", "warning", data.get("warnings", ()), how), _items("Tips", "tip", data.get("tips", ()), how),
            _items("Notes", "note", data.get("notes", ()), how), how.sources_html(), _foot(command)]
    return "".join(out)


def _have_args(upgrade: Mapping[str, Any] | None) -> list[str]:
    """The --have/--count options of an answer relative to owned hardware (`recommend --have`)."""
    if not upgrade:
        return []
    have = upgrade["have"]
    if have["source"] == "this machine" or have["hardware"] == "none":
        return ["--have", "this" if have["source"] == "this machine" else "none"]
    return ["--have", str(have["hardware"]), "--count", str(have["count"])]


def check_html(data: Mapping[str, Any], hardware_name: str, explanation: Explanation | None = None, before: str = "",
               style: str = "") -> str:
    """The report of `llmhw check`: the verdict, the workload, the configuration, its memory, warnings and tips.

    :param data: the result as `llmhw check --format json` prints it.
    :param hardware_name: the accelerator's display name.
    """
    p = data.get("profile", {})
    how = Derivations(explanation)
    extra = ["--hardware", shlex.quote(str(data.get("hardware"))), "--count", str(data.get("count", 1))]
    command = reproduce("check", data, [*extra, "--format", "html"])
    fits = bool(data.get("fits"))
    at = f" at {data['precision']} with {data.get('runtime')}" if data.get("precision") else ""
    config = f"{data.get('count', 1)} × {hardware_name}"
    verdict = f'<span class="verdict{"" if fits else " no"}">{"FITS" if fits else "DOES NOT FIT"}</span>'
    out = [head(f"llmhw: {p.get('model_name')} on {config}", style), before,
           f"<header><h1>{_e(p.get('model_name', p.get('model')))} on {_e(config)}</h1><p>{verdict} {_e(at)}</p>"
           f'<p class="sub">{_workload_line(p)}</p></header>\n', _profile(data)]
    if data.get("memory"):
        fit_how = next((how.html("fit", key[1], "How this was judged") for key in how.by_key if key[0] == "fit"), "")
        out.append(f'<section id="configuration"><h2>The configuration</h2><div class="cards"><article class="card"><header>'
                   f'<h3>{_e(config)}</h3></header>{_option_facts(data, p.get("task", "inference") != "inference")}'
                   f'{_launch_html(data.get("launch"))}<p class="cmd">Reproduce: <code>{_e(reproduce("check", data, extra))}</code></p>'
                   f'{fit_how}</article></div></section>\n')
        out.append(_memory_section([_memory_row(config, data)], "The workload's memory on one device, against the memory its runtime can use."))
    out += [_items("Warnings", "warning", data.get("warnings", ()), how), _items("Tips", "tip", data.get("tips", ()), how),
            _items("Notes", "note", data.get("notes", ()), how), how.sources_html(), _foot(command)]
    return "".join(out)
