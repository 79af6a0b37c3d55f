"""The same tags on every run of a year, whoever starts it (pipelines/tags.py): `etdz run`, the schedule and the
review sensor set them; the run-tags sensor completes the automation's runs and launches from the UI, and an
automation run for an earlier year's change names that year. Under the real daemon:
tests/pipelines/test_automation_daemon.py."""

from __future__ import annotations

import time
import uuid

from dagster import AssetMaterialization, DagsterInstance, DagsterRun

from etdz.catalogue import load_catalogues
from etdz.inbox_state import folder_digest, scan_inbox
from etdz.settings import Settings
from pipelines.observations import DIGEST_TAG, inbox_observation
from pipelines.staleness import INBOX_CHANGED
from pipelines.tags import COMMON, FILES_TAG, REASON_TAG, TRIGGER_TAG, UPSTREAM_YEAR_TAG, missing_tags, year_run_tags


def _write(instance: DagsterInstance, asset: str, year: int) -> None:
    instance.report_runless_asset_event(AssetMaterialization(asset_key=asset, partition=str(year)))
    time.sleep(0.01)  # event timestamps strictly ordered


def _run(instance: DagsterInstance, year: int, **tags: str) -> DagsterRun:
    run = DagsterRun(job_name="annual_assessment", run_id=str(uuid.uuid4()),
                     tags={"dagster/partition": str(year), **tags})
    instance.add_run(run)
    return run


def test_an_automation_run_gets_the_years_tags_and_names_the_earlier_year_that_changed(golden_env):
    settings = Settings.from_env()
    catalogues = load_catalogues(settings.methodology)
    with DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(inbox_observation(2021, "digest-a", 3))
        _write(instance, "submission_log", 2021)  # 2021 ran on that state
        _write(instance, "measures", 2020)  # then 2020 was re-run
        run = _run(instance, 2021, **{TRIGGER_TAG: "automation"})
        _write(instance, "measures", 2021)  # the run's own writes, after it was created, change nothing
        tags = missing_tags(instance, settings, catalogues, run)
        assert set(COMMON) - {TRIGGER_TAG} <= set(tags) and TRIGGER_TAG not in tags  # the automation's own kept
        assert tags[DIGEST_TAG] == "digest-a" and tags[FILES_TAG] == "3"  # the state recorded before the run
        assert tags[REASON_TAG].startswith("data year 2020 changed") and tags[UPSTREAM_YEAR_TAG] == "2020"

        time.sleep(0.01)
        instance.report_runless_asset_event(inbox_observation(2021, "digest-b", 4))
        tags = missing_tags(instance, settings, catalogues, _run(instance, 2021, **{TRIGGER_TAG: "automation"}))
        assert tags[REASON_TAG] == INBOX_CHANGED and UPSTREAM_YEAR_TAG not in tags and tags[DIGEST_TAG] == "digest-b"


def test_a_launch_from_the_ui_gets_the_tags_and_a_tagged_run_is_left_alone(golden_env):
    settings = Settings.from_env()
    catalogues = load_catalogues(settings.methodology)
    with DagsterInstance.ephemeral() as instance:
        # never observed: the folder as it is now; who started it: the UI (no trigger tag, no backfill)
        tags = missing_tags(instance, settings, catalogues, _run(instance, 2020))
        assert set(COMMON) <= set(tags) and tags[TRIGGER_TAG] == "ui" and REASON_TAG not in tags
        assert tags[DIGEST_TAG] == folder_digest(golden_env / "inbox" / "2020")
        backfill = _run(instance, 2020, **{"dagster/backfill": "abc"})
        assert missing_tags(instance, settings, catalogues, backfill)[TRIGGER_TAG] == "backfill"

        cli = year_run_tags(settings, catalogues, 2021, "cli", scan_inbox(golden_env / "inbox" / "2021"))
        assert missing_tags(instance, settings, catalogues, _run(instance, 2021, **cli)) == {}


def test_command_line_flags_are_recorded(golden_env):
    settings = Settings.from_env()
    tags = year_run_tags(settings, load_catalogues(settings.methodology), 2021, "cli", [], allow_shrink=True,
                         allow_incomplete=True)
    assert tags["etdz/allow_shrink"] == "true" and tags["etdz/allow_incomplete"] == "true"
    assert tags["etdz/files"] == "0"


