"""llmhw: which hardware to buy or rent to run or train a large language model, and why."""

from . import _compat  # noqa: F401  (must run before experta is imported anywhere)
from .errors import InputError as InputError, KnowledgeError as KnowledgeError, LlmhwError as LlmhwError
from .profile import Profile as Profile
from .trace import TraceError as TraceError
from .consult import Consultation as Consultation  # loads the engine on first use, not at import

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the public API; loaded on first use at run time so that `import llmhw` stays cheap (no experta)
    from .api import Advice as Advice, CheckResult as CheckResult, advise as advise, check as check

_LAZY = {"Advice", "CheckResult", "advise", "check"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'llmhw' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _LAZY)

__version__ = "0.1.0"
