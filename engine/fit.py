"""Which models fit a given hardware, and how far each can go: the reverse of ``advise``.

Built on ``api.check`` alone, so it agrees with every other answer as the planner changes. For each model:
one check at the default context with ``precision=auto`` gives the format (the engine's choice for that workload);
then, at that format, the longest context for one user and the most users at the default context are found
by searching over ``check``. The first check's memory breakdown predicts where the limit lies (the KV cache
grows with tokens held), so the search usually needs two or three checks, not a dozen.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import api, results
from .errors import InputError
from .models import with_model

SORTS = ("speed", "size", "name")
CONTEXT_STEP = 1024  # tokens: contexts are reported in whole KiB-tokens, as runtimes' --max-model-len values usually are
MAX_USERS_SEARCHED = 1024  # beyond this the answer is "a batching server's worth"; the text says ">=" at the cap


@dataclass(frozen=True)
class FitRow:
    """One model that fits: its best format, how far it stretches, and how fast it decodes."""

    model: str
    model_name: str
    params: int
    precision: str
    runtime: str
    context: int  # the context the speed and users are given at (the default, or the model's limit if lower)
    max_context: int  # longest context for one user, within the model's own limit
    model_max_context: int
    max_users: int  # most concurrent users at ``context``, up to MAX_USERS_SEARCHED
    tokens_per_s: float | None  # decode tokens/s for one user at ``context``
    memory_total_bytes: int
    available_bytes: int


@dataclass(frozen=True)
class FitResult:
    """Every model of the question that fits the hardware, and those that do not.

    .. versionadded:: 0.1.0
    """

    hardware: str
    hardware_name: str
    count: int
    sort: str
    fits: tuple[FitRow, ...]
    does_not_fit: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document `llmhw fit --format json` prints."""
        return {"hardware": self.hardware, "hardware_name": self.hardware_name, "count": self.count, "sort": self.sort,
                "max_users_searched": MAX_USERS_SEARCHED, "fits": [vars(r) for r in self.fits],
                "does_not_fit": list(self.does_not_fit)}


def largest(fits: Callable[[int], bool], known: int, limit: int, guess: int, step: int) -> int:
    """The largest of ``known, known + step, ...`` (and ``limit`` itself) up to ``limit`` for which ``fits`` holds.

    ``fits(known)`` is true and ``fits`` is monotone (more tokens never need less memory). The guess is tried
    first, then its neighbour on the grid, so a good guess settles it in three calls; otherwise it bisects.
    """
    if fits(limit):
        return limit
    grid: list[int] = list(range(known, limit, step))  # every value below the limit, which does not fit
    low, high = 0, len(grid)  # grid[low] fits; grid[high] (or the limit, at len(grid)) does not
    probe = min(max((guess - known) // step, 1), high - 1)
    if low < probe < high:
        if fits(grid[probe]):
            low, probe = probe, probe + 1
        else:
            high, probe = probe, probe - 1
        if low < probe < high:
            if fits(grid[probe]):
                low = probe
            else:
                high = probe
    while high - low > 1:
        middle = (low + high) // 2
        if fits(grid[middle]):
            low = middle
        else:
            high = middle
    return grid[low]


def _tokens_fitting(result: results.CheckResult, tokens_held: int) -> int:
    """How many tokens the spare memory of a fitting check could hold, from its KV cache per token."""
    memory: Mapping[str, int] = result.configuration.get("memory", {})
    kv, total, available = memory.get("kv_cache", 0), memory.get("total", 0), result.configuration.get("available") or 0
    if kv <= 0 or tokens_held <= 0:
        return tokens_held
    return int(tokens_held + (available - total) / (kv / tokens_held))


def _fit_model(check: Callable[..., results.CheckResult], model: Any, default_context: int) -> FitRow | None:
    context = min(default_context, model.max_context)
    first = check(model=model.id, context=context)
    if not first.fits:
        return None
    d = first.to_dict()
    precision = str(d["precision"])
    tokens = _tokens_fitting(first, context)

    def context_fits(c: int) -> bool:
        return check(model=model.id, context=c, precision=precision).fits

    def users_fit(u: int) -> bool:
        return check(model=model.id, context=context, concurrency=u, precision=precision).fits

    step = min(CONTEXT_STEP, context)
    max_context = largest(context_fits, context, model.max_context, tokens // step * step, step)
    max_users = largest(users_fit, 1, MAX_USERS_SEARCHED, tokens // context, 1)
    return FitRow(model=model.id, model_name=model.name, params=model.params, precision=precision, runtime=str(d["runtime"]),
                  context=context, max_context=max_context, model_max_context=model.max_context, max_users=max_users,
                  tokens_per_s=d["tokens_per_s"], memory_total_bytes=d["memory"]["total"], available_bytes=d["available"])


def _sorted(rows: list[FitRow], sort: str) -> list[FitRow]:
    if sort == "speed":
        return sorted(rows, key=lambda r: (-(r.tokens_per_s or 0), r.model))
    if sort == "size":
        return sorted(rows, key=lambda r: (-r.params, r.model))
    return sorted(rows, key=lambda r: r.model)


def fit(hardware: str, count: int = 1, models: Iterable[str] = (), sort: str = "speed",
        knowledge_dirs: Iterable[str] = ()) -> FitResult:
    """Every catalog model (or those named) that fits ``count`` x ``hardware`` for inference, and how far.

    :param hardware: an accelerator name, id or alias.
    :param models: model names to consider; all the catalog's models when empty.
    :param sort: ``speed`` (decode tokens/s, fastest first), ``size`` (parameters, largest first) or ``name``.
    :raises InputError: unknown hardware, model or sort, or a count out of range.

    .. versionadded:: 0.1.0
    """
    dirs = api._dirs(knowledge_dirs)
    cat = api.catalog(dirs)
    if sort not in SORTS:
        raise InputError("sort", f"expected one of {', '.join(sorted(SORTS))}; got {str(sort)[:40]!r}")
    accel = cat.accelerator(hardware)
    # a named model may be a path or Hub id (llmhw.models): its id, the absolute path, is what each check reads again
    chosen = [with_model(cat, m).model(m) for m in models] if models else sorted(cat.models.values(), key=lambda m: m.id)

    def check(**profile: Any) -> results.CheckResult:  # what the hardware itself holds: no part in host RAM
        return api.check({**profile, "offload": "none"}, accel.id, count, knowledge_dirs=dirs)

    rows, missing = [], []
    for model in dict.fromkeys(chosen):  # a model named twice is fitted once
        row = _fit_model(check, model, cat.policy.default_context)
        if row is None:
            missing.append(model.id)
        else:
            rows.append(row)
    return FitResult(hardware=accel.id, hardware_name=accel.name, count=count, sort=sort, fits=tuple(_sorted(rows, sort)),
                     does_not_fit=tuple(missing))
