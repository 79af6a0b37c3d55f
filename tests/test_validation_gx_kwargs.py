"""GX's kwarg look-ups with the configuration built once (etdz/validation/gx_kwargs.py): installed on the pinned GX,
returning exactly what GX's own methods return, and the same validation results."""

from __future__ import annotations

import pytest

from etdz.catalogue import load_catalogues
from etdz.validation import build_suite, ephemeral_context, gx_kwargs, gx_module
from tests.fixtures.submissions import csv_bytes, rows_for
from tests.test_validation import env  # noqa: F401 - the fixture

RUNTIME = [None, {}, {"result_format": "BOOLEAN_ONLY"}, {"catch_exceptions": True},
           {"result_format": {"result_format": "COMPLETE", "include_unexpected_rows": False,
                              "return_unexpected_index_query": False}}]


@pytest.fixture(scope="module")
def expectation_class():
    gx_module()
    from great_expectations.expectations.expectation import Expectation

    return Expectation


def test_installed_on_the_pinned_gx(expectation_class):
    """GX's three methods are the code the replacements were checked against. Failing here after a GX upgrade:
    read GX's new ``_get_domain_kwargs`` / ``_get_success_kwargs`` / ``_get_runtime_kwargs``, bring
    ``gx_kwargs``'s replacements in line with them, then update ``gx_kwargs.CHECKED`` (``source_digests()``)."""
    assert gx_kwargs.source_digests() == gx_kwargs.CHECKED
    assert gx_kwargs.install()
    for name in ("_get_domain_kwargs", "_get_success_kwargs", "_get_runtime_kwargs"):
        assert getattr(expectation_class, name) is getattr(gx_kwargs, name)


def test_another_gx_keeps_its_own_methods(expectation_class, monkeypatch):
    monkeypatch.setattr(gx_kwargs, "_ORIGINALS", {})
    monkeypatch.setattr(gx_kwargs, "CHECKED", {**gx_kwargs.CHECKED, "_get_runtime_kwargs": "0" * 64})
    before = {n: getattr(expectation_class, n) for n in gx_kwargs.CHECKED}
    assert gx_kwargs.install() is False
    assert {n: getattr(expectation_class, n) for n in gx_kwargs.CHECKED} == before


def test_gx_without_its_source_keeps_its_own_methods(expectation_class, monkeypatch):
    """A GX installed without its .py files (a frozen or compiled install): nothing to compare, nothing replaced."""
    import inspect

    def no_source(obj):
        raise OSError("could not get source code")

    monkeypatch.setattr(gx_kwargs, "_ORIGINALS", {})
    monkeypatch.setattr(inspect, "getsource", no_source)
    before = {n: getattr(expectation_class, n) for n in gx_kwargs.CHECKED}
    assert gx_kwargs.install() is False
    assert {n: getattr(expectation_class, n) for n in gx_kwargs.CHECKED} == before


def test_each_look_up_equals_gx_s_own_on_every_shipped_suite(expectation_class):
    own = gx_kwargs.originals()
    assert own, "not installed"
    checked = 0
    for catalogue in load_catalogues(None):
        ephemeral_context()  # GX builds a suite only inside a context
        suite = build_suite(catalogue, f"t_{catalogue.version}")
        for e in suite.expectations:
            for x in (e, e.configuration.to_domain_obj()):  # as built, and as the validator rebuilds it
                assert gx_kwargs._get_domain_kwargs(x) == own["_get_domain_kwargs"](x)
                assert gx_kwargs._get_success_kwargs(x) == own["_get_success_kwargs"](x)
                for rc in RUNTIME:
                    assert gx_kwargs._get_runtime_kwargs(x, rc) == own["_get_runtime_kwargs"](x, rc)
                checked += 1
    assert checked >= 30


def test_the_validation_finds_the_same_rows_as_with_gx_s_own_methods(env, expectation_class, monkeypatch):  # noqa: F811
    files = {"bad.csv": csv_bytes(rows_for("Z1", 2022, share=("101", "%"), firms=("3.5", "家"),
                                           output=("120", "美元"))),
             "worse.csv": csv_bytes(rows_for("Z2", 2022, jobs=("约1", "万人"), output=("-1", "亿元"))),
             "ok.csv": csv_bytes(rows_for("Z3", 2022))}
    fast = env(files)
    for name, fn in gx_kwargs.originals().items():
        monkeypatch.setattr(expectation_class, name, fn)
    slow = env(files)
    cols = ["file_name", "check", "severity", "row", "column", "message"]
    assert len(fast.issues) >= 5
    assert fast.issues[cols].to_dict("records") == slow.issues[cols].to_dict("records")
    assert [(e.check, e.success, e.unexpected_count) for e in fast.validation.expectations] == \
        [(e.check, e.success, e.unexpected_count) for e in slow.validation.expectations]
