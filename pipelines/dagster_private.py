"""Every use of Dagster's private APIs (``dagster._…``, hidden parameters) by the code location, in one place.

Dagster is pinned to one release in setup.py; tests/pipelines/test_dagster_private.py holds one test per
behaviour this module relies on, so an upgrade that changes one fails there, named, rather than somewhere in
a run. Nothing else in pipelines/, assets/ or checks/ imports ``dagster._`` (the test checks that too, except
the UI front layer, pipelines/ui_front.py, which starts Dagster's webserver app).

What is here and why:

- :func:`execute_with_origin`: ``execute_in_process`` for one partition, with the run created under the code
  location's origin — Dagster's public ``execute_in_process`` creates runs without one, and the UI lists a run
  on the Overview timeline and the job's page only with it.
- :func:`remote_job_origin`, :func:`job_code_origin`: that origin (location + repository names, the module).
- :func:`resolve_like`: resolving the twin of a job (same name, no automation condition) against the
  definitions' asset graph and resources, for in-process runs (pipelines/jobs.py says why).
- :func:`job_automation_sensor`: an automation condition sensor that evaluates a *job's* condition. Which jobs
  a sensor evaluates is a hidden ``asset_job_keys`` parameter in 1.13 (Dagster's TODO: "a new first-class field
  on the sensor for asset jobs"); without it the job would land on Dagster's default sensor, which is off.
- :data:`DATA_VERSION_TAG`: the tag an observation's data version is recorded under (stable since 1.2).
- :class:`KeptConnectionsSqliteStorage`: Dagster's SQLite instance storage (same files, same schema) whose event
  log keeps one SQLAlchemy engine per database file (:class:`KeptConnectionsEventLogStorage`) instead of making
  a new engine and connection for every read and write. A year writes ~90 events, each through two to six
  connections; kept, a further year at 230 zones took 2.78 s instead of 4.11 s (medians, docs/benchmarks.md,
  issue 22, eleventh round).
  ``etdz/data/dagster.sqlite.yaml`` names it; the only setting Dagster's own class has is the folder.
  It also creates each run's database with the migration scripts read once per process, and remembers the index's
  tables once it has them (Dagster's class does both again for every run and every asset or check event).
"""

from __future__ import annotations

import functools
import os
import sqlite3
import sys
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from dagster import (
    AssetJobKey,
    AssetSelection,
    AutomationConditionSensorDefinition,
    DagsterInstance,
    DagsterInvariantViolationError,
    DefaultSensorStatus,
    Definitions,
    JobDefinition,
)
from dagster._core.code_pointer import ModuleCodePointer
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.definitions.job_base import InMemoryJob
from dagster._core.definitions.partitions.context import partition_loading_context
from dagster._core.definitions.repository_definition.valid_definitions import SINGLETON_REPOSITORY_NAME
from dagster._core.execution.api import ExecuteRunWithPlanIterable, create_execution_plan, job_execution_iterator
from dagster._core.execution.context_creation_job import (
    PlanOrchestrationContextManager,
    orchestration_context_event_generator,
)
from dagster._core.execution.execute_in_process import merge_run_tags
from dagster._core.execution.execute_in_process_result import ExecuteInProcessResult
from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
from dagster._core.remote_origin import ManagedGrpcPythonEnvCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.storage.event_log import SqlEventLogStorageMetadata
from dagster._core.storage.event_log.sqlite import sqlite_event_log
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.runs.sqlite.sqlite_run_storage import SqliteRunStorage
from dagster._core.storage.schedules.sqlite.sqlite_schedule_storage import SqliteScheduleStorage
from dagster._core.storage.sql import create_engine, get_alembic_config, safe_commit
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import (
    DagsterSqliteStorage,
    _event_logs_directory,
    _runs_directory,
    _schedule_directory,
)
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin
from sqlalchemy import exc as sqlalchemy_errors
from sqlalchemy import inspect as sqlalchemy_inspect
from sqlalchemy.pool import QueuePool

