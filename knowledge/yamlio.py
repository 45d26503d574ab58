"""Reading YAML safely: size-limited regular files, no aliases (alias bombs), no duplicate keys, no base-60 numbers.

Every file llmhw reads (the knowledge base, profiles, batch inputs) goes through here; errors name the file.
"""

from __future__ import annotations

import stat
from functools import cache
from pathlib import Path
from typing import Any

from ..errors import KnowledgeError

MAX_FILE_BYTES = 2_000_000  # the largest built-in file is ~100 kB; anything far beyond is not a catalog


@cache
def _loaders() -> tuple[Any, Any]:
    """(the checking loader, the C loader or None), built on first use: PyYAML loads only when YAML is read."""
    import yaml

    class _SafeLoader(yaml.SafeLoader):
        """safe_load, but refusing aliases: no catalog needs them, and they enable alias bombs."""

        def compose_node(self, parent: Any, index: Any) -> Any:
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()  # type: ignore[no-untyped-call]
                raise yaml.composer.ComposerError(
                    None, None, "YAML aliases are not allowed", event.start_mark
                )
            return super().compose_node(parent, index)

        def construct_mapping(self, node: Any, deep: bool = False) -> Any:
            """Refuse a key given twice: YAML would keep the last one silently (`context: 4096` then `context: 8192`)."""
            if isinstance(node, yaml.MappingNode):
                seen: set[Any] = set()
                for key_node, _ in node.value:
                    if isinstance(key_node, yaml.ScalarNode):
                        key = self.construct_object(key_node, deep=deep)
                        if key in seen:
                            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {str(key)[:80]!r}", key_node.start_mark)
                        seen.add(key)
            return super().construct_mapping(node, deep=deep)

    def _refuse_base_60(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
        """YAML 1.1 reads ``40:00`` as 2400 (base 60): nobody writing a budget or a context means that."""
        if ":" in str(node.value):
            raise yaml.constructor.ConstructorError(None, None, f"{str(node.value)[:40]!r} is a YAML 1.1 base-60 number; "
                                                    "write the number itself, or quote it", node.start_mark)
        tag = "int" if node.tag.endswith(":int") else "float"
        return getattr(yaml.SafeLoader, f"construct_yaml_{tag}")(loader, node)

    _SafeLoader.add_constructor("tag:yaml.org,2002:int", _refuse_base_60)
    _SafeLoader.add_constructor("tag:yaml.org,2002:float", _refuse_base_60)
    return _SafeLoader, getattr(yaml, "CSafeLoader", None)


def read_yaml(path: Path, *, allow_aliases: bool = False) -> Any:
    """Parse one YAML (or JSON) file safely, with a size limit; errors name the file."""
    return parse_yaml(decode_text(read_bytes(path), path), str(path), allow_aliases=allow_aliases)


def decode_text(data: bytes, path: Path) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc.__class__.__name__}: {exc}") from exc


def read_bytes(path: Path) -> bytes:
    """A regular file's bytes, refusing anything over the size limit; errors name the file."""
    try:
        info = path.stat()
        if not stat.S_ISREG(info.st_mode):  # a FIFO or a device would block or never end
            raise KnowledgeError(f"{path}: cannot read: not a regular file")
        if info.st_size > MAX_FILE_BYTES:
            raise KnowledgeError(f"{path}: file is {info.st_size:,} bytes, over the {MAX_FILE_BYTES:,}-byte limit")
        with path.open("rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)  # a file that grew (or lied about its size) is cut off here
        if len(data) > MAX_FILE_BYTES:
            raise KnowledgeError(f"{path}: file is over the {MAX_FILE_BYTES:,}-byte limit")
    except KnowledgeError:
        raise
    except OSError as exc:
        raise KnowledgeError(f"{path}: cannot read: {exc.__class__.__name__}: {exc}") from exc
    return data


def parse_yaml(text: str, where: str, *, allow_aliases: bool = False) -> Any:
    """Parse YAML text; aliases are refused unless asked for (our own files, C loader)."""
    import yaml

    checking, fast = _loaders()
    loader = (fast or yaml.SafeLoader) if allow_aliases else checking
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 - both loaders are safe loaders
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise KnowledgeError(f"{where}: not valid YAML{at}: {problem}") from exc
    except RecursionError as exc:
        raise KnowledgeError(f"{where}: nested too deeply") from exc


def dump_yaml(data: Any) -> str:
    """YAML text for a plain mapping (a saved profile), in the order given."""
    import yaml

    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
