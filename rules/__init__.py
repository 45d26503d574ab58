"""The rulebase: experta rules grouped by topic, one ID prefix per topic.

| prefix | topic                                              | module          |
|--------|----------------------------------------------------|-----------------|
| IN     | inputs: which questions a consultation needs       | questions       |
| MEM    | memory need of the workload                        | memory          |
| CAND   | which hardware is considered, and what fits        | candidates      |
| CMP    | processor roles: CPU, GPU, TPU, NPU, unified memory| roles, candidates |
| REC    | the ranked choice: minimum, recommended, best      | recommend       |
| BUD    | budget: what it buys, buy vs rent                  | recommend       |
| P1     | pitfall: oversized VRAM                            | pitfalls        |
| P2     | pitfall: weak CPU, RAM or storage                  | pitfalls        |
| P3     | pitfall: TPU ecosystem lock-in                     | pitfalls        |
| QNT    | quantization                                       | quantization    |
| TRN    | training techniques                                | training        |
| NET    | multi-device parallelism and interconnect          | parallelism     |
| MOE    | mixture-of-experts models                          | parallelism     |
| OFF    | hybrid CPU+GPU: experts or layers in host RAM      | offload         |
| ART    | where the source article is wrong                  | article         |
| UPG    | upgrades to the hardware the user owns             | upgrade         |
| CAL    | speeds measured on the user's machine              | calibration     |
| RUN    | launch plans: the commands that start each option  | launch          |

Each rule function carries ``rule_meta`` (below ``@Rule``, since experta's ``Rule``
copies the wrapped function's attributes): a stable id, a one-sentence statement
for the trace and the message the user reads, both templates filled from the
same bindings (numbers stay raw; unit format specs such as ``{need_bytes:gb}``
show them, see ``llmhw.units``), its sources (keys of knowledge/sources.yaml)
and the input slots it reads. ``self.conclude(Warning(...), **bindings)`` stamps
the rule's id and rendered message on the Warning, Tip or Note it declares.
docs/rules.md shows how to add a rule.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import experta

from ..units import Phrase

if TYPE_CHECKING:
    from .. import sizing
    from ..knowledge.loader import Catalog
    from ..knowledge.policy_schema import Policy
    from ..planner import Option, Workload

PREFIXES = ("IN", "MEM", "CAND", "CMP", "REC", "BUD", "P1", "P2", "P3", "QNT", "TRN", "NET", "MOE", "OFF", "ART", "UPG",
            "CAL", "RUN")
STATUSES = ("stable", "preview", "deprecated", "removed")

# Salience orders the phases; higher fires first.
SALIENCE_ASK = 40  # questions before anything uses the answers
SALIENCE_INPUT = 30  # assemble the workload once every needed answer is there
SALIENCE_FILTER = 20  # exclusions before candidates are generated
SALIENCE_DEFAULT = 0  # sizing and candidates
SALIENCE_COLLECT = -5  # close candidate generation once every candidate exists
SALIENCE_SELECT = -10  # tiers once all candidates exist
SALIENCE_ADVICE = -20  # warnings and tips read the chosen tiers
SALIENCE_CHOICE = -25  # a choice among advice conclusions (the cheapest upgrade) waits until every one is drawn


@dataclass(frozen=True)
class RuleMeta:
    """What a rule says about itself: the registry and the trace read this."""

    id: str
    statement: str
    sources: tuple[str, ...]
    message: str = ""  # what the user reads; empty for rules that conclude no Warning, Tip or Note (or still write their own)
    needs: tuple[str, ...] = ()
    since: str = "0.1.0"
    status: str = "stable"
    topic: str = ""
    name: str = ""
    doc: str = ""
    location: tuple[str, int] = ("", 0)


def rule_meta(
    id: str,
    statement: str,
    sources: Iterable[str],
    message: str = "",
    needs: Iterable[str] = (),
    since: str = "0.1.0",
    status: str = "stable",
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Attach a rule's id, statement, message and sources, and let the engine know which rule is firing."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        file = inspect.getsourcefile(fn) or ""
        meta = RuleMeta(
            id=id, statement=statement, sources=tuple(sources), message=message, needs=tuple(needs), since=since,
            status=status, topic=fn.__module__.rsplit(".", 1)[-1], name=fn.__name__,
            doc=inspect.cleandoc(fn.__doc__ or ""), location=(file.rsplit("/", 1)[-1], fn.__code__.co_firstlineno),
        )

        @functools.wraps(fn)
        def fire(self: Any, **bindings: Any) -> Any:
            self.firing.append((meta, bindings))
            try:
                return fn(self, **bindings)
            finally:
                self.firing.pop()

        fire.meta = meta  # type: ignore[attr-defined]
        # experta reads a rule's signature each time it rewrites the rule for its network (~2.5 times a rule per engine
        # built); stated once here, inspect returns it without unwrapping and re-reading the function.
        fire.__signature__ = inspect.signature(fn)  # type: ignore[attr-defined]
        return fire

    return decorate


RuleFunctionT = TypeVar("RuleFunctionT", bound=Callable[..., Any])


def Rule(*conditions: Any, salience: int = 0) -> Callable[[RuleFunctionT], RuleFunctionT]:  # noqa: N802 - experta's name
    """experta's ``Rule`` decorator, typed for mypy (experta has no type hints, and an untyped decorator would make every
    rule function untyped). At run time it is experta's: the function becomes an ``experta.Rule`` the engine collects."""
    return cast(Callable[[RuleFunctionT], RuleFunctionT], experta.Rule(*conditions, salience=salience))


