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


class OutputError(LlmhwError):
    """An output could not be written for a reason that is not the input's (a full disk): the previous file is kept."""


class ForeignFileError(InputError):
    """An output path holds a file llmhw did not write: it is replaced only with --force (or a yes in `llmhw ask`)."""

    def __init__(self, field: str, path: str) -> None:
        super().__init__(field, f"{path} exists and was not written by llmhw: name a new file, or pass --force to replace it")
        self.path = path
