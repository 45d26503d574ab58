"""Running `llmhw batch`: one consultation per row in worker processes, each record written in input order.

Every row gets one output record as soon as it and every row before it are done. A bad row is reported
with its line number and the run goes on; the exit code is 1 if any row failed. Ctrl-C stops the run and
leaves every finished row written (exit 130).
"""

from __future__ import annotations

import contextlib
import gc
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from ..errors import LlmhwError
from .output import OrderedWriter, encode
from .read import Row, estimate_rows, input_format, read_rows


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


def consult(row: Row, knowledge_dirs: tuple[str, ...] = ()) -> dict[str, Any]:
    """One row's output record (never raises for the row's own faults)."""
    from .. import api

    rec: dict[str, Any] = {"row": row.row, "line": row.line}
    if row.error is not None:
        return {**rec, "ok": False, "error": row.error}
    try:
        return {**rec, "ok": True, "result": api.advise(row.profile, knowledge_dirs=knowledge_dirs).to_dict()}
    except LlmhwError as exc:
        return {**rec, "ok": False, "error": str(exc)}
    except (RecursionError, MemoryError) as exc:
        return {**rec, "ok": False, "error": f"cannot consult: {exc.__class__.__name__}"}


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
GC_THRESHOLDS = (50_000, 50, 100)  # the young generation collected every 50,000 allocations instead of 700
ORPHAN_CHECK_S = 0.5  # how often a worker checks its parent is alive: an orphan lives at most this long


def _init_worker(knowledge_dirs: tuple[str, ...], fmt: str, parent: int) -> None:
    """Each worker process: ignore Ctrl-C (the parent handles it; blocked until here, ``_submit``), die with the parent,
    build its engine once."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # not the parent's handler, inherited through fork
    threading.Thread(target=_orphan_watch, args=(parent,), name="llmhw-orphan-watch", daemon=True).start()
    _WORKER.update(knowledge_dirs=knowledge_dirs, fmt=fmt)
    from .. import api, session

    api.catalog(knowledge_dirs)
    session.engine()
    # The catalog and the engine live as long as the worker: keep them out of the collector's scans, and collect the
    # young generation less often (each consultation allocates many short-lived objects).
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _orphan_watch(parent: int) -> None:
    """End this worker once its parent is gone (SIGKILL leaves no chance to stop it): reparented, getppid() changes."""
    while os.getppid() == parent:
        time.sleep(ORPHAN_CHECK_S)
    os._exit(1)


def _work(rows: list[Row]) -> tuple[list[tuple[int, str | None, Any]], int, int]:
    knowledge_dirs, fmt = _WORKER["knowledge_dirs"], _WORKER["fmt"]
    out = []
    for row in rows:
        rec = consult(row, knowledge_dirs)
        out.append((row.row, rec.get("error"), encode(rec, fmt)))
    return out, os.getpid(), peak_rss_bytes()


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
    writer = OrderedWriter(out, out_format, lines, report)
    start = time.perf_counter()

    def numbered(source: Iterable[Row]) -> Iterator[Row]:
        for r in source:
            lines[r.row] = r.line
            yield r

    def finished(row: int, error: str | None, payload: Any) -> None:
        summary.rows += 1
        summary.failures += error is not None
        writer.add(row, error, payload)

    with _terminate_as_interrupt():
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


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the run as Ctrl-C does: finished rows written, workers stopped (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


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
    from .. import api

    api.catalog(dirs)  # loaded once here: forked workers inherit it
    pool = ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker, initargs=(dirs, fmt, os.getpid()))
    pending: set[Future[Any]] = set()
    try:
        for part in _chunks(rows, chunk):
            bad = [r for r in part if r.error is not None]
            for r in bad:  # unreadable rows need no worker
                rec = consult(r)
                finished(r.row, rec["error"], encode(rec, fmt))
            good = [r for r in part if r.error is None]
            if good:
                pending.add(_submit(pool, good))
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


def _submit(pool: ProcessPoolExecutor, rows: list[Row]) -> Future[Any]:
    """``pool.submit``, with Ctrl-C blocked while it may fork a worker, which inherits the mask: a worker that got it
    before its initializer ignores it could die holding the task queue's lock, and the pool's shutdown would wait for it
    at exit. This thread gets Ctrl-C again once the submit returns (the pool's threads, started here, keep it blocked)."""
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        return pool.submit(_work, rows)
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


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
