"""Running data years through Dagster from the command line (`etdz run`, `etdz demo`).

Each year is one run of the annual job, executed in this process against the instance in
``DAGSTER_HOME`` and created with the code location's origin (:mod:`pipelines.origin`), so the UI
shows it like a run it launched itself: on the Overview timeline, on the job's page, re-executable.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from etdz.commit import DeploymentLayout
from etdz.errors import error_message
from etdz.escape import plain_text
from etdz.guard import RunRefused
from etdz.readiness import YearNotReady
from etdz.settings import Settings

if TYPE_CHECKING:  # Dagster is imported by the functions that run it: `etdz validate` / `template` need none
    from dagster import DagsterInstance, Definitions, ExecuteInProcessResult, JobDefinition

# The instance configuration a new DAGSTER_HOME gets: SQLite storage, telemetry and the UI's sign-up
# dialog off, one queued run per data year (also shipped as deploy/dagster.sqlite.yaml).
DAGSTER_YAML = Path(__file__).resolve().parents[1] / "etdz" / "data" / "dagster.sqlite.yaml"


class RunFailed(RuntimeError):
    """A run of a data year failed; the message names the year, the step and the error.

    ``exit_code``: 1, or 2 when the run refused before writing anything (etdz.guard)."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code


def ensure_dagster_home(path: str) -> Path:
    """Create ``DAGSTER_HOME`` with a dagster.yaml (telemetry off) unless one exists; export it."""
    home = Path(path)
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def execute_partition(job: JobDefinition, instance: DagsterInstance, partition_key: str, tags: Mapping[str, str],
                      run_config: Mapping[str, object],
                      on_created: Callable[[], None] | None = None) -> ExecuteInProcessResult:
    """``job.execute_in_process(partition_key=…)``, with the run created under the code location's origin
    (Dagster's public ``execute_in_process`` creates runs without one: :mod:`pipelines.dagster_private`);
    ``on_created`` runs once the run exists, before its first step."""
    from pipelines import dagster_private
    from pipelines.origin import job_code_origin, remote_job_origin

    return dagster_private.execute_with_origin(job, instance, partition_key, tags, run_config,
                                               remote_job_origin(job.name), job_code_origin(job.name), on_created)


def in_process_job(defs: Definitions) -> JobDefinition:
    """The annual job as `etdz run` executes it in this process: the twin without the automation condition
    (pipelines/jobs.py), resolved like the registered one (same name, partitions, resources)."""
    from pipelines import dagster_private
    from pipelines.jobs import build_annual_job

    return dagster_private.resolve_like(build_annual_job(automated=False), defs)


