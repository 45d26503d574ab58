"""The question-and-answer consultation, step by step, with no terminal I/O.

`llmhw ask` is a thin loop over ``Consultation``; other programs (a web form, a
chat bot) drive the same steps. The questions are not scripted here: after each
answer the rules run again, and the first slot an ``IN-ask-*`` rule asked for is
the next question, so an input no rule needs is never asked.

The engine (experta) is imported on first use, not at import time, so that
``import llmhw`` stays cheap.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .errors import InputError, LlmhwError
from .knowledge.loader import dump_yaml, load_catalog
from .models import with_model
from .planner import TIERS
from .profile import NONE, SLOT_BY_NAME, SLOTS, Slot, check
from .trace import derivation, explain_lines
from .units import gb, params, usd

if TYPE_CHECKING:
    from .api import Advice

# The same presets as the context slot's hint, offered as typical values.
CONTEXT_PRESETS = ((4096, "short chat"), (8192, "chat with history"), (32768, "documents"), (131072, "long context"))
AT_ANY_QUESTION = "At any question: why (which rules need this answer), help, back (previous question), quit."


@dataclass(frozen=True)
class QuestionView:
    """One open question, with everything needed to pose it."""

    slot: str
    number: int  # 1-based position in this consultation
    text: str
    hint: str
    choices: tuple[str, ...] = ()  # accepted values, also by their 1-based number; empty for numbers
    labels: tuple[str, ...] = ()  # one note per choice (model sizes), "" where none
    suggestions: tuple[str, ...] = ()  # typical values of a numeric slot (context presets)
    range: tuple[float, float] | None = None  # accepted numbers, inclusive
    default: str | None = None  # what an empty answer takes; None: an answer is required
    optional: bool = False  # "none" leaves it empty on purpose (no budget, no host described)

    def range_text(self) -> str:
        """The accepted numbers in words ("" for a question answered by name)."""
        if self.range is None:
            return ""
        high = "no upper limit" if self.range[1] == float("inf") else _number(self.range[1])
        return f"a number from {_number(self.range[0])} to {high}"


def _engine() -> tuple[Any, Any]:
    from . import api, session

    return session, api


def _show(value: Any) -> str:
    if value is None or value == NONE:
        return NONE
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _template(statement: str) -> str:
    """A rule statement with its placeholders named rather than filled: `{cost}` reads `<cost>`."""
    return re.sub(r"\{(\w+)[^{}]*\}", r"<\1>", statement)


def _decides(doc: str) -> str:
    """The first line of a rule's `## What it decides` section."""
    lines = doc.splitlines()
    for i, line in enumerate(lines):
        if line.strip().lower() == "## what it decides":
            return next((nxt.strip() for nxt in lines[i + 1:] if nxt.strip()), "")
    return next((line.strip() for line in lines if line.strip()), "")


