"""Inline SVG charts for the HTML report, drawn from the result's own numbers (nothing is sized here).

- ``memory_bars``: per configuration, one bar of memory per device (weights, KV cache, activations, ...)
  on a common GB axis, ending at the device's usable memory (free space hatched, overflow in red);
- ``cost_speed``: every configuration compared, cost against speed on log axes, coloured by quality class,
  with the cost/speed Pareto front, the chosen tiers numbered and the budget line.

Output is deterministic (fixed decimals, input order) and uses no ids shared between charts unless prefixed,
no scripts and no external references: it is embedded as is in the report.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape

from ..units import GB

# Memory parts in stacking order, with their colours (colour-blind-safe, distinct in greyscale print too).
PARTS = (("weights", "weights", "#3b6fb6"), ("kv_cache", "KV cache", "#e08a2c"), ("activations", "activations", "#4f9a56"),
         ("gradients", "gradients", "#8d5fb0"), ("optimizer", "optimizer", "#a0522d"), ("overhead", "overhead", "#8c8c8c"))
OVER = "#c0392b"
# Quality classes from best to worst; a class the planner adds later gets a fallback colour.
QUALITY_COLOURS = (("reference", "#1f4e9c"), ("lossless", "#1f4e9c"), ("near-lossless", "#3fa0d0"), ("small-loss", "#e6a23c"),
                   ("noticeable-loss", "#d1495b"), ("noticeable", "#d1495b"), ("large-loss", "#6d2e46"))
FALLBACK_COLOURS = ("#6b8e23", "#8b6914", "#5f5f5f")
FONT = 'font-family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif"'


def _num(x: float) -> str:
    """A coordinate with one decimal, without a trailing .0 (stable across platforms)."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _gb(n_bytes: float) -> str:
    value = n_bytes / GB
    return f"{value:,.0f} GB" if value >= 100 else f"{value:,.1f} GB"


def linear_ticks(high: float, count: int = 5) -> list[float]:
    """Round tick values from 0 up to at least ``high`` (steps of 1, 2, 2.5 or 5 times a power of ten)."""
    if high <= 0:
        return [0.0, 1.0]
    raw = high / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    n = math.ceil(high / step - 1e-9)
    return [round(i * step, 10) for i in range(n + 1)]


def log_ticks(low: float, high: float) -> list[float]:
    """Tick values for a log axis covering [low, high]: the coarsest of 1, 1-2-5 or 1-9 per decade giving 4 ticks or more."""
    if low <= 0 or high <= 0:
        raise ValueError(f"a log axis needs positive bounds, got {low!r} to {high!r}")
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    ticks: list[float] = []
    for steps in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [t for e in range(first, last + 1) for m in steps if low * (1 - 1e-9) <= (t := m * 10.0**e) <= high * (1 + 1e-9)]
        if len(ticks) >= 4:
            break
    return ticks


def short_usd(amount: float) -> str:
    """A money tick: 500, 2k, 1.5M USD."""
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if amount >= size:
            return f"{amount / size:g}{suffix}"
    return f"{amount:g}"


def short_rate(x: float) -> str:
    """A speed tick: 0.5, 20, 5k."""
    return short_usd(x) if x >= 1000 else f"{x:g}"


# -- memory per device -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemoryRow:
    """One configuration's memory per device: its parts in bytes and the usable memory (None: not known)."""

    label: str
    parts: Mapping[str, int]
    usable_bytes: int | None


def memory_bars(rows: Sequence[MemoryRow], width: int = 720) -> str:
    """Stacked bars of memory per device on one GB axis, each ending at its usable memory."""
    left, right, top = 8, 16, 34
    row_h, bar_h = 58, 20
    totals = [sum(r.parts.get(k, 0) for k, _, _ in PARTS) for r in rows]
    ticks = linear_ticks(max([1.0, *(t / GB for t in totals), *((r.usable_bytes or 0) / GB for r in rows)]))
    span = width - left - right
    scale = span / (ticks[-1] * GB)
    height = top + row_h * len(rows) + 30
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" {FONT} font-size="12">',
           "<title>Memory per device: what each configuration holds, against its usable memory</title>",
           '<defs><pattern id="free-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
           '<rect width="6" height="6" fill="#f4f6f8"/><line x1="0" y1="0" x2="0" y2="6" stroke="#c5ccd3" stroke-width="2"/></pattern></defs>']
    out.append(_legend([(label, colour) for key, label, colour in PARTS if any(r.parts.get(key) for r in rows)]
                       + [("free", "url(#free-hatch)")], left, 14))
    base = top + row_h * len(rows)
    for t in ticks:
        x = left + t * GB * scale
        out.append(f'<line x1="{_num(x)}" y1="{top - 4}" x2="{_num(x)}" y2="{base}" stroke="#e3e6ea"/>')
        out.append(f'<text x="{_num(x)}" y="{base + 16}" text-anchor="middle" fill="#555">{t:g}</text>')
    out.append(f'<text x="{width - right}" y="{base + 28}" text-anchor="end" fill="#555" font-size="11">GB per device (10^9 bytes)</text>')
    for i, (row, total) in enumerate(zip(rows, totals, strict=True)):
        y = top + i * row_h
        out.append(f'<text x="{left}" y="{y + 10}" fill="#222" font-weight="600">{escape(row.label)}</text>')
        bar_y = y + 16
        x = float(left)
        for key, label, colour in PARTS:
            size = row.parts.get(key, 0)
            if size <= 0:
                continue
            w = size * scale
            out.append(f'<rect x="{_num(x)}" y="{bar_y}" width="{_num(max(w, 0.5))}" height="{bar_h}" fill="{colour}">'
                       f"<title>{escape(label)}: {_gb(size)}</title></rect>")
            if w >= 58:
                out.append(f'<text x="{_num(x + w / 2)}" y="{bar_y + 14}" text-anchor="middle" fill="#fff" font-size="11">{_gb(size)}</text>')
            x += w
        out += _usable_marker(row.usable_bytes, total, left, x, bar_y, bar_h, scale)
    out.append("</svg>")
    return "\n".join(out)


