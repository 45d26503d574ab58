"""The `llmhw` command line, a thin layer over the API.

- ``commands``: the commands (``main`` is the group), one function each;
- ``group``: the group that turns every error into one line with its exit code;
- ``options``: the options several commands share, declared once (workload options from the slot table);
- ``ask``: the question-and-answer loop of ``llmhw ask``;
- ``render``: text, Markdown and JSON layouts of the API's results and views.
"""

from __future__ import annotations

from .commands import main as main

__all__ = ["main"]
