"""Reading `llmhw batch` input: JSON Lines, CSV or YAML, one profile per row, each with its line in the file.

A row that cannot be read (malformed JSON, a CSV record with too many cells, a YAML item that is not a
mapping) is a ``Row`` with an ``error``, and the run goes on; a file that cannot be read at all (missing,
over the size limit, not a list) raises ``InputError`` naming ``INPUT``.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .. import safe_write
from ..errors import InputError, KnowledgeError
from ..knowledge.yamlio import parse_yaml

MAX_INPUT_BYTES = 50_000_000  # JSONL and CSV are streamed; YAML is parsed whole, so this also bounds its memory
INPUT_FORMATS = ("jsonl", "csv", "yaml")
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")  # how errors="surrogateescape" keeps a byte that is not UTF-8
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl", ".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}


@dataclass(frozen=True)
class Row:
    """One input row: its position, its line in the file, and the profile (or why it could not be read)."""

    row: int
    line: int
    profile: Any = None
    error: str | None = None


def input_format(path: Path, given: str | None = None) -> str:
    """The input format: as given, else from the file's suffix."""
    if given:
        return given
    fmt = _SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        raise InputError("INPUT", f"{path}: cannot tell the format from the suffix {path.suffix!r}; "
                                  "name it .jsonl, .csv or .yaml, or pass --input-format")
    return fmt


def _fail(path: Path) -> Callable[[str], InputError]:
    return lambda problem: InputError("INPUT", f"{path}: {problem}")


def check_input(path: Path, fmt: str | None = None) -> str:
    """The input's format, once the file is known to be a regular file within the size limit (before any output is opened)."""
    kind = input_format(path, fmt)
    safe_write.open_regular(path, MAX_INPUT_BYTES, _fail(path)).close()
    return kind


def _open_text(path: Path) -> TextIO:
    """The input as text; a byte that is not UTF-8 is kept as a surrogate escape, so that only its row fails."""
    raw = safe_write.open_regular(path, MAX_INPUT_BYTES, _fail(path))
    return io.TextIOWrapper(raw, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _not_utf8(text: str) -> str | None:
    """Why a row read with surrogate escapes is not UTF-8 text, or None."""
    bad = _ESCAPED_BYTE.search(text)
    return None if bad is None else f"not UTF-8: byte 0x{ord(bad.group()) - 0xDC00:02x} at character {bad.start() + 1}"


def _jsonl_rows(path: Path) -> Iterator[Row]:
    n = 0
    with _open_text(path) as f:
        for lineno, text in enumerate(f, 1):
            if not text.strip():
                continue
            n += 1
            bad = _not_utf8(text)
            if bad:
                yield Row(n, lineno, error=bad)
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield Row(n, lineno, error=f"not valid JSON: {exc.msg} (column {exc.colno})")
                continue
            except ValueError:  # an integer of more than 4,300 digits (Python's int-parsing limit)
                yield Row(n, lineno, error="not valid JSON here: a number with too many digits")
                continue
            except RecursionError:
                yield Row(n, lineno, error="not valid JSON here: nested too deeply")
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
        while True:
            try:
                record = next(reader)
                problem = _not_utf8("".join(record))
            except StopIteration:
                return
            except csv.Error as exc:  # a cell over the csv module's 128 KiB limit: this row fails, the next is read
                record, problem = ["?"], f"not a valid CSV record: {exc}"
            line, start = start, reader.line_num + 1
            if not any(cell.strip() for cell in record):
                continue
            n += 1
            if problem is None and len(record) > len(names):
                problem = f"{len(record)} cells but the header names {len(names)} columns"
            if problem:
                yield Row(n, line, error=problem)
                continue
            yield Row(n, line, {k: v for k, v in zip(names, record, strict=False) if k and v.strip()})  # short rows: missing cells unset


def _yaml_rows(path: Path) -> Iterator[Row]:
    """The items of a YAML list, each with the line it starts on.

    The file is parsed whole by the knowledge loader's safe reader (aliases and duplicate keys refused, as
    in every file llmhw reads from users); its nodes are composed once more only for their line numbers.
    """
    import yaml

    with _open_text(path) as f:
        text = f.read()
    if _not_utf8(text):
        raise InputError("INPUT", f"{path}: {_not_utf8(text)} (a YAML file is read whole)")
    try:
        root = parse_yaml(text, str(path))
    except KnowledgeError as exc:
        raise InputError("INPUT", str(exc)) from exc
    if root is None:
        return
    if not isinstance(root, list):
        raise InputError("INPUT", f"{path}: expected a YAML list of profiles (one mapping per item)")
    nodes = yaml.compose(text, Loader=yaml.SafeLoader)  # safe: parse_yaml refused aliases already
    for n, (item, node) in enumerate(zip(root, nodes.value if nodes is not None else [], strict=True), 1):
        line = node.start_mark.line + 1
        yield Row(n, line, item) if isinstance(item, dict) else Row(n, line, error="expected a mapping of fields")


def read_rows(path: Path, fmt: str | None = None) -> Iterator[Row]:
    """The rows of an input file, streamed (JSONL, CSV) or parsed whole (YAML); a bad row is a Row with an error."""
    path = Path(path)
    kind = check_input(path, fmt)
    return {"jsonl": _jsonl_rows, "csv": _csv_rows, "yaml": _yaml_rows}[kind](path)


def estimate_rows(path: Path, fmt: str) -> int | None:
    """About how many rows (for the progress bar): non-blank lines, minus the CSV header."""
    if fmt == "yaml":
        return None
    with safe_write.open_regular(path, MAX_INPUT_BYTES, _fail(path)) as f:
        n = sum(1 for line in f if line.strip())
    return max(0, n - 1) if fmt == "csv" else n
