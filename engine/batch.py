"""`llmhw batch`: one consultation per input row, in worker processes, written in input order.

Input is JSON Lines (one profile object per line), CSV (a header row of field
names, one profile per row; empty cells are left unset) or YAML (a list of
mappings). Every row gets one output record, as soon as it and every row
before it are done:

- JSONL: ``{"row": n, "line": l, "ok": true, "result": {...}}`` where ``result``
  is exactly what `llmhw recommend --format json` prints, or
  ``{"row": n, "line": l, "ok": false, "error": "field: message"}``.
- CSV: one row per input row with the columns of ``CSV_COLUMNS``: ``row``,
  ``line``, ``ok``, ``error``, ``model`` (catalog id), ``candidates``, then for
  each tier (``minimum``, ``recommended``, ``best_in_budget``) its ``hardware``
  id, device ``count``, ``precision`` and ``cost_usd`` (the figure compared with
  the budget: purchase, or a year of rental in the cloud); empty where a tier is
  missing.

``row`` counts profiles from 1; ``line`` is where the row starts in the input
file. A bad row (malformed JSON, an unknown model, a number out of range) is
reported with its line number and the run goes on; the exit code is 1 if any row
failed. Ctrl-C stops the run and leaves every finished row written (exit 130).
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from .errors import InputError, LlmhwError
from .planner import TIERS

MAX_INPUT_BYTES = 50_000_000  # JSONL and CSV are streamed; YAML is parsed whole, so this also bounds its memory
INPUT_FORMATS = ("jsonl", "csv", "yaml")
OUTPUT_FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("row", "line", "ok", "error", "model", "candidates") + tuple(
    f"{t.replace('-', '_')}_{c}" for t in TIERS for c in ("hardware", "count", "precision", "cost_usd")
)
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}


@dataclass(frozen=True)
class Row:
    """One input row: its position, its line in the file, and the profile (or why it could not be read)."""

    row: int
    line: int
    profile: Any = None
    error: str | None = None


@dataclass
class Summary:
    """What a batch run did."""

    rows: int = 0
    failures: int = 0
    seconds: float = 0.0
    jobs: int = 1
    interrupted: bool = False
    worker_peak_rss_bytes: dict[int, int] = field(default_factory=dict)  # pid -> peak resident memory

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        return 130 if self.interrupted else 1 if self.failures else 0

    def line(self) -> str:
        rss = max(self.worker_peak_rss_bytes.values(), default=0)
        mem = f", peak worker memory {rss / 1e6:.0f} MB" if rss else ""
        stop = " (interrupted)" if self.interrupted else ""
        return (f"batch{stop}: {self.rows:,} rows, {self.failures:,} failed, {self.seconds:.1f} s, "
                f"{self.rows_per_s:,.1f} rows/s with {self.jobs} job(s){mem}")


# ---------------------------------------------------------------------------------------------- reading


def input_format(path: Path, given: str | None = None) -> str:
    """The input format: as given, else from the file's suffix."""
    if given:
        return given
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError("INPUT", f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
                                  "name it .jsonl, .csv or .yaml, or pass --input-format")
    return fmt


def _check_size(path: Path) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputError("INPUT", f"{path}: cannot read: {exc.strerror or exc}") from exc
    if size > MAX_INPUT_BYTES:
        raise InputError("INPUT", f"{path}: file is {size:,} bytes, over the {MAX_INPUT_BYTES:,}-byte limit; split it")


