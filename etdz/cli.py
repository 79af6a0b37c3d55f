"""The ``etdz`` command: run years through Dagster, the demo, templates, validation."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from etdz.settings import Settings

# The instance configuration a new DAGSTER_HOME gets: SQLite storage, telemetry and the UI's sign-up
# dialog off, one queued run per data year (also shipped as deploy/dagster.sqlite.yaml).
DAGSTER_YAML = Path(__file__).parent / "data" / "dagster.sqlite.yaml"


def ensure_dagster_home(path: str) -> Path:
    """Create ``DAGSTER_HOME`` with a dagster.yaml (telemetry off) unless one exists; export it."""
    home = Path(path)
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text(DAGSTER_YAML.read_text(encoding="utf-8"), encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


class RunFailed(RuntimeError):
    pass


def _quiet_dagster_warnings() -> None:
    """Dagster flags beta / preview parameters we use deliberately; keep the command's output readable."""
    import warnings

    warnings.filterwarnings("ignore", message=r".*(is currently in beta|is currently in preview).*")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"dagster.*")


def run_years(years: list[int], settings: Settings, quiet: bool = False) -> list[dict]:
    """Materialise every asset of each year, in order, as recorded Dagster runs; returns a summary per year.

    Raises CatalogueError / MethodologyError / RegistryError before anything runs when the
    configuration cannot work, and RunFailed when a run fails.
    """
    from etdz.catalogue import catalogue_for_year, load_catalogues
    from etdz.registry import load_registry

    catalogues = load_catalogues(settings.methodology)
    for y in years:
        catalogue_for_year(catalogues, y)
    load_registry(settings.registry)
    ensure_dagster_home(settings.dagster_home)

    from dagster import DagsterInstance

    from etdz.inbox_state import folder_digest, inbox_files
    from etdz.locks import year_lock
    from etdz.publish import ensure_writable
    from etdz.storage import Warehouse
    from pipelines.definitions import build_definitions
    from pipelines.jobs import ANNUAL_JOB
    from pipelines.observations import inbox_observation
    from pipelines.resources import EtdzResource

    defs = build_definitions(settings)
    job = defs.resolve_job_def(ANNUAL_JOB)
    store = Warehouse(settings.warehouse)
    summaries = []
    run_config = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    resource = EtdzResource.from_settings(settings)
    with DagsterInstance.get() as instance:
        for y in years:
            t0 = time.perf_counter()
            folder = Path(settings.inbox) / str(y)
            digest = folder_digest(folder)
            catalogue = catalogue_for_year(catalogues, y)
            tags = {"etdz/catalogue": catalogue.version, "etdz/catalogue_sha256": catalogue.sha256[:16],
                    "etdz/inbox": str(folder), "etdz/inbox_digest": digest,
                    "etdz/files": str(len(inbox_files(folder))), "etdz/trigger": "cli"}
            with year_lock(resource.lock_dir(), y):
                ensure_writable(store, y)  # a published year refuses before anything runs
                # record what the run reads, so the UI can tell when the inbox changes afterwards
                instance.report_runless_asset_event(inbox_observation(y, digest, len(inbox_files(folder))))
                result = job.execute_in_process(partition_key=str(y), instance=instance, raise_on_error=False,
                                                tags=tags, run_config=run_config)
            if not result.success:
                raise RunFailed(_failure_message(result, y))
            summary = _summary(store, y, result.run_id, time.perf_counter() - t0)
            summaries.append(summary)
            if not quiet:
                print(_format_summary(summary), flush=True)
    return summaries


def _failure_message(result, year: int) -> str:
    for event in result.all_events:
        if event.is_step_failure and event.step_failure_data and event.step_failure_data.error:
            err = event.step_failure_data.error
            cause = err.cause.message if err.cause else ""
            return f"data year {year}: step {event.step_key} failed: {err.message.strip()} {cause.strip()}".strip()
    return f"data year {year}: the run failed (run id {result.run_id}); see the Dagster UI for its event log"


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
            f"first: {s['leader']}  [{s['seconds']} s, run {s['run_id'][:8]}]")


