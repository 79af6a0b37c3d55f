"""One test per behaviour of Dagster's private APIs that pipelines/dagster_private.py relies on, on a toy job (so
an upgrade of the pinned dagster that changes one fails here, by name), and the rule that nothing else imports
``dagster._``."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from dagster import (
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    AssetSelection,
    AutomationCondition,
    DagsterInstance,
    DagsterRunStatus,
    DefaultSensorStatus,
    Definitions,
    RunsFilter,
    StaticPartitionsDefinition,
    asset,
    define_asset_job,
    in_process_executor,
    instance_for_test,
)

from pipelines import dagster_private
from tests.instances import open_instance

ROOT = Path(__file__).resolve().parents[2]
PARTS = StaticPartitionsDefinition(["2020", "2021"])
CONDITION = AutomationCondition.any_job_root_assets_match(AutomationCondition.missing())


@asset(partitions_def=PARTS)
def toy(context) -> int:
    return int(context.partition_key)


def _job(condition=CONDITION):
    return define_asset_job("toy_job", selection=AssetSelection.all(), partitions_def=PARTS,
                            executor_def=in_process_executor, automation_condition=condition)


def _defs(*sensors) -> Definitions:
    return Definitions(assets=[toy], jobs=[_job()], sensors=list(sensors))


def test_a_run_executed_in_process_carries_the_origins_and_counts_as_in_progress_before_its_first_step():
    defs = _defs()
    job = dagster_private.resolve_like(_job(None), defs)
    seen = {}
    with instance_for_test() as instance:
        def created():
            [run] = instance.get_runs()
            seen["status"] = run.status
            seen["planned"] = instance.get_latest_planned_materialization_info(AssetKey("toy"), "2021") is not None
            seen["written"] = bool(instance.fetch_materializations(AssetKey("toy"), limit=1).records)

        result = dagster_private.execute_with_origin(
            job, instance, "2021", {"etdz/trigger": "test"}, {},
            dagster_private.remote_job_origin("toy_job", "loc", "some.module", "defs", str(ROOT)),
            dagster_private.job_code_origin("toy_job", "some.module", "defs", str(ROOT)), on_created=created)
        assert result.success and result.output_for_node("toy") == 2021
        run = result.dagster_run
        assert run.tags["dagster/partition"] == "2021" and run.tags["etdz/trigger"] == "test"
        assert run.remote_job_origin.location_name == "loc" and run.remote_job_origin.job_name == "toy_job"
        # the label the UI lists a location's runs by (Overview timeline, job page)
        assert [r.run_id for r in instance.get_runs(RunsFilter(tags={".dagster/repository": "__repository__@loc"}))] \
            == [run.run_id]
        assert run.job_code_origin.repository_origin.code_pointer.module == "some.module"
    # the callback ran with the run created (planned, so the automation sees it in progress), before the step
    assert seen == {"status": DagsterRunStatus.NOT_STARTED, "planned": True, "written": False}


def test_a_partitioned_job_with_an_automation_condition_cannot_run_in_process_so_its_twin_does():
    defs = _defs()
    conditioned = defs.resolve_job_def("toy_job")
    assert conditioned.automation_condition is not None
    # why pipelines/jobs.py has a twin: if this stops raising, the twin (and resolve_like) can go
    with pytest.raises(Exception, match="automation_condition and partitioned run"):
        conditioned.as_ephemeral_job(resource_defs={}, input_values={})
    twin = dagster_private.resolve_like(_job(None), defs)
    assert twin.name == conditioned.name and twin.automation_condition is None
    assert twin.partitions_def == conditioned.partitions_def
    assert set(twin.resource_defs) == set(conditioned.resource_defs)


def test_the_job_automation_sensor_claims_the_job_and_replaces_dagsters_default_sensor():
    sensor = dagster_private.job_automation_sensor(
        "toy_automation", "toy_job", minimum_interval_seconds=7, default_status=DefaultSensorStatus.RUNNING,
        description="d", run_tags={"etdz/trigger": "automation"})
    assert [k.job_name for k in sensor.asset_job_keys] == ["toy_job"]
    assert sensor.minimum_interval_seconds == 7 and sensor.default_status == DefaultSensorStatus.RUNNING
    assert sensor.run_tags == {"etdz/trigger": "automation"} and not sensor.emit_backfills
    names = {s.name for s in _defs(sensor).get_repository_def().sensor_defs}
    assert names == {"toy_automation"}  # no "default_automation_condition_sensor" (off by default) beside it
    # without it, the conditioned job lands on Dagster's default sensor, which is off until someone turns it on
    [default] = _defs().get_repository_def().sensor_defs
    assert default.name == "default_automation_condition_sensor"
    assert default.default_status != DefaultSensorStatus.RUNNING


def test_an_observation_tagged_with_the_data_version_tag_records_that_data_version():
    with DagsterInstance.ephemeral() as instance:
        instance.report_runless_asset_event(AssetObservation(
            asset_key="inbox", partition="2021", tags={dagster_private.DATA_VERSION_TAG: "digest-1"}))
        [record] = instance.fetch_observations(
            AssetRecordsFilter(asset_key=AssetKey("inbox"), asset_partitions=["2021"]), limit=1).records
        assert record.event_log_entry.asset_observation.data_version == "digest-1"


def test_nothing_else_imports_dagsters_private_modules():
    allowed = {"pipelines/dagster_private.py", "pipelines/ui_front.py"}  # ui_front starts Dagster's webserver app
    offenders = [str(p.relative_to(ROOT)) for folder in ("pipelines", "assets", "checks", "etdz")
                 for p in sorted((ROOT / folder).rglob("*.py"))
                 if str(p.relative_to(ROOT)) not in allowed
                 and re.search(r"^\s*(from|import) dagster\._", p.read_text(encoding="utf-8"), re.M)]
    assert offenders == []


# --- the event log that keeps its connections (KeptConnectionsSqliteStorage, named in etdz/data/dagster.sqlite.yaml)

def _home(tmp_path: Path) -> Path:
    """A DAGSTER_HOME with the dagster.yaml `etdz` writes."""
    from pipelines.runs import DAGSTER_YAML

    home = tmp_path / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(DAGSTER_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    return home


def _log(run_id: str, message: str):
    import time

    from dagster._core.events.log import EventLogEntry

    return EventLogEntry(user_message=message, level=20, timestamp=time.time(), run_id=run_id, error_info=None,
                         job_name="toy")


def test_the_shipped_instance_keeps_its_connections_and_writes_dagsters_own_files(tmp_path, monkeypatch):
    """Same folders, files and schema as Dagster's SQLite storage: a home can switch between the two classes."""
    from dagster._core.storage.event_log import SqliteEventLogStorage

    home = _home(tmp_path)
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, dagster_private.KeptConnectionsEventLogStorage)
        connects = []
        import sqlite3
        real = sqlite3.connect
        monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: connects.append(a) or real(*a, **k))
        for i in range(20):
            storage.store_event(_log("run-a", f"event {i}"))
        instance.report_runless_asset_event(AssetObservation(asset_key="inbox", partition="2020"))
        assert len(connects) <= 4, connects  # Dagster's own class: one (or more) per event
        monkeypatch.undo()
        assert [r.event_log_entry.user_message for r in storage.get_records_for_run("run-a").records][-1] == "event 19"
    plain = SqliteEventLogStorage(str(home / "history" / "runs"))  # Dagster's class reads what was written
    assert len(plain.get_records_for_run("run-a").records) == 20
    assert plain.fetch_observations(AssetKey("inbox"), limit=5).records
    plain.store_event(_log("run-a", "written by Dagster's class"))
    with open_instance(home) as instance:
        assert len(instance.event_log_storage.get_records_for_run("run-a").records) == 21