def _open_text(path: Path) -> TextIO:
    try:
        return open(path, encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise InputError("INPUT", f"{path}: cannot read: {exc.strerror or exc}") from exc


def _jsonl_rows(path: Path) -> Iterator[Row]:
    n = 0
    with _open_text(path) as f:
        for lineno, text in enumerate(f, 1):
            if not text.strip():
                continue
            n += 1
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Row(n, lineno, error=f"not valid JSON: {exc.msg} (column {exc.colno})")
                continue
            except UnicodeDecodeError as exc:
                yield Row(n, lineno, error=f"not UTF-8: {exc.reason}")
                continue
            yield Row(n, lineno, data) if isinstance(data, dict) else Row(
                n, lineno, error=f"expected a JSON object of fields, got {type(data).__name__}")


def _csv_rows(path: Path) -> Iterator[Row]:
    with _open_text(path) as f:
        reader = csv.reader(f)
        try:
            header = next(reader)
        except StopIteration:
            return
        names = [h.strip() for h in header]
        n = 0
        start = reader.line_num + 1
        for record in reader:
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            n += 1
            if len(record) > len(names):
                yield Row(n, line, error=f"{len(record)} cells but the header names {len(names)} columns")
                continue
            yield Row(n, line, {k: v for k, v in zip(names, record) if k and v.strip()})


def _yaml_rows(path: Path) -> Iterator[Row]:
    import yaml

    from .knowledge.loader import _SafeLoader  # aliases refused, like every file llmhw reads from users

    with _open_text(path) as f:
        text = f.read()
    loader = _SafeLoader(text)
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            at = f" (line {mark.line + 1})" if mark is not None else ""
            raise InputError("INPUT", f"{path}: not valid YAML{at}: {getattr(exc, 'problem', None) or exc}") from exc
        if root is None:
            return
        if not isinstance(root, yaml.SequenceNode):
            raise InputError("INPUT", f"{path}: expected a YAML list of profiles (one mapping per item)")
        for n, node in enumerate(root.value, 1):
            line = node.start_mark.line + 1
            if not isinstance(node, yaml.MappingNode):
                yield Row(n, line, error="expected a mapping of fields")
                continue
            try:
                yield Row(n, line, loader.construct_document(node))
            except (yaml.YAMLError, RecursionError) as exc:
                yield Row(n, line, error=f"not valid YAML: {getattr(exc, 'problem', None) or exc}")
    finally:
        loader.dispose()


def read_rows(path: Path, fmt: str | None = None) -> Iterator[Row]:
    """The rows of an input file, streamed (JSONL, CSV) or parsed whole (YAML); a bad row is a Row with an error."""
    path = Path(path)
    _check_size(path)
    kind = input_format(path, fmt)
    return {"jsonl": _jsonl_rows, "csv": _csv_rows, "yaml": _yaml_rows}[kind](path)


def estimate_rows(path: Path, fmt: str) -> int | None:
    """About how many rows (for the progress bar): non-blank lines, minus the CSV header."""
    if fmt == "yaml":
        return None
    with open(path, "rb") as f:
        n = sum(1 for line in f if line.strip())
    return max(0, n - 1) if fmt == "csv" else n


# ---------------------------------------------------------------------------------------------- working


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


def consult(row: Row, knowledge_dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """One row's output record (never raises for the row's own faults)."""
    from . import api

    rec: dict[str, Any] = {"row": row.row, "line": row.line}
    if row.error is not None:
        return {**rec, "ok": False, "error": row.error}
    try:
        return {**rec, "ok": True, "result": api.advise(row.profile, knowledge_dirs=knowledge_dirs).to_dict()}
    except LlmhwError as exc:
        return {**rec, "ok": False, "error": str(exc)}
    except (RecursionError, MemoryError) as exc:
        return {**rec, "ok": False, "error": f"cannot consult: {exc.__class__.__name__}"}


def encode(rec: dict[str, Any], fmt: str) -> Any:
    """What the writer writes for a record: a JSON line (row, line, ok first), or the CSV cells."""
    if fmt == "csv":
        return _csv_record(rec)
    head = {k: rec[k] for k in ("row", "line", "ok")}
    body = {k: v for k, v in rec.items() if k not in head}
    return json.dumps(head)[:-1] + ", " + json.dumps(body, sort_keys=True)[1:] + "\n"


def peak_rss_bytes() -> int:
    """This process's peak resident memory (VmHWM), in bytes."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024
    except (ImportError, OSError):
        return 0


_WORKER: dict[str, Any] = {}


def _init_worker(knowledge_dirs: tuple[str, ...], fmt: str) -> None:
    """Each worker process: ignore Ctrl-C (the parent handles it), load the catalog and build its engine once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _WORKER.update(knowledge_dirs=knowledge_dirs, fmt=fmt)
    from . import api, session

    api.catalog(knowledge_dirs)
    session.engine()


def _work(rows: list[Row]) -> tuple[list[tuple[int, str | None, Any]], int, int]:
    knowledge_dirs, fmt = _WORKER["knowledge_dirs"], _WORKER["fmt"]
    out = []
    for row in rows:
        rec = consult(row, knowledge_dirs)
        out.append((row.row, rec.get("error"), encode(rec, fmt)))
    return out, os.getpid(), peak_rss_bytes()


# ---------------------------------------------------------------------------------------------- writing


class _OrderedWriter:
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


class _Progress:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, total: int | None, stream: TextIO, enabled: bool | None = None) -> None:
        self.total, self.stream = total, stream
        self.enabled = stream.isatty() if enabled is None else enabled
        self.start = time.perf_counter()
        self.shown = 0.0

    def update(self, done: int, failed: int, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        if not force and now - self.shown < 0.1:
            return
        self.shown = now
        rate = done / (now - self.start) if now > self.start else 0.0
        if self.total:
            frac = min(1.0, done / self.total)
            bar = "#" * int(frac * 30)
            eta = f" ETA {max(0.0, (self.total - done) / rate):.0f}s" if rate and done < self.total else ""
            text = f"[{bar:<30}] {done:,}/{self.total:,} rows, {failed:,} failed, {rate:,.0f}/s{eta}"
        else:
            text = f"{done:,} rows, {failed:,} failed, {rate:,.0f}/s"
        self.stream.write("\r" + text + "\x1b[K")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def _chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_batch(
    input_path: Path, out: TextIO, *, jobs: int | None = None, out_format: str = "jsonl",
    in_format: str | None = None, knowledge_dirs: Iterable[str] = (), progress: bool | None = None,
    report: Callable[[str], None] | None = None, err: TextIO = sys.stderr,
) -> Summary:
    """Consult every row of ``input_path`` and write one record per row to ``out``, in input order.

    :param jobs: worker processes (default: the number of cores); 1 runs in this process.
    :param progress: show a progress bar on ``err`` (default: only when it is a terminal).
    :param report: called with one line per failed row (``line N: message``).
    :raises InputError: the input file itself cannot be read (missing, too large, not a list).
    """
    input_path = Path(input_path)
    kind = input_format(input_path, in_format)
    rows = read_rows(input_path, kind)
    dirs = tuple(str(d) for d in knowledge_dirs)
    jobs = jobs or os.cpu_count() or 1
    summary = Summary(jobs=jobs)
    total = estimate_rows(input_path, kind) if (progress or (progress is None and err.isatty())) else None
    bar = _Progress(total, err, progress)
    lines: dict[int, int] = {}  # row -> line, for rows read and not yet written
    writer = _OrderedWriter(out, out_format, lines, report)
    start = time.perf_counter()

    def numbered(source: Iterable[Row]) -> Iterator[Row]:
        for r in source:
            lines[r.row] = r.line
            yield r

    def finished(row: int, error: str | None, payload: Any) -> None:
        summary.rows += 1
        summary.failures += error is not None
        writer.add(row, error, payload)

    try:
        if jobs == 1:
            _run_here(numbered(rows), dirs, out_format, finished, bar, summary)
        else:
            _run_pool(numbered(rows), dirs, out_format, jobs, finished, bar, summary)
    except KeyboardInterrupt:
        summary.interrupted = True
    except BrokenProcessPool as exc:
        raise LlmhwError(f"a worker process died ({exc}); rows finished before it are written") from exc
    finally:
        writer.drain()
        summary.seconds = time.perf_counter() - start
        bar.update(summary.rows, summary.failures, force=True)
        bar.close()
    return summary


def _run_here(rows: Iterable[Row], dirs: tuple[str, ...], fmt: str, finished: Callable[[int, str | None, Any], None],
              bar: _Progress, summary: Summary) -> None:
    for row in rows:
        rec = consult(row, dirs)
        finished(row.row, rec.get("error"), encode(rec, fmt))
        bar.update(summary.rows, summary.failures)
    summary.worker_peak_rss_bytes[os.getpid()] = peak_rss_bytes()


def _run_pool(rows: Iterable[Row], dirs: tuple[str, ...], fmt: str, jobs: int, finished: Callable[[int, str | None, Any], None],
              bar: _Progress, summary: Summary) -> None:
    chunk = 4  # rows per task: amortizes inter-process traffic, small enough to write results promptly
    window = jobs * 4  # tasks in flight: bounds memory however long the input is
    from . import api

    api.catalog(dirs)  # loaded once here: forked workers inherit it
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(dirs, fmt))
    pending: set[Future[Any]] = set()
    try:
        for part in _chunks(rows, chunk):
            bad = [r for r in part if r.error is not None]
            for r in bad:  # unreadable rows need no worker
                rec = consult(r)
                finished(r.row, rec["error"], encode(rec, fmt))
            good = [r for r in part if r.error is None]
            if good:
                pending.add(pool.submit(_work, good))
            while len(pending) >= window:
                pending = _collect(pending, finished, summary, bar)
        while pending:
            pending = _collect(pending, finished, summary, bar)
    except BaseException:
        for f in pending:
            f.cancel()
        # Keep what already finished: those rows are written by the caller's drain.
        for f in pending:
            if f.done() and not f.cancelled() and f.exception() is None:
                _take(f, finished, summary)
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _take(f: Future[Any], finished: Callable[[int, str | None, Any], None], summary: Summary) -> None:
    results, pid, rss = f.result()
    summary.worker_peak_rss_bytes[pid] = max(rss, summary.worker_peak_rss_bytes.get(pid, 0))
    for row, error, payload in results:
        finished(row, error, payload)


def _collect(pending: set[Future[Any]], finished: Callable[[int, str | None, Any], None], summary: Summary,
             bar: _Progress) -> set[Future[Any]]:
    done, rest = wait(pending, return_when=FIRST_COMPLETED)
    for f in done:
        _take(f, finished, summary)
    bar.update(summary.rows, summary.failures)
    return rest


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
