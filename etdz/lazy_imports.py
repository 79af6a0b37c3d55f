"""Modules a library imports at module level but our path never uses, loaded only when first used.

Great Expectations' top-level import loads every core expectation; one of them
(``expect_column_kl_divergence_to_be_less_than``) imports ``scipy.stats`` and ``altair`` at module level and uses
them only inside its methods (the suites of :mod:`etdz.validation.suite` never contain it). Those two are ~40 %
of GX's import (docs/benchmarks.md, issue 22). Inside :func:`deferred`, a plain ``import scipy.stats`` /
``import altair`` / ``from scipy import stats`` binds a module object whose code runs on first attribute access
(the standard library's :class:`importlib.util.LazyLoader`), so nothing changes for code that does use them:
the first ``stats.entropy`` loads scipy.stats as usual. The same holds for ``jsonschema``, which GX's
``column_values_match_json_schema`` metric imports at module level and uses only when it runs. A
``from altair import Chart`` is an attribute access and loads the module at once, as before.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import sys
from collections.abc import Iterator

#: what GX imports at module level and our suites never run: scipy.stats (statistical expectations), altair (their
#: charts in Data Docs), jsonschema (the JSON-schema metric's, with its ``referencing`` registry: ~0.2 s)
GX_UNUSED = frozenset({"scipy.stats", "altair", "jsonschema"})


class _DeferringFinder(importlib.abc.MetaPathFinder):
    """Finds the named modules as the other finders do, with their loader wrapped in a LazyLoader."""

    def __init__(self, names: frozenset[str]):
        self.names = names

    def find_spec(self, fullname, path, target=None):
        if fullname not in self.names:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                break
        else:
            return None
        if spec.loader is not None and hasattr(spec.loader, "exec_module"):
            spec.loader = importlib.util.LazyLoader(spec.loader)
        return spec


@contextlib.contextmanager
def deferred(names: frozenset[str] = GX_UNUSED) -> Iterator[None]:
    """While inside, a first import of one of ``names`` binds a lazily executed module (a module already imported
    stays as it is; one that is not installed still raises ImportError when imported)."""
    finder = _DeferringFinder(frozenset(n for n in names if n not in sys.modules))
    sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
