"""The ``etdz`` console script: :mod:`etdz.cli`'s commands plus the ones that drive Dagster.

``run`` and ``demo`` execute the annual job (:mod:`pipelines.runs`), ``ui`` starts the Dagster webserver
and daemon and serves the reports, ``publish`` freezes a year through the code location's resource.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from etdz.cli import EXIT_CANNOT_START, EXIT_FAILED, EXIT_OK, build_parser, config_home, dispatch, settings_for
from etdz.guard import ALLOW_FLAG
from etdz.locations import local_path
from etdz.readiness import ALLOW_FLAG as ALLOW_INCOMPLETE_FLAG
from etdz.settings import CONFIG_NAME, Settings, reports_port, write_config
from pipelines.origin import workspace_yaml
from pipelines.runs import RunFailed, ensure_dagster_home, run_stale, run_years


def _years(args: argparse.Namespace) -> list[int]:
    if args.data_year is not None:
        if args.year_from is not None or args.year_to is not None:
            raise SystemExit("etdz run: give either --data-year Y or --from A --to B, not both")
        return [args.data_year]
    if args.year_from is None or args.year_to is None:
        raise SystemExit("etdz run: give --data-year Y, --from A --to B, or --stale")
    if args.year_to < args.year_from:
        raise SystemExit(f"etdz run: --to {args.year_to} is before --from {args.year_from}")
    return list(range(args.year_from, args.year_to + 1))


def cmd_run(args: argparse.Namespace) -> int:
    settings = settings_for(args)
    try:
        if args.stale:
            run_stale(settings)
        else:
            run_years(_years(args), settings, allow_shrink=args.allow_shrink, allow_incomplete=args.allow_incomplete)
    except RunFailed as exc:
        print(f"etdz run: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"datasets: {settings.warehouse}\nreports:  {settings.reports}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Write the demo under ETDZ_HOME, its configuration when there is none, and run every year."""
    from demo import write_demo

    home = config_home(args.home)
    # later commands need ETDZ_HOME only when the demo is not where they look anyway
    prefix = "" if home == config_home(None) else f"ETDZ_HOME={home} "
    env = {**os.environ, "ETDZ_HOME": str(home)}
    inbox, registry = home / "inbox", home / "registry.csv"
    years = list(range(args.year_from, args.year_to + 1))
    # the demo's configuration: the defaults under its home, with the demo's registry of zones and its own data
    # years as the partitions (04 §4.3), so the UI shows exactly the years it wrote
    demo = Settings.from_env({"ETDZ_HOME": str(home), "ETDZ_INBOX": str(inbox), "ETDZ_REGISTRY": str(registry),
                              "ETDZ_FIRST_DATA_YEAR": str(years[0]), "ETDZ_LAST_DATA_YEAR": str(years[-1])})
    written = write_config(demo, home / CONFIG_NAME)
    settings = Settings.from_env(env)
    print(f"etdz demo: {settings.describe()}" + (" (written now)" if written else ""), file=sys.stderr)
    mismatch = [f"{name} is {getattr(settings, name)}, the demo writes {want}"
                for name, want in (("inbox", inbox), ("registry", registry)) if getattr(settings, name) != str(want)]
    if settings.first_data_year is not None and settings.first_data_year > years[0]:
        mismatch.append(f"first_data_year is {settings.first_data_year}, the demo starts in {years[0]}")
    if settings.last_data_year is not None and settings.last_data_year < years[-1]:
        mismatch.append(f"last_data_year is {settings.last_data_year}, the demo ends in {years[-1]}")
    if mismatch:
        print(f"etdz demo: the configuration in use does not point at the demo ({'; '.join(mismatch)}). Use another "
              f"--home, or change {settings.config_file or 'the ETDZ_* variables'}.", file=sys.stderr)
        return EXIT_CANNOT_START
    t0 = time.perf_counter()
    layout = write_demo(home, years=range(years[0], years[-1] + 1), seed=args.seed)
    print(f"demo data: {layout.files_written} submission files for {years[0]}–{years[-1]} in {layout.inbox} "
          f"({len(layout.faulty_files)} deliberately faulty); registry {layout.registry}")
    os.environ["ETDZ_HOME"] = str(home)
    try:
        run_years(years, settings)
    except RunFailed as exc:
        print(f"etdz demo: {exc}", file=sys.stderr)
        return EXIT_FAILED
    last = years[-1]
    print(f"""
Done in {time.perf_counter() - t0:.1f} s.
  configuration: {settings.config_file}
  datasets (Parquet, Hive-partitioned by data_year): {settings.warehouse}
  reports:  {settings.reports}/<data_year>/  — e.g. {Path(settings.reports) / str(last) / 'national_report.html'}
  archive of every received file: {settings.archive}
Next:
  {prefix + "etdz ui":<34} # the Dagster UI (asset graph, partitions, runs, checks) and the reports
  {prefix + f"etdz run --data-year {last}":<34} # run a year again
  {prefix + "etdz validate FILE…":<34} # check files before they are sent""")
    return EXIT_OK


