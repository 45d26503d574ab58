"""`import llmhw` must work in a fresh interpreter: experta's frozendict needs the compatibility alias first."""

import subprocess
import sys


def test_import_in_fresh_interpreter():
    code = "import llmhw, llmhw.session, llmhw.api; print(llmhw.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == llmhw_version()


def llmhw_version() -> str:
    import llmhw

    return llmhw.__version__
