"""The review queries as an observable source asset: one data version per data year (06-portal.md §6.3).

The portal keeps the queries (``portal.queries``); their data version per year is the portal's
``year_version(Y)``, which changes whenever any query of that year changes. The report assets depend on
``review_queries``, so a query opened, answered or closed marks that year's reports stale, and the
``review_queries_sensor`` (pipelines/review_sensor.py) records the new version and refreshes them.

Without a portal database nothing changes: no versions are recorded (the reports never go stale because
of it), the reports read no queries and say what ``results_status`` says.

Django is imported only here, on first use, and only when a portal database exists: the other
commands and a deployment without the portal never load it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import unquote, urlsplit

from dagster import DataVersion, DataVersionsByPartition, ResourceParam, observable_source_asset

from assets.resource import EtdzResource
from etdz.queries import QueryStatus, query_status
from etdz.settings import Settings

REVIEW_QUERIES_KEY = "review_queries"

_django_ready = threading.Lock()


def _sqlite_path(settings: Settings) -> Path | None:
    """The portal's SQLite file (``portal_database`` empty, a path or ``sqlite:///path``); None for PostgreSQL."""
    from portal.config import portal_home  # no Django: the portal's folder under ETDZ_HOME

    url = settings.portal_database.strip()
    if url.startswith("sqlite:"):
        return Path(unquote(urlsplit(url).path))
    if "://" in url:
        return None
    return Path(url).expanduser() if url else portal_home(settings) / "portal.sqlite3"


def portal_database_exists(settings: Settings) -> bool:
    """Whether this installation has a portal database: a PostgreSQL URL, or a SQLite file the portal created.

    The default (SQLite under ETDZ_HOME) counts only once the portal has created it — before that the
    installation has no portal and nothing about its results changes.
    """
    path = _sqlite_path(settings)
    return path is None or path.is_file()


def _portal_queries(settings: Settings):
    """``portal.queries`` with Django set up for ``settings`` (once per process: a process that already runs the
    portal, such as a test's, must be on the same database)."""
    from django.conf import settings as django_settings

    import portal

    with _django_ready:
        if not django_settings.configured:
            portal.setup_django(settings)
        else:
            from portal.config import database

            want, have = database(settings), django_settings.DATABASES["default"]
            if any(str(want.get(k) or "") != str(have.get(k) or "") for k in ("ENGINE", "NAME", "HOST", "PORT")):
                raise RuntimeError(f"this process already uses the portal database {have.get('NAME')}; the review "
                                   f"queries asked for are in {want.get('NAME')} (one portal database per process)")
    from portal import queries

    return queries


def _closing_connection(read):
    """Run ``read()`` and close this thread's database connection: sensors and assets run on worker threads that
    Django's request cycle never closes (a PostgreSQL restart must not leave them a dead connection)."""
    from django.db import connection

    try:
        return read()
    finally:
        connection.close()


def load_year_queries(settings: Settings, data_year: int) -> list[dict] | None:
    """The queries of a data year (``portal.queries.year_queries``), or None without a portal database."""
    if not portal_database_exists(settings):
        return None
    queries = _portal_queries(settings)
    return _closing_connection(lambda: queries.year_queries(int(data_year)))


def load_year_version(settings: Settings, data_year: int) -> str | None:
    """The data version of a year's queries (``portal.queries.year_version``), or None without a portal database."""
    if not portal_database_exists(settings):
        return None
    queries = _portal_queries(settings)
    return str(_closing_connection(lambda: queries.year_version(int(data_year))))


def load_year_status(settings: Settings, data_year: int) -> QueryStatus:
    """The year's queries counted by state (``NO_PORTAL`` without a portal database)."""
    return query_status(load_year_queries(settings, data_year))


def build_review_queries_asset(partitions_def):
    @observable_source_asset(
        name=REVIEW_QUERIES_KEY,
        partitions_def=partitions_def,
        group_name="reports",
        owners=["team:review"],
        description="The review team's queries on zones' figures, kept by the portal (docs/contract/06-portal.md "
                    "§6.3): per data year, open → answered → closed. Its data version per year changes whenever a "
                    "query of the year changes, so the year's reports refresh; they call the results final (正式) "
                    "only when results_status is final and no query is open or answered-but-not-closed, and show "
                    "the counts. Without a portal database nothing is recorded: no queries.",
    )
    def review_queries(context, resource: ResourceParam[EtdzResource]) -> DataVersionsByPartition:
        settings = resource.settings
        if not portal_database_exists(settings):
            return DataVersionsByPartition({})
        keys = context.partition_keys if context.has_partition_key_range or context.has_partition_key else \
            partitions_def.get_partition_keys()
        return DataVersionsByPartition({k: DataVersion(load_year_version(settings, int(k))) for k in keys})

    return review_queries
