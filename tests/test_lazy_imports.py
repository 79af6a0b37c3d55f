"""etdz.lazy_imports: what GX imports and our suites never run is loaded on first use, not at GX's import."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from etdz.lazy_imports import deferred

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def package(tmp_path, monkeypatch):
    """A package ``lazyprobe`` whose submodule ``heavy`` records, on execution, that it ran."""
    pkg = tmp_path / "lazyprobe"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("RAN = []\n", encoding="utf-8")
    (pkg / "heavy.py").write_text("import lazyprobe\nlazyprobe.RAN.append('heavy')\nVALUE = 42\n", encoding="utf-8")
    (pkg / "user.py").write_text("from lazyprobe import heavy\n\ndef use():\n    return heavy.VALUE\n",
                                 encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "lazyprobe"
    for name in [m for m in sys.modules if m == "lazyprobe" or m.startswith("lazyprobe.")]:
        del sys.modules[name]


def test_a_deferred_module_runs_on_first_use_and_then_works_as_usual(package):
    with deferred(frozenset({"lazyprobe.heavy"})):
        import lazyprobe.user
    import lazyprobe

    assert lazyprobe.RAN == []  # imported by user.py, not executed
    assert lazyprobe.user.use() == 42  # the first attribute access runs it
    assert lazyprobe.RAN == ["heavy"]
    assert lazyprobe.user.use() == 42 and lazyprobe.RAN == ["heavy"]  # once


def test_other_modules_and_modules_already_imported_load_as_before(package):
    import lazyprobe.heavy

    assert lazyprobe.RAN == ["heavy"]
    with deferred(frozenset({"lazyprobe.heavy"})):
        import lazyprobe.user
    assert lazyprobe.user.heavy is sys.modules["lazyprobe.heavy"] and lazyprobe.RAN == ["heavy"]
    assert not any(type(f).__name__ == "_DeferringFinder" for f in sys.meta_path)  # the finder is gone after


def test_a_module_that_is_not_installed_still_fails_to_import():
    with pytest.raises(ModuleNotFoundError), deferred(frozenset({"no_such_module_etdz"})):
        import no_such_module_etdz  # noqa: F401


@pytest.mark.slow
def test_gx_import_leaves_scipy_stats_altair_and_jsonschema_unexecuted_and_the_suite_still_validates():
    """In a fresh interpreter: GX imported through etdz.validation.suite, scipy.stats / altair / jsonschema not
    executed (their modules are lazy), yet GX works and scipy.stats and jsonschema work when something asks."""
    code = ("import sys, importlib.util\n"
            "from etdz.validation.suite import gx_module\n"
            "gx = gx_module()\n"
            "lazy = [n for n in ('scipy.stats', 'altair', 'jsonschema')\n"
            "        if type(sys.modules.get(n)).__name__ == '_LazyModule']\n"
            "ctx = gx.get_context(mode='ephemeral')\n"
            "from scipy import stats\n"
            "import jsonschema\n"
            "jsonschema.validate(1, {'type': 'integer'})\n"
            "print(lazy, round(float(stats.entropy([0.5, 0.5])), 4), type(sys.modules['scipy.stats']).__name__,\n"
            "      type(sys.modules['jsonschema']).__name__)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip() == "['scipy.stats', 'altair', 'jsonschema'] 0.6931 module module", out.stdout + out.stderr
