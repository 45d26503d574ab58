"""Writing `llmhw batch` output: one record per input row, in input order, as JSON Lines or CSV.

- JSONL: ``{"row": n, "line": l, "ok": true, "result": {...}}`` where ``result`` is exactly what
  `llmhw recommend --format json` prints, or ``{"row": n, "line": l, "ok": false, "error": "field: message"}``.
- CSV: the columns of ``CSV_COLUMNS``: ``row``, ``line``, ``ok``, ``error``, ``model`` (catalog id),
  ``candidates``, then for each tier (``minimum``, ``recommended``, ``best_in_budget``) its ``hardware`` id,
  device ``count``, ``precision`` and ``cost_usd`` (the figure compared with the budget); empty where a tier
  is missing.
"""

from __future__ import annotations

import contextlib
import csv
import json
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO

from ..errors import InputError
from ..planner import TIERS

OUTPUT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("row", "line", "ok", "error", "model", "candidates") + tuple(
    f"{t.replace('-', '_')}_{c}" for t in TIERS for c in ("hardware", "count", "precision", "cost_usd")
)


def _csv_record(rec: dict[str, Any]) -> list[Any]:
    out: dict[str, Any] = {"row": rec["row"], "line": rec["line"], "ok": "true" if rec["ok"] else "false",
                           "error": rec.get("error", "")}
    result = rec.get("result")
    if result:
        out["model"] = result["profile"].get("model", "")
        out["candidates"] = result.get("candidates", "")
        for r in result.get("recommendations", []):
            t = r["tier"].replace("-", "_")
            out[f"{t}_hardware"], out[f"{t}_count"], out[f"{t}_precision"] = r["hardware"], r["count"], r["precision"]
            cost = r.get("cost", {}).get("budget_usd")
            out[f"{t}_cost_usd"] = "" if cost is None else cost
    return [out.get(c, "") for c in CSV_COLUMNS]


def encode(rec: dict[str, Any], fmt: str) -> Any:
    """What the writer writes for a record: a JSON line (row, line, ok first), or the CSV cells."""
    if fmt == "csv":
        return _csv_record(rec)
    head = {k: rec[k] for k in ("row", "line", "ok")}
    body = {k: v for k, v in rec.items() if k not in head}
    return json.dumps(head)[:-1] + ", " + json.dumps(body, sort_keys=True)[1:] + "\n"


class OrderedWriter:
    """Writes records in row order, each as soon as every row before it is written; reports failed rows in order."""

    def __init__(self, stream: TextIO, fmt: str, lines: dict[int, int], report: Callable[[str], None] | None) -> None:
        self.stream, self.fmt, self.lines, self.report = stream, fmt, lines, report
        self.csv = csv.writer(stream, lineterminator="\n") if fmt == "csv" else None
        self.next = 1
        self.waiting: dict[int, tuple[str | None, Any]] = {}
        if self.csv is not None:
            self.csv.writerow(CSV_COLUMNS)

    def _write(self, row: int, error: str | None, payload: Any) -> None:
        if self.csv is not None:
            self.csv.writerow(payload)
        else:
            self.stream.write(payload)
        line = self.lines.pop(row, None)
        if error is not None and self.report is not None:
            self.report(f"row {row}, line {line}: {error}")

    def add(self, row: int, error: str | None, payload: Any) -> None:
        self.waiting[row] = (error, payload)
        if self.next not in self.waiting:
            return
        while self.next in self.waiting:
            self._write(self.next, *self.waiting.pop(self.next))
            self.next += 1
        self.stream.flush()  # written means on disk: an interrupted run keeps it

    def drain(self) -> None:
        """Write what finished out of order (after an interrupt): each record names its row."""
        for row in sorted(self.waiting):
            self._write(row, *self.waiting.pop(row))
        self.stream.flush()


@contextlib.contextmanager
def open_output(path: str, fmt: str) -> Iterator[TextIO]:
    """The output stream: a file (written as rows finish) or stdout for ``-`` (left open)."""
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    try:
        f = open(path, "w", encoding="utf-8", newline="")
    except OSError as exc:
        raise InputError("--out", f"{path}: cannot write: {exc.strerror or exc}") from exc
    with f:
        yield f


def output_format(path: str, given: str | None) -> str:
    """The output format: as given, else ``csv`` for a .csv file, else ``jsonl``."""
    if given:
        return given
    return "csv" if path.lower().endswith(".csv") else "jsonl"
