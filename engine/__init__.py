"""llmhw: which hardware to buy or rent to run or train a large language model, and why."""

from . import _compat  # noqa: F401  (must run before experta is imported anywhere)
from .errors import InputError as InputError, KnowledgeError as KnowledgeError, LlmhwError as LlmhwError

__version__ = "0.1.0"
