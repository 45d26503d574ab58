"""The report's stylesheet, inlined in every page: system fonts only, readable on a phone and on paper."""

from __future__ import annotations

CSS = """
:root { --ink: #1d2329; --muted: #5b6672; --line: #dde2e7; --card: #ffffff; --bg: #f5f7f9; --accent: #1f4e9c;
        --warn: #b03a2e; --tip: #1f7a4d; --note: #6b5b95; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 20px 16px 40px; }
h1 { font-size: 1.6rem; margin: 0 0 4px; line-height: 1.25; }
h2 { font-size: 1.2rem; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 1.05rem; margin: 0; }
p { margin: 6px 0; }
code { font: 0.86em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eef1f4; padding: 1px 4px; border-radius: 3px; }
a { color: var(--accent); }
.sub { color: var(--muted); margin: 0; }
.verdict { display: inline-block; padding: 4px 12px; border-radius: 4px; font-weight: 700; color: #fff; background: var(--tip); }
.verdict.no { background: var(--warn); }
.profile { display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 6px 16px; margin: 8px 0; }
.profile div { background: var(--card); border: 1px solid var(--line); border-radius: 4px; padding: 4px 8px; }
.profile dt { font-size: 0.78rem; color: var(--muted); }
.profile dd { margin: 0; font-weight: 600; overflow-wrap: anywhere; }
.tag { display: inline-block; font-size: 0.72rem; font-weight: 600; padding: 0 6px; border-radius: 8px; background: #e7ebf0;
       color: var(--muted); vertical-align: 1px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(290px, 1fr)); gap: 14px; }
.card { background: var(--card); border: 1px solid var(--line); border-top: 4px solid var(--accent); border-radius: 6px; padding: 12px 14px;
        display: flex; flex-direction: column; gap: 6px; break-inside: avoid; }
.card header { display: flex; align-items: center; gap: 8px; }
.num { display: inline-flex; align-items: center; justify-content: center; width: 24px; height: 24px; border-radius: 50%;
       background: var(--ink); color: #fff; font-weight: 700; font-size: 0.85rem; flex: none; }
.hw { font-weight: 600; font-size: 1.02rem; }
.facts { display: grid; grid-template-columns: auto 1fr; gap: 2px 10px; margin: 0; }
.facts dt { color: var(--muted); }
.facts dd { margin: 0; }
.why { color: var(--ink); font-style: italic; }
.warned { color: var(--warn); font-weight: 600; font-size: 0.88rem; }
.warned a { color: var(--warn); }
.cmd { font-size: 0.85rem; }
.cmd code { display: block; white-space: pre-wrap; overflow-wrap: anywhere; padding: 6px 8px; margin-top: 2px; user-select: all; }
.chart-box { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 10px; overflow-x: auto; }
.chart { display: block; width: 100%; min-width: 560px; height: auto; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; background: var(--card); }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th:first-child, td:first-child { text-align: left; white-space: normal; }
.table-box { overflow-x: auto; margin-top: 8px; }
.caption { color: var(--muted); font-size: 0.88rem; }
details.item { background: var(--card); border: 1px solid var(--line); border-left: 4px solid var(--tip); border-radius: 4px; margin: 8px 0;
               padding: 6px 10px; break-inside: avoid; }
details.warning { border-left-color: var(--warn); }
details.note { border-left-color: var(--note); }
details > summary { cursor: pointer; }
details.item > summary { list-style-position: outside; margin-left: 14px; }
.stake { display: inline-block; font-weight: 700; font-size: 0.8rem; padding: 0 6px; border-radius: 8px; background: #fdecea; color: var(--warn);
         margin-right: 4px; }
.tip .stake { background: #e6f4ec; color: var(--tip); }
.how { font-size: 0.85rem; }
.tree, .tree ul { list-style: none; margin: 4px 0 0; padding-left: 14px; border-left: 2px solid var(--line); }
.tree li { margin: 4px 0; }
.tree .src, .tree .kn { color: var(--muted); font-size: 0.8rem; }
.refs li { margin: 3px 0; font-size: 0.86rem; overflow-wrap: anywhere; }
footer { margin-top: 32px; color: var(--muted); font-size: 0.85rem; }
@media (max-width: 600px) { main { padding: 12px 10px 30px; } h1 { font-size: 1.3rem; } }
@media print {
  body { background: #fff; font-size: 11pt; }
  main { max-width: none; padding: 0; }
  .card, .chart-box, details.item, .profile div { border-color: #bbb; }
  details::details-content { content-visibility: visible; display: block; }
  .chart { min-width: 0; }
  form, .no-print { display: none; }
  a { color: inherit; text-decoration: none; }
}
"""
