"""Let experta 1.9.4 import on Python >= 3.10.

experta pins frozendict 1.2, which subclasses ``collections.Mapping``; that alias
was removed in Python 3.10 (nilp0inter/experta#34). Restoring it is the smallest
fix: experta's own test suite passes with it on 3.11-3.13.
"""

import collections
import collections.abc

if not hasattr(collections, "Mapping"):
    collections.Mapping = collections.abc.Mapping  # type: ignore[attr-defined]
