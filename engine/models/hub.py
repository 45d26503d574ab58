"""A Hugging Face id (``org/name``): its config.json and safetensors index, never its weights, through ``huggingface_hub``.

The files land in the Hugging Face cache when the network allows and are read from that cache offline
(``HF_HUB_OFFLINE=1`` or no network); with neither, one line says both ways in.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import InputError

HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
FILES = ("config.json", "model.safetensors.index.json")  # metadata only: the weights are never downloaded


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def fetch(repo_id: str) -> Path:
    """The cache folder holding the repo's config.json (and its safetensors index when it has one)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_download, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError, GatedRepoError, LocalEntryNotFoundError, RepositoryNotFoundError

    # Read now: huggingface_hub reads these once, when it is imported.
    cache_dir = os.environ.get("HF_HUB_CACHE") or None
    endpoint = os.environ.get("HF_ENDPOINT") or None

    def download(filename: str, local_only: bool) -> Path:
        return Path(hf_hub_download(repo_id, filename, cache_dir=cache_dir, local_files_only=local_only, endpoint=endpoint))

    try:
        try:
            config = download("config.json", True)
        except LocalEntryNotFoundError:
            if offline():
                raise
            # One request without retries first: hf_hub_download retries a dead network for ~25 s, warning each time.
            get_hf_file_metadata(hf_hub_url(repo_id, "config.json", endpoint=endpoint), timeout=10)
            config = download("config.json", False)
    except LocalEntryNotFoundError as exc:  # a subclass of EntryNotFoundError: not in the cache, and no network to fetch it
        why = "HF_HUB_OFFLINE forbids the network" if offline() else "the Hub cannot be reached"
        raise InputError("model", f"{repo_id!r} is not in the Hugging Face cache and {why}: point --model at a local model folder, "
                                  "config.json or .gguf file, or allow network access to huggingface.co") from exc
    except (RepositoryNotFoundError, GatedRepoError) as exc:
        raise InputError("model", f"{repo_id!r}: no such model on the Hugging Face Hub, or it is gated ({exc.__class__.__name__})") from exc
    except EntryNotFoundError as exc:
        raise InputError("model", f"{repo_id!r}: the Hub repository has no config.json; point --model at a .gguf file or a model folder") from exc
    except Exception as exc:  # noqa: BLE001 - the transport's errors (requests or httpx, by huggingface_hub version): no network
        raise InputError("model", f"{repo_id!r} is not in the Hugging Face cache and the Hub cannot be reached ({exc.__class__.__name__}): "
                                  "point --model at a local model folder, config.json or .gguf file, "
                                  "or allow network access to huggingface.co") from exc
    try:
        download(FILES[1], True)
    except LocalEntryNotFoundError:
        if not offline():
            try:
                download(FILES[1], False)
            except Exception:  # noqa: BLE001 - an index is optional (small models ship one file); the config gives the count
                pass
    return config.parent