__all__ = ["DATA_VERSION_TAG", "KeptConnectionsEventLogStorage", "KeptConnectionsSqliteStorage", "execute_with_origin",
           "job_automation_sensor", "job_code_origin", "remote_job_origin", "resolve_like", "stale_asset_keys"]


def remote_job_origin(job_name: str, location_name: str, module: str, attribute: str,
                      working_directory: str) -> RemoteJobOrigin:
    """The origin the webserver gives a run of ``job_name`` it launches from this code location."""
    target = LoadableTargetOrigin(executable_path=sys.executable, module_name=module, attribute=attribute,
                                  working_directory=working_directory)
    location = ManagedGrpcPythonEnvCodeLocationOrigin(loadable_target_origin=target, location_name=location_name)
    return RemoteJobOrigin(repository_origin=RemoteRepositoryOrigin(location, SINGLETON_REPOSITORY_NAME),
                           job_name=job_name)


def job_code_origin(job_name: str, module: str, attribute: str, working_directory: str) -> JobPythonOrigin:
    """Where the job's code is loaded from (lets the UI re-execute a run started in-process)."""
    pointer = ModuleCodePointer(module, attribute, working_directory)
    return JobPythonOrigin(job_name, RepositoryPythonOrigin(sys.executable, pointer, None, None, None))


def execute_with_origin(job: JobDefinition, instance: DagsterInstance, partition_key: str, tags: Mapping[str, str],
                        run_config: Mapping[str, object], remote_origin: RemoteJobOrigin,
                        code_origin: JobPythonOrigin,
                        on_created: Callable[[], None] | None = None) -> ExecuteInProcessResult:
    """``job.execute_in_process(partition_key=…)`` with the run created under the given origins.

    ``on_created`` is called once the run exists (its planned materializations recorded: the run counts as in
    progress for the automation) and before its first step.

    This is the body of Dagster's ``execute_in_process`` with the origins passed to ``create_run_for_job``.
    ``job`` must carry no automation condition (Dagster's ``as_ephemeral_job`` rejects the pair).
    """
    ephemeral = job.as_ephemeral_job(resource_defs={}, input_values={})
    with partition_loading_context(dynamic_partitions_store=instance) as ctx:
        ephemeral.validate_partition_key(partition_key=partition_key, selected_asset_keys=set(), context=ctx)
    wrapped = InMemoryJob(job_def=ephemeral)
    plan = create_execution_plan(wrapped, run_config=run_config, instance_ref=instance.get_ref())
    run_tags = merge_run_tags(job_def=job, partition_key=partition_key, tags=tags, asset_selection=[],
                              instance=instance, run_config=run_config)
    run = instance.create_run_for_job(job_def=ephemeral, run_config=run_config,
                                      tags={**ephemeral.run_tags, **run_tags}, execution_plan=plan,
                                      remote_job_origin=remote_origin, job_code_origin=code_origin)
    if on_created is not None:
        on_created()
    output_capture: dict = {}
    events = list(ExecuteRunWithPlanIterable(
        execution_plan=plan,
        iterator=job_execution_iterator,
        execution_context_manager=PlanOrchestrationContextManager(
            context_event_generator=orchestration_context_event_generator, job=wrapped, execution_plan=plan,
            dagster_run=run, instance=instance, run_config=run_config, executor_defs=None,
            output_capture=output_capture, raise_on_error=False),
    ))
    return ExecuteInProcessResult(job_def=ephemeral, event_list=events, dagster_run=instance.get_run_by_id(run.run_id),
                                  output_capture=output_capture)


def resolve_like(unresolved, defs: Definitions) -> JobDefinition:
    """``unresolved`` (a ``define_asset_job`` result) resolved as ``defs`` resolves its job of the same name:
    against its asset graph, with that job's resources."""
    registered = defs.resolve_job_def(unresolved.name)
    return unresolved.resolve(asset_graph=defs.resolve_asset_graph(), resource_defs=registered.resource_defs)


