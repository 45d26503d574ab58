"""Run a vendor tool and say, in one line, why it gave nothing: a missing tool or permission is a note, never an error."""

from __future__ import annotations

import shutil
import subprocess

TIMEOUT_S = 15  # nvidia-smi can take seconds to wake sleeping GPUs; a hung driver must not hang `llmhw detect`


def run_tool(argv: list[str]) -> tuple[str | None, str]:
    """The tool's stdout, or None and the reason ("nvidia-smi not found", "rocm-smi failed: ...")."""
    tool = argv[0]
    if shutil.which(tool) is None:
        return None, f"{tool} not found"
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        return None, f"{tool} did not answer within {TIMEOUT_S} s"
    except OSError as exc:
        return None, f"{tool} could not run: {exc.strerror or exc}"
    if done.returncode != 0:
        first = next((line.strip() for line in (done.stderr + done.stdout).splitlines() if line.strip()), "no message")
        return None, f"{tool} failed (exit {done.returncode}): {first[:120]}"
    return done.stdout, ""
