"""`python -m llmhw.cli`: the same as the `llmhw` console script."""

from __future__ import annotations

from .commands import main

main()