class Consultation:
    """A consultation driven one answer at a time: next_question, answer, why, help, back, then result, how, what_if.

    .. versionadded:: 0.1.0
    """

    def __init__(self, knowledge_dirs: Iterable[str] = ()) -> None:
        self.knowledge_dirs = tuple(str(d) for d in knowledge_dirs)
        self.catalog = load_catalog(self.knowledge_dirs)
        self._answers: dict[str, Any] = {}
        self._order: list[str] = []  # slots in the order they were answered: `back` pops the last
        self._defaulted: set[str] = set()  # answered by accepting the default shown
        self._explicit_only = True  # whether result() could leave the accepted defaults to `recommend`
        self._advice: Advice | None = None
        self._pending: str | None = None
        self._refresh()

    # -- the questions ---------------------------------------------------------------------------------

    @property
    def answers(self) -> dict[str, Any]:
        """The answers so far (catalog ids for model and precision; "none" for a slot left empty on purpose)."""
        return dict(self._answers)

    def next_question(self) -> QuestionView | None:
        """The question the rules need answered next, or None when the consultation is complete."""
        if self._pending is None:
            return None
        slot = SLOT_BY_NAME[self._pending]
        choices, labels = self._choices(slot)
        suggestions: tuple[str, ...] = ()
        hint = slot.hint
        if slot.name == "context":
            limit = self.catalog.models[self._answers["model"]].max_context
            suggestions = tuple(f"{n} ({what})" for n, what in CONTEXT_PRESETS if n <= limit)
            hint = f"{hint}; this model reads up to {limit:,} tokens"
        numeric = slot.kind in ("int", "float")
        default = self._default(slot)
        return QuestionView(
            slot=slot.name, number=len(self._order) + 1, text=slot.question, hint=hint, choices=choices, labels=labels,
            suggestions=suggestions, range=(slot.low, slot.high) if numeric else None,
            default=None if default is None else _show(default), optional=default == NONE,
        )

    def answer(self, raw: str | None) -> None:
        """Answer the open question; an empty answer takes the default. Raises InputError and keeps the question open."""
        slot = self._open()
        text = (raw or "").strip()
        if text:
            value, defaulted = self._parse(slot, text), False
        else:
            value, defaulted = self._default(slot), True
            if value is None:
                raise InputError(slot.name, "an answer is needed here (type help to see the choices)")
        self._answers[slot.name] = value
        self._order.append(slot.name)
        if defaulted:
            self._defaulted.add(slot.name)
        self._refresh()

    def back(self) -> None:
        """Withdraw the last answer, so that its question is open again."""
        if not self._order:
            raise InputError("back", "nothing to go back to: this is the first question")
        slot = self._order.pop()
        del self._answers[slot]
        self._defaulted.discard(slot)
        self._refresh()

    def why(self) -> str:
        """Why the open question is asked: the rule that asked it, and the rules that will use the answer."""
        slot = self._open()
        session, _ = _engine()
        asker = next((m for m in session.RULES if m.id.startswith("IN-ask-") and slot.name in m.needs), None)
        users = [m for m in session.RULES if slot.name in m.needs and not m.id.startswith("IN-ask-")]
        lines = [f"Why `{slot.name}`?"]
        if asker is not None:
            lines.append(f"  [{asker.id}] asks it: {_template(asker.statement)}")
        lines.append(f"  {len(users)} rule(s) read this answer:" if users else "  No other rule reads this answer yet.")
        for meta in users:
            lines.append(f"  - [{meta.id}] {_template(meta.statement)}")
            decides = _decides(meta.doc)
            if decides:
                lines.append(f"      decides: {decides}")
        return "\n".join(lines)

    def help(self) -> str:
        """What the open question means, its choices or range, and its default."""
        q = self.next_question()
        if q is None:
            raise LlmhwError("the consultation is complete: no question is open")
        lines = [f"{q.text}  ({q.slot})", f"  {q.hint}"]
        if q.choices:
            lines.append("  Answer with a name or its number:")
            lines += [f"    {i:>2}. {c}" + (f"  ({label})" if label else "") for i, (c, label) in enumerate(zip(q.choices, q.labels), 1)]
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

    # -- the result ------------------------------------------------------------------------------------

    def result(self) -> Advice:
        """The ranked recommendations, warnings and tips, exactly as `llmhw recommend` computes them."""
        if self._pending is not None:
            raise LlmhwError(f"the consultation is not complete: `{self._pending}` is still open")
        if self._advice is None:
            _, api = _engine()
            # Accepted defaults are left to `recommend` so that "Defaults used" lists them; should its defaults
            # ever differ from the ones shown in the questions, the shown ones win and are passed explicitly.
            advice = api.advise(self._given(), self.knowledge_dirs)
            if any(advice.profile.get(k) != (None if v == NONE else v) for k, v in self._answers.items()):
                self._explicit_only = False
                advice = api.advise(self._given(), self.knowledge_dirs)
            self._advice = advice
        return self._advice

    def profile(self) -> dict[str, Any]:
        """The profile `save` writes: `llmhw recommend --profile FILE` gives the same result from it."""
        self.result()
        return self._given()

    def profile_yaml(self) -> str:
        """The profile as a YAML document, with the accepted defaults noted in a comment."""
        data = self.profile()
        head = "# llmhw profile written by `llmhw ask`; reproduce with `llmhw recommend --profile FILE`\n"
        accepted = [f"{k}={_show(self._answers[k])}" for k in self._order if k in self._defaulted and k not in data]
        if accepted:
            head += f"# defaults accepted (recommend fills them again): {', '.join(accepted)}\n"
        return head + dump_yaml(data)

    def how(self, conclusion: str) -> str:
        """How a recommendation (1-3 or its tier), warning, tip or note was reached: its chain of rules and facts."""
        advice = self.result()
        key = (conclusion or "").strip().lstrip("#").lower()
        recs = list(advice.recommendations)
        items = [*advice.warnings, *advice.tips, *advice.notes]
        tier = None
        if key.isdigit() and 1 <= int(key) <= len(recs):
            tier = recs[int(key) - 1]["tier"]
        elif key in {r["tier"] for r in recs}:
            tier = key
        if tier is not None:
            i, rec = next((i, r) for i, r in enumerate(recs, 1) if r["tier"] == tier)
            title = f"#{i} {tier}: {rec['count']} x {rec['hardware_name']} at {rec['precision']}, {usd(rec['cost']['budget_usd'])}"
            events = [e for e in advice.trace if e.rule_id.startswith("REC-") and e.bindings.get("tier") == tier]
        else:
            events = [e for e in advice.trace if e.rule_id.lower() == key and e.outputs]
            if not key or not events:
                known = [str(i) for i in range(1, len(recs) + 1)] + [r["tier"] for r in recs] + [str(it["id"]) for it in items]
                raise InputError("how", f"no conclusion {conclusion.strip()[:40]!r}; choose one of {', '.join(known) or '(none)'}")
            item = next((it for it in items if str(it["id"]).lower() == key), None)
            title = f"{item['id']}: {item['message']}" if item else f"{events[0].rule_id}: {events[0].statement}"
        lines = [title, "How it was reached (each rule with its sources, then what it rested on):"]
        for event in events:
            for fact in event.outputs:
                lines += ["  " + line for line in explain_lines(derivation(advice.trace, fact), self.catalog.sources)]
        lines.append("Your inputs and the defaults: " + ", ".join(f"{k}={_show(v)}" for k, v in advice.profile.items() if k != "model_name"))
        return "\n".join(lines)

    def what_if(self, field: str, value: str) -> str:
        """Run the consultation again with one answer changed and describe what changed (the session keeps its answers)."""
        before = self.result()
        name = (field or "").strip().lower().replace("-", "_")
        if name not in SLOT_BY_NAME:
            near = difflib.get_close_matches(name, list(SLOT_BY_NAME), n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"expected one of {', '.join(s.name for s in SLOTS)}"
            raise InputError("what-if", f"unknown field {field.strip()[:40]!r}; {hint}")
        slot = SLOT_BY_NAME[name]
        if not (value or "").strip():
            raise InputError("what-if", f"expected {name}=<value>, e.g. {name}={_show(before.profile.get(name))}")
        new = self._parse(slot, value.strip())
        full = {**{k: v for k, v in before.profile.items() if v is not None}, name: new}
        if not slot.needed(full):
            other = slot.when[0] if slot.when else ""
            raise InputError(name, f"not used when {other} is {_show(full.get(other))}")
        given = {**self._given(), name: new}
        if new == NONE:
            del given[name]
        # An answer the changed one makes irrelevant (concurrency once training) would not have been asked.
        given = {k: v for k, v in given.items() if SLOT_BY_NAME[k].needed(full)}
        _, api = _engine()
        after = api.advise(given, self.knowledge_dirs)
        return "\n".join(_differences(name, before, after))

    # -- internals -------------------------------------------------------------------------------------

    def _refresh(self) -> None:
        session, _ = _engine()
        questions = session.run(self.catalog, self._answers).questions
        self._pending = questions[0] if questions else None
        self._advice = None
        self._explicit_only = True

    def _open(self) -> Slot:
        if self._pending is None:
            raise LlmhwError("the consultation is complete: no question is open")
        return SLOT_BY_NAME[self._pending]

    def _default(self, slot: Slot) -> Any:
        """The default an empty answer takes (as `recommend` would fill it), or None where an answer is required."""
        if slot.default_key is None and not slot.optional:
            return None
        session, _ = _engine()
        return session.default_for(slot.name, self._answers, self.catalog)

    def _choices(self, slot: Slot) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if slot.name == "model":
            models = sorted(self.catalog.models.values(), key=lambda m: (m.params, m.id))
            return tuple(m.id for m in models), tuple(
                params(m.params) + (f", {params(m.active_params)} active" if m.active_params != m.params else "") for m in models)
        if slot.name == "precision":
            ids = ("auto", *self.catalog.precisions)  # catalog order: widest format first
            return ids, tuple("the engine picks per device" if p == "auto" else "" for p in ids)
        return slot.choices, tuple("" for _ in slot.choices)

    def _parse(self, slot: Slot, text: str) -> Any:
        """One typed answer, checked like `recommend` checks its options; names resolve to catalog ids."""
        choices, _ = self._choices(slot)
        if choices and text.isdigit():
            if not 1 <= int(text) <= len(choices):
                raise InputError(slot.name, f"expected a choice from 1 to {len(choices)} or a name, got {text!r}")
            text = choices[int(text) - 1]
        if text.lower() == NONE and self._default(slot) == NONE:
            return NONE
        if slot.name == "context" and re.fullmatch(r"\d+k", text.lower()):
            text = str(int(text[:-1]) * 1024)  # 32k reads 32768, as model cards write context lengths
        value = check(slot.name, text)
        if slot.name == "model":
            self.catalog = with_model(self.catalog, value)  # a path or Hub id joins this consultation's catalog
            return self.catalog.resolve("model", value, "model")
        if slot.name == "precision":
            return "auto" if value.lower() == "auto" else self.catalog.resolve("precision", value, "precision")
        return value

    def _given(self) -> dict[str, Any]:
        """The answers to pass to `advise` and to save, in slot order ("none" is left out: it is the default)."""
        keep = {k: v for k, v in self._answers.items() if v != NONE and (not self._explicit_only or k not in self._defaulted)}
        return {s.name: keep[s.name] for s in SLOTS if s.name in keep}


def _option(rec: Mapping[str, Any] | None) -> str:
    if rec is None:
        return "nothing"
    return f"{rec['count']} x {rec['hardware_name']} at {rec['precision']}, {usd(rec['cost']['budget_usd'])}"


def _differences(name: str, before: Advice, after: Advice) -> list[str]:
    """What changed between two results: the tiers, the memory need, the defaults that follow, warnings and tips."""
    lines = [f"What if {name}={_show(after.profile.get(name))} (was {_show(before.profile.get(name))}):"]
    changed = False
    for key in sorted(set(before.profile) | set(after.profile)):
        if key not in (name, "model_name") and before.profile.get(key) != after.profile.get(key):
            lines.append(f"  {key} follows: {_show(before.profile.get(key))} -> {_show(after.profile.get(key))}")
    old = {r["tier"]: r for r in before.recommendations}
    new = {r["tier"]: r for r in after.recommendations}
    for tier in TIERS:
        a, b = _option(old.get(tier)), _option(new.get(tier))
        if a != b:
            changed = True
            lines.append(f"  {tier}: {a} -> {b}")
        elif tier in new:
            lines.append(f"  {tier}: unchanged ({b})")
    need_a, need_b = before.memory_need.get("total"), after.memory_need.get("total")
    if need_a != need_b:
        changed = True
        lines.append(f"  memory need: {gb(need_a)} -> {gb(need_b)}")
    for kind, a_items, b_items in (("warning", before.warnings, after.warnings), ("tip", before.tips, after.tips),
                                   ("note", before.notes, after.notes)):
        a_ids = {str(i["id"]): i for i in a_items}
        b_ids = {str(i["id"]): i for i in b_items}
        for key in sorted(set(a_ids) | set(b_ids)):
            if key not in a_ids:
                lines.append(f"  + {kind} {key}: {b_ids[key]['message']}")
            elif key not in b_ids:
                lines.append(f"  - {kind} {key} no longer applies")
            elif a_ids[key]["message"] != b_ids[key]["message"]:
                lines.append(f"  ~ {kind} {key}: {b_ids[key]['message']}")
            else:
                continue
            changed = True
    if not changed:
        lines.append("  Nothing else changes: the same recommendations, warnings and tips.")
    return lines