def _usable_marker(usable: int | None, total: int, left: int, end: float, bar_y: int, bar_h: int, scale: float) -> list[str]:
    """Free space hatched up to the usable line, or the overflow beyond it in red; the line labelled."""
    if usable is None:
        return []
    edge = left + usable * scale
    out = []
    if usable > total:
        out.append(f'<rect x="{_num(end)}" y="{bar_y}" width="{_num(edge - end)}" height="{bar_h}" fill="url(#free-hatch)">'
                   f"<title>free: {_gb(usable - total)}</title></rect>")
        note, colour = f"usable {_gb(usable)}, {_gb(usable - total)} free", "#333"
    else:
        out.append(f'<rect x="{_num(edge)}" y="{bar_y}" width="{_num(end - edge)}" height="{bar_h}" fill="none" stroke="{OVER}" '
                   f'stroke-width="2"><title>over by {_gb(total - usable)}</title></rect>')
        note, colour = f"usable {_gb(usable)}: over by {_gb(total - usable)}", OVER
    out.append(f'<line x1="{_num(edge)}" y1="{bar_y - 3}" x2="{_num(edge)}" y2="{bar_y + bar_h + 3}" stroke="#222" stroke-width="2"/>')
    anchor = "end" if edge > left + 160 else "start"
    out.append(f'<text x="{_num(edge)}" y="{bar_y + bar_h + 14}" text-anchor="{anchor}" fill="{colour}" font-size="11">{escape(note)}</text>')
    return out


def _legend(items: Sequence[tuple[str, str]], x: float, y: float) -> str:
    parts = []
    for label, fill in items:
        parts.append(f'<rect x="{_num(x)}" y="{_num(y - 9)}" width="11" height="11" fill="{fill}" stroke="#999" stroke-width="0.5"/>'
                     f'<text x="{_num(x + 15)}" y="{_num(y)}" fill="#333">{escape(label)}</text>')
        x += 15 + 7.2 * len(label) + 14
    return "".join(parts)


# -- cost against speed -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Point:
    """One compared configuration: cost (None: no price), speed, quality class, its label, the tier numbers it was chosen for."""

    cost_usd: float | None
    speed: float
    quality: str
    label: str
    tiers: tuple[int, ...] = ()


def quality_colours(classes: Sequence[str]) -> dict[str, str]:
    """A colour per quality class present, best class first; classes not known here get a fallback colour."""
    known = dict(QUALITY_COLOURS)
    order = [q for q, _ in QUALITY_COLOURS]
    ranked = sorted(set(classes), key=lambda q: (order.index(q) if q in order else len(order), q))
    spare = iter(FALLBACK_COLOURS * (1 + len(ranked)))
    return {q: known.get(q) or next(spare) for q in ranked}


def front(points: Sequence[Point]) -> list[Point]:
    """The priced points no other of them beats on both cost (lower) and speed (higher), cheapest first."""
    out: list[Point] = []
    for p in sorted((p for p in points if p.cost_usd is not None), key=lambda p: (p.cost_usd, -p.speed)):
        if not out or p.speed > out[-1].speed:
            out.append(p)
    return out


