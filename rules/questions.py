"""IN: which inputs a consultation needs, and the workload they make.

One question rule per input slot, generated from the slot table in
``llmhw.profile`` so that the question, its condition and its default are
described once. A slot that depends on another (concurrency only for
inference, LoRA rank only for LoRA) is asked only once that answer is known.
"""

from __future__ import annotations

from typing import Any

import experta
from experta import AS, MATCH, P

from ..facts import Answers, Policy, Question, Workload
from ..profile import NONE, SLOTS, Slot
from . import SALIENCE_ASK, SALIENCE_INPUT, Host, Rule, rule_meta


def _ask_rule(slot: Slot) -> experta.Rule:
    pattern: dict[str, Any] = {slot.name: None}
    if slot.when is not None:
        other, values = slot.when
        pattern[other] = P(lambda v, values=values: v in values)
    why = f" ({slot.when[0]} is {' or '.join(slot.when[1])})" if slot.when else ""

    def ask(self: Host, answers: Answers) -> None:
        self.conclude(Question(slot=slot.name))

    ask.__name__ = ask.__qualname__ = f"ask_{slot.name}"
    ask.__doc__ = f"""## What it decides
Whether to ask: {slot.question} ({slot.hint}).

## Why
Later rules read `{slot.name}`; without it they cannot decide.

## Example
`llmhw ask` poses this question; `llmhw recommend` fills the documented default instead and lists it under
"Defaults used".
"""
    described = rule_meta(
        id=f"IN-ask-{slot.name.replace('_', '-')}",
        statement=f"the consultation needs {slot.name}{why}: {slot.question}",
        sources=["article"],
        needs=(slot.name,),
    )(ask)
    return experta.Rule(AS.answers << Answers(**pattern), salience=SALIENCE_ASK)(described)


class QuestionRules:
    """Question rules, one per slot (attached below), plus the rule that assembles the workload."""

    @Rule(AS.answers << Answers(), Policy(default_lora_rank=MATCH.lora_rank), salience=SALIENCE_INPUT)
    @rule_meta(
        id="IN-workload",
        statement="the workload is {model}, {task}, {context} tokens per sequence, precision {precision}, "
        "ecosystem {ecosystem}, deployment {deployment}, scale {scale}",
        sources=["article"],
        needs=tuple(s.name for s in SLOTS),
    )
    def assemble_workload(self: Host, answers: Answers, lora_rank: int) -> None:
        """## What it decides
        Gathers every answer into one workload that the later rules reason about, once nothing needed is missing.

        ## Why
        Each later rule reads several inputs; one workload fact keeps their joins small.

        ## Example
        `--model deepseek-r1:70b --concurrency 20` gives a workload of DeepSeek-R1-Distill-Llama-70B for 20 users.
        """
        if self.facts_of(Question):
            return  # the question rules (higher salience) asked for something: the workload waits for the answers
        given = {s.name: answers.get(s.name) for s in SLOTS}
        # Slots this task does not use get neutral values, so later rules need no special cases.
        values: dict[str, Any] = {"concurrency": 1, "batch": 1, "lora_rank": lora_rank}
        values.update({k: v for k, v in given.items() if v is not None or k not in values})
        values.update({k: None for k, v in values.items() if v == NONE})
        self.conclude(Workload(**values), **values)


for _slot in SLOTS:
    setattr(QuestionRules, f"ask_{_slot.name}", _ask_rule(_slot))
