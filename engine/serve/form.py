"""The web form: one field per input slot (the questions `llmhw ask` poses, with their help and why), filled with
the request's values so that a what-if is an edit and a click."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from ..profile import SLOTS, Slot
from ..report.page import head
from ..views import WhyView

FORM_CSS = """
form.workload { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: 12px 14px; margin-bottom: 12px; }
form.workload .fields { display: grid; grid-template-columns: repeat(auto-fill, minmax(240px, 1fr)); gap: 10px 16px; }
form.workload label { display: block; font-weight: 600; font-size: 0.9rem; }
form.workload input, form.workload select { width: 100%; font: inherit; padding: 5px 7px; border: 1px solid #b9c2cc; border-radius: 4px;
  background: #fff; }
form.workload .help { color: var(--muted); font-size: 0.78rem; margin: 2px 0 0; }
form.workload .field.bad input, form.workload .field.bad select { border: 2px solid var(--warn); }
form.workload details { font-size: 0.78rem; color: var(--muted); }
form.workload details ul { margin: 2px 0; padding-left: 16px; }
form.workload .actions { margin-top: 12px; display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
form.workload button { font: inherit; font-weight: 600; padding: 7px 18px; border: 0; border-radius: 4px; background: var(--accent); color: #fff;
  cursor: pointer; }
.error { background: #fdecea; border: 1px solid var(--warn); color: var(--warn); border-radius: 4px; padding: 8px 12px; font-weight: 600; }
"""

# Inputs of `check` beyond the workload: the configuration to judge.
CHECK_FIELDS = (("hardware", "Hardware to check (leave empty to get recommendations)?", "an accelerator name or id; `llmhw hardware` lists them"),
                ("count", "How many of them?", "1 if empty"))


def _e(value: Any) -> str:
    return escape(str(value))


class Form:
    """The form's static parts (choices, defaults, why), built once per server; ``html`` fills it with values."""

    def __init__(self, defaults: Mapping[str, str], why: Mapping[str, WhyView], lists: Mapping[str, Sequence[str]]) -> None:
        self.defaults = defaults  # slot -> the default shown as placeholder
        self.why = why
        self.lists = lists  # datalists: models, precisions, hardware

    def html(self, values: Mapping[str, Any], bad_field: str | None = None, error: str | None = None) -> str:
        cells = [self._slot(slot, values.get(slot.name), bad_field == slot.name) for slot in SLOTS]
        for name, question, hint in CHECK_FIELDS:
            kind = "number" if name == "count" else "text"
            extra = ' min="1" step="1"' if name == "count" else ' list="list-hardware"'
            control = f'<input id="f-{name}" name="{name}" type="{kind}"{extra} value="{_e(values.get(name) or "")}">'
            cells.append(self._cell(name, question, hint, control, bad_field == name, ""))
        lists = "".join(f'<datalist id="list-{name}">' + "".join(f'<option value="{_e(v)}">' for v in items) + "</datalist>"
                        for name, items in sorted(self.lists.items()))
        shown_error = f'<p class="error" role="alert">{_e(error)}</p>' if error else ""
        return (f'<form class="workload" method="get" action="/report">{shown_error}<div class="fields">{"".join(cells)}</div>{lists}'
                '<div class="actions"><button type="submit">Answer</button><span class="caption">Empty fields take the default shown. '
                "Change any field and press the button again to see what changes; the JSON of the same answer is at "
                "<code>/recommend</code> (or <code>/check</code>) with the same parameters.</span></div></form>\n")

    def _slot(self, slot: Slot, value: Any, bad: bool) -> str:
        shown = "" if value is None else str(value)
        if slot.kind == "choice":
            default = self.defaults.get(slot.name, "")
            options = [f'<option value="">default: {_e(default)}</option>']
            options += [f'<option value="{_e(c)}"{" selected" if c == shown else ""}>{_e(c)}</option>' for c in slot.choices]
            control = f'<select id="f-{slot.name}" name="{slot.name}">{"".join(options)}</select>'
        else:
            attrs = f' placeholder="{_e(self.defaults.get(slot.name, ""))}"'
            if slot.kind in ("int", "float"):  # text, not number: a value the server refuses is shown again as typed
                attrs += f' type="text" inputmode="{"numeric" if slot.kind == "int" else "decimal"}"'
            else:
                attrs += ' type="text"' + (f' list="list-{slot.name}"' if slot.name in self.lists else "")
            required = " required" if slot.name == "model" else ""
            control = f'<input id="f-{slot.name}" name="{slot.name}"{attrs} value="{_e(shown)}"{required}>'
        return self._cell(slot.name, slot.question, slot.hint, control, bad, self._why(slot.name))

    @staticmethod
    def _cell(name: str, question: str, hint: str, control: str, bad: bool, why: str) -> str:
        return (f'<div class="field{" bad" if bad else ""}"><label for="f-{name}">{_e(question)} <code>{_e(name)}</code></label>{control}'
                f'<p class="help">{_e(hint)}</p>{why}</div>')

    def _why(self, slot: str) -> str:
        view = self.why.get(slot)
        if view is None or not (view.readers or view.asker):
            return ""
        rules = ([view.asker] if view.asker else []) + list(view.readers)
        items = "".join(f"<li><code>{_e(r.id)}</code> {_e(r.statement)}</li>" for r in rules)
        return f"<details><summary>why: {len(view.readers)} rule(s) read it</summary><ul>{items}</ul></details>"


def page(title: str, body: str) -> str:
    """A page of the web app that is not a report: the empty form, or an error."""
    return f"{head(title, FORM_CSS)}{body}</main>\n</body>\n</html>\n"