def cmd_publish(args: argparse.Namespace) -> int:
    from assets.resource import EtdzResource
    from etdz.publish import manifest_url, publish_year, verify

    settings = settings_for(args)
    resource = EtdzResource(settings)
    resource.layout().recover_all()
    if args.verify:
        problems = verify(resource.store(), args.data_year, settings.archive)
        print("\n".join(problems) if problems else f"data year {args.data_year}: published files intact")
        return EXIT_FAILED if problems else EXIT_OK
    manifest = publish_year(resource.store(), resource.reports_dir(args.data_year), args.data_year,
                            resource.catalogue(args.data_year), settings.registry, approved_by=args.approved_by,
                            note=args.note)
    if manifest["results_status"] != "final":
        print(f"warning: data year {args.data_year} is published with provisional results "
              f"(a due zone has no accepted submission)", file=sys.stderr)
    print(f"data year {args.data_year} published: {len(manifest['datasets'])} datasets, "
          f"{len(manifest['reports']['files'])} report files, {len(manifest['submission_files'])} submission files, "
          f"catalogue {manifest['catalogue']['version']}; manifest in "
          f"{manifest_url(resource.store(), args.data_year)}")
    return EXIT_OK


class _QuietReports(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args) -> None:
        pass  # the UI's console is for Dagster; a line per report request would drown it


