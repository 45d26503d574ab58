"""The validated knowledge base, saved once and read back at the next start instead of parsing and checking YAML.

(``api`` keeps the rulebase's descriptions the same way, keyed by the rule modules, for `llmhw rules`.)

A snapshot is one file in the cache directory (``LLMHW_CACHE_DIR``, else the platform's user cache directory),
named and headed by its key: a SHA-256 over the snapshot format, the Python and llmhw versions, the bytes of the
code that builds and checks entries (this package's modules), and, for the
built-in directory and every ``--knowledge`` directory in order, its path and each knowledge file's name and
SHA-256. Any edit, added directory or code change gives another key, so a stale snapshot is never read.

Why pickle, and why it is safe here: the catalog is a graph of frozen dataclasses that pickle restores in ~2 ms,
about fifty times faster than parsing and validating the YAML again, with no second serializer to keep in step
with ``schema``. Pickle runs whatever a file tells it to, so a snapshot is read only when (1) it is a regular file
owned by this user, (2) its header holds the key of the files in use now and (3) the SHA-256 of its payload,
stored in the header, matches: a truncated, corrupted or stale file is ignored and the YAML parsed again. The
cache directory is the user's own (created 0700); whoever can write in it can also edit the user's installed code,
so the file is as trusted as the package itself.

Every failure to read or write is silent: the answer comes from parsing, only slower.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

FORMAT = b"llmhw-knowledge-snapshot 1\n"
# what turns YAML into entries (the schema modules name the classes a snapshot restores)
CODE = ("schema.py", "runtime_schema.py", "policy_schema.py", "build.py", "checks.py", "loader.py", "snapshot.py", "yamlio.py")
KEEP = 16  # snapshots kept in the cache directory (one per knowledge set in use), the most recent ones


def cache_dir() -> Path:
    """``LLMHW_CACHE_DIR``, else the user cache directory (XDG on Linux, Library/Caches on macOS, LOCALAPPDATA on Windows)."""
    given = os.environ.get("LLMHW_CACHE_DIR")
    if given:
        return Path(given)
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Caches" / "llmhw"
    if os.name == "nt":
        return Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local") / "llmhw" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "llmhw"


def key(sets: Iterable[tuple[str, Iterable[tuple[str, str]]]]) -> str:
    """The key of a knowledge set: ``sets`` gives each directory's path with its (file name, SHA-256) pairs, in load order."""
    from .. import __version__

    h = hashlib.sha256(FORMAT)
    h.update(f"python {sys.version_info[:2]} llmhw {__version__}\n".encode())
    here = Path(__file__).resolve().parent
    for name in CODE:
        h.update(f"code {name} {hashlib.sha256((here / name).read_bytes()).hexdigest()}\n".encode())
    for directory, files in sets:
        h.update(f"dir {directory!r}\n".encode())
        for name, digest in files:
            h.update(f"file {name!r} {digest}\n".encode())
    return h.hexdigest()


def _path(kind: str, k: str) -> Path:
    return cache_dir() / f"{kind}-{k[:32]}.snapshot"


def read(k: str, kind: str = "knowledge") -> Any | None:
    """The payload saved under key ``k``, or None when there is none or it fails any check."""
    try:
        path = _path(kind, k)
        info = path.stat()
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            return None
        data = path.read_bytes()
        head = FORMAT + k.encode() + b"\n"
        if not data.startswith(head):
            return None
        digest, payload = data[len(head):len(head) + 65], data[len(head) + 65:]
        if digest != hashlib.sha256(payload).hexdigest().encode() + b"\n":
            return None
        return pickle.loads(payload)  # noqa: S301 - key and payload hash checked above (see the module docstring)
    except Exception:  # noqa: BLE001 - a snapshot that cannot be read is one that is not there
        return None


def write(k: str, payload: Any, kind: str = "knowledge") -> None:
    """Save ``payload`` under key ``k`` (atomically: a reader sees the old file or the whole new one), silently on failure."""
    import tempfile  # with random and shutil: only the start that writes a snapshot loads them

    try:
        body = pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{kind}-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(FORMAT + k.encode() + b"\n" + hashlib.sha256(body).hexdigest().encode() + b"\n" + body)
            os.replace(tmp, _path(kind, k))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        _prune(folder)
    except Exception:  # noqa: BLE001, S110 - an unwritable cache only costs the next start a parse
        pass


def _prune(folder: Path) -> None:
    """Keep the ``KEEP`` most recently written snapshots: each knowledge set in use has one, edits leave old ones behind."""
    found = sorted(folder.glob("*.snapshot"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in found[KEEP:]:
        old.unlink(missing_ok=True)
