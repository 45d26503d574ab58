"""What each step of a consultation returns: plain data that ``llmhw.cli.render`` lays out as text and another app
can lay out its own way (a question, why it is asked, how a conclusion was reached, what changes with an answer)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .planner import TIERS
from .trace.explain import Explained

if TYPE_CHECKING:
    from .results import Advice


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
        high = "no upper limit" if self.range[1] == float("inf") else number_text(self.range[1])
        return f"a number from {number_text(self.range[0])} to {high}"


@dataclass(frozen=True)
class RuleNote:
    """A rule as ``why`` names it: its id, its statement with the placeholders named, and what it decides."""

    id: str
    statement: str  # `{cost}` reads `<cost>`: the numbers are not known yet
    decides: str = ""


@dataclass(frozen=True)
class WhyView:
    """Why the open question is asked: the rule that asked it, and the rules that will read the answer."""

    slot: str
    asker: RuleNote | None
    readers: tuple[RuleNote, ...]


@dataclass(frozen=True)
class HowView:
    """How a conclusion was reached: the conclusion, its derivation (the one explainer's), and the inputs."""

    kind: str  # recommendation, warning, tip, note; rule for another rule's conclusions (how MEM-need)
    key: str  # the tier, the warning/tip/note id, or the rule id
    number: int | None  # a recommendation's position (1-3)
    subject: Mapping[str, Any]  # the recommendation, or the warning/tip/note, as `recommend --format json` has it
    explained: tuple[Explained, ...]
    profile: Mapping[str, Any]  # every input, given or defaulted


@dataclass(frozen=True)
class ItemChange:
    """A warning, tip or note that appears, disappears or changes its message."""

    change: str  # added, removed, changed
    kind: str  # warning, tip, note
    id: str
    message: str


@dataclass(frozen=True)
class WhatIfView:
    """What changes when one answer changes: the inputs that follow, the tiers, the memory need, the items."""

    field: str
    value: Any
    was: Any
    follows: tuple[tuple[str, Any, Any], ...]  # (input, before, after) that changed with it (scale follows users)
    tiers: tuple[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None], ...]  # (tier, before, after)
    memory_need: tuple[int | None, int | None]
    items: tuple[ItemChange, ...]


def number_text(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def differences(name: str, before: Advice, after: Advice) -> WhatIfView:
    """What changed between two results: the inputs that follow, the tiers, the memory need, warnings and tips."""
    follows = tuple((k, before.profile.get(k), after.profile.get(k)) for k in sorted(set(before.profile) | set(after.profile))
                    if k not in (name, "model_name") and before.profile.get(k) != after.profile.get(k))
    old = {r["tier"]: r for r in before.recommendations}
    new = {r["tier"]: r for r in after.recommendations}
    tiers = tuple((t, old.get(t), new.get(t)) for t in TIERS if t in old or t in new)
    items: list[ItemChange] = []
    for kind, a_items, b_items in (("warning", before.warnings, after.warnings), ("tip", before.tips, after.tips),
                                   ("note", before.notes, after.notes)):
        a_ids = {str(i["id"]): i for i in a_items}
        b_ids = {str(i["id"]): i for i in b_items}
        for key in sorted(set(a_ids) | set(b_ids)):
            if key not in a_ids:
                items.append(ItemChange("added", kind, key, b_ids[key]["message"]))
            elif key not in b_ids:
                items.append(ItemChange("removed", kind, key, a_ids[key]["message"]))
            elif a_ids[key]["message"] != b_ids[key]["message"]:
                items.append(ItemChange("changed", kind, key, b_ids[key]["message"]))
    return WhatIfView(field=name, value=after.profile.get(name), was=before.profile.get(name), follows=follows, tiers=tiers,
                      memory_need=(before.memory_need.get("total"), after.memory_need.get("total")), items=tuple(items))
