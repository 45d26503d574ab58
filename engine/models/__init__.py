"""Any model: read what the user points at (config.json, safetensors, GGUF, Hub id) into a knowledge entry.

The readers (``config``, ``safetensors``, ``gguf``, ``hub``) produce ``knowledge.schema.Model`` entries and never
import the engine; ``resolve.with_model`` adds the entry to a consultation's catalog.
"""

from __future__ import annotations

from .entry import Reading as Reading
from .resolve import open_model as open_model
from .resolve import with_model as with_model
