"""Recording the review queries' data version per year, and refreshing a year's reports when it changes.

``review_queries`` (assets/queries.py) is an observable source asset; this module records its observations
(the version, with the counts as metadata): ``etdz run`` before each year's run (so the reports it writes are
not stale), and the ``review_queries_sensor`` on every tick. When a year's version differs from the one last
recorded — a query was opened, answered, reopened or closed in the portal — the sensor records it and requests a
run of that year's three report assets only (national report, cards, workbook: they read the queries when they
are written), so closing a query refreshes them (06-portal.md §6.3).

Not refreshed: a year whose reports were never written (its first run writes them), a year with a run of the
job queued or in progress (the next tick looks again), a published year (frozen: its changes are not recorded,
so after `etdz reopen` the next tick sees them). Without a portal database the sensor records nothing.
"""

from __future__ import annotations

from dagster import (
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    DagsterInstance,
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from assets.queries import REVIEW_QUERIES_KEY, load_year_status, load_year_version, portal_database_exists
from assets.resource import EtdzResource
from etdz.inbox_state import InboxFolderRefused, scan_inbox
from etdz.publish import is_published
from etdz.queries import QueryStatus
from etdz.reports import fictitious
from etdz.settings import Settings
from pipelines.dagster_private import DATA_VERSION_TAG
from pipelines.jobs import ANNUAL_JOB
from pipelines.tags import year_run_tags

ACTIVE = ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")


def review_observation(data_year: int, version: str, status: QueryStatus) -> AssetObservation:
    return AssetObservation(asset_key=REVIEW_QUERIES_KEY, partition=str(int(data_year)),
                            tags={DATA_VERSION_TAG: version},
                            metadata={"open": status.open, "answered": status.answered, "closed": status.closed,
                                      "review_queries": status.describe()})


def last_observed_version(instance: DagsterInstance, data_year: int) -> str | None:
    """The version of the year's queries last recorded, or None."""
    records = instance.fetch_observations(
        AssetRecordsFilter(asset_key=AssetKey(REVIEW_QUERIES_KEY), asset_partitions=[str(int(data_year))]),
        limit=1).records
    if not records:
        return None
    obs = records[0].event_log_entry.asset_observation
    return obs.tags.get(DATA_VERSION_TAG) if obs and obs.tags else None


def record_review_queries(instance: DagsterInstance, settings: Settings, data_year: int) -> bool:
    """Record the year's query version when it changed (``etdz run`` before a run); False without a portal."""
    version = load_year_version(settings, data_year)
    if version is None:
        return False
    if last_observed_version(instance, data_year) != version:
        instance.report_runless_asset_event(review_observation(data_year, version,
                                                               load_year_status(settings, data_year)))
    return True


def _reports_written(instance: DagsterInstance, data_year: int) -> bool:
    return bool(instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("national_report"), asset_partitions=[str(int(data_year))]),
        limit=1).records)


def _year_active(instance: DagsterInstance, job_names: tuple[str, ...], data_year: int) -> bool:
    from dagster import DagsterRunStatus

    return any(instance.get_runs_count(RunsFilter(
        job_name=name, statuses=[DagsterRunStatus[s] for s in ACTIVE],
        tags={"dagster/partition": str(int(data_year))})) for name in job_names)


def build_review_queries_sensor(job, partitions_def, interval_seconds: int = 30, demo: bool = False):
    @sensor(
        name="review_queries_sensor",
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,  # safe: without a portal database it records nothing
        description=fictitious.describe(
            "Records the portal's review queries per data year and, when a query of a year was opened, "
            "answered or closed, re-writes that year's reports (national report, cards, workbook), which "
            "call the results final only when no query is open or answered-but-not-closed.", demo),
    )
    def review_queries_sensor(context: SensorEvaluationContext, resource: ResourceParam[EtdzResource]):
        settings = resource.settings
        if not portal_database_exists(settings):
            return SkipReason("no portal database: there are no review queries")
        instance = context.instance
        requests, events, notes = [], [], []
        for key in partitions_def.get_partition_keys():
            year = int(key)
            version = load_year_version(settings, year)
            if version is None or version == last_observed_version(instance, year):
                continue
            if is_published(resource.store(), year):
                notes.append(f"{year}: review queries changed but the year is published (reopen it to refresh)")
                continue
            if _year_active(instance, (ANNUAL_JOB, job.name), year):
                continue  # its run may have read the queries before the change: look again on the next tick
            events.append(review_observation(year, version, load_year_status(settings, year)))
            if _reports_written(instance, year):
                try:
                    entries = scan_inbox(resource.inbox_dir(year))
                except InboxFolderRefused:  # the run's first step refuses the linked folder, naming it
                    entries = []
                tags = year_run_tags(settings, resource.catalogues(), year, "review_queries_sensor", entries,
                                     reason="a review query changed: the year's reports are written again")
                requests.append(RunRequest(partition_key=key,
                                           tags={**tags, "etdz/review_queries_version": version[:64]}))
        if notes:
            context.log.warning("; ".join(notes))
        if not events:
            return SkipReason("no review query changed since the last tick")
        return SensorResult(run_requests=requests, asset_events=events)

    return review_queries_sensor