def stale_asset_keys(defs: Definitions, instance: DagsterInstance, partition_key: str) -> list[str]:
    """The materializable assets whose partition the UI shows STALE (Dagster's own stale-status resolver)."""
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._time import get_current_datetime

    graph = defs.resolve_asset_graph()
    view = AssetGraphView(temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
                          instance=instance, asset_graph=graph)
    resolver = CachingStaleStatusResolver(instance=instance, asset_graph=graph, loading_context=view)
    return [k.to_user_string() for k in sorted(graph.materializable_asset_keys)
            if resolver.get_status(k, partition_key) == StaleStatus.STALE]


def job_automation_sensor(name: str, job_name: str, *, minimum_interval_seconds: int,
                          default_status: DefaultSensorStatus, description: str,
                          run_tags: Mapping[str, str]) -> AutomationConditionSensorDefinition:
    """An automation condition sensor (evaluated by the daemon) for the condition of the job ``job_name`` only."""
    return AutomationConditionSensorDefinition(
        name, target=AssetSelection.keys(), minimum_interval_seconds=minimum_interval_seconds,
        default_status=default_status, description=description, use_user_code_server=False,
        emit_backfills=False,  # one run per year, each through the run queue, never a multi-year backfill
        run_tags=run_tags, asset_job_keys={AssetJobKey(job_name)})


class KeptConnectionsEventLogStorage(SqliteEventLogStorage):
    """Dagster's run-sharded SQLite event log (one database per run plus the index, as ``SqliteEventLogStorage``
    writes them) keeping an engine, and its one connection, per database it uses: the index and the
    :data:`KEPT_RUNS` runs used last. Dagster's class builds a new engine and connection for every statement
    block; SQLAlchemy then compiles every statement again and SQLite checkpoints its journal at every close.

    What stays as in Dagster's class: every block runs under the storage's lock, in its own transaction, and a
    database is created on its first use. After a block that changed a run's database its journal is
    checkpointed (passive: it never waits for readers), as closing the connection did, because Dagster's UI
    follows a running run by watching that database file. A child process forked from this one makes its own
    connections and leaves the parent's alone; a database deleted under a kept connection is opened anew, as
    Dagster's class would."""

    #: run databases whose engine is kept besides the index's (a run writes only its own; the UI reads several)
    KEPT_RUNS = 4

    def __init__(self, base_dir: str, inst_data=None):
        self._engines: OrderedDict[str, object] = OrderedDict()
        self._engines_pid = os.getpid()
        self._tables: set[str] = set()  # the index's tables known to exist (has_table)
        super().__init__(base_dir, inst_data)  # sets _base_dir (absolute)

    def register_instance(self, instance) -> None:
        """Refuse an instance whose folder is not the one this storage writes: ``base_dir`` comes from
        ``DAGSTER_HOME`` (the shipped dagster.yaml), so opening a folder's instance some other way
        (``DagsterInstance.from_config(folder)``) with ``DAGSTER_HOME`` naming another folder would otherwise read
        and write the other folder's runs without a word."""
        home = Path(self._base_dir).parents[1]  # <home>/history/runs
        if Path(os.path.realpath(instance.root_directory)) != Path(os.path.realpath(home)):
            raise DagsterInvariantViolationError(
                f"The Dagster instance in {instance.root_directory} would store its runs and events under "
                f"{home}: its dagster.yaml names that folder as the storage's base_dir (the shipped one takes it "
                f"from DAGSTER_HOME). Set DAGSTER_HOME={instance.root_directory} and open it with "
                f"DagsterInstance.get(), or correct base_dir in its dagster.yaml.")
        super().register_instance(instance)

    def _engine(self, shard: str):
        if self._engines_pid != os.getpid():
            for engine in self._engines.values():
                engine.dispose(close=False)  # the parent's connections: not closed from here
            self._engines.clear()
            self._engines_pid = os.getpid()
        engine = self._engines.get(shard)
        if engine is not None and not os.path.exists(self.path_for_shard(shard)):
            # the database was deleted under a kept connection, which would go on writing into the unlinked file:
            # a new connection, as Dagster's class opens for every block (and fails as it does)
            self._engines.pop(shard).dispose()
            engine = None
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=QueuePool, pool_size=1,
                                   max_overflow=2, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
            self._engines[shard] = engine
            runs = [s for s in self._engines if s != INDEX_SHARD_NAME]
            for old in runs[:-self.KEPT_RUNS]:
                self._engines.pop(old).dispose()
        self._engines.move_to_end(shard)
        return engine

    @contextmanager
    def _connect(self, shard: str) -> Iterator:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                raw = conn.connection.dbapi_connection
                changes = raw.total_changes
                with conn.begin():
                    yield conn
                if shard != INDEX_SHARD_NAME and raw.total_changes != changes:
                    conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def _initdb(self, engine, for_index_shard: bool = False) -> None:
        """Dagster's initialisation of a database, with a new (empty) run database created here: its tables,
        WAL journal and alembic stamp of the head revision, as Dagster's class makes them, but with the migration
        scripts read once per process (:func:`_event_log_scripts`) — Dagster's class reads all of them twice, and
        runs alembic's environment script, for each run. Anything else (the index, a database with a revision,
        one being created by another process at the same moment) goes to Dagster's class, with its retries."""
        if not for_index_shard:
            try:
                with engine.connect() as connection:
                    if MigrationContext.configure(connection).get_current_revision():
                        return  # all Dagster's class does for a database with a revision
                    if not sqlalchemy_inspect(connection).get_table_names():
                        SqlEventLogStorageMetadata.create_all(engine)
                        connection.exec_driver_sql("PRAGMA journal_mode=WAL;")
                        MigrationContext.configure(connection).stamp(_event_log_scripts(), "head")
                        safe_commit(connection)
                        return
            except (sqlalchemy_errors.DatabaseError, sqlite3.DatabaseError):
                pass  # another process creating it now: Dagster's path, which waits and retries
        super()._initdb(engine, for_index_shard)

    def has_table(self, table_name: str) -> bool:
        """Whether the index database has ``table_name``, remembered once it has (a migration adds tables; none is
        dropped under a running process but by :meth:`wipe`). Dagster's class asks every time, through a new
        engine and connection, and it asks for every asset and check event."""
        if table_name in self._tables:
            return True
        found = super().has_table(table_name)
        if found:
            self._tables.add(table_name)
        return found

    def forget_connections(self, *, index: bool = True) -> None:
        """Close the kept connections (the run databases', and the index's unless ``index`` is False)."""
        with self._db_lock:
            for shard in [s for s in self._engines if index or s != INDEX_SHARD_NAME]:
                self._engines.pop(shard).dispose()

    def wipe(self) -> None:
        self.forget_connections(index=False)  # the run databases are deleted
        self._tables.clear()
        super().wipe()

    def dispose(self) -> None:
        super().dispose()
        self.forget_connections()


