"""The yearly schedule, the inbox sensor, staleness after a corrected file, `etdz run --stale`, publishing and the
year lock. (The automation under a real daemon: test_automation_daemon.py.)"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetRecordsFilter,
    DagsterInstance,
    RunsFilter,
    build_schedule_context,
    build_sensor_context,
    instance_for_test,
)

from etdz.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture
def env(golden_env):
    """The golden example as a deployment (tests/conftest.py)."""
    return golden_env


def test_schedule_requests_a_data_year_on_the_day_after_its_deadline(env):
    """A daily evaluation (06:00 Beijing time) that requests year Y once, the day after Y's deadline; the retired
    `schedule_date` is named as such. (Its readiness skips: tests/pipelines/test_readiness_runs.py.)"""
    from etdz.inbox_state import folder_digest
    from pipelines.definitions import build_definitions

    with pytest.raises(ValueError, match="ETDZ_SCHEDULE_DATE"):
        Settings.from_env({"ETDZ_SCHEDULE_DATE": "15-04"})
    with instance_for_test() as instance:  # the schedule reads the instance: it needs one with a reference
        defs = build_definitions(Settings.from_env())
        sched = defs.resolve_schedule_def("yearly_assessment")
        assert sched.cron_schedule == "0 6 * * *" and sched.execution_timezone == "Asia/Shanghai"

        def tick(day: dt.date):
            when = dt.datetime(day.year, day.month, day.day, 6, tzinfo=dt.timezone(dt.timedelta(hours=8)))
            # closed before the instance (the schedule's `context.instance` is opened from the reference)
            with build_schedule_context(instance=instance, scheduled_execution_time=when,
                                        repository_def=defs.get_repository_def(),
                                        resources={"resource": defs.resources["resource"]}) as ctx:
                return sched.evaluate_tick(ctx)

        assert not tick(dt.date(2022, 3, 1)).run_requests  # the old fixed date: four months before the deadline
        assert not tick(dt.date(2022, 6, 30)).run_requests  # the deadline itself: files may still come
        [req] = tick(dt.date(2022, 7, 1)).run_requests
        # once per inbox state: the run key carries the digest the sensor and `etdz run` record
        digest = folder_digest(env / "inbox" / "2021")
        assert req.partition_key == "2021" and req.run_key == f"after-deadline-2021-{digest}"
        assert req.tags["etdz/inbox_digest"] == digest
        from pipelines.tags import COMMON, TRIGGER_TAG

        assert set(COMMON) <= set(req.tags) and req.tags[TRIGGER_TAG] == "schedule"  # the year's tags, as every run


def _tick(defs, instance, cursor):
    """One evaluation of the inbox sensor: the years it records (it requests no run), its cursor, its result."""
    sensor = defs.resolve_sensor_def("inbox_sensor")
    ctx = build_sensor_context(instance=instance, cursor=cursor, resources={"resource": defs.resources["resource"]},
                               definitions=defs)
    data = sensor.evaluate_tick(ctx)
    assert not data.run_requests  # which year runs when is the automation condition's (pipelines/jobs.py)
    for event in data.asset_events:  # the daemon records these; in a test we do
        instance.report_runless_asset_event(event)
    return sorted(e.partition for e in data.asset_events), data.cursor, data


def test_sensor_records_each_stable_change_once_and_an_earlier_state_again(env):
    from pipelines.definitions import build_definitions

    defs = build_definitions(Settings.from_env())
    with DagsterInstance.ephemeral() as instance:
        seen, cursor, _ = _tick(defs, instance, None)
        assert seen == []  # a change is recorded once the folder stayed the same for a tick
        seen, cursor, _ = _tick(defs, instance, cursor)
        assert seen == ["2020", "2021"]  # nothing recorded yet: both years are new
        seen, cursor, _ = _tick(defs, instance, cursor)
        assert seen == []
        corrected = env / "inbox" / "2020" / "E4 更正.csv"
        corrected.write_text((env / "inbox" / "2020" / "E4.csv").read_text(encoding="utf-8"), encoding="utf-8")
        seen, cursor, _ = _tick(defs, instance, cursor)
        assert seen == []  # still being written, perhaps
        seen, cursor, data = _tick(defs, instance, cursor)
        assert seen == ["2020"] and data.asset_events[0].metadata["files"].value == 11
        seen, cursor, _ = _tick(defs, instance, cursor)
        assert seen == []
        # the file is withdrawn: the inbox is back in an earlier state, which is recorded again
        corrected.unlink()
        seen, cursor, _ = _tick(defs, instance, cursor)
        seen, cursor, _ = _tick(defs, instance, cursor)
        assert seen == ["2020"]
        # a restarted sensor (no cursor) starts from the observations it recorded
        seen, cursor, _ = _tick(defs, instance, None)
        seen, _, _ = _tick(defs, instance, cursor)
        assert seen == []


def test_a_year_run_by_the_command_line_is_not_recorded_again_by_the_sensor(env):
    from pipelines.definitions import build_definitions
    from pipelines.runs import ensure_dagster_home, run_years

    settings = Settings.from_env()
    defs = build_definitions(settings)
    ensure_dagster_home(settings.dagster_home)
    with DagsterInstance.get() as instance:
        _, cursor, _ = _tick(defs, instance, None)
        _, cursor, _ = _tick(defs, instance, cursor)  # both years recorded
        (env / "inbox" / "2020" / "E4 更正.csv").write_text(
            (env / "inbox" / "2020" / "E4.csv").read_text(encoding="utf-8"), encoding="utf-8")
        seen, cursor, _ = _tick(defs, instance, cursor)  # the sensor sees the change once, waits for a second look
        assert seen == []
    run_years([2020], settings, quiet=True)  # meanwhile the operator runs the year on the new files
    with DagsterInstance.get() as instance:
        [run] = instance.get_runs()  # created with the code location's origin, like a run the UI launched
        assert run.remote_job_origin.location_name == "etdz" and run.job_code_origin is not None
        # the label the UI filters a code location's runs by (Overview timeline, job page)
        assert instance.get_runs(RunsFilter(tags={".dagster/repository": "__repository__@etdz"})) == [run]
        # the run recorded the inbox state it read once it existed (the automation sees it in progress)
        [obs] = instance.fetch_observations(AssetRecordsFilter(asset_key=AssetKey("inbox"), asset_partitions=["2020"]),
                                            limit=1).records
        assert obs.run_id == "" and obs.timestamp >= run_created(instance, run.run_id)
        seen, cursor, _ = _tick(defs, instance, cursor)
        seen2, _, _ = _tick(defs, instance, cursor)
        assert seen + seen2 == []  # the state `etdz run` recorded is not recorded again


def run_created(instance, run_id: str) -> float:
    [record] = instance.get_run_records(RunsFilter(run_ids=[run_id]))
    return record.create_timestamp.timestamp()


def test_corrected_file_marks_the_right_partitions_stale_and_a_rerun_clears_them(env, monkeypatch):
    """Staleness per partition, as the GraphQL API reports it, through the steps an operator takes."""
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    from pipelines.runs import run_stale, run_years

    settings = Settings.from_env()
    run_years([2020, 2021], settings, quiet=True)
    os.environ["DAGSTER_HOME"] = settings.dagster_home
    query = """query($key: AssetKeyInput!, $pk: String) { assetNodeOrError(assetKey: $key) {
                 ... on AssetNode { staleStatus(partition: $pk) staleCauses(partition: $pk) { reason } } } }"""
    workspace = str(Path(__file__).resolve().parents[2] / "workspace.yaml")

    def status(instance) -> dict:
        out = {}
        with define_out_of_process_context(workspace, None, instance) as ctx:
            for key in ("submission_log", "measures", "rankings", "indicator_scores", "national_report"):
                for pk in ("2020", "2021"):
                    res = execute_dagster_graphql(ctx, query, {"key": {"path": [key]}, "pk": pk})
                    assert not res.errors, res.errors
                    out[(key, pk)] = res.data["assetNodeOrError"]["staleStatus"]
        return out

    with DagsterInstance.get() as instance:
        before = status(instance)
        assert set(before.values()) == {"FRESH"}, before
        # a corrected file for 2020 arrives (a different trade figure for E4)
        src = (env / "inbox" / "2020" / "E4.csv").read_text(encoding="utf-8")
        (env / "inbox" / "2020" / "E4 corrected.csv").write_text(src.replace(",trade_total,", ",trade_total,") + "",
                                                                encoding="utf-8")
        text = src.splitlines()
        text = [line if ",trade_total," not in line else line.rsplit(",", 2)[0] + ",999,亿元" for line in text]
        (env / "inbox" / "2020" / "E4 corrected.csv").write_text("\n".join(text) + "\n", encoding="utf-8")
        os.utime(env / "inbox" / "2020" / "E4 corrected.csv", (time.time() + 60, time.time() + 60))
        defs = __import__("pipelines.definitions", fromlist=["x"]).build_definitions(settings)
        _, cursor, _ = _tick(defs, instance, None)
        seen, _, _ = _tick(defs, instance, cursor)
        assert seen == ["2020"]
        after_drop = status(instance)
        assert after_drop[("submission_log", "2020")] == "STALE" and after_drop[("measures", "2020")] == "STALE"
        assert after_drop[("submission_log", "2021")] == "FRESH"

    # `etdz run --stale` re-runs 2020 (its inbox changed), then 2021 (it reads 2020), until nothing is behind
    import pipelines.definitions

    built, build = [], pipelines.definitions.build_definitions
    monkeypatch.setattr(pipelines.definitions, "build_definitions", lambda *a, **k: built.append(1) or build(*a, **k))
    rerun = run_stale(settings)
    assert rerun == [2020, 2021]
    assert len(built) == 1  # the definitions (and the instance) set up once for both re-runs
    assert run_stale(settings) == []  # nothing is behind any more
    with DagsterInstance.get() as instance:
        assert set(status(instance).values()) == {"FRESH"}


def test_published_year_refuses_runs_until_reopened_with_a_reason(env, capsys):
    from etdz.publish import PublishedYearError, history, verify
    from etdz.storage import Warehouse
    from pipelines.cli import main
    from pipelines.runs import run_years

    settings = Settings.from_env()
    run_years([2020], settings, quiet=True)
    assert main(["publish", "--data-year", "2020", "--approved-by", "审核组"]) == 0
    store = Warehouse(settings.warehouse)
    assert verify(store, 2020) == []
    manifest = (Path(settings.warehouse) / "_published" / "data_year=2020" / "manifest.json").read_text("utf-8")
    assert '"sha256"' in manifest and "E1.csv" in manifest and '"version": "G1"' in manifest
    with pytest.raises(PublishedYearError, match="reopen"):
        run_years([2020], settings, quiet=True)
    assert main(["run", "--data-year", "2020"]) == 2
    assert "published" in capsys.readouterr().err
    assert main(["reopen", "--data-year", "2020", "--reason", "第三方复核更正 E4 数据"]) == 0
    run_years([2020], settings, quiet=True)
    assert [e["action"] for e in history(store, 2020)] == ["publish", "reopen"]
    assert history(store, 2020)[1]["reason"] == "第三方复核更正 E4 数据"


def test_year_lock_excludes_a_second_writer(tmp_path):
    import multiprocessing as mp

    from etdz.locks import LockTimeout, year_lock

    def hold(path, ready, release):
        with year_lock(path, 2020):
            ready.set()
            release.wait(10)

    ctx = mp.get_context("fork")
    ready, release = ctx.Event(), ctx.Event()
    p = ctx.Process(target=hold, args=(tmp_path, ready, release))
    p.start()
    try:
        assert ready.wait(10)
        with pytest.raises(LockTimeout):
            with year_lock(tmp_path, 2020, timeout=0.5):
                pass
        with year_lock(tmp_path, 2021, timeout=0.5):  # another year is free
            pass
    finally:
        release.set()
        p.join(10)
    with year_lock(tmp_path, 2020, timeout=1):  # released when the holder ends
        with year_lock(tmp_path, 2020, timeout=0):  # re-entrant in one process
            pass
