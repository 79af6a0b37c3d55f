"""Great Expectations' kwarg look-ups with the expectation's configuration built once per look-up, not once per key.

In GX 1.24, ``Expectation._get_domain_kwargs``, ``_get_success_kwargs`` and ``_get_runtime_kwargs`` read
``self.configuration.kwargs`` once for every key they return, and ``Expectation.configuration`` is no attribute:
each access is a pydantic ``.dict()`` of the whole expectation (value sets included) and a new
``ExpectationConfiguration``. A validation plans each expectation's metrics through these look-ups ~60 times, so
on a one-file check (34 rows, 19 expectations) the configurations are ~40 % of GX's time
(``bench/bench_check.py``; cProfile: ``Expectation.configuration`` 98,884 calls for 60 checks).

:func:`install` replaces the three methods with ones that return the same dicts, reading the configuration once per
call; nothing else of GX changes, and nothing is cached between calls (an expectation changed between two look-ups
is read as it is then). It installs only when GX's three methods are exactly the code they were written against
(the SHA-256 of their source, :data:`CHECKED`): on any other GX version GX's own methods stay, and
``tests/test_validation_gx_kwargs.py`` fails, so that the replacements are compared with the new code before they
are trusted again. That test also compares both on every expectation of every shipped catalogue's suite.
"""

from __future__ import annotations

import hashlib
import inspect
from typing import Any

#: SHA-256 of the source of GX's ``_get_domain_kwargs``, ``_get_success_kwargs``, ``_get_runtime_kwargs`` that the
#: replacements below were checked against (great_expectations 1.24.1)
CHECKED = {
    "_get_domain_kwargs": "91ad2a0670ff463ad99457f1e5c351b7fbd64cac8f6c200a18a437552f2adfd0",
    "_get_success_kwargs": "fe376905e18bc525a128d251281e7f48309e82f820f23c8e1d93d85e2739b26f",
    "_get_runtime_kwargs": "4196ca2a2cdb5bbfdf5e7540eaa58048d6e6881819ed004041ef56151667d8d0",
}

_ORIGINALS: dict[str, Any] = {}


def _domain(self, kwargs: dict) -> dict:
    from great_expectations.exceptions import InvalidExpectationKwargsError  # noqa: PLC0415

    domain = {key: kwargs.get(key, self._get_default_value(key)) for key in self.domain_keys}
    missing = set(self.domain_keys) - set(domain)
    if missing:
        raise InvalidExpectationKwargsError(f"Missing domain kwargs: {list(missing)}")
    return domain


def _success(self, kwargs: dict) -> dict:
    domain = _domain(self, kwargs)
    success = {key: kwargs.get(key, self._get_default_value(key)) for key in self.success_keys}
    success.update(domain)
    return success


def _get_domain_kwargs(self) -> dict:
    """GX's ``_get_domain_kwargs``, the configuration read once."""
    return _domain(self, self.configuration.kwargs)


def _get_success_kwargs(self) -> dict:
    """GX's ``_get_success_kwargs``, the configuration read once."""
    return _success(self, self.configuration.kwargs)


def _get_runtime_kwargs(self, runtime_configuration: dict | None = None) -> dict:
    """GX's ``_get_runtime_kwargs``, the configuration read once (its ``_get_success_kwarg(key)``: the
    configuration's value, else the field's default, else None)."""
    from great_expectations.expectations.expectation import parse_result_format  # noqa: PLC0415

    runtime_configuration = runtime_configuration or {}
    kwargs = self.configuration.kwargs
    success = _success(self, kwargs)

    def kwarg(key: str) -> Any:
        if key in kwargs:
            return kwargs[key]
        f = self.__fields__.get(key)
        if f is not None:
            return f.default if not f.required else None
        return self._get_success_kwarg(key)  # GX's own path for a key that is no field (it logs a warning)

    runtime = {key: runtime_configuration.get(key, kwarg(key)) for key in self.runtime_keys}
    runtime.update(success)
    runtime["result_format"] = parse_result_format(runtime["result_format"])
    return runtime


_REPLACEMENTS = {"_get_domain_kwargs": _get_domain_kwargs, "_get_success_kwargs": _get_success_kwargs,
                 "_get_runtime_kwargs": _get_runtime_kwargs}


def source_digests() -> dict[str, str]:
    """SHA-256 of the source of GX's own three methods (the originals, also after :func:`install`)."""
    from great_expectations.expectations.expectation import Expectation  # noqa: PLC0415

    return {name: hashlib.sha256(inspect.getsource(_ORIGINALS.get(name) or getattr(Expectation, name))
                                 .encode()).hexdigest() for name in _REPLACEMENTS}


def install() -> bool:
    """Replace GX's three look-ups (module docstring) when their source is the checked one; True when installed
    (by this call or an earlier one). Idempotent."""
    from great_expectations.expectations.expectation import Expectation  # noqa: PLC0415

    if _ORIGINALS:
        return True
    try:
        digests = source_digests()
    except (OSError, TypeError):  # no source to compare (a frozen install): GX's own methods stay
        return False
    if digests != CHECKED:
        return False
    for name, fn in _REPLACEMENTS.items():
        _ORIGINALS[name] = getattr(Expectation, name)
        setattr(Expectation, name, fn)
    return True


def originals() -> dict[str, Any]:
    """GX's own methods as they were before :func:`install` (empty when it did not install)."""
    return dict(_ORIGINALS)