def test_a_watcher_of_a_run_sees_each_event_as_it_is_written(tmp_path):
    """The UI follows a running run by watching its database file: each write reaches the file (checkpointed),
    not only the kept connection's journal."""
    import threading

    home = _home(tmp_path)
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        storage.store_event(_log("run-w", "before the watch"))
        seen, arrived = [], threading.Event()

        def callback(entry, cursor):
            seen.append(entry.user_message)
            arrived.set()

        storage.watch("run-w", None, callback)
        try:
            storage.store_event(_log("run-w", "while watched"))
            assert arrived.wait(10), "the watcher was not told of the new event"
            assert "while watched" in seen
        finally:
            storage.end_watch("run-w", callback)


def test_a_forked_child_uses_its_own_connections_and_the_parents_keep_working(tmp_path):
    import multiprocessing

    home = _home(tmp_path)
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        storage.store_event(_log("run-f", "parent, before"))
        parents = storage._engines["run-f"]

        def in_child():
            storage.store_event(_log("run-f", "child"))
            os._exit(0 if storage._engines["run-f"] is not parents else 3)  # 3: it wrote through the parent's

        child = multiprocessing.get_context("fork").Process(target=in_child)
        child.start()
        child.join(30)
        assert child.exitcode == 0
        storage.store_event(_log("run-f", "parent, after"))
        assert [r.event_log_entry.user_message for r in storage.get_records_for_run("run-f").records] == [
            "parent, before", "child", "parent, after"]