class _Job:  # the sensor reads only the jobs' names
    name = "annual_assessment"


def _sensor(settings: Settings):
    from pipelines.tags import build_run_tags_sensor

    return build_run_tags_sensor([_Job()], settings, load_catalogues(settings.methodology))


def _tick(sensor, instance: DagsterInstance, cursor: str | None = None):
    from dagster import build_sensor_context

    return sensor(build_sensor_context(instance=instance, cursor=cursor))


def test_the_sensor_tags_runs_created_before_its_first_tick_and_each_new_run_once(golden_env):
    """The case a run-status sensor misses: the automation's first run started while the daemon's sensors were
    still starting (its first tick skips every earlier event)."""
    settings = Settings.from_env()
    catalogues = load_catalogues(settings.methodology)
    sensor = _sensor(settings)
    with DagsterInstance.ephemeral() as instance:
        early = _run(instance, 2020, **{TRIGGER_TAG: "automation"})
        cli = _run(instance, 2021, **year_run_tags(settings, catalogues, 2021, "cli", []))
        first = _tick(sensor, instance)
        assert set(COMMON) <= set(instance.get_run_by_id(early.run_id).tags)
        assert instance.get_run_by_id(cli.run_id).tags == cli.tags  # its launcher's tags kept as they were
        assert first.cursor and not first.skip_reason

        again = _tick(sensor, instance, first.cursor)
        assert again.skip_reason and again.cursor == first.cursor  # nothing lacks a tag, nothing has finished
        for run in (early, cli):
            instance.report_run_failed(instance.get_run_by_id(run.run_id))
        settled = _tick(sensor, instance, again.cursor)
        assert settled.skip_reason and int(settled.cursor) > int(first.cursor)  # both finished with their tags

        late = _run(instance, 2021)  # a launch from the UI, after the first tick
        third = _tick(sensor, instance, settled.cursor)
        assert instance.get_run_by_id(late.run_id).tags[TRIGGER_TAG] == "ui" and third.cursor == settled.cursor


def test_tags_a_status_write_of_the_run_undid_are_added_again(golden_env, monkeypatch):
    """The run's own process writes each status as the whole run it read before (Dagster's
    SqlRunStorage.handle_run_event): when it read the run before the sensor tagged it and writes after, the run
    loses the tags. The sensor keeps looking at the run until it has finished with them."""
    sensor = _sensor(Settings.from_env())
    with DagsterInstance.ephemeral() as instance:
        run = _run(instance, 2020, **{TRIGGER_TAG: "automation"})
        read_before = instance.get_run_by_id(run.run_id)  # what the run's process read, before the tick
        first = _tick(sensor, instance)
        assert set(COMMON) <= set(instance.get_run_by_id(run.run_id).tags)

        with monkeypatch.context() as mp:  # the run's process writes its end from what it read
            mp.setattr(instance.run_storage, "_get_run_by_id", lambda run_id: read_before)
            instance.report_run_failed(read_before)
        lost = instance.get_run_by_id(run.run_id)
        assert lost.is_finished and not set(COMMON) - {TRIGGER_TAG} & set(lost.tags)  # the race, as it happens

        second = _tick(sensor, instance, first.cursor)
        assert not second.skip_reason and set(COMMON) <= set(instance.get_run_by_id(run.run_id).tags)
        third = _tick(sensor, instance, second.cursor)  # finished and seen with its tags: not looked at again
        assert third.skip_reason and int(third.cursor) > int(second.cursor)
        assert _tick(sensor, instance, third.cursor).cursor == third.cursor


def test_an_instance_upgraded_from_the_run_status_sensor_starts_from_the_newest_runs(golden_env):
    """The sensor of the same name stored a run-status cursor (JSON) in instances that ran the earlier version."""
    with DagsterInstance.ephemeral() as instance:
        run = _run(instance, 2020, **{TRIGGER_TAG: "automation"})
        legacy = '{"__class__": "RunStatusSensorCursor", "record_id": 7, "update_timestamp": null}'
        result = _tick(_sensor(Settings.from_env()), instance, legacy)
        assert set(COMMON) <= set(instance.get_run_by_id(run.run_id).tags) and result.cursor.isdigit()