def run_stale(settings: Settings, max_rounds: int = 50) -> list[int]:
    """Re-run, oldest first, every year with a stale asset until nothing is stale (as the UI shows it).

    The inbox of every year is observed first, so a new or replaced file counts as a change.
    """
    from dagster import DagsterInstance

    from etdz.catalogue import load_catalogues
    from etdz.inbox_state import folder_digest, inbox_files, inbox_years
    from pipelines.definitions import build_definitions
    from pipelines.observations import inbox_observation, last_observed_digest
    from pipelines.staleness import stale_assets

    ensure_dagster_home(settings.dagster_home)
    catalogues = load_catalogues(settings.methodology)
    years = [y for y in inbox_years(settings.inbox) if any(c.applies_to(y) for c in catalogues)]
    defs = build_definitions(settings)
    done: list[int] = []
    with DagsterInstance.get() as instance:
        for y in years:
            digest = folder_digest(Path(settings.inbox) / str(y))
            if last_observed_digest(instance, y) not in (None, digest):
                instance.report_runless_asset_event(
                    inbox_observation(y, digest, len(inbox_files(Path(settings.inbox) / str(y)))))
        for _ in range(max_rounds):
            stale = stale_assets(defs, instance, years)
            if not stale:
                break
            y = min(stale)
            print(f"data year {y} is stale ({', '.join(stale[y])}): re-running it", flush=True)
            run_years([y], settings)
            done.append(y)
    if not done:
        print("nothing is stale")
    return done


def _years(args) -> list[int]:
    if args.data_year is not None:
        if args.year_from is not None or args.year_to is not None:
            raise SystemExit("etdz run: give either --data-year Y or --from A --to B, not both")
        return [args.data_year]
    if args.year_from is None or args.year_to is None:
        raise SystemExit("etdz run: give --data-year Y, --from A --to B, or --stale")
    if args.year_to < args.year_from:
        raise SystemExit(f"etdz run: --to {args.year_to} is before --from {args.year_from}")
    return list(range(args.year_from, args.year_to + 1))


def cmd_run(args) -> int:
    settings = Settings.from_env()
    try:
        if args.stale:
            run_stale(settings)
        else:
            run_years(_years(args), settings)
    except RunFailed as exc:
        print(f"etdz run: {exc}", file=sys.stderr)
        return 1
    print(f"datasets: {settings.warehouse}\nreports:  {settings.reports}")
    return 0


def cmd_demo(args) -> int:
    from etdz.demo_data import write_demo

    home = Path(args.home or os.environ.get("ETDZ_HOME") or Path.home() / "etdz").expanduser().resolve()
    years = list(range(args.year_from, args.year_to + 1))
    t0 = time.perf_counter()
    layout = write_demo(home, years=range(years[0], years[-1] + 1), seed=args.seed)
    print(f"demo data: {layout.files_written} submission files for {years[0]}–{years[-1]} in {layout.inbox} "
          f"({len(layout.faulty_files)} deliberately faulty); registry {layout.registry}")
    env = {"ETDZ_HOME": str(home), "ETDZ_INBOX": str(layout.inbox), "ETDZ_REGISTRY": str(layout.registry),
           "ETDZ_WAREHOUSE": str(home / "warehouse"), "ETDZ_REPORTS": str(home / "reports"),
           "DAGSTER_HOME": str(home / "dagster_home")}
    settings = Settings.from_env({**{k: v for k, v in os.environ.items() if k.startswith("ETDZ_") and k not in env},
                                  **env})
    try:
        run_years(years, settings)
    except RunFailed as exc:
        print(f"etdz demo: {exc}", file=sys.stderr)
        return 1
    last = years[-1]
    exports = " ".join(f"{k}={v}" for k, v in env.items())
    print(f"""
Done in {time.perf_counter() - t0:.1f} s.
  datasets (Parquet, Hive-partitioned by data_year): {settings.warehouse}
  reports:  {settings.reports}/<data_year>/  — e.g. {Path(settings.reports) / str(last) / 'national_report.html'}
  archive of every received file: {settings.archive}
Open the Dagster UI (asset graph, partitions, runs, checks):
  {exports} {Path(sys.executable).parent / "dagster"} dev -m pipelines.definitions -a defs
  then browse http://127.0.0.1:3000""")
    return 0


def cmd_template(args) -> int:
    from etdz.catalogue import load_catalogues
    from etdz.registry import load_registry
    from etdz.template import write_template

    settings = Settings.from_env()
    try:
        paths = write_template(args.out, args.data_year, load_catalogues(settings.methodology), zone=args.zone,
                               registry=load_registry(settings.registry))
    except ValueError as exc:
        print(f"etdz template: {exc}", file=sys.stderr)
        return 2
    for p in paths:
        print(p)
    return 0


def cmd_validate(args) -> int:
    from etdz.catalogue import load_catalogues
    from etdz.ingest import validate_files
    from etdz.registry import load_registry

    settings = Settings.from_env()
    text, status = validate_files(args.files, load_catalogues(settings.methodology), load_registry(settings.registry),
                                  max_bytes=settings.max_file_bytes, max_rows_per_measure=settings.max_rows_per_measure)
    print(text)
    return status


