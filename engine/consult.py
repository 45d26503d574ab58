"""The question-and-answer consultation, step by step, with no terminal I/O.

`llmhw ask` is a thin loop over ``Consultation``; other programs (a web form, a
chat bot) drive the same steps. Each step returns a view (``llmhw.views``: ``QuestionView``,
``WhyView``, ``HowView``, ``WhatIfView``): plain data that ``llmhw.cli.render``
lays out as text, and another app can lay out its own way. The questions are not scripted here: after each
answer the rules run again, and the first slot an ``IN-ask-*`` rule asked for is
the next question, so an input no rule needs is never asked.

The engine (experta) is imported on first use, not at import time, so that
``import llmhw`` stays cheap.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from .errors import InputError, LlmhwError
from .knowledge.loader import load_catalog
from .knowledge.yamlio import dump_yaml
from .models import with_model
from .profile import NONE, SLOT_BY_NAME, SLOTS, Slot, check, check_model_limits
from .units import params
from .views import HowView, QuestionView, RuleNote, WhatIfView, WhyView, differences

if TYPE_CHECKING:
    from .results import Advice

# The same presets as the context slot's hint, offered as typical values.
CONTEXT_PRESETS = ((4096, "short chat"), (8192, "chat with history"), (32768, "documents"), (131072, "long context"))
AT_ANY_QUESTION = "At any question: why (which rules need this answer), help, back (previous question), quit."


def _engine() -> tuple[Any, Any]:
    from . import api, session

    return session, api


def show(value: Any) -> str:
    """An answer as the user types it: `none` for an empty optional, 8192 rather than 8192.0."""
    if value is None or value == NONE:
        return NONE
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


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


def why(slot: str) -> WhyView:
    """Why an input is asked: the rule that asks it, and the rules that read the answer (`why` in `llmhw ask`, the web form)."""
    session, _ = _engine()
    asker = next((m for m in session.RULES if m.id.startswith("IN-ask-") and slot in m.needs), None)
    users = [m for m in session.RULES if slot in m.needs and not m.id.startswith("IN-ask-")]
    return WhyView(slot=slot, asker=None if asker is None else RuleNote(asker.id, _template(asker.statement)),
                   readers=tuple(RuleNote(m.id, _template(m.statement), _decides(m.doc)) for m in users))


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
        self._document: dict[str, Any] | None = None  # the trace document of the result, built for `how`
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
            default=None if default is None else show(default), optional=default == NONE,
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

    def why(self) -> WhyView:
        """Why the open question is asked: the rule that asked it, and the rules that will use the answer."""
        return why(self._open().name)

    def help(self) -> QuestionView:
        """The open question in full (its choices or range, and its default), for a help screen."""
        q = self.next_question()
        if q is None:
            raise LlmhwError("the consultation is complete: no question is open")
        return q

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
        accepted = [f"{k}={show(self._answers[k])}" for k in self._order if k in self._defaulted and k not in data]
        if accepted:
            head += f"# defaults accepted (recommend fills them again): {', '.join(accepted)}\n"
        return head + dump_yaml(data)

    def how(self, conclusion: str) -> HowView:
        """How a recommendation (1-3 or its tier), warning, tip or note was reached: its chain of rules and facts."""
        from .trace.document import document
        from .trace.explain import explain, explain_rule

        advice = self.result()
        if self._document is None:
            self._document = document(advice)
        key = (conclusion or "").strip().lstrip("#").lower()
        recs = list(advice.recommendations)
        items = {str(it["id"]).lower(): (kind, it) for kind, group in (("warning", advice.warnings), ("tip", advice.tips),
                                                                       ("note", advice.notes)) for it in group}
        number = int(key) if key.isdigit() and 1 <= int(key) <= len(recs) else None
        tier = recs[number - 1]["tier"] if number else key if key in {r["tier"] for r in recs} else None
        if tier is not None:
            number = next(i for i, r in enumerate(recs, 1) if r["tier"] == tier)
            kind, subject, key = "recommendation", recs[number - 1], tier
        elif key and key in items:
            kind, subject = items[key]
            key = str(subject["id"])
        else:  # any other rule that concluded something: the memory need, a candidate, ...
            steps = explain_rule(self._document, key) if key else ()
            if not steps:
                known = [str(i) for i in range(1, len(recs) + 1)] + [r["tier"] for r in recs] + [str(it["id"]) for _, it in items.values()]
                raise InputError("how", f"no conclusion {conclusion.strip()[:40]!r}; choose one of {', '.join(known) or '(none)'}")
            return HowView(kind="rule", key=steps[0].key, number=None, subject={"id": steps[0].key, "message": steps[0].summary},
                           explained=steps, profile=self._inputs(advice))
        explained = explain(self._document, f"{kind}:{key}").conclusions
        return HowView(kind=kind, key=key, number=number, subject=subject, explained=explained, profile=self._inputs(advice))

    @staticmethod
    def _inputs(advice: Advice) -> dict[str, Any]:
        return {k: v for k, v in advice.profile.items() if k != "model_name"}

    def what_if(self, field: str, value: str) -> WhatIfView:
        """Run the consultation again with one answer changed and describe what changed (the session keeps its answers)."""
        before = self.result()
        name = (field or "").strip().lower().replace("-", "_")
        if name not in SLOT_BY_NAME:
            near = difflib.get_close_matches(name, list(SLOT_BY_NAME), n=1)
            hint = f"did you mean '{near[0]}'?" if near else f"expected one of {', '.join(s.name for s in SLOTS)}"
            raise InputError("what-if", f"unknown field {field.strip()[:40]!r}; {hint}")
        slot = SLOT_BY_NAME[name]
        if not (value or "").strip():
            raise InputError("what-if", f"expected {name}=<value>, e.g. {name}={show(before.profile.get(name))}")
        new = self._parse(slot, value.strip())
        full = {**{k: v for k, v in before.profile.items() if v is not None}, name: new}
        if not slot.needed(full):
            other = slot.when[0] if slot.when else ""
            raise InputError(name, f"not used when {other} is {show(full.get(other))}")
        given = {**self._given(), name: new}
        if new == NONE:
            del given[name]
        # An answer the changed one makes irrelevant (concurrency once training) would not have been asked.
        given = {k: v for k, v in given.items() if SLOT_BY_NAME[k].needed(full)}
        _, api = _engine()
        after = api.advise(given, self.knowledge_dirs)
        return differences(name, before, after)

    # -- internals -------------------------------------------------------------------------------------

    def _refresh(self) -> None:
        session, _ = _engine()
        questions = session.run(self.catalog, self._answers).questions
        self._pending = questions[0] if questions else None
        self._advice = None
        self._document = None
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
        if slot.model_limit and "model" in self._answers:
            check_model_limits({slot.name: value}, self.catalog.models[self._answers["model"]])
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