def run_years(years: list[int], settings: Settings, quiet: bool = False, allow_shrink: bool = False,
              allow_incomplete: bool = False, *, defs: Definitions | None = None,
              instance: DagsterInstance | None = None) -> list[dict]:
    """Materialise every asset of each year, in order, as recorded Dagster runs; returns a summary per year.

    Raises CatalogueError / MethodologyError / RegistryError before anything runs when the
    configuration cannot work, RunRefused when the registry would wipe a year's results (unless
    ``allow_shrink``, which the run records in its tags), and RunFailed when a run fails — with exit
    code 2 when a year is not ready to rank (etdz/readiness.py; ``allow_incomplete`` ranks it anyway,
    provisional, recorded in the run's tags) or lies outside the partitions. Years after a failed one
    are not run (they read it).

    The definitions and the instance are set up once for all the years (imports, definitions, SQLite engine);
    a caller that already holds them (``run_stale``, re-running year after year) passes them in.
    """
    from dagster import DagsterInstance

    from assets.resource import EtdzResource
    from etdz.catalogue import catalogue_for_year, load_catalogues
    from etdz.guard import cohort_findings, refuse_if
    from etdz.inbox_state import listing_digest, scan_inbox
    from etdz.locks import COMMAND_WAIT, year_lock
    from etdz.memory import freeze_imports
    from etdz.publish import ensure_writable
    from etdz.registry import load_registry
    from etdz.storage import Warehouse
    from etdz.validation.worker import year_of as suite_worker_for
    from pipelines.definitions import build_definitions
    from pipelines.observations import inbox_observation
    from pipelines.review_sensor import record_review_queries
    from pipelines.tags import CLI_NEXT_TAG, year_run_tags

    catalogues = load_catalogues(settings.methodology)
    for y in years:
        catalogue_for_year(catalogues, y)
    registry = load_registry(settings.registry)
    store = Warehouse(settings.warehouse)
    for y in years:  # the guard's cheap half before anything runs; the first step checks again, with the files
        last = store.read_replaced("rankings", y)
        refuse_if(cohort_findings(y, registry, settings.registry or "(shipped registry)",
                                  None if last is None else last.to_pandas()), y, allow_shrink)
    ensure_dagster_home(settings.dagster_home)
    outputs = DeploymentLayout(settings.warehouse, settings.reports, settings.dagster_home)
    outputs.check_writable(settings.archive)  # a read-only or missing output folder refuses (exit 2)
    outputs.recover_all()  # finish or undo what a failed run left, before anything is read

    job = in_process_job(defs if defs is not None else build_definitions(settings))
    freeze_imports()  # Dagster's and the code location's objects, before any year's data: collections skip them
    _check_in_partitions(years, job.partitions_def)
    summaries = []
    # a failed step is reported once, as the plain message of RunFailed; its traceback stays in the event log
    run_config = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    resource = EtdzResource(settings)
    with contextlib.nullcontext(instance) if instance is not None else DagsterInstance.get() as instance:
        for i, y in enumerate(years):
            t0 = time.perf_counter()
            folder = Path(settings.inbox) / str(y)
            entries = scan_inbox(folder)  # listed once: the digest, the count and the observation
            suite_worker_for(len(entries))  # a year of thousands of files runs its suite here: the worker stops
            digest = listing_digest(entries)
            tags = year_run_tags(settings, catalogues, y, "cli", entries, allow_shrink=allow_shrink,
                                 allow_incomplete=allow_incomplete)
            if years[i + 1:i + 2] == [y + 1]:  # this command runs the next year next: not the automation meanwhile
                tags[CLI_NEXT_TAG] = str(y + 1)
            with year_lock(resource.lock_dir(), y, timeout=COMMAND_WAIT):  # held by another: exit 2 naming it
                ensure_writable(store, y)  # a published year refuses before anything runs
                record_review_queries(instance, settings, y)  # the queries its reports read (none: no portal)
                # what the run reads, recorded once the run exists: the UI can tell when the inbox changes
                # afterwards, and the automation (pipelines/jobs.py) sees the change with this run already in
                # progress, so it does not run the year again
                observation = inbox_observation(y, digest, len(entries))
                result = execute_partition(job, instance, str(y), tags, run_config,
                                           on_created=lambda o=observation: instance.report_runless_asset_event(o))
            if not result.success:
                raise _run_failed(result, y)
            freeze_imports()  # what the year's steps imported (readers, reports): the next years' collections skip it
            summary = _summary(store, y, result.run_id, time.perf_counter() - t0)
            summaries.append(summary)
            if not quiet:
                print(_format_summary(summary), flush=True)
    return summaries


def _check_in_partitions(years: list[int], partitions_def) -> None:
    """Refuse (exit 2) a year the code location has no partition for, naming the range and how to widen it."""
    from pipelines.partitions import partition_years

    keys = partition_years(partitions_def)
    outside = [y for y in years if y not in keys]
    if outside:
        raise RunFailed(f"data year {outside[0]} is not one of the data years {keys[0]}–{keys[-1]} (first_data_year … "
                        f"last_data_year: by default the first year of the catalogues, and the latest year whose "
                        f"deadline has passed or that has files in its inbox folder). Put its files in its inbox "
                        f"folder, or set ETDZ_FIRST_DATA_YEAR / ETDZ_LAST_DATA_YEAR (or first_data_year / "
                        f"last_data_year in the configuration). Nothing was run.", exit_code=2)


