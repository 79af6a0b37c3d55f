"""The ``etdz`` command's plain-Python half: the parser, the configuration, and the commands that need no Dagster.

The console script is :func:`pipelines.cli.entry`, which adds the commands that drive Dagster (``run``,
``demo``, ``ui``, ``publish``) to the parser built here; ``python -m etdz.cli`` offers the commands below
alone. Exit status of every command: 0 done (rejected files are results, not failures), 2 it could not
start (the message names the file or setting and what to do), 1 a run failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

# Native thread pools size themselves to the machine when numpy first loads: OpenBLAS maps a buffer per thread, and
# under a `ulimit -v` those maps fail and a run spun for ever in a BLAS thread start (deaf to SIGTERM). The scoring is
# pandas on small tables, so one thread each, set here — the console script's first import of etdz, before anything
# loads numpy; a value the operator set wins.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from etdz.settings import ConfigError, Settings, write_config  # noqa: E402 - after the thread defaults

EXIT_OK, EXIT_FAILED, EXIT_CANNOT_START = 0, 1, 2


def data_year(text: str) -> int:
    """argparse ``type`` of ``--data-year``/``--from``/``--to``: a four-digit year (argparse then exits 2 with
    the message, never a traceback)."""
    value = text.strip()
    if not (value.isascii() and value.isdigit() and len(value) == 4 and 1900 <= int(value) <= 2999):
        raise argparse.ArgumentTypeError(f"{text!r} is not a data year: give the four digits of the year the figures "
                                         f"describe, e.g. 2023")
    return int(value)


def settings_for(args: argparse.Namespace) -> Settings:
    """The command's settings, loaded once, and the line saying which configuration they come from (stderr)."""
    settings = Settings.from_env()
    print(f"etdz {args.command}: {settings.describe()}", file=sys.stderr, flush=True)
    return settings


def cmd_init(args: argparse.Namespace) -> int:
    """Write ``$ETDZ_HOME/etdz.toml`` from the defaults and the current environment, unless one exists."""
    settings = Settings.from_env()
    written = write_config(settings)
    if written is None:
        print(f"etdz init: {settings.describe()} — kept as it is (edit it, or move it away to write a new one)")
        return EXIT_OK
    print(f"etdz init: wrote {written}; every etdz command and the Dagster UI read it. Settings:")
    for name in ("inbox", "warehouse", "reports", "archive", "registry", "methodology", "dagster_home"):
        print(f"  {name:13} {getattr(settings, name)}")
    return EXIT_OK


def cmd_template(args: argparse.Namespace) -> int:
    from etdz.catalogue import load_catalogues
    from etdz.registry import load_registry
    from etdz.template import write_template

    settings = settings_for(args)
    try:
        paths = write_template(args.out, args.data_year, load_catalogues(settings.methodology), zone=args.zone,
                               registry=load_registry(settings.registry))
    except ValueError as exc:
        print(f"etdz template: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    for p in paths:
        print(p)
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from etdz.checking import Checker
    from etdz.ingestion import validate_files

    settings = settings_for(args)
    # every check the run makes: Y−1 from the warehouse (or its inbox), the zone's accepted file from the inbox
    text, status = validate_files(args.files, checker=Checker(settings))
    print(text)
    return status


def cmd_reopen(args: argparse.Namespace) -> int:
    from etdz.commit import DeploymentLayout
    from etdz.escape import plain_text
    from etdz.publish import reopen_year
    from etdz.storage import Warehouse

    settings = settings_for(args)
    try:
        layout = DeploymentLayout(settings.warehouse, settings.reports, settings.dagster_home)
        event = reopen_year(Warehouse(settings.warehouse), args.data_year, args.reason, by=args.by,
                            lock_dir=layout.lock_dir())
    except ValueError as exc:
        print(f"etdz reopen: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    # the reason is recorded as given; printed, its control characters are made visible (they drive a terminal)
    print(f"data year {args.data_year} reopened by {plain_text(event['by'])} at {event['at']}: "
          f"{plain_text(event['reason'])}")
    return EXIT_OK


def build_parser() -> tuple[argparse.ArgumentParser, argparse._SubParsersAction]:
    """The parser with the plain-Python commands; :mod:`pipelines.cli` adds the Dagster ones."""
    parser = argparse.ArgumentParser(prog="etdz", description="The ETDZ assessment platform. Configuration: "
                                     "$ETDZ_HOME/etdz.toml (ETDZ_HOME defaults to ~/etdz), overridden by ETDZ_* "
                                     "variables. Exit status: 0 done, 2 cannot start, 1 a run failed.")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("init", help="write the configuration file $ETDZ_HOME/etdz.toml (only when there is none)")
    p.set_defaults(func=cmd_init)
    p = sub.add_parser("template", help="write the submission template (CSV and XLSX) of a data year")
    p.add_argument("--data-year", type=data_year, required=True)
    p.add_argument("--zone")
    p.add_argument("--out", default=".")
    p.set_defaults(func=cmd_template)
    p = sub.add_parser("validate", help="check submission files and print every problem (the warehouse is untouched)")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("reopen", help="unfreeze a published data year (the reason is recorded)")
    p.add_argument("--data-year", type=data_year, required=True)
    p.add_argument("--reason", required=True)
    p.add_argument("--by", help="who reopens it (default: the current user)")
    p.set_defaults(func=cmd_reopen)
    return parser, sub


def dispatch(args: argparse.Namespace, cannot_start: tuple[type[BaseException], ...] = ()) -> int:
    """Run the chosen command; an error that means "cannot start" (a broken catalogue, registry or
    configuration, a published year, a held lock, plus ``cannot_start``) prints its message and gives 2."""
    from etdz.catalogue import CatalogueError, MethodologyError
    from etdz.errors import EtdzError
    from etdz.locks import LockTimeout
    from etdz.publish import PublishedYearError
    from etdz.registry import RegistryError

    try:
        return args.func(args)
    except (ConfigError, CatalogueError, MethodologyError, RegistryError, PublishedYearError, LockTimeout,
            *cannot_start) as exc:
        print(f"etdz {args.command}: {exc}", file=sys.stderr)
        return EXIT_CANNOT_START
    except EtdzError as exc:  # a guard's refusal (2), a machinery failure (1): one plain message
        if getattr(args, "debug", False):
            raise
        print(f"etdz {args.command}: {exc}", file=sys.stderr)
        return exc.exit_code


def main(argv: list[str] | None = None) -> int:
    """``python -m etdz.cli``: the commands that need no Dagster."""
    parser, _ = build_parser()
    return dispatch(parser.parse_args(argv))


def config_home(home: str | None) -> Path:
    """The ETDZ_HOME a command that writes one (`etdz demo --home`) works in: the option, else the setting."""
    return Path(home).expanduser().resolve() if home else Path(Settings.from_env().home)


if __name__ == "__main__":
    sys.exit(main())
