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

import json
import threading
from dataclasses import asdict
from pathlib import Path

from dagster import ConfigurableResource, DataVersion, DataVersionsByPartition, observable_source_asset

from etdz.queries import QueryStatus, query_status
from etdz.settings import Settings

REVIEW_QUERIES_KEY = "review_queries"

_django_ready = threading.Lock()
_configured_for: list[str] = []  # the portal database this process's Django was last set up for


def portal_database_exists(settings: Settings) -> bool:
    """Whether this installation has a portal database: a configured URL, or the default SQLite file.

    The default (SQLite under ETDZ_HOME) counts only once the portal has created it — before that the
    installation has no portal and nothing about its results changes.
    """
    url = str(getattr(settings, "portal_database", "") or "")
    if "://" in url and not url.startswith("sqlite:"):
        return True  # PostgreSQL by URL: it exists as soon as it is configured (errors come from connecting)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:") else url
    if not path:
        path = str(Path(settings.home or ".") / "portal.sqlite3")
    return Path(path).is_file()


def _portal_queries(settings: Settings):
    """``portal.queries`` with Django configured for ``settings`` (set up again only for another database)."""
    import portal
    from portal import queries

    key = str(getattr(settings, "portal_database", "") or settings.home)
    with _django_ready:
        if _configured_for != [key]:
            portal.setup_django(settings)
            _configured_for[:] = [key]
    return queries


def load_year_queries(settings: Settings, data_year: int) -> list[dict] | None:
    """The queries of a data year (``portal.queries.year_queries``), or None without a portal database."""
    if not portal_database_exists(settings):
        return None
    return _portal_queries(settings).year_queries(int(data_year))


def load_year_version(settings: Settings, data_year: int) -> str | None:
    """The data version of a year's queries (``portal.queries.year_version``), or None without a portal database."""
    if not portal_database_exists(settings):
        return None
    return str(_portal_queries(settings).year_version(int(data_year)))


class ReviewQueriesResource(ConfigurableResource):
    """Where the review queries are read: the installation's settings (as JSON, so the resource stays plain)."""

    settings_json: str

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewQueriesResource:
        return cls(settings_json=json.dumps(asdict(settings), ensure_ascii=False))

    def settings(self) -> Settings:
        values = json.loads(self.settings_json)
        values["from_environment"] = tuple(values.get("from_environment", ()))
        return Settings(**values)

    def available(self) -> bool:
        return portal_database_exists(self.settings())

    def year_queries(self, data_year: int) -> list[dict] | None:
        return load_year_queries(self.settings(), data_year)

    def year_version(self, data_year: int) -> str | None:
        return load_year_version(self.settings(), data_year)

    def year_status(self, data_year: int) -> QueryStatus:
        return query_status(self.year_queries(data_year))


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
    def review_queries(context, review: ReviewQueriesResource) -> DataVersionsByPartition:
        if not review.available():
            return DataVersionsByPartition({})
        keys = context.partition_keys if context.has_partition_key_range or context.has_partition_key else \
            partitions_def.get_partition_keys()
        return DataVersionsByPartition({k: DataVersion(review.year_version(int(k))) for k in keys})

    return review_queries
