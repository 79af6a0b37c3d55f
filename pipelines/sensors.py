"""The inbox sensor: once a year's folder is stable after a change, record it and request one run of the year;
then bring the later years up to date, in order, one run each.

A folder counts as stable when two ticks in a row see the same digest (names, sizes, modification
times), so a file still being copied is not read half-written. The cursor holds, per year, the digest
last recorded and the one seen on the previous tick; with no cursor, the digests last recorded in the
instance (by `etdz run` or earlier ticks) stand in, so a freshly started sensor does not re-run years
already run on the same files, and `etdz run` followed by the sensor never runs a year twice on one
inbox state. Each recorded change is an observation of the ``inbox`` source asset (the UI then shows
the year stale). Requests carry no run key: Dagster skips a run key it has seen before forever, which
would leave an inbox that returns to an earlier state (a file added, then removed) never run again;
the cursor is what makes each change count once. A published year's changes are not recorded (reopen
it first).

Later years: year Y + 1 reads year Y (growth, previous rank, the downgrade window), so when Y's results
are newer than the run that produced Y + 1's, Y + 1 is behind. When no run of the job is queued or in
progress, and the same year was behind on the previous tick too (so a `etdz run --from A --to B` between
two of its years is not overtaken), the sensor requests the earliest year that is behind — one at a time,
oldest first, each once: after its run it is no longer behind.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    ResourceParam,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from assets.resource import EtdzResource
from etdz.inbox_state import InboxFolderRefused, inbox_years, listing_digest, scan_inbox
from etdz.publish import blocked_by_publication, is_published
from etdz.reports import fictitious
from pipelines.observations import inbox_observation, last_observed_digest
from pipelines.tags import earlier_year_changed, year_run_tags


def build_inbox_sensor(job, partitions_def, interval_seconds: int = 30, demo: bool = False):
    @sensor(
        name="inbox_sensor",
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,  # safe: it starts from the recorded digests
        description=fictitious.describe(
            "Requests one run of a data year when a file was added to, replaced in or removed from its "
            "inbox folder and the folder is stable.", demo),
    )
    def inbox_sensor(context: SensorEvaluationContext, resource: ResourceParam[EtdzResource]):
        cursor: dict[str, dict] = json.loads(context.cursor) if context.cursor else {}
        keys = set(partitions_def.get_partition_keys())
        requests, events, notes = [], [], []
        catalogues = functools.cache(resource.catalogues)  # parsed once a tick, and only when a run is requested
        for year in inbox_years(resource.settings.inbox):
            if str(year) not in keys:
                continue
            if not isinstance(cursor.get(str(year)), dict):
                cursor.pop(str(year), None)  # a cursor of an earlier release (one digest per year)
            try:
                entries = scan_inbox(Path(resource.settings.inbox) / str(year))  # listed once: the digest and the count
            except InboxFolderRefused as exc:  # a linked year folder: said on the tick, the other years go on
                notes.append(f"{year}: {exc}")
                continue
            digest = listing_digest(entries)
            state = cursor.get(str(year)) or {"recorded": last_observed_digest(context.instance, year)}
            if digest == state.get("recorded"):
                state.pop("seen", None)
            elif digest != state.get("seen"):
                state["seen"] = digest  # changed since the last tick: wait until it stays the same
            elif event := is_published(resource.store(), year):
                notes.append(blocked_by_publication(year, event, "its inbox changed"))
            else:
                events.append(inbox_observation(year, digest, len(entries)))
                requests.append(RunRequest(partition_key=str(year), tags=year_run_tags(
                    resource.settings, catalogues(), year, "inbox_sensor", entries)))
                state = {"recorded": digest}
            cursor[str(year)] = state
        behind = None if requests else first_year_behind(context.instance, job.name, sorted(int(k) for k in keys))
        published = is_published(resource.store(), behind) if behind is not None else None
        if published:
            notes.append(blocked_by_publication(behind, published, f"data year {behind - 1}, which it reads, changed"))
        elif behind is not None and cursor.get("behind") == behind:
            try:
                entries = scan_inbox(Path(resource.settings.inbox) / str(behind))
            except InboxFolderRefused:  # said above, on this tick; the run's first step refuses it again
                entries = []
            requests.append(RunRequest(partition_key=str(behind), tags=year_run_tags(
                resource.settings, catalogues(), behind, "inbox_sensor", entries,
                reason=earlier_year_changed(behind), after_year=behind - 1)))
            behind = None
        cursor["behind"] = behind
        if notes:
            context.log.warning("; ".join(notes))
        text = json.dumps(cursor, sort_keys=True)
        if not requests and not events:
            reason = " | ".join(notes) or "no stable change in the inbox, no later year behind"
            return SensorResult(skip_reason=SkipReason(reason), cursor=text)
        return SensorResult(run_requests=requests, asset_events=events, cursor=text)

    return inbox_sensor


ACTIVE = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED]


def _last_materialized(instance: DagsterInstance, asset: str, year: int) -> float | None:
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[str(year)]), limit=1).records
    return records[0].timestamp if records else None


def first_year_behind(instance: DagsterInstance, job_name: str, years: list[int]) -> int | None:
    """The earliest year whose results are older than its previous year's, while no run of the job is active.

    A year's run writes ``submission_log`` first and ``rankings`` last; Y + 1 is behind when Y's rankings
    were written after Y + 1's submission log (Y + 1's run read an older Y).
    """
    if instance.get_runs_count(RunsFilter(job_name=job_name, statuses=ACTIVE)):
        return None
    for year in years:
        done = _last_materialized(instance, "rankings", year)
        started_next = _last_materialized(instance, "submission_log", year + 1)
        if done is not None and started_next is not None and done > started_next:
            if _failed_since(instance, job_name, year + 1, done):
                return None  # it was tried and failed: the UI shows why; a new change or a manual run retries
            return year + 1
    return None


def _failed_since(instance: DagsterInstance, job_name: str, year: int, since: float) -> bool:
    """Did the latest run of ``year`` fail, after ``since``?"""
    [latest] = instance.get_run_records(RunsFilter(job_name=job_name, tags={"dagster/partition": str(year)}),
                                        limit=1) or [None]
    return (latest is not None and latest.dagster_run.status == DagsterRunStatus.FAILURE
            and latest.create_timestamp.timestamp() > since)
