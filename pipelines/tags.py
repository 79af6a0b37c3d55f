"""The tags of a run of the annual job: one set, whoever starts the run (`etdz run`, the automation, the yearly
schedule, the review-queries sensor, a launch from the UI), so the UI's Runs page can filter and compare them alike.

Every run of a year carries what it reads — the catalogue (version and hash), the inbox folder, its digest and
file count — who started it (:data:`TRIGGER_TAG`) and, when the automation started it, why (:data:`REASON_TAG`:
its inbox changed, or "data year 2021 changed …" with :data:`UPSTREAM_YEAR_TAG` naming that year).

Where the tags come from. `etdz run`, the schedule and the review sensor set them when they request the run
(:func:`year_run_tags`). The automation cannot: its sensor's ``run_tags`` are the same for every year, and Dagster
1.13 refuses a partitioned config (``tags_for_partition_key_fn``) on a job that carries an automation condition
(the automation submits runs without resolving per-partition config or tags). So :func:`build_run_tags_sensor`, a
sensor over the job's new runs, adds what a run lacks — for the automation's runs, for a launch
from the UI's launchpad or a backfill — from the inbox state recorded when the run was created, which is the
state the automation acted on. A tag the launcher set is never replaced.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from assets.inbox import INBOX_KEY
from etdz.catalogue import Catalogue, MethodologyError, catalogue_for_year
from etdz.guard import ALLOW_TAG as ALLOW_SHRINK_TAG
from etdz.inbox_state import InboxFolderRefused, listing_digest, scan_inbox
from etdz.readiness import ALLOW_TAG as ALLOW_INCOMPLETE_TAG
from etdz.reports import fictitious
from etdz.settings import Settings
from pipelines.dagster_private import DATA_VERSION_TAG
from pipelines.jobs import CLI_NEXT_TAG  # noqa: F401 - a run tag: its home is the condition that reads it
from pipelines.observations import DIGEST_TAG
from pipelines.staleness import why_behind

TRIGGER_TAG = "etdz/trigger"
REASON_TAG = "etdz/reason"
#: the earlier data year whose change the run follows up (a year reads its previous years)
UPSTREAM_YEAR_TAG = "etdz/after_year"
CATALOGUE_TAG = "etdz/catalogue"
CATALOGUE_SHA_TAG = "etdz/catalogue_sha256"
INBOX_TAG = "etdz/inbox"
FILES_TAG = "etdz/files"
#: the trigger the automation's sensor sets (pipelines/jobs.py)
AUTOMATION = "automation"
RUN_TAGS_SENSOR = "year_run_tags"

#: the tags every run of a year carries, whoever started it (tests check every launcher)
COMMON = (TRIGGER_TAG, CATALOGUE_TAG, CATALOGUE_SHA_TAG, INBOX_TAG, DIGEST_TAG, FILES_TAG)


def inbox_folder(settings: Settings, year: int) -> str:
    """The year's inbox folder (the inbox is a local folder: assets/resource.py's ``inbox_dir``)."""
    return str(Path(settings.inbox) / str(int(year)))


def year_tags(settings: Settings, catalogues: Sequence[Catalogue], year: int, trigger: str, digest: str,
              files: int, *, reason: str | None = None, after_year: int | None = None, allow_shrink: bool = False,
              allow_incomplete: bool = False) -> dict[str, str]:
    """The tags of a run of data year ``year`` started by ``trigger`` ("cli", "automation", "schedule", …) that
    reads the inbox state ``digest`` of ``files`` files; ``reason`` / ``after_year``: why the run was started,
    when it was for an earlier year's change."""
    tags = {TRIGGER_TAG: trigger, INBOX_TAG: inbox_folder(settings, year), DIGEST_TAG: digest, FILES_TAG: str(files)}
    try:
        catalogue = catalogue_for_year(catalogues, year)
    except MethodologyError:  # none or two: the run's first step refuses, naming the year and the catalogues
        pass
    else:
        tags.update({CATALOGUE_TAG: catalogue.version, CATALOGUE_SHA_TAG: catalogue.sha256[:16]})
    if reason:
        tags[REASON_TAG] = reason
    if after_year is not None:
        tags[UPSTREAM_YEAR_TAG] = str(int(after_year))
    if allow_shrink:
        tags[ALLOW_SHRINK_TAG] = "true"
    if allow_incomplete:
        tags[ALLOW_INCOMPLETE_TAG] = "true"
    return tags


def year_run_tags(settings: Settings, catalogues: Sequence[Catalogue], year: int, trigger: str, entries: Sequence,
                  **options) -> dict[str, str]:
    """:func:`year_tags` of a run requested on the inbox listing ``entries`` (etdz.inbox_state.scan_inbox), listed
    once by the caller, which also records it as the inbox observation."""
    return year_tags(settings, catalogues, year, trigger, listing_digest(entries), len(entries), **options)


