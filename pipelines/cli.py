"""The ``etdz`` console script: :mod:`etdz.cli`'s commands plus the ones that drive Dagster.

``run`` and ``demo`` execute the annual job (:mod:`pipelines.runs`), ``ui`` starts the Dagster webserver
and daemon and serves the reports, ``publish`` freezes a year through the code location's resource.
"""

from __future__ import annotations

import argparse
import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from etdz.cli import (
    EXIT_CANNOT_START,
    EXIT_FAILED,
    EXIT_OK,
    build_parser,
    config_home,
    data_year,
    dispatch,
    settings_for,
)
from etdz.errors import UsageError
from etdz.guard import ALLOW_FLAG
from etdz.locations import is_local, local_path
from etdz.readiness import ALLOW_FLAG as ALLOW_INCOMPLETE_FLAG
from etdz.settings import CONFIG_NAME, Settings, reports_port, write_config
from pipelines.runs import RunFailed, ensure_dagster_home, run_stale, run_years
from pipelines.ui_front import LOOPBACK, report_file


def _years(args: argparse.Namespace) -> list[int]:
    """The years ``etdz run`` was asked for (a wrong combination is a :class:`UsageError`: exit 2)."""
    if args.data_year is not None:
        if args.year_from is not None or args.year_to is not None:
            raise UsageError("give either --data-year Y or --from A --to B, not both")
        return [args.data_year]
    if args.year_from is None or args.year_to is None:
        raise UsageError("give --data-year Y, --from A --to B, or --stale")
    if args.year_to < args.year_from:
        raise UsageError(f"--to {args.year_to} is before --from {args.year_from}: give the earlier year to --from "
                         f"(e.g. --from {args.year_to} --to {args.year_from})")
    return list(range(args.year_from, args.year_to + 1))


def check_years(years: list[int], settings: Settings) -> None:
    """Refuse (exit 2, before Dagster is asked) a year that is not one of the code location's partitions
    (:func:`pipelines.partitions.data_year_range`), instead of Dagster's "could not find a partition" traceback."""
    from etdz.catalogue import load_catalogues
    from pipelines.partitions import data_year_range

    first, last = data_year_range(settings, load_catalogues(settings.methodology))
    outside = [y for y in years if not first <= y <= last]
    if outside:
        raise UsageError(f"data year {outside[0]} is not a year this deployment can run (its years: {first}–{last}: "
                         f"first_data_year, else the first year of the catalogues, to last_data_year, else the latest "
                         f"year whose deadline has passed or a later one with a folder in {settings.inbox}). Check "
                         f"the year, or set ETDZ_FIRST_DATA_YEAR / ETDZ_LAST_DATA_YEAR")


