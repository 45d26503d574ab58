"""The `llmhw` console script.

Importing the engine takes about half a second; a Ctrl-C in that time would otherwise end in Python's
traceback instead of the CLI's one-line message.
"""

from __future__ import annotations

import sys


def main() -> None:
    try:
        from .cli import main as cli
    except KeyboardInterrupt:
        sys.stderr.write("Interrupted.\n")
        sys.exit(130)
    cli()
