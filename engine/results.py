"""The answers of the public API: ``Advice`` (``advise``), ``CheckResult`` (``check``) and ``Compared``, the
candidates an ``Advice`` compared. Frozen dataclasses whose ``to_dict()`` is exactly what the CLI prints as JSON;
``llmhw`` and ``llmhw.api`` export them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from .trace.events import TraceEvent
from .trace.evidence import Evidence

if TYPE_CHECKING:
    from .knowledge.loader import Catalog
    from .planner import Option


@dataclass(frozen=True)
class Advice:
    """The answer to a consultation.

    .. versionadded:: 0.1.0
    """

    profile: Mapping[str, Any]
    defaults_used: Mapping[str, Any]
    memory_need: Mapping[str, Any]
    recommendations: tuple[Mapping[str, Any], ...]
    warnings: tuple[Mapping[str, Any], ...]
    tips: tuple[Mapping[str, Any], ...]
    notes: tuple[Mapping[str, Any], ...]
    candidates: int
    trace: tuple[TraceEvent, ...] = field(repr=False, compare=False)
    evidence: Evidence | None = field(default=None, repr=False, compare=False)  # facts and hashes for trace.write()
    compared: Sequence[Mapping[str, Any]] = field(default=(), repr=False, compare=False)  # every candidate, for the report's chart
    upgrade: Mapping[str, Any] | None = None  # `recommend --have`: what is owned, what it runs, each addition, renting

    def to_dict(self) -> dict[str, Any]:
        """The JSON document `llmhw recommend --format json` prints."""
        return {
            "profile": dict(self.profile), "defaults_used": dict(self.defaults_used), "memory_need": dict(self.memory_need),
            "recommendations": [dict(r) for r in self.recommendations], "warnings": [dict(w) for w in self.warnings],
            "tips": [dict(t) for t in self.tips], "notes": [dict(n) for n in self.notes], "candidates": self.candidates,
            **({"upgrade": dict(self.upgrade)} if self.upgrade is not None else {}),
        }


class Compared(Sequence[Mapping[str, Any]]):
    """Every candidate configuration as plain data, described when first read: only the HTML report reads them, and a
    cloud consultation compares hundreds.

    .. versionadded:: 0.3.0
    """

    def __init__(self, options: tuple[Option, ...], cat: Catalog) -> None:
        self._options, self._cat = options, cat

    @cached_property
    def _rows(self) -> tuple[Mapping[str, Any], ...]:
        return tuple({**o.as_dict(), "hardware_name": self._cat.accelerators[o.hardware].name} for o in self._options)

    def __getitem__(self, index: Any) -> Any:
        return self._rows[index]

    def __len__(self) -> int:
        return len(self._options)


@dataclass(frozen=True)
class CheckResult:
    """Whether a workload fits one named configuration, and how well.

    .. versionadded:: 0.1.0
    """

    profile: Mapping[str, Any]
    defaults_used: Mapping[str, Any]
    hardware: str
    count: int
    configuration: Mapping[str, Any]
    warnings: tuple[Mapping[str, Any], ...]
    tips: tuple[Mapping[str, Any], ...]
    notes: tuple[Mapping[str, Any], ...]
    trace: tuple[TraceEvent, ...] = field(repr=False, compare=False)
    evidence: Evidence | None = field(default=None, repr=False, compare=False)  # facts and hashes for trace.write()

    @property
    def fits(self) -> bool:
        return bool(self.configuration.get("fits"))

    def to_dict(self) -> dict[str, Any]:
        """The JSON document `llmhw check --format json` prints."""
        c = self.configuration
        return {
            "profile": dict(self.profile), "defaults_used": dict(self.defaults_used), "hardware": self.hardware,
            "count": self.count, "precision": c.get("precision"), "runtime": c.get("runtime"), "fits": self.fits,
            "quality_class": c.get("quality_class"), "price_known": c.get("price_known"),
            "memory": c.get("memory", {}), "available": c.get("available"), "utilization": c.get("utilization"),
            "tokens_per_s": c.get("tokens_per_s"), "total_tokens_per_s": c.get("total_tokens_per_s"),
            "prefill_tokens_per_s": c.get("prefill_tokens_per_s"), "cost": c.get("cost", {}), "layout": c.get("layout"),
            **({"training_run": c["training_run"]} if "training_run" in c else {}), "launch": c.get("launch"),
            **({"placement": c["placement"]} if "placement" in c else {}),
            "warnings": [dict(w) for w in self.warnings], "tips": [dict(t) for t in self.tips],
            "notes": [dict(n) for n in self.notes],
        }
