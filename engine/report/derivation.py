"""Derivations laid out as HTML: each conclusion's chain of rule firings (``llmhw.trace.explain``) as a tree,
the rules' sources as numbered references, the knowledge entries' sources linked; and `llmhw explain` as a page."""

from __future__ import annotations

from html import escape
from typing import Any

from ..trace.explain import Explanation, Node


def _e(value: Any) -> str:
    return escape(str(value))


class Derivations:
    """The explanation of a consultation, by conclusion, laid out as trees; rule sources become numbered references."""

    def __init__(self, explanation: Explanation | None) -> None:
        self.explanation = explanation
        self.refs: dict[str, int] = {}
        self.by_key: dict[tuple[str, str], Node] = {}
        for c in explanation.conclusions if explanation else ():
            if c.kind == "recommendation":
                self.by_key[(c.kind, c.key)] = c.node
            else:  # warnings, tips and notes: by id and message (an id drawn twice is keyed "id#2")
                self.by_key[(c.kind, f"{c.key.split('#')[0]}: {c.summary.split(': ', 1)[-1]}")] = c.node

    def html(self, kind: str, key: str, title: str) -> str:
        node = self.by_key.get((kind, key))
        if node is None:
            return ""
        return f'<details class="how"><summary>{_e(title)}</summary><ul class="tree">\n{self.node_html(node)}</ul></details>'

    def _ref(self, title: str) -> str:
        n = self.refs.setdefault(title, len(self.refs) + 1)
        return f'<a href="#ref-{n}">[{n}]</a>'

    def node_html(self, node: Node) -> str:
        """One derivation step as a list item, with its sources and the steps it rested on."""
        if node.rule_id is None:
            return f"<li>{_e(node.text)}</li>\n"
        if node.repeated:
            return f"<li><code>{_e(node.rule_id)}</code> (as above)</li>\n"
        parts = [f"<li><code>{_e(node.rule_id)}</code> {_e(node.text)}"]
        if node.sources:
            parts.append(f'<div class="src">sources: {" ".join(self._ref(s) for s in node.sources)}</div>')
        for entry in node.entries:
            cited = ", ".join(f'<a href="#src-{_e(s)}">{_e(s)}</a>' + (f" ({_e(q)})" if q else "") for s, q in entry.sources)
            parts.append(f'<div class="kn">{_e(entry.label)} {_e(entry.name)} ({_e(entry.file)}): {cited}</div>')
        if node.because:
            parts.append("<ul>\n" + "".join(self.node_html(child) for child in node.because) + "</ul>")
        return "".join(parts) + "</li>\n"

    def sources_html(self) -> str:
        if not self.refs and not (self.explanation and self.explanation.sources):
            return ""
        out = ['<section id="sources"><h2>Sources</h2>']
        if self.refs:
            out.append('<p class="caption">Behind the rules:</p><ol class="refs">')
            out += [f'<li id="ref-{n}">{_e(title)}</li>\n' for title, n in self.refs.items()]
            out.append("</ol>")
        if self.explanation and self.explanation.sources:
            out.append('<p class="caption">Behind the knowledge entries (models, hardware, formats, runtimes):</p><ul class="refs">')
            for sid, title, url in self.explanation.sources:
                # a source may give several addresses separated by ' ; ': one link each
                link = "".join(f' <a href="{_e(u)}" rel="noreferrer">{_e(u)}</a>'
                               for u in url.split(" ; ") if u.startswith(("https://", "http://")))
                out.append(f'<li id="src-{_e(sid)}"><code>{_e(sid)}</code> {_e(title)}{link}</li>\n')
            out.append("</ul>")
        return "".join(out) + "</section>\n"


def explanation_html(e: Explanation, head: str) -> str:
    """`llmhw explain --format html`: the trace's inputs, then every conclusion open on its derivation, then the sources."""
    how = Derivations(e)
    given = ", ".join(f"{k}={v}" for k, v in sorted(e.inputs.items())) or "none"
    used = ", ".join(f"{k}={v}" for k, v in sorted(e.defaults.items())) or "none"
    out = [head, f"<header><h1>How <code>llmhw {_e(e.command)}</code> reached its conclusions</h1>",
           f'<p class="sub">Trace written {_e(e.created)} by llmhw {_e(e.version)}. Your inputs: {_e(given)}. Defaults applied: {_e(used)}.</p>'
           "</header>\n"]
    for c in e.conclusions:
        out.append(f'<section class="conclusion"><h2>{_e(c.kind.capitalize())} {_e(c.summary)}</h2>'
                   f'<ul class="tree">\n{how.node_html(c.node)}</ul></section>\n')
    out += [how.sources_html(), "</main>\n</body>\n</html>\n"]
    return "".join(out)