def cost_speed(points: Sequence[Point], budget_usd: float | None, speed_label: str, cost_label: str, width: int = 720) -> str:
    """A log-log scatter of cost against speed: quality by colour, the Pareto front, tiers numbered, the budget."""
    left, right, top, bottom = 58, 20, 40, 46
    height = 400
    priced = [p for p in points if p.cost_usd is not None and p.cost_usd > 0]
    unpriced = [p for p in points if p.cost_usd is None]
    costs = [p.cost_usd for p in priced if p.cost_usd is not None] or [1.0]
    speeds = [p.speed for p in points] or [1.0]
    lo_x, hi_x = min(costs), max(costs)
    if budget_usd and budget_usd <= hi_x * 10:
        lo_x, hi_x = min(lo_x, budget_usd), max(hi_x, budget_usd)
    x0, x1 = math.log10(lo_x / 1.4), math.log10(hi_x * 1.4)
    y0, y1 = math.log10(min(speeds) / 1.4), math.log10(max(speeds) * 1.4)
    strip = 64 if unpriced else 0  # a column at the right for configurations without a price
    plot_w, plot_h = width - left - right - strip, height - top - bottom

    def sx(cost: float) -> float:
        return left + (math.log10(cost) - x0) / (x1 - x0) * plot_w

    def sy(speed: float) -> float:
        return top + plot_h - (math.log10(speed) - y0) / (y1 - y0) * plot_h

    colours = quality_colours([p.quality for p in points])
    out = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" {FONT} font-size="12">',
           f"<title>Every configuration compared: {escape(cost_label)} against {escape(speed_label)}</title>"]
    out.append(_legend([(q, c) for q, c in colours.items()], left, 16))
    out.append(f'<text x="{left}" y="32" fill="#555" font-size="11">lines: per quality class, the cheapest for their speed '
               "(Pareto front); numbered rings: the chosen tiers</text>")
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fbfcfd" stroke="#d5d9de"/>')
    for t in log_ticks(10**x0, 10**x1):
        out.append(f'<line x1="{_num(sx(t))}" y1="{top}" x2="{_num(sx(t))}" y2="{top + plot_h}" stroke="#e8ebee"/>'
                   f'<text x="{_num(sx(t))}" y="{top + plot_h + 15}" text-anchor="middle" fill="#555">{short_usd(t)}</text>')
    for t in log_ticks(10**y0, 10**y1):
        out.append(f'<line x1="{left}" y1="{_num(sy(t))}" x2="{left + plot_w}" y2="{_num(sy(t))}" stroke="#e8ebee"/>'
                   f'<text x="{left - 6}" y="{_num(sy(t) + 4)}" text-anchor="end" fill="#555">{short_rate(t)}</text>')
    out.append(f'<text x="{left + plot_w / 2:.0f}" y="{height - 8}" text-anchor="middle" fill="#333">{escape(cost_label)} (log scale)</text>')
    out.append(f'<text transform="translate(14 {top + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle" fill="#333">'
               f"{escape(speed_label)} (log scale)</text>")
    if budget_usd and 10**x0 <= budget_usd <= 10**x1:
        bx = sx(budget_usd)
        out.append(f'<line x1="{_num(bx)}" y1="{top}" x2="{_num(bx)}" y2="{top + plot_h}" stroke="#b03a2e" stroke-dasharray="5 4" '
                   'stroke-width="1.5"/>'
                   f'<text x="{_num(bx - 4)}" y="{top + 12}" text-anchor="end" fill="#b03a2e" font-size="11">'
                   f"budget {short_usd(budget_usd)} USD</text>")
    for quality, colour in colours.items():
        steps = front([p for p in priced if p.quality == quality])
        if len(steps) > 1:
            path = [f"M{_num(sx(steps[0].cost_usd or 1))} {_num(sy(steps[0].speed))}"]
            path += [f"H{_num(sx(p.cost_usd or 1))} V{_num(sy(p.speed))}" for p in steps[1:]]
            out.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="1.6" stroke-opacity="0.75"/>')
    if unpriced:
        sx0 = left + plot_w + 8
        out.append(f'<rect x="{sx0}" y="{top}" width="{strip - 8}" height="{plot_h}" fill="#f4f4f4" stroke="#d5d9de"/>'
                   f'<text x="{sx0 + (strip - 8) / 2:.0f}" y="{top + plot_h + 15}" text-anchor="middle" fill="#555">no price</text>')
    marks: list[tuple[float, float, Point]] = []
    for p in points:
        x = sx(p.cost_usd) if p.cost_usd is not None and p.cost_usd > 0 else left + plot_w + 8 + (strip - 8) / 2
        y = sy(p.speed)
        out.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="5" fill="{colours[p.quality]}" fill-opacity="0.85" stroke="#fff" '
                   f'stroke-width="1"><title>{escape(p.label)}</title></circle>')
        if p.tiers:
            marks.append((x, y, p))
    for x, y, p in marks:  # drawn last, above every point
        out.append(f'<circle cx="{_num(x)}" cy="{_num(y)}" r="10" fill="none" stroke="#111" stroke-width="2"/>'
                   f'<text x="{_num(x + 13)}" y="{_num(y - 8)}" fill="#111" font-weight="700" font-size="13">'
                   f'{",".join(map(str, p.tiers))}</text>')
    out.append("</svg>")
    return "\n".join(out)
