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
import io
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from .. import safe_write
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


def _csv_line(cells: Iterable[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(cells)
    return buffer.getvalue()


def encode(rec: dict[str, Any], fmt: str) -> str:
    """A record as written: one JSON line (row, line, ok first), or one CSV record."""
    if fmt == "csv":
        return _csv_line(_csv_record(rec))
    head = {k: rec[k] for k in ("row", "line", "ok")}
    body = {k: v for k, v in rec.items() if k not in head}
    return json.dumps(head)[:-1] + ", " + json.dumps(body, sort_keys=True)[1:] + "\n"


def _whole(stream: TextIO, text: str) -> None:
    """Write and flush ``text`` with Ctrl-C and SIGTERM held back, so an interrupt never leaves half a record."""
    held = {signal.SIGINT, signal.SIGTERM}
    blocking = hasattr(signal, "pthread_sigmask") and threading.current_thread() is threading.main_thread()
    if blocking:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        stream.write(text)
        stream.flush()  # written means on disk (in the temp file): an interrupted run keeps it
    finally:
        if blocking:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, held)


class OrderedWriter:
    """Writes records in row order, each as soon as every row before it is written; reports failed rows in order."""

    def __init__(self, stream: TextIO, fmt: str, lines: dict[int, int], report: Callable[[str], None] | None) -> None:
        self.stream, self.fmt, self.lines, self.report = stream, fmt, lines, report
        self.next = 1
        self.waiting: dict[int, tuple[str | None, str]] = {}
        if fmt == "csv":
            _whole(stream, _csv_line(CSV_COLUMNS))

    def _write(self, rows: list[tuple[int, str | None, str]]) -> None:
        _whole(self.stream, "".join(text for _, _, text in rows))
        for row, error, _ in rows:
            line = self.lines.pop(row, None)
            if error is not None and self.report is not None:
                self.report(f"row {row}, line {line}: {error}")

    def add(self, row: int, error: str | None, text: str) -> None:
        self.waiting[row] = (error, text)
        ready = []
        while self.next in self.waiting:
            ready.append((self.next, *self.waiting.pop(self.next)))
            self.next += 1
        if ready:
            self._write(ready)

    def drain(self) -> None:
        """Write what finished out of order (after an interrupt): each record names its row."""
        self._write([(row, *self.waiting.pop(row)) for row in sorted(self.waiting)])


# What llmhw writes first: an existing --out that starts otherwise is someone else's file (replaced only with --force).
IS_OUTPUT = safe_write.starts_with(b'{"row": ', _csv_line(CSV_COLUMNS).encode())


@contextlib.contextmanager
def open_output(path: str, inputs: Iterable[str | Path] = (), force: bool = False) -> Iterator[TextIO]:
    """The output stream: stdout for ``-`` (left open), else a temp file renamed over ``path`` when the run ends.

    Ends means finished or interrupted (the finished rows are kept); on an error (a full disk) the previous
    file is left as it was. ``path`` is refused if it is one of ``inputs`` or not llmhw's (see ``safe_write``).
    """
    if path == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    real = safe_write.target(path, "--out", inputs=inputs, ours=IS_OUTPUT, force=force)
    with safe_write.replacing(real, "--out", path) as raw:
        text = io.TextIOWrapper(raw, encoding="utf-8", newline="")
        try:
            yield text
        finally:
            text.flush()
            text.detach()  # replacing() fsyncs and closes the file itself
def output_format(path: str, given: str | None) -> str:
    """The output format: as given, else ``csv`` for a .csv file, else ``jsonl``."""
    if given:
        return given
    return "csv" if path.lower().endswith(".csv") else "jsonl"