#: refusals of a run's first steps: nothing (or only the ingestion) written, exit status 2
_REFUSALS = (RunRefused.__name__, YearNotReady.__name__)


def _run_failed(result: ExecuteInProcessResult, year: int) -> RunFailed:
    """The failure of a run as one message: the step and its error (a guard's or the readiness refusal alone,
    exit code 2)."""
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            err = event.step_failure_data.error
            plain = error_message(err)
            if err.cause is not None and err.cause.cls_name in _REFUSALS:
                return RunFailed(plain or err.cause.message, exit_code=RunRefused.exit_code)
            if plain:  # a machinery failure explained by etdz.errors: its message alone
                return RunFailed(f"data year {year}: step {event.step_key} failed: {plain}")
            cause = err.cause.message if err.cause else ""
            return RunFailed(f"data year {year}: step {event.step_key} failed: {err.message.strip()} {cause.strip()}"
                             .strip())
    return RunFailed(f"data year {year}: the run failed (run id {result.run_id}); see the Dagster UI for its event log")


def _summary(store, year: int, run_id: str, seconds: float) -> dict:
    log = store.read("submission_log", year).to_pandas()
    r = store.read("rankings", year).to_pandas()
    counts = log.status.value_counts().to_dict()
    return {"data_year": year, "run_id": run_id, "seconds": round(seconds, 2), "files": len(log),
            "accepted": int(counts.get("accepted", 0)), "rejected": int(counts.get("rejected", 0)),
            "superseded": int(counts.get("superseded", 0)), "zones_ranked": len(r),
            "results_status": r.results_status.iloc[0] if len(r) else "final",
            "leader": (r.sort_values("national_rank").name_zh.iloc[0] if len(r) else None)}


def _format_summary(s: dict) -> str:
    return (f"data year {s['data_year']}: {s['files']} file(s) — {s['accepted']} accepted, {s['rejected']} rejected, "
            f"{s['superseded']} superseded; {s['zones_ranked']} zones ranked ({s['results_status']}); "
            f"first: {plain_text(s['leader'])}  [{s['seconds']} s, run {s['run_id'][:8]}]")


def run_stale(settings: Settings, max_rounds: int = 50) -> list[int]:
    """Re-run, oldest first, every year whose inbox changed or whose previous year was re-run since its last
    run — the triggers of the job's automation condition (pipelines/staleness.py) — until none is left.

    The inbox of every year is observed first, so a new or replaced file counts as a change.
    """
    from dagster import DagsterInstance

    from etdz.catalogue import load_catalogues
    from etdz.inbox_state import inbox_years, listing_digest, scan_inbox
    from pipelines.definitions import build_definitions
    from pipelines.observations import inbox_observation, last_observed_digest
    from pipelines.staleness import years_behind

    ensure_dagster_home(settings.dagster_home)
    catalogues = load_catalogues(settings.methodology)
    years = [y for y in inbox_years(settings.inbox) if any(c.applies_to(y) for c in catalogues)]
    defs = build_definitions(settings)
    done: list[int] = []
    with DagsterInstance.get() as instance:
        for y in years:
            entries = scan_inbox(Path(settings.inbox) / str(y))
            digest = listing_digest(entries)
            if last_observed_digest(instance, y) not in (None, digest):
                instance.report_runless_asset_event(inbox_observation(y, digest, len(entries)))
        for _ in range(max_rounds):
            behind = years_behind(instance, years)
            if not behind:
                break
            y = min(behind)
            print(f"data year {y} is behind ({behind[y]}): re-running it", flush=True)
            run_years([y], settings, defs=defs, instance=instance)  # the definitions and instance of this call
            done.append(y)
    if not done:
        print("nothing is behind: every year was run on its inbox as it is and on the year before as it is")
    return done

