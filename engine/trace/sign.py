"""Signing a trace: an HMAC-SHA256 under a secret key, which detects edits by anyone without the key.

The ``digest`` detects accidents (a truncated copy, a hand edit that forgot the digest); anyone can recompute
it, so it proves nothing against a deliberate edit. The ``signature`` is ``hmac-sha256:<hex>`` of the canonical
JSON of everything else (``created`` and ``digest`` included), keyed by the bytes of a key file: only someone
holding the key can make one that ``verify`` accepts. It proves the trace left the signer unchanged, not that
its conclusions are right (``llmhw audit`` replays it for that).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import safe_write
from ..errors import InputError

SCHEME = "hmac-sha256"
KEY_BYTES = (16, 4096)  # shortest key worth its name (128 bits); longest key file read


def read_key(path: str | Path, field: str) -> bytes:
    """The secret key held in a file (its bytes, trailing newline dropped); raises ``InputError`` naming ``field``."""
    low, high = KEY_BYTES
    data = safe_write.read_regular(path, high, lambda problem: InputError(field, f"{path}: {problem}"))
    key = data.rstrip(b"\r\n")
    if len(key) < low:
        raise InputError(field, f"{path}: expected a key of at least {low} bytes, got {len(key)} "
                                "(make one with: head -c 32 /dev/urandom > KEYFILE)")
    return key


def _canonical(doc: Mapping[str, Any]) -> bytes:
    body = {k: v for k, v in doc.items() if k != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def signature(doc: Mapping[str, Any], key: bytes) -> str:
    """The signature of a trace document under ``key``."""
    return f"{SCHEME}:{hmac.new(key, _canonical(doc), hashlib.sha256).hexdigest()}"


def check(doc: Mapping[str, Any], key: bytes) -> str | None:
    """Why the document's signature does not prove it unedited under ``key``, or None when it does."""
    given = doc.get("signature")
    if given is None:
        return "it is not signed, but a key was given: anyone could have written it"
    if not hmac.compare_digest(str(given), signature(doc, key)):
        return "its signature does not match: it was edited after it was signed, or signed with another key"
    return None