def test_the_kept_connections_are_bounded_and_a_wipe_starts_over(tmp_path):
    home = _home(tmp_path)
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        for i in range(storage.KEPT_RUNS + 3):
            storage.store_event(_log(f"run-{i}", "one"))
        assert len(storage._engines) == storage.KEPT_RUNS + 1  # the index's and the runs used last
        assert "run-0" not in storage._engines and f"run-{storage.KEPT_RUNS + 2}" in storage._engines
        storage.wipe()
        assert not list((home / "history" / "runs").glob("run-*.db"))
        storage.store_event(_log("run-0", "after the wipe"))
        assert [r.event_log_entry.user_message for r in storage.get_records_for_run("run-0").records] == [
            "after the wipe"]


def test_an_instance_opened_with_dagster_home_naming_another_folder_refuses(tmp_path, monkeypatch):
    """The shipped dagster.yaml's storage folder is DAGSTER_HOME's: opening another folder's instance by its path
    while DAGSTER_HOME names a different one must not read or write that one's runs."""
    mine, other = _home(tmp_path / "a"), _home(tmp_path / "b")
    monkeypatch.setenv("DAGSTER_HOME", str(other))
    with pytest.raises(Exception, match=f"DAGSTER_HOME={mine}"):
        DagsterInstance.from_config(str(mine))
    with open_instance(mine) as instance:  # the way the tests open a deployment's instance
        assert Path(instance.event_log_storage._base_dir) == mine / "history" / "runs"
        assert os.environ["DAGSTER_HOME"] == str(mine)
    assert os.environ["DAGSTER_HOME"] == str(other)



def test_a_home_moved_to_another_folder_keeps_its_runs(tmp_path):
    """The storage's folder is DAGSTER_HOME's, not written into dagster.yaml: a home copied or moved elsewhere
    (a backup restored, `etdz demo --home` then `mv`) opens with its runs, as with Dagster's default storage."""
    import shutil

    first = _home(tmp_path / "first")
    with open_instance(first) as instance:
        instance.event_log_storage.store_event(_log("run-m", "stored"))
    moved = tmp_path / "moved" / "dagster_home"
    shutil.move(str(first), str(moved))
    with open_instance(moved) as instance:
        assert [r.event_log_entry.user_message for r in instance.event_log_storage.get_records_for_run(
            "run-m").records] == ["stored"]