def metas(rule_objects: Iterable[Any]) -> list[RuleMeta]:
    """The metadata of experta Rule objects, checked: every rule must be described."""
    out: list[RuleMeta] = []
    for rule in rule_objects:
        meta: RuleMeta | None = getattr(rule, "meta", None)
        if meta is None:
            raise TypeError(f"rule {getattr(rule, '__name__', rule)!r} has no rule_meta")
        if meta.id.split("-", 1)[0] not in PREFIXES or meta.status not in STATUSES:
            raise TypeError(f"rule {meta.id!r}: unknown prefix or status")
        if not meta.statement or not meta.sources:
            raise TypeError(f"rule {meta.id!r}: statement and sources are required")
        out.append(meta)
    return sorted(out, key=lambda m: m.id)


FactT = TypeVar("FactT")


class Host(Protocol):
    """What a rule may use of the engine it runs in (rule methods take ``self: Host``)."""

    catalog: Catalog
    policy: Policy

    def conclude(self, fact: Any, inputs: Iterable[Any] = (), **bindings: Any) -> Any:
        """Declare a conclusion (stamped with the rule's id and message) and record it in the trace."""

    def facts_of(self, kind: type[FactT]) -> list[FactT]:
        """The facts of one type in working memory, in declaration order."""

    def remember(self, option: Option) -> Option:
        """Keep a sized option as the payload of the Candidate or Fit fact about to be declared for it."""

    def option(self, fact: Any) -> Option:
        """The sized option behind a Candidate, Fit or Recommendation fact."""

    def workload(self, fact: Any) -> Workload:
        """The planner's view of a Workload fact."""


def consulted_arch(engine: Host) -> sizing.Arch:
    """The sizing view of the model the consultation is about (its Workload fact's)."""
    from ..facts import Workload as WorkloadFact
    from ..planner import arch

    return arch(engine.catalog.models[engine.facts_of(WorkloadFact)[0]["model"]])


def tiers_sharing(engine: Host, rec: Any, field: str) -> list[str]:
    """The tiers whose Recommendation has the same ``field`` as ``rec`` (its option ``id``, its ``precision``), best-known order.

    Advice about a configuration is given once, naming every tier it applies to: its rule concludes for the first of
    these tiers only (experta's NOT over several facts of one type misfires, so the pattern cannot say "first").
    """
    from ..facts import Recommendation
    from ..planner import TIERS

    return sorted({f["tier"] for f in engine.facts_of(Recommendation) if f[field] == rec[field]}, key=TIERS.index)


def listed(parts: Sequence[Phrase], separator: str = "; ") -> Phrase:
    """Phrases joined into one, each kept as a field of it, so the mutation check still reaches every number inside."""
    return Phrase(separator.join(f"{{part{i}}}" for i in range(len(parts))), **{f"part{i}": part for i, part in enumerate(parts)})


def subject(any_verdict: bool = False, **fields: Any) -> Any:
    """The configuration under discussion, bound as ``rec``: the one the user proposed (`check`), else the recommended tier.

    :param any_verdict: also a proposal that does not fit (advice about its host holds either way).
    :param fields: values the configuration's fact must have (``kind="cpu"``).
    """
    from experta import AND, AS, OR

    from ..facts import Fit, Mode, Recommendation

    proposed = Fit(**fields) if any_verdict else Fit(fits=True, **fields)
    return OR(AS.rec << proposed, AND(AS.rec << Recommendation(tier="recommended", **fields), Mode(kind="recommend")))


# The configuration under discussion (bound as ``rec`` by ``subject()``) spans several devices, or is one.
SEVERAL_DEVICES = experta.TEST(lambda rec: rec["count"] >= 2)
ONE_DEVICE = experta.TEST(lambda rec: rec["count"] == 1)