def serve_reports(folder: str, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``folder`` (the reports) read-only over HTTP on ``host:port`` in a background thread."""
    server = ThreadingHTTPServer((host, port), partial(_QuietReports, directory=folder))
    threading.Thread(target=server.serve_forever, name="etdz-reports", daemon=True).start()
    return server


def ui_commands(settings: Settings, host: str, port: int) -> tuple[list[list[str]], dict[str, str]]:
    """The webserver and daemon command lines `etdz ui` starts, and their environment: this configuration.

    The two processes `dagster dev` would start, started directly (`dagster dev` is superseded by `dg dev`
    and says so in the log at every start).
    """
    home = ensure_dagster_home(settings.dagster_home)
    workspace = home / "workspace.yaml"
    workspace.write_text(workspace_yaml(), encoding="utf-8")
    env = {**os.environ, "ETDZ_HOME": settings.home, "DAGSTER_HOME": str(home),
           "ETDZ_UI_HOST": host, "ETDZ_UI_PORT": str(port)}
    if settings.config_file:
        env["ETDZ_CONFIG"] = settings.config_file
    daemon = Path(sys.executable).with_name("dagster-daemon")  # the console script beside this interpreter
    return [[sys.executable, "-m", "dagster_webserver", "-w", str(workspace), "-h", host, "-p", str(port)],
            [str(daemon) if daemon.exists() else "dagster-daemon", "run", "-w", str(workspace)]], env


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster UI with its daemon (schedule, sensor, automation) on this configuration, and the reports."""
    settings = settings_for(args)
    host, port = args.host or settings.ui_host, args.port or settings.ui_port
    commands, env = ui_commands(settings, host, port)
    server = None
    reports = local_path(settings.reports)
    if reports is not None:
        reports.mkdir(parents=True, exist_ok=True)
        server = serve_reports(str(reports), host, reports_port(port))
        print(f"etdz ui: reports at http://{host}:{reports_port(port)}/", flush=True)
    print(f"etdz ui: Dagster UI at http://{host}:{port} (webserver and daemon; Ctrl-C stops both)", flush=True)
    procs = [subprocess.Popen(cmd, env=env, start_new_session=True) for cmd in commands]
    # SIGTERM (a service manager, a test's teardown) ends Dagster too, like Ctrl-C: through the `finally` below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_OK))
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        return next(p.returncode for p in procs if p.returncode is not None) or EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        for p in procs:  # each in its own process group, with whatever it started (the code server)
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
        if server is not None:
            server.shutdown()


def build_full_parser() -> argparse.ArgumentParser:
    """Every command: :func:`etdz.cli.build_parser`'s and the Dagster ones."""
    parser, sub = build_parser()
    p = sub.add_parser("run", help="materialise every asset of a data year (or a range), as Dagster runs")
    p.add_argument("--data-year", type=int)
    p.add_argument("--from", dest="year_from", type=int)
    p.add_argument("--to", dest="year_to", type=int)
    p.add_argument("--stale", action="store_true",
                   help="re-run every year the UI shows as stale (e.g. after a corrected file), oldest first")
    p.add_argument(ALLOW_FLAG, dest="allow_shrink", action="store_true",
                   help="proceed although the run would drop most of the year's ranked or accepted zones "
                        "(recorded in the run's tags)")
    p.add_argument(ALLOW_INCOMPLETE_FLAG, dest="allow_incomplete", action="store_true",
                   help="rank a year although fewer than min_share_to_rank of its due zones have an accepted file "
                        "(marked provisional, recorded in the run's tags); a year with none is never ranked")
    p.set_defaults(func=cmd_run)
    p = sub.add_parser("demo", help="write realistic demo submissions for 2018–2023, its configuration, and run "
                                    "every year")
    p.add_argument("--home", help="folder for the demo (default $ETDZ_HOME or ~/etdz)")
    p.add_argument("--from", dest="year_from", type=int, default=2018)
    p.add_argument("--to", dest="year_to", type=int, default=2023)
    p.add_argument("--seed", type=int, default=20240101)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("ui", help="start the Dagster UI and daemon on this configuration and serve the reports")
    p.add_argument("--host", help="address to listen on (default: the configuration's ui_host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="the UI's port (default: ui_port, 3000); the reports use the next one")
    p.set_defaults(func=cmd_ui)
    p = sub.add_parser("publish", help="freeze an approved data year: manifest of every output, file used and "
                                       "catalogue")
    p.add_argument("--data-year", type=int, required=True)
    p.add_argument("--approved-by", help="who approved the results (default: the current user)")
    p.add_argument("--note", help="free text recorded with the publication")
    p.add_argument("--verify", action="store_true", help="check the published files are unchanged instead")
    p.set_defaults(func=cmd_publish)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse and run one `etdz` command; returns its exit status."""
    return dispatch(build_full_parser().parse_args(argv))


def entry() -> int:
    """Console-script entry: run, flush, and leave without interpreter teardown.

    Everything is written and closed when main() returns (runs, instance, files). Skipping the
    teardown avoids a rare abort at exit ("terminate called without an active exception", SIGABRT)
    seen twice in ~15 benchmark runs after a successful run: a native thread pool still alive while
    Python finalises. A successful run must not report failure because of it.

    Under a profiler or tracer (cProfile, pyinstrument, coverage: ``sys.getprofile()`` / ``sys.gettrace()``
    set) it returns the status instead, so the tool can write its results at a normal exit.
    """
    code = main()
    status = code if isinstance(code, int) else EXIT_FAILED
    if sys.getprofile() is not None or sys.gettrace() is not None:
        return status
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    sys.exit(entry())