def cmd_run(args: argparse.Namespace) -> int:
    from etdz.validation.worker import suite_worker

    settings = settings_for(args)
    try:
        if args.stale:
            run_stale(settings)
        else:
            years = _years(args)
            with suite_worker():  # Great Expectations imported in another process meanwhile
                check_years(years, settings)
                run_years(years, settings, allow_shrink=args.allow_shrink, allow_incomplete=args.allow_incomplete)
    except RunFailed as exc:
        print(f"etdz run: {exc}", file=sys.stderr)
        return exc.exit_code
    print(f"datasets: {settings.warehouse}\nreports:  {settings.reports}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace) -> int:
    """Write the demo under ETDZ_HOME, its configuration when there is none, and run every year."""
    from demo import write_demo
    from etdz.validation.worker import suite_worker

    home = config_home(args.home)
    # later commands need ETDZ_HOME only when the demo is not where they look anyway
    prefix = "" if home == config_home(None) else f"ETDZ_HOME={home} "
    env = {**os.environ, "ETDZ_HOME": str(home)}
    inbox, registry = home / "inbox", home / "registry.csv"
    years = list(range(args.year_from, args.year_to + 1))
    # the demo's configuration: the defaults under its home, with the demo's registry of zones and its own data
    # years as the partitions (04 §4.3), so the UI shows exactly the years it wrote; demo = true marks it as the
    # demo for every later command, the UI and the portal (etdz/reports/fictitious.py)
    demo = Settings.from_env({"ETDZ_HOME": str(home), "ETDZ_INBOX": str(inbox), "ETDZ_REGISTRY": str(registry),
                              "ETDZ_FIRST_DATA_YEAR": str(years[0]), "ETDZ_LAST_DATA_YEAR": str(years[-1]),
                              "ETDZ_DEMO": "true"})
    written = write_config(demo, home / CONFIG_NAME)
    settings = Settings.from_env(env)
    print(f"etdz demo: {settings.describe()}" + (" (written now)" if written else ""), file=sys.stderr)
    mismatch = [f"{name} is {getattr(settings, name)}, the demo writes {want}"
                for name, want in (("inbox", inbox), ("registry", registry)) if getattr(settings, name) != str(want)]
    if not settings.demo:  # the demo's pages must say they are fictitious: its configuration says it is the demo
        mismatch.append("demo is false, the demo writes demo = true")
    if settings.first_data_year is not None and settings.first_data_year > years[0]:
        mismatch.append(f"first_data_year is {settings.first_data_year}, the demo starts in {years[0]}")
    if settings.last_data_year is not None and settings.last_data_year < years[-1]:
        mismatch.append(f"last_data_year is {settings.last_data_year}, the demo ends in {years[-1]}")
    if mismatch:
        print(f"etdz demo: the configuration in use does not point at the demo ({'; '.join(mismatch)}). Use another "
              f"--home, or change {settings.config_file or 'the ETDZ_* variables'}.", file=sys.stderr)
        return EXIT_CANNOT_START
    t0 = time.perf_counter()
    with suite_worker():  # Great Expectations imported in another process while the demo is written
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
    from portal.demo import demo_accounts_text  # Django only now, after the run

    portal_text = demo_accounts_text(settings, prefix)
    print(f"""
Done in {time.perf_counter() - t0:.1f} s.
  configuration: {settings.config_file}
  datasets (Parquet, Hive-partitioned by data_year): {settings.warehouse}
  reports:  {settings.reports}/<data_year>/  — e.g. {Path(settings.reports) / str(last) / 'national_report.html'}
  archive of every received file: {settings.archive}
Next:
  {prefix + "etdz ui":<34} # the Dagster UI (asset graph, partitions, runs, checks) and the reports
  {prefix + f"etdz run --data-year {last}":<34} # run a year again
  {prefix + "etdz validate FILE…":<34} # check files before they are sent
{portal_text}""")
    return EXIT_OK


def runs_in_progress(settings: Settings, year: int) -> list[str]:
    """Ids of the runs of ``year`` the Dagster instance has queued or in progress, but those of `etdz run` (a run
    launched from the UI holds the year's lock only during each of its steps, so publishing between two steps must
    look here too; `etdz run` holds it for the whole run, and one killed would stay "started" here for ever)."""
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    ensure_dagster_home(settings.dagster_home)
    active = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
              DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]
    with DagsterInstance.get() as instance:
        runs = instance.get_runs(RunsFilter(statuses=active, tags={"dagster/partition": str(int(year))}))
    return [r.run_id for r in runs if r.tags.get("etdz/trigger") != "cli"]


def cmd_publish(args: argparse.Namespace) -> int:
    from assets.resource import EtdzResource
    from etdz.locks import COMMAND_WAIT, year_lock
    from etdz.publish import manifest_url, publish_year, verify

    settings = settings_for(args)
    resource = EtdzResource(settings)
    resource.layout().recover_all()
    if args.verify:
        with year_lock(resource.lock_dir(), args.data_year, timeout=COMMAND_WAIT):  # never a step half-committed
            problems = verify(resource.store(), args.data_year, settings.archive)
        print("\n".join(problems) if problems else f"data year {args.data_year}: published files intact")
        return EXIT_FAILED if problems else EXIT_OK
    busy = runs_in_progress(settings, args.data_year)
    if busy:
        print(f"etdz publish: data year {args.data_year} has a run queued or in progress (run {busy[0]}); nothing "
              f"was published. Wait for it to end (the UI's Runs page shows it; one whose process is gone: "
              f"terminate it there), check its results, then publish",
              file=sys.stderr)
        return EXIT_CANNOT_START
    from assets.queries import load_year_queries
    from etdz.queries import query_status

    queries = load_year_queries(settings, args.data_year)  # None without a portal database: no queries
    manifest = publish_year(resource.store(), resource.reports_url(args.data_year), args.data_year,
                            resource.catalogue(args.data_year), settings.registry, approved_by=args.approved_by,
                            note=args.note, lock_dir=resource.lock_dir(), queries=queries)
    if query_status(queries).answered:
        print(f"warning: data year {args.data_year} is published with review queries answered but not closed "
              f"({query_status(queries).describe()}): its results are not final until a reviewer closes them",
              file=sys.stderr)
    if manifest["results_status"] != "final":
        print(f"warning: data year {args.data_year} is published with provisional results "
              f"(a due zone has no accepted submission)", file=sys.stderr)
    print(f"data year {args.data_year} published: {len(manifest['datasets'])} datasets, "
          f"{len(manifest['reports']['files'])} report files, {len(manifest['submission_files'])} submission files, "
          f"catalogue {manifest['catalogue']['version']}; manifest in "
          f"{manifest_url(resource.store(), args.data_year)}")
    return EXIT_OK