def test_a_run_database_deleted_under_a_kept_connection_is_not_written_into_the_void(tmp_path):
    """A kept connection would go on writing into the unlinked file (the events lost, without an error); a new
    connection meets the empty file and fails, as Dagster's own class does."""
    import sqlalchemy

    home = _home(tmp_path)
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        storage.store_event(_log("run-v", "before"))
        for path in (home / "history" / "runs").glob("run-v.db*"):
            path.unlink()
        with pytest.raises(sqlalchemy.exc.OperationalError, match="no such table"):
            storage.store_event(_log("run-v", "after"))
        storage.store_event(_log("run-w", "another run"))  # the storage itself keeps working
        assert len(storage.get_records_for_run("run-w").records) == 1


def _schema(path: Path) -> tuple:
    import sqlite3

    with sqlite3.connect(path) as db:
        tables = sorted(db.execute("SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'"))
        return tables, db.execute("SELECT version_num FROM alembic_version").fetchall(), \
            db.execute("PRAGMA journal_mode").fetchone()


def test_a_run_database_is_created_as_dagsters_class_creates_it(tmp_path):
    """Its tables, indexes, WAL journal and alembic revision equal those of Dagster's own class, which reads
    what was written; the migration scripts are read once for all runs."""
    from dagster._core.storage.event_log import SqliteEventLogStorage

    home = _home(tmp_path)
    plain_dir = tmp_path / "plain"
    plain = SqliteEventLogStorage(str(plain_dir))
    plain.store_event(_log("run-d", "by Dagster's class"))
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        dagster_private._event_log_scripts.cache_clear()
        for run in ("run-k", "run-l"):
            storage.store_event(_log(run, "kept"))
        assert dagster_private._event_log_scripts.cache_info().misses == 1
        ours = Path(storage.path_for_shard("run-k"))
    assert _schema(ours) == _schema(plain_dir / "run-d.db")
    assert _schema(ours)[1] and _schema(ours)[2] == ("wal",)
    reader = SqliteEventLogStorage(str(ours.parent))
    assert [r.event_log_entry.user_message for r in reader.get_records_for_run("run-k").records] == ["kept"]


def test_a_run_database_with_tables_but_no_revision_goes_to_dagsters_class(tmp_path):
    """A database someone else began (tables, no stamp yet) is finished by Dagster's own path."""
    import sqlite3

    from dagster._core.storage.event_log import SqliteEventLogStorage

    home = _home(tmp_path)
    runs = home / "history" / "runs"
    runs.mkdir(parents=True)
    from dagster._core.storage.event_log import SqlEventLogStorageMetadata
    from sqlalchemy import create_engine

    begun = create_engine(f"sqlite:///{runs / 'run-h.db'}")
    SqlEventLogStorageMetadata.tables["event_logs"].create(begun)
    begun.dispose()
    calls = []
    original = SqliteEventLogStorage._initdb

    def counted(self, engine, for_index_shard=False):
        calls.append(for_index_shard)
        return original(self, engine, for_index_shard)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(SqliteEventLogStorage, "_initdb", counted)
        with open_instance(home) as instance:
            instance.event_log_storage.store_event(_log("run-h", "after"))
    assert False in calls
    with sqlite3.connect(runs / "run-h.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchall()


def test_the_index_tables_are_asked_once_and_forgotten_by_a_wipe(tmp_path, monkeypatch):
    from dagster._core.storage.event_log import SqliteEventLogStorage

    home = _home(tmp_path)
    with open_instance(home) as instance:
        storage = instance.event_log_storage
        asked = []
        original = SqliteEventLogStorage.has_table
        monkeypatch.setattr(SqliteEventLogStorage, "has_table",
                            lambda self, name: asked.append(name) or original(self, name))
        assert storage.has_table("asset_check_executions") and storage.has_table("asset_check_executions")
        assert not storage.has_table("no_such_table") and not storage.has_table("no_such_table")
        assert asked == ["asset_check_executions", "no_such_table", "no_such_table"]
        storage.wipe()
        assert storage.has_table("asset_check_executions")
        assert asked[-1] == "asset_check_executions"