def cmd_publish(args) -> int:
    from etdz.publish import publish_year, verify
    from pipelines.resources import EtdzResource

    settings = Settings.from_env()
    etdz = EtdzResource.from_settings(settings)
    if args.verify:
        problems = verify(etdz.store(), args.data_year)
        print("\n".join(problems) if problems else f"data year {args.data_year}: published files intact")
        return 1 if problems else 0
    manifest = publish_year(etdz.store(), etdz.reports_dir(args.data_year), args.data_year,
                            etdz.catalogue(args.data_year), settings.registry, approved_by=args.approved_by,
                            note=args.note)
    if manifest["results_status"] != "final":
        print(f"warning: data year {args.data_year} is published with provisional results "
              f"(a due zone has no accepted submission)", file=sys.stderr)
    print(f"data year {args.data_year} published: {len(manifest['datasets'])} datasets, "
          f"{len(manifest['reports']['files'])} report files, {len(manifest['submission_files'])} submission files, "
          f"catalogue {manifest['catalogue']['version']}; manifest in "
          f"{settings.warehouse}/_published/data_year={args.data_year}/manifest.json")
    return 0


def cmd_reopen(args) -> int:
    from etdz.publish import reopen_year
    from etdz.storage import Warehouse

    settings = Settings.from_env()
    try:
        event = reopen_year(Warehouse(settings.warehouse), args.data_year, args.reason, by=args.by)
    except ValueError as exc:
        print(f"etdz reopen: {exc}", file=sys.stderr)
        return 2
    print(f"data year {args.data_year} reopened by {event['by']} at {event['at']}: {event['reason']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="etdz", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="materialise every asset of a data year (or a range), as Dagster runs")
    p.add_argument("--data-year", type=int)
    p.add_argument("--from", dest="year_from", type=int)
    p.add_argument("--to", dest="year_to", type=int)
    p.add_argument("--stale", action="store_true",
                   help="re-run every year the UI shows as stale (e.g. after a corrected file), oldest first")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("demo", help="write realistic demo submissions for 2018–2023 and run every year")
    p.add_argument("--home", help="folder for the demo (default $ETDZ_HOME or ~/etdz)")
    p.add_argument("--from", dest="year_from", type=int, default=2018)
    p.add_argument("--to", dest="year_to", type=int, default=2023)
    p.add_argument("--seed", type=int, default=20240101)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("template", help="write the submission template (CSV and XLSX) of a data year")
    p.add_argument("--data-year", type=int, required=True)
    p.add_argument("--zone")
    p.add_argument("--out", default=".")
    p.set_defaults(func=cmd_template)
    p = sub.add_parser("validate", help="check submission files and print every problem (the warehouse is untouched)")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("publish", help="freeze an approved data year: manifest of every output, file used and catalogue")
    p.add_argument("--data-year", type=int, required=True)
    p.add_argument("--approved-by", help="who approved the results (default: the current user)")
    p.add_argument("--note", help="free text recorded with the publication")
    p.add_argument("--verify", action="store_true", help="check the published files are unchanged instead")
    p.set_defaults(func=cmd_publish)
    p = sub.add_parser("reopen", help="unfreeze a published data year (the reason is recorded)")
    p.add_argument("--data-year", type=int, required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--by", help="who reopens it (default: the current user)")
    p.set_defaults(func=cmd_reopen)
    args = parser.parse_args(argv)
    _quiet_dagster_warnings()

    from etdz.catalogue import CatalogueError, MethodologyError
    from etdz.locks import LockTimeout
    from etdz.publish import PublishedYearError
    from etdz.registry import RegistryError
    from etdz.settings import SettingsError

    try:
        return args.func(args)
    except (CatalogueError, MethodologyError, RegistryError, PublishedYearError, LockTimeout, SettingsError) as exc:
        print(f"etdz {args.command}: {exc}", file=sys.stderr)
        return 2


def entry() -> None:
    """Console-script entry: run, flush, and leave without interpreter teardown.

    Everything is written and closed when main() returns (runs, instance, files). Skipping the
    teardown avoids a rare abort at exit ("terminate called without an active exception", SIGABRT)
    seen twice in ~15 benchmark runs after a successful run: a native thread pool still alive while
    Python finalises. A successful run must not report failure because of it.
    """
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code if isinstance(code, int) else 1)


if __name__ == "__main__":
    entry()