class _QuietReports(SimpleHTTPRequestHandler):
    """The reports, read-only: no folder listings, no staged or hidden files, nothing outside the reports folder
    (``..``, a symlink pointing out): each answered 404, as a file that does not exist."""

    def log_message(self, format: str, *args) -> None:
        pass  # the UI's console is for Dagster; a line per report request would drown it

    def send_head(self):
        if report_file(self.directory, urlsplit(self.path).path) is None:  # the rule's one home: ui_front
            self.send_error(HTTPStatus.NOT_FOUND, "File not found")
            return None
        return super().send_head()

    def list_directory(self, path):
        self.send_error(HTTPStatus.NOT_FOUND, "File not found")  # a folder without index.html is not listed
        return None


def serve_reports(folder: str, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``folder`` (the reports) read-only over HTTP on ``host:port`` in a background thread."""
    server = ThreadingHTTPServer((host, port), partial(_QuietReports, directory=folder))
    threading.Thread(target=server.serve_forever, name="etdz-reports", daemon=True).start()
    return server


@dataclass
class UiProcesses:
    """What `etdz ui` starts, in order: the code server, then the webserver and the daemon, which both load the
    code location from it (``workspace``) — and their environment."""

    code_server: list[str]
    webserver: list[str]
    daemon: list[str]
    env: dict[str, str]
    socket: Path
    workspace: Path

    def start(self, webserver: bool = True, **popen) -> list[subprocess.Popen]:
        """Start the code server, wait until it serves (its socket exists: the code is loaded), then the
        webserver (unless ``webserver=False``) and the daemon; each in its own process group, in DAGSTER_HOME.
        Raises UsageError if the code server ends or is not up within 180 s."""
        first = subprocess.Popen(self.code_server, env=self.env, cwd=self.env["DAGSTER_HOME"],
                                 start_new_session=True, **popen)
        deadline = time.monotonic() + 180
        while not self.socket.exists():
            if first.poll() is not None or time.monotonic() > deadline:
                stop_process_group(first)
                raise UsageError(f"the code server did not start (exit {first.returncode}): the code location "
                                 f"pipelines.definitions could not be loaded; its error is above")
            time.sleep(0.1)
        return [first] + [subprocess.Popen(cmd, env=self.env, cwd=self.env["DAGSTER_HOME"], start_new_session=True,
                                           **popen) for cmd in ([self.webserver] if webserver else []) + [self.daemon]]


def ui_commands(settings: Settings, host: str, port: int) -> UiProcesses:
    """The processes `etdz ui` starts and their environment: this configuration.

    Three, as Dagster's deployment guide has them: one code server (`dagster code-server start`) that loads the
    code location once, and the webserver and the daemon reading it over a unix socket. Without it each of the
    two starts its own code server, and the daemon starts a new one every 60 s (Dagster's workspace refresh),
    re-importing the code each time and leaving the old one to log "No heartbeat received in 20 seconds,
    shutting down" once a minute. The webserver is Dagster's app behind our front layer
    (:mod:`pipelines.ui_front`). All run in DAGSTER_HOME with ``PYTHONSAFEPATH=1``, so nothing in the caller's
    folder (a stray ``gql.py``) is ever imported. The socket lives in a private folder of its own (a unix
    socket's path has at most 107 bytes, DAGSTER_HOME may be longer); the caller removes it.
    """
    import tempfile

    from pipelines.origin import code_server_command, workspace_yaml  # Dagster: imported by the commands that use it

    home = ensure_dagster_home(settings.dagster_home)
    socket = Path(tempfile.mkdtemp(prefix="etdz-ui-")) / "code.sock"
    workspace = home / "workspace.yaml"
    workspace.write_text(workspace_yaml(str(socket)), encoding="utf-8")
    env = {**os.environ, "ETDZ_HOME": settings.home, "DAGSTER_HOME": str(home),
           "ETDZ_UI_HOST": host, "ETDZ_UI_PORT": str(port), "PYTHONSAFEPATH": "1"}
    if settings.config_file:
        env["ETDZ_CONFIG"] = settings.config_file
    daemon = Path(sys.executable).with_name("dagster-daemon")  # the console script beside this interpreter
    return UiProcesses(
        code_server=code_server_command(str(socket)),
        webserver=[sys.executable, "-m", "pipelines.ui_front", "-w", str(workspace), "-h", host, "-p", str(port)],
        daemon=[str(daemon) if daemon.exists() else "dagster-daemon", "run", "-w", str(workspace)],
        env=env, socket=socket, workspace=workspace)


def stop_process_group(proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGTERM to the process's group (it and what it started), SIGKILL after ``timeout`` seconds."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=timeout)


def check_ui_host(settings: Settings, host: str) -> None:
    """Loopback only, unless an authenticating reverse proxy with TLS is in front (``ui_behind_auth_proxy``):
    the UI has no sign-in of its own, so anyone who reaches it can run, delete and wipe. Else exit 2."""
    if host in LOOPBACK or settings.ui_behind_auth_proxy:
        return
    raise UsageError(f"the UI listens on loopback only ({', '.join(LOOPBACK)}); {host!r} is refused because the "
                     f"Dagster UI has no sign-in: anyone reaching it could launch and delete runs. Put a reverse "
                     f"proxy with TLS and sign-in in front (docs/operations.md) and set ui_behind_auth_proxy = true "
                     f"(ETDZ_UI_BEHIND_AUTH_PROXY=true), or use --host 127.0.0.1")


def check_ports(host: str, ports: list[int]) -> None:
    """Refuse (exit 2) before anything starts when a port `etdz ui` needs is taken or the address is not this
    machine's: the message names the port and what to do, instead of a webserver's traceback."""
    import socket

    for port in ports:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}: {exc.strerror or exc}; give --host an address of this "
                             f"machine (e.g. 127.0.0.1)") from None
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers themselves bind
            try:
                probe.bind(address)
            except OSError as exc:
                what = "is already in use (another etdz ui, or another program)" if exc.errno == errno.EADDRINUSE \
                    else f"cannot be used ({exc.strerror or exc})"
                raise UsageError(f"port {port} on {host} {what}; stop that program, or choose other ports with "
                                 f"--port N (the UI uses N, the reports N + 1)") from None


def cmd_ui(args: argparse.Namespace) -> int:
    """The Dagster UI with its daemon (schedule, sensor, automation) on this configuration, and the reports."""
    settings = settings_for(args)
    host, port = args.host or settings.ui_host, args.port or settings.ui_port
    check_ui_host(settings, host)
    check_ports(host, [port] + ([reports_port(port)] if is_local(settings.reports) else []))
    ui = ui_commands(settings, host, port)
    server = None
    reports = local_path(settings.reports)
    if reports is not None:
        reports.mkdir(parents=True, exist_ok=True)
        server = serve_reports(str(reports), host, reports_port(port))
        print(f"etdz ui: reports at http://{host}:{reports_port(port)}/", flush=True)
    print(f"etdz ui: Dagster UI at http://{host}:{port} (code server, webserver and daemon; Ctrl-C stops them)",
          flush=True)
    # SIGTERM (a service manager, a test's teardown) ends Dagster too, like Ctrl-C: through the `finally` below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(EXIT_OK))
    procs: list[subprocess.Popen] = []
    try:
        procs = ui.start()
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
        return next(p.returncode for p in procs if p.returncode is not None) or EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_OK
    finally:
        for p in reversed(procs):  # the daemon and the webserver first, the code server they read last
            stop_process_group(p)
        shutil.rmtree(ui.socket.parent, ignore_errors=True)
        if server is not None:
            server.shutdown()


def build_full_parser() -> argparse.ArgumentParser:
    """Every command: :func:`etdz.cli.build_parser`'s and the Dagster ones."""
    parser, sub = build_parser()
    p = sub.add_parser("run", help="materialise every asset of a data year (or a range), as Dagster runs")
    p.add_argument("--data-year", type=data_year)
    p.add_argument("--from", dest="year_from", type=data_year)
    p.add_argument("--to", dest="year_to", type=data_year)
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
    p.add_argument("--from", dest="year_from", type=data_year, default=2018)
    p.add_argument("--to", dest="year_to", type=data_year, default=2023)
    p.add_argument("--seed", type=int, default=20240101)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("ui", help="start the Dagster UI and daemon on this configuration and serve the reports")
    p.add_argument("--host", help="address to listen on (default: the configuration's ui_host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="the UI's port (default: ui_port, 3000); the reports use the next one")
    p.set_defaults(func=cmd_ui)
    p = sub.add_parser("publish", help="freeze an approved data year: manifest of every output, file used and "
                                       "catalogue")
    p.add_argument("--data-year", type=data_year, required=True)
    p.add_argument("--approved-by", help="who approved the results (default: the current user)")
    p.add_argument("--note", help="free text recorded with the publication")
    p.add_argument("--verify", action="store_true", help="check the published files are unchanged instead")
    p.set_defaults(func=cmd_publish)
    from portal.cli import add_commands  # the parser only: Django is imported when a portal command runs

    add_commands(sub)
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
