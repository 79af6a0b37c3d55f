"""The portal under test: Django configured once per test process (it cannot be configured twice), on a SQLite
database of a session folder, with the tests' small catalogue and registry (tests/fixtures/submissions.py: zones
Z1 and P1 in 江苏, Z2 in 浙江, Z3 in 安徽); each test gets its own inbox, warehouse and reports through
``override_settings(ETDZ=…)``, an empty database, and a 2-second lockout period.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from etdz.settings import Settings
from tests.fixtures.submissions import csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry

LOCKOUT_SECONDS = 2


def _quick_argon2():
    from django.contrib.auth.hashers import Argon2PasswordHasher

    class QuickArgon2(Argon2PasswordHasher):
        time_cost, memory_cost, parallelism = 1, 256, 1

    return QuickArgon2


def __getattr__(name: str):  # the hasher class is made once Django is importable and configured
    if name == "QuickArgon2":
        return _quick_argon2()
    raise AttributeError(name)
PASSWORD = "correct-horse-battery"


# The data year of the tests' files. The portal's open year comes from the calendar (the year just closed in
# Beijing): pinned to this one for every test on the in-process portal, so the tests do not change meaning on
# 1 January.
DATA_YEAR = 2025


@pytest.fixture(autouse=True)
def _pinned_open_year(request):
    if "portal_base" not in request.fixturenames:
        yield
        return
    from unittest import mock

    from portal import submitting

    with mock.patch.object(submitting, "open_year", lambda now=None: DATA_YEAR):
        yield


@pytest.fixture(scope="session")
def portal_base(tmp_path_factory) -> Settings:
    """The settings Django is configured with (once per process)."""
    import portal

    home = tmp_path_factory.mktemp("portal_home")
    write_tiny_catalogue(home / "methodology")
    write_tiny_registry(home)
    settings = Settings.from_env({"ETDZ_HOME": str(home), "ETDZ_METHODOLOGY": str(home / "methodology"),
                                  "ETDZ_REGISTRY": str(home / "registry.csv"),
                                  "ETDZ_PORTAL_LOCKOUT_SECONDS": str(LOCKOUT_SECONDS)})
    # argon2id still, with a small memory and time cost: the production parameters (100 MiB) take ~0.5 s a hash
    # and Django's test client's host name beside the loopback names
    from portal.config import LOOPBACK

    settings = portal.setup_django(settings, PASSWORD_HASHERS=["tests.portal.conftest.QuickArgon2"],
                                   ALLOWED_HOSTS=[*LOOPBACK, "[::1]", "testserver"])
    portal.migrate()
    return settings


class Portal:
    """One test's portal: its settings, accounts, tokens and clients."""

    def __init__(self, settings: Settings):
        self.settings = settings

    @property
    def inbox(self) -> Path:
        return Path(self.settings.inbox)

    def account(self, username: str, role: str, zone: str = "", province: str = "") -> str:
        """Add an account (the real command's function); returns its API token."""
        from portal.accounts import add_account, new_token

        add_account(username, role, PASSWORD, zone_code=zone, province=province)
        return new_token(username)

    def api(self, token: str | None):
        """A test client that sends the bearer token."""
        from django.test import Client

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return Client(headers=headers)

    def browser(self, username: str | None = None, csrf: bool = True):
        """A browser-like client, signed in as ``username`` through /login (CSRF checked when ``csrf``)."""
        from django.test import Client

        c = Client(enforce_csrf_checks=csrf)
        if username:
            c.get("/login")
            r = c.post("/login", {"username": username, "password": PASSWORD,
                                  "csrfmiddlewaretoken": c.cookies["csrftoken"].value})
            assert r.status_code == 302, r.content[:500]
        return c


def _flush() -> None:
    from django.core.management import call_command

    call_command("flush", interactive=False, verbosity=0)  # SQL DELETE: the audit log's model refusal is bypassed


@pytest.fixture
def portal_env(portal_base, tmp_path):
    """A fresh portal: empty database, this test's inbox/warehouse/reports; ``approval_required`` false."""
    from django.test import override_settings

    settings = dataclasses.replace(portal_base, inbox=str(tmp_path / "inbox"), warehouse=str(tmp_path / "warehouse"),
                                   reports=str(tmp_path / "reports"), archive=str(tmp_path / "warehouse/_archive"))
    _flush()
    with override_settings(ETDZ=settings):
        yield Portal(settings)
    _flush()


@pytest.fixture
def approval_env(portal_env):
    """The portal with ``approval_required = true``."""
    from django.test import override_settings

    settings = dataclasses.replace(portal_env.settings, approval_required=True)
    with override_settings(ETDZ=settings):
        portal_env.settings = settings
        yield portal_env


def good_file(zone: str = "Z1", year: int = 2025, **override) -> bytes:
    """A submission without any problem (the tests' catalogue)."""
    return csv_bytes(rows_for(zone, year, **override))


def warned_file(zone: str = "Z1", year: int = 2025) -> bytes:
    """A file with one substantive warning (share 90 % over its soft maximum 80, row 5) and one that needs no
    explanation (a thousands separator, row 2)."""
    return csv_bytes(rows_for(zone, year, output=("1,120.5", "亿元"), city_output=("1900", "亿元"),
                              share=("90", "%")))


def run_ingestion(settings, year: int = 2025) -> None:
    """What the ``submissions`` asset does for a year: ingest its inbox folder, write ``submission_log`` and the
    rejection notices (the run's own functions)."""
    from etdz.catalogue import catalogue_for_year, load_catalogues
    from etdz.deadlines import parse_deadlines
    from etdz.ingestion import ingest_year
    from etdz.registry import load_registry
    from etdz.schemas import SUBMISSION_LOG, to_table
    from etdz.storage import Warehouse
    from etdz.validation_page import write_rejection_notices

    registry = load_registry(settings.registry)
    cat = catalogue_for_year(load_catalogues(settings.methodology), year)
    ing = ingest_year(Path(settings.inbox) / str(year), year, cat, registry, archive=None,
                      deadlines=parse_deadlines(settings.deadlines))
    Warehouse(settings.warehouse).write("submission_log", year, to_table(ing.log, SUBMISSION_LOG))
    write_rejection_notices(ing, Path(settings.reports) / str(year) / "rejections", registry)