def _observed_before(instance: DagsterInstance, year: int, timestamp: float) -> tuple[str, int] | None:
    """``(digest, files)`` of the year's inbox as last recorded before ``timestamp``, or None."""
    records = instance.fetch_observations(
        AssetRecordsFilter(asset_key=AssetKey(INBOX_KEY), asset_partitions=[str(year)], before_timestamp=timestamp),
        limit=1).records
    obs = records[0].event_log_entry.asset_observation if records else None
    if not obs or not obs.tags or DATA_VERSION_TAG not in obs.tags:
        return None
    files = obs.metadata.get("files")
    return obs.tags[DATA_VERSION_TAG], int(files.value) if files is not None else 0


def missing_tags(instance: DagsterInstance, settings: Settings, catalogues: Sequence[Catalogue],
                 run: DagsterRun) -> dict[str, str]:
    """The year's tags ``run`` lacks (none for a run its launcher tagged): its inbox as recorded when the run was
    created (else as the folder is now), its catalogue, who started it and — for the automation's runs — why."""
    if not _is_years_run(run) or set(COMMON) <= set(run.tags):
        return {}  # not a year's run, or its launcher (or an earlier tick) tagged it: nothing to look up
    year = int(run.tags["dagster/partition"])
    record = instance.get_run_record_by_id(run.run_id)
    created = record.create_timestamp.timestamp() if record else None
    observed = _observed_before(instance, year, created) if created else None
    if observed is None:
        try:
            entries = scan_inbox(Path(settings.inbox) / str(year))
        except (InboxFolderRefused, OSError):
            entries = []  # no folder, or a refused one: the run's ingest step says why
        observed = listing_digest(entries), len(entries)
    trigger = run.tags.get(TRIGGER_TAG) or ("backfill" if "dagster/backfill" in run.tags else "ui")
    reason = why_behind(instance, year, before=created) if trigger == AUTOMATION and created else None
    tags = year_tags(settings, catalogues, year, trigger, *observed, reason=reason[0] if reason else None,
                     after_year=reason[1] if reason else None)
    return {k: v for k, v in tags.items() if k not in run.tags}


def tag_new_runs(instance: DagsterInstance, settings: Settings, catalogues: Sequence[Catalogue],
                 job_names: Sequence[str], after: int, limit: int = 100) -> tuple[int, list[tuple[str, list[str]]]]:
    """Give the runs of ``job_names`` created after run storage id ``after`` (at most ``limit`` per job, newest
    first) the year's tags they lack; ``(the storage id the next look starts after, [(run id, tags added), …])``.

    The next look starts after the newest run whose tags are settled, not after the newest run seen. A year's run
    is settled once it has finished and was seen with every tag: until then the run's own process may still write
    its status, and Dagster writes a status as the whole run as that process last read it
    (``SqlRunStorage.handle_run_event``), so tags added in between vanish from the run (they stay only in the tags
    table) and must be added again."""
    unsettled, newest, tagged = [], after, []
    for name in job_names:
        for record in instance.get_run_records(RunsFilter(job_name=name), limit=limit):
            if record.storage_id <= after:
                break  # newest first: the rest were settled on an earlier tick
            newest = max(newest, record.storage_id)
            run = record.dagster_run
            if tags := missing_tags(instance, settings, catalogues, run):
                instance.add_run_tags(run.run_id, tags)
                tagged.append((run.run_id, sorted(tags)))
            if _is_years_run(run) and (tags or not run.is_finished):
                unsettled.append(record.storage_id)
    return (min(unsettled) - 1 if unsettled else newest), tagged


def _is_years_run(run: DagsterRun) -> bool:
    key = run.tags.get("dagster/partition")
    return bool(key) and key.isdigit()


def _storage_id(cursor: str | None) -> int:
    """The run storage id a cursor of this sensor holds; 0 (start from the newest runs) for none, or for the JSON
    cursor the run-status sensor of the same name stored in an instance upgraded from it."""
    return int(cursor) if cursor and cursor.isdigit() else 0


def build_run_tags_sensor(jobs, settings: Settings, catalogues: Sequence[Catalogue], interval_seconds: int = 30,
                          demo: bool = False):
    """The sensor giving every new run of ``jobs`` the year's tags it lacks (:func:`tag_new_runs`).

    A plain sensor over the runs created since its cursor rather than a run-status sensor: a run-status sensor's
    first tick skips every event before it, so a run the automation started while the daemon's sensors were still
    starting (it happens: both begin at the daemon's start) would never get its tags. This one tags, on its first
    tick, the newest runs of each job that lack them; a run is tagged while still queued and looked at again on
    every tick until it has finished with its tags."""
    names = [job.name for job in jobs]

    @sensor(name=RUN_TAGS_SENSOR, minimum_interval_seconds=interval_seconds,
            default_status=DefaultSensorStatus.RUNNING,
            description=fictitious.describe(
                "Gives every run of a data year the same tags (catalogue, inbox folder, digest, file count, who "
                "started it and, for the automation's runs, why) when its launcher could not set them.", demo))
    def year_run_tags_sensor(context: SensorEvaluationContext):
        cursor, tagged = tag_new_runs(context.instance, settings, catalogues, names, _storage_id(context.cursor))
        for run_id, keys in tagged:
            context.log.info(f"run {run_id}: tagged {keys}")
        return SensorResult(cursor=str(cursor), skip_reason=None if tagged else SkipReason(
            "no new run lacks the year's tags"))

    return year_run_tags_sensor
