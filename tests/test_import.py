"""`import llmhw` must work in a fresh interpreter: experta's frozendict needs the compatibility alias first.
Importing does no work: the engine, click, YAML and jsonschema load on first use."""

import subprocess
import sys


def fresh(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_import_in_fresh_interpreter():
    assert fresh("import llmhw, llmhw.session, llmhw.api; print(llmhw.__version__)") == llmhw_version()


def test_import_loads_no_engine_and_no_third_party_library():
    code = ("import sys, llmhw, llmhw.trace; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'experta', 'click', 'yaml', 'jsonschema'}))")
    assert fresh(code) == "[]"


def test_names_other_modules_import_keep_working():
    code = ("from llmhw.trace import TraceEvent, Evidence, evidence, TraceError; from llmhw import TraceError as T; "
            "from llmhw.errors import TraceError as E, InputError; from llmhw.cli import main; "
            "print(TraceError is T is E, issubclass(E, InputError), main.name)")
    assert fresh(code) == "True True main"


def llmhw_version() -> str:
    import llmhw

    return llmhw.__version__


def test_every_subpackage_ships():
    """setuptools installs only the packages pyproject.toml lists: a new folder under engine/ must be listed."""
    from pathlib import Path

    import pytest

    tomllib = pytest.importorskip("tomllib")
    root = Path(__file__).resolve().parent.parent
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"llmhw." + ".".join(p.parent.relative_to(root / "engine").parts) for p in (root / "engine").glob("*/__init__.py")}
    assert found <= listed, sorted(found - listed)