@functools.cache
def _event_log_scripts() -> ScriptDirectory:
    """Dagster's migration scripts of the SQLite event log, as its class finds them, read once per process."""
    return ScriptDirectory.from_config(get_alembic_config(sqlite_event_log.__file__))


class KeptConnectionsSqliteStorage(DagsterSqliteStorage):
    """Dagster's SQLite storage under ``base_dir`` (``DAGSTER_HOME``: the same folders and files) with the event
    log of :class:`KeptConnectionsEventLogStorage`; in dagster.yaml::

        storage:
          custom:
            module: pipelines.dagster_private
            class: KeptConnectionsSqliteStorage
            config:
              base_dir: {env: DAGSTER_HOME}
    """

    def __init__(self, base_dir: str, inst_data=None):  # DagsterSqliteStorage's, with the other event log
        self.base_dir = base_dir
        self._run_storage = SqliteRunStorage.from_local(_runs_directory(base_dir))
        self._event_log_storage = KeptConnectionsEventLogStorage(_event_logs_directory(base_dir))
        self._schedule_storage = SqliteScheduleStorage.from_local(_schedule_directory(base_dir))
        self._inst_data = inst_data
        super(DagsterSqliteStorage, self).__init__()

    @classmethod
    def from_config_value(cls, inst_data, config_value):
        return cls.from_local(inst_data=inst_data, **config_value)
