"""llmhw: which hardware to buy or rent to run or train a large language model, and why.

The public API is what this module names: ``advise``, ``check``, ``show_model``, ``Advice``, ``CheckResult``,
``Profile``, ``Consultation``, ``InputError`` (and the other errors). The engine (experta and the rulebase) loads on
first use, so that ``import llmhw`` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import _compat  # noqa: F401  (must run before experta is imported anywhere)
from .errors import InputError as InputError
from .errors import KnowledgeError as KnowledgeError
from .errors import LlmhwError as LlmhwError
from .errors import TraceError as TraceError

if TYPE_CHECKING:
    from .api import advise as advise
    from .api import check as check
    from .api import show_model as show_model
    from .consult import Consultation as Consultation
    from .profile import Profile as Profile
    from .results import Advice as Advice
    from .results import CheckResult as CheckResult

__version__ = "0.1.0"
# Loaded on first use; Profile too, so that the console script's Ctrl-C handler (``_entry``) is in place ~20 ms sooner.
_LAZY = {"Advice": "results", "CheckResult": "results", "advise": "api", "check": "api", "show_model": "api", "Consultation": "consult",
         "Profile": "profile"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'llmhw' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
