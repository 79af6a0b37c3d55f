"""The deadline schedule: every day at 06:00 Beijing time, request the data year whose deadline was yesterday.

Zones send their files until the year's deadline (``etdz/deadlines.py``: 30 June of the next year unless
``deadlines`` says otherwise); the day after it the year is complete as far as it will be, so that is when
the schedule runs it — once per inbox state (its run key) — and not on a fixed date that may fall months
before the deadline (04-outputs.md §4.3). It skips, with the readiness message, a year that cannot be
ranked (etdz/readiness.py): what the warehouse recorded for the inbox as it is now, or, when the inbox
changed since its last ingestion, a folder holding fewer files than the share needs (each file is at most
one zone). A year that might be ready is requested; its run decides, and refuses at its scoring step if
the files do not make the share.

A missed day (the daemon was down) is not caught up: Dagster runs only the latest missed tick of a
schedule. The automation (pipelines/jobs.py) runs every recorded change anyway; otherwise run the year by hand.
"""

from __future__ import annotations

import datetime as dt

from dagster import (
    DagsterInstance,
    DefaultScheduleStatus,
    ResourceParam,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    schedule,
)

from assets.resource import EtdzResource
from etdz.deadlines import TIMEZONE, deadline, parse_deadlines
from etdz.inbox_state import listing_digest, scan_inbox
from etdz.publish import blocked_by_publication, is_published
from etdz.readiness import Readiness, year_readiness
from etdz.reports import fictitious
from pipelines.observations import ingested_digest
from pipelines.partitions import partition_years
from pipelines.tags import year_run_tags

SCHEDULE_NAME = "yearly_assessment"
CRON = "0 6 * * *"  # every day, 06:00 in execution_timezone


def years_due_on(day: dt.date, deadlines: dict[int, dt.date], first: int) -> list[int]:
    """The data years whose deadline was the day before ``day`` (usually one; more when deadlines were moved)."""
    return [y for y in range(first, day.year) if deadline(y, deadlines) == day - dt.timedelta(days=1)]


def deadline_run_key(data_year: int, digest: str) -> str:
    """The run key of the schedule's request: the year and its inbox state (etdz/inbox_state.py's digest, the
    one the sensor and `etdz run` record). Dagster never launches a run key twice, so a year is requested once
    per inbox state: a moved deadline on an unchanged inbox requests nothing again, a changed one does."""
    return f"after-deadline-{int(data_year)}-{digest}"


def expected_readiness(resource: EtdzResource, instance: DagsterInstance, data_year: int,
                       entries: list, digest: str) -> tuple[Readiness, bool]:
    """The year's readiness as far as it is known without running it, and whether it is known exactly.

    Exactly: the warehouse's submission log, when it was written from the inbox as it is now. Otherwise an
    upper bound: every file accepted, each for a different due zone."""
    registry = resource.load_registry()
    deadlines = parse_deadlines(resource.settings.deadlines)
    store = resource.store()
    if ingested_digest(instance, data_year) == digest:
        log = store.read("submission_log", data_year)
        return year_readiness(data_year, registry, None if log is None else log.to_pandas(),
                              resource.settings.min_share_to_rank, deadlines), True
    bound = year_readiness(data_year, registry, None, resource.settings.min_share_to_rank, deadlines)
    return Readiness(data_year, min(len(entries), bound.due), bound.due, bound.min_share, bound.deadline,
                     upper_bound=True), False


def build_yearly_schedule(job, partitions_def, demo: bool = False):
    @schedule(
        name=SCHEDULE_NAME,
        cron_schedule=CRON,
        job=job,
        execution_timezone=TIMEZONE,
        default_status=DefaultScheduleStatus.RUNNING,
        description=fictitious.describe(
            "Every day at 06:00 Beijing time: the day after a data year's deadline (30 June of the next "
            "year unless `deadlines` moves it), run that year once — or skip it, saying why, when too few "
            "of its due zones have an accepted file to rank it (min_share_to_rank).", demo),
    )
    def yearly_assessment(context: ScheduleEvaluationContext, resource: ResourceParam[EtdzResource]):
        day = context.scheduled_execution_time.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
        keys = partition_years(partitions_def)
        due = years_due_on(day, parse_deadlines(resource.settings.deadlines), keys[0])
        if not due:
            return SkipReason(f"{day.isoformat()}: no data year's deadline was yesterday (the schedule runs a year "
                              f"on the day after its deadline)")
        requests, skipped = [], []
        catalogues = resource.catalogues()
        for year in due:
            if not any(c.applies_to(year) for c in catalogues):
                skipped.append(f"data year {year}: no catalogue covers it")
                continue
            event = is_published(resource.store(), year)
            if event:
                skipped.append(blocked_by_publication(year, event, "its deadline has passed"))
                continue
            entries = scan_inbox(resource.inbox_dir(year))
            digest = listing_digest(entries)
            readiness, _exact = expected_readiness(resource, context.instance, year, entries, digest)
            if not readiness.ready:
                skipped.append(readiness.message(day))
                continue
            if year not in keys:
                skipped.append(f"data year {year} is not a partition of the loaded code location (it ends at "
                               f"{keys[-1]}): reload the code location, or set last_data_year")
                continue
            requests.append(RunRequest(partition_key=str(year), run_key=deadline_run_key(year, digest),
                                       tags=year_run_tags(resource.settings, catalogues, year, "schedule", entries)))
        if skipped:
            context.log.info("; ".join(skipped))
        return requests or SkipReason(" | ".join(skipped))

    return yearly_assessment
