"""Fixtures for every test: no test reads a developer's or CI's real ETDZ configuration."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"


@pytest.fixture(autouse=True)
def private_etdz_home(tmp_path_factory, monkeypatch):
    """A fresh, empty ETDZ_HOME and DAGSTER_HOME for each test, no other setting's variable, and ``~/etdz``
    (the default home, also for settings loaded from an explicit mapping) pointing there too.

    A test that needs a location sets its variable itself; subprocesses inherit this environment.
    """
    import etdz.settings

    home = tmp_path_factory.mktemp("etdz_home")
    for name in [*etdz.settings.VARIABLES.values(), "ETDZ_CONFIG"]:
        monkeypatch.delenv(name, raising=False)  # test switches (ETDZ_REQUIRE_SERVERS, ETDZ_UPDATE_*) stay
    monkeypatch.setenv("ETDZ_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster_home"))
    monkeypatch.setattr(etdz.settings, "default_home", lambda: home)
    return home


@pytest.hookimpl(tryfirst=True)  # before -m deselects: a server test is slow when `-m "not slow"` is judged
def pytest_collection_modifyitems(config, items):
    """A ``server`` test (PostgreSQL, S3, the Dagster webserver, Chromium) is in the slow tier too, so
    ``-m "not slow"`` never starts a server (docs/testing.md)."""
    for item in items:
        if item.get_closest_marker("server") and not item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def demo_without_accounts(monkeypatch):
    """`etdz demo` in this process without its portal accounts. Django is configured once per process, and the
    portal's tests configure it with their own settings; the demo's accounts are tested through a process of
    their own (tests/portal/test_commands.py::test_demo_accounts_sign_in)."""
    import portal.demo

    monkeypatch.setattr(portal.demo, "demo_accounts_text", lambda settings, prefix="": "")


@pytest.fixture
def golden_env(tmp_path, monkeypatch):
    """The golden example as a deployment: a copy of its inbox, and a fresh warehouse, reports and DAGSTER_HOME
    under ``tmp_path``, exported as the ETDZ_* variables every command reads. Returns ``tmp_path``."""
    shutil.copytree(GOLDEN / "inbox", tmp_path / "inbox")
    values = {"ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
              "ETDZ_INBOX": str(tmp_path / "inbox"), "ETDZ_WAREHOUSE": str(tmp_path / "warehouse"),
              "ETDZ_REPORTS": str(tmp_path / "reports"), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
              "ETDZ_HOME": str(tmp_path)}
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    return tmp_path
