"""The exceptions llmhw raises. The CLI turns each into a one-line message."""

from __future__ import annotations


class LlmhwError(Exception):
    """Base of every error llmhw raises on purpose."""


class InputError(LlmhwError, ValueError):
    """The caller's input is wrong: the message names the field and what is accepted."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class KnowledgeError(LlmhwError):
    """A knowledge file is broken: the message names the file, entry and field."""


class TraceError(InputError):
    """A trace file that cannot be used: unreadable, not JSON, or not a valid trace document (the CLI exits 2)."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__("trace", f"{where}: {message}")
