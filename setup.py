"""The build: a wheel compiles the planner and the sizing formulas with mypyc (as mypy and black ship theirs), which
makes a consultation take about 0.6x the instructions (benchmarks/NOTES.md); an editable install stays pure Python,
so that an edited source is what runs. ``LLMHW_PURE=1`` builds pure Python anywhere; without a working C compiler the
build says so (in its log: ``pip -v``) and falls back to it. pyproject.toml holds the rest of the metadata.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from setuptools import setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
# the modules a consultation spends its time in (the candidate search and the formulas it calls), as installed
COMPILED = ["llmhw/planner/*.py", "llmhw/sizing.py", "llmhw/scaleout.py", "llmhw/training_sizing.py", "llmhw/hybrid.py",
            "llmhw/host_sizing.py"]


def _installed_layout() -> Path:
    """The sources as they are installed (``llmhw/``, ``llmhw/rules``, ``llmhw/knowledge``), linked under build/, so
    that mypyc names each module as Python imports it (``llmhw.planner.frontier``, not ``engine.planner.frontier``)."""
    root = HERE / "build" / "mypyc-src"
    shutil.rmtree(root, ignore_errors=True)
    (root / "llmhw").mkdir(parents=True)
    for item in (HERE / "engine").iterdir():
        if item.name != "__pycache__":
            (root / "llmhw" / item.name).symlink_to(item.resolve())
    for name in ("rules", "knowledge"):
        (root / "llmhw" / name).symlink_to((HERE / name).resolve())
    return root


def _ext_modules() -> list[object]:
    """The compiled modules, only when a wheel is built: setuptools runs this file for metadata first (``egg_info``,
    ``dist_info``), where compiling would only repeat the type check; never in an editable install (``editable_wheel``)."""
    if not {"bdist_wheel", "build", "build_ext"} & set(sys.argv) or os.environ.get("LLMHW_PURE") == "1":
        return []
    from mypyc.build import mypycify

    root = _installed_layout()
    paths = sorted(str(p.relative_to(HERE)) for pattern in COMPILED for p in root.glob(pattern))
    # mypy's defaults, not the project's --strict (``make typecheck`` enforces it): the build environment lacks the
    # libraries' types (click, yaml, ...), which strict mode would report; read as untyped, they compile the same code
    return list(mypycify(["--config-file=", "--ignore-missing-imports", *paths], opt_level="3",
                         multi_file=True))  # one C file per module; as fast to run (same instruction counts)


class _BuildExt(build_ext):  # type: ignore[misc]
    """Compiles, or falls back to pure Python where no C compiler works (the modules' sources are installed too)."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # distutils' compiler and platform errors have no common base but Exception
            print(f"llmhw: compiling the planner failed ({exc}); installing pure Python, about 1.4x slower", file=sys.stderr)
            self.distribution.ext_modules = []
            self.extensions = []


if __name__ == "__main__":
    os.chdir(HERE)
    setup(ext_modules=_ext_modules(), cmdclass={"build_ext": _BuildExt})
