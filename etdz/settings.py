"""One configuration for every ``etdz`` command and the Dagster code location.

Where each setting comes from, later sources winning:

1. the defaults: folders under ``ETDZ_HOME`` (default ``~/etdz``), the shipped registry and catalogues;
2. the configuration file ``$ETDZ_HOME/etdz.toml`` (or the file ``ETDZ_CONFIG`` names), which
   ``etdz init`` and ``etdz demo`` write when there is none;
3. the environment variables of :data:`VARIABLES` (``ETDZ_INBOX``, …, ``DAGSTER_HOME``).

:meth:`Settings.from_env` is the one loader; :meth:`Settings.describe` says which sources it read, and
every command prints that line. To add a setting: a field with its default below, its variable in
:data:`VARIABLES` and, when it is not a plain string, its parser in :data:`PARSERS`.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from etdz.catalogue import SHIPPED_DIR
from etdz.deadlines import parse_deadlines
from etdz.errors import EXIT_REFUSED, EtdzError
from etdz.locations import is_local
from etdz.readiness import DEFAULT_MIN_SHARE, min_share
from etdz.reading import DEFAULT_MAX_BYTES, DEFAULT_ROWS_PER_MEASURE
from etdz.registry import SHIPPED_REGISTRY

CONFIG_NAME = "etdz.toml"
MEBIBYTE = 1024 * 1024

# setting -> environment variable; the key in the file is the variable's name without ETDZ_, in lower case
VARIABLES: dict[str, str] = {
    "inbox": "ETDZ_INBOX",
    "warehouse": "ETDZ_WAREHOUSE",
    "reports": "ETDZ_REPORTS",
    "archive": "ETDZ_ARCHIVE",
    "registry": "ETDZ_REGISTRY",
    "methodology": "ETDZ_METHODOLOGY",
    "dagster_home": "DAGSTER_HOME",
    "max_file_bytes": "ETDZ_MAX_FILE_MB",
    "max_rows_per_measure": "ETDZ_MAX_ROWS_PER_MEASURE",
    "report_links_url": "ETDZ_REPORT_LINKS_URL",
    "ui_host": "ETDZ_UI_HOST",
    "ui_port": "ETDZ_UI_PORT",
    "deadlines": "ETDZ_DEADLINES",
    "poll_seconds": "ETDZ_POLL_SECONDS",
    "demo": "ETDZ_DEMO",
    "min_share_to_rank": "ETDZ_MIN_SHARE_TO_RANK",
    "first_data_year": "ETDZ_FIRST_DATA_YEAR",
    "last_data_year": "ETDZ_LAST_DATA_YEAR",
    # the submission portal (docs/contract/06-portal.md, portal/)
    "portal_database": "ETDZ_PORTAL_DATABASE",
    "approval_required": "ETDZ_APPROVAL_REQUIRED",
    "portal_host": "ETDZ_PORTAL_HOST",
    "portal_port": "ETDZ_PORTAL_PORT",
    "portal_lockout_seconds": "ETDZ_PORTAL_LOCKOUT_SECONDS",
    "portal_behind_tls_proxy": "ETDZ_PORTAL_BEHIND_TLS_PROXY",
}
# settings of earlier releases that are gone, and what replaced them: named in the error, never silently ignored
RETIRED: dict[str, str] = {
    "schedule_date": "the schedule now requests each data year on the day after its deadline (30 June of the next "
                     "year by default; set ETDZ_DEADLINES / `deadlines` to move it), so the date is no longer a "
                     "setting: remove it",
}
# settings that are locations: local paths become absolute, object-store URLs stay as they are
LOCATIONS = ("inbox", "warehouse", "reports", "archive", "registry", "methodology", "dagster_home")


class ConfigError(EtdzError, ValueError):
    """A configuration file or variable that cannot be read; the message names it and what to do (exit 2)."""

    exit_code = EXIT_REFUSED


def file_key(name: str) -> str:
    """The key of a setting in the configuration file (``ETDZ_MAX_FILE_MB`` -> ``max_file_mb``)."""
    return VARIABLES[name].removeprefix("ETDZ_").lower()


@dataclass(frozen=True)
class Settings:
    """Every location and option of one installation (see the module docstring for the sources)."""

    inbox: str
    warehouse: str
    reports: str
    archive: str
    registry: str
    methodology: str
    dagster_home: str
    max_file_bytes: int = DEFAULT_MAX_BYTES
    # a submission file may hold at most this many non-blank rows per measure of the year's catalogue
    max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE
    # where report links in the UI point: by default where `etdz ui` serves the reports (the port after the UI's);
    # empty for reports on an object store without one configured (the links are then the objects' URLs)
    report_links_url: str = ""
    ui_host: str = "127.0.0.1"
    ui_port: int = 3000
    deadlines: str = ""  # "2023=2024-05-15,…": per data year, when files become late (etdz.deadlines)
    poll_seconds: int = 30  # how often the daemon looks at the inbox and evaluates the automation conditions
    # a demo deployment (written by `etdz demo`): every page, sheet and UI description says the data are fictitious
    demo: bool = False
    # a year is scored only when at least this share of its due zones have an accepted file (etdz/readiness.py)
    min_share_to_rank: float = DEFAULT_MIN_SHARE
    # the data years the UI shows as partitions; None: computed (pipelines/partitions.py, never by listing folders)
    first_data_year: int | None = None
    last_data_year: int | None = None
    # the portal (06-portal.md): its database ("" = SQLite $ETDZ_HOME/portal/portal.sqlite3; postgresql://… otherwise)
    portal_database: str = ""
    approval_required: bool = False  # a submission reaches the inbox only once its province approves it (§6.2)
    portal_host: str = "127.0.0.1"
    portal_port: int = 8000
    portal_lockout_seconds: int = 900  # an account is locked this long after 5 failed logins (§6.4)
    portal_behind_tls_proxy: bool = False  # a reverse proxy with TLS is in front: binding beyond loopback is allowed
    # provenance, not settings: the ETDZ_HOME used, the file read ("" when there was none), the variables that won
    home: str = field(default="", compare=False)
    config_file: str = field(default="", compare=False)
    from_environment: tuple[str, ...] = field(default=(), compare=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Load the settings: defaults, then the configuration file, then the environment (``os.environ``)."""
        env = dict(os.environ if env is None else env)
        for name, why in RETIRED.items():
            if env.get(f"ETDZ_{name.upper()}"):
                raise ConfigError(f"ETDZ_{name.upper()} is a setting of an earlier release: {why} "
                                  f"(unset the variable).")
        home = Path(env.get("ETDZ_HOME") or default_home()).expanduser().resolve()
        path = config_path(env)
        from_file = read_config(path, named=bool(env.get("ETDZ_CONFIG")))
        base = path.parent
        raw: dict[str, tuple[str, Path]] = {}  # setting -> (text, folder a relative path is relative to)
        for name in VARIABLES:
            if file_key(name) in from_file:
                raw[name] = (str(from_file[file_key(name)]), base)
        overridden = []
        for name, var in VARIABLES.items():
            if env.get(var):
                raw[name] = (env[var], Path.cwd())
                overridden.append(var)

        def location(name: str, default: str) -> str:
            value, rel = raw.get(name, (default, Path.cwd()))
            if "://" in value:
                return value
            return str((rel / Path(value).expanduser()).resolve())

        warehouse = location("warehouse", str(home / "warehouse"))
        values: dict[str, object] = {
            "inbox": location("inbox", str(home / "inbox")),
            "warehouse": warehouse,
            "reports": location("reports", str(home / "reports")),
            "archive": location("archive", warehouse.rstrip("/") + "/_archive"),
            "registry": location("registry", str(SHIPPED_REGISTRY)),
            "methodology": location("methodology", str(SHIPPED_DIR)),
            "dagster_home": location("dagster_home", str(home / "dagster_home")),
        }
        for name in VARIABLES:
            if name in values or name not in raw:
                continue
            text, _ = raw[name]
            parse = PARSERS.get(name, str.strip)
            try:
                values[name] = parse(text)
            except ValueError as exc:
                where = VARIABLES[name] if VARIABLES[name] in overridden else f"{file_key(name)} in {path}"
                raise ConfigError(f"{where}: {exc}") from None
        first, last = values.get("first_data_year"), values.get("last_data_year")
        if first is not None and last is not None and last < first:
            raise ConfigError(f"last_data_year {last} is before first_data_year {first} ({path} or "
                              f"ETDZ_FIRST_DATA_YEAR / ETDZ_LAST_DATA_YEAR): the partitions run from the first to "
                              f"the last; correct one")
        if "report_links_url" not in values and is_local(str(values["reports"])):
            host = values.get("ui_host", Settings.ui_host)
            values["report_links_url"] = f"http://{host}:{reports_port(values.get('ui_port', Settings.ui_port))}"
        return cls(**values, home=str(home), config_file=str(path) if from_file or path.is_file() else "",
                   from_environment=tuple(overridden))

    def describe(self) -> str:
        """One line saying which configuration was read, for every command to print."""
        source = f"configuration {self.config_file}" if self.config_file else \
            f"no configuration file ({Path(self.home) / CONFIG_NAME} does not exist: defaults; `etdz init` writes one)"
        env = f"; from the environment: {', '.join(self.from_environment)}" if self.from_environment else ""
        return source + env


def default_home() -> Path:
    """``~/etdz``: where everything lives when ETDZ_HOME is not set (tests replace this function)."""
    return Path.home() / "etdz"


def config_path(env: Mapping[str, str] | None = None) -> Path:
    """The configuration file: ``ETDZ_CONFIG``, else ``$ETDZ_HOME/etdz.toml``."""
    env = os.environ if env is None else env
    if env.get("ETDZ_CONFIG"):
        if env["ETDZ_CONFIG"] == os.devnull:
            return Path(os.devnull)
        return Path(env["ETDZ_CONFIG"]).expanduser().resolve()
    return Path(env.get("ETDZ_HOME") or default_home()).expanduser().resolve() / CONFIG_NAME


def read_config(path: Path, named: bool = False) -> dict[str, object]:
    """The settings in a configuration file ({} when there is none); unknown keys are an error.

    ``named``: the file was named by ``ETDZ_CONFIG``, so it must exist (a typo there must not mean "the
    defaults": a run would then rewrite the year with the shipped registry); ``os.devnull`` names no file."""
    if named and str(path) == os.devnull:
        return {}
    if not path.is_file():
        if named:
            what = "is a folder, not a file" if path.is_dir() else "does not exist"
            raise ConfigError(f"ETDZ_CONFIG names {path}, which {what}; nothing was read or written. Correct "
                              f"ETDZ_CONFIG, or unset it to read {CONFIG_NAME} in ETDZ_HOME")
        return {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"configuration {path} is not valid TOML ({exc}); fix it or move it away and run "
                          f"`etdz init` to write a new one") from None
    for name, why in RETIRED.items():
        if name in data:
            raise ConfigError(f"configuration {path}: `{name}` is a setting of an earlier release: {why} (delete its "
                              f"line).")
    known = {file_key(n) for n in VARIABLES}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"configuration {path}: unknown setting(s) {', '.join(unknown)}; the known ones are "
                          f"{', '.join(sorted(known))}")
    return data


def write_config(settings: Settings, path: Path | None = None) -> Path | None:
    """Write ``settings`` as a configuration file unless one exists; returns the path written, or None.

    Every setting is in the file; those equal to their default (which follows ETDZ_HOME, the warehouse, the
    installed package) are written as comments, so they keep following it. The file is created exclusively:
    an existing configuration is never overwritten, not even by two commands at once.
    """
    path = Path(path or Path(settings.home) / CONFIG_NAME)
    path.parent.mkdir(parents=True, exist_ok=True)
    defaults = Settings.from_env({"ETDZ_HOME": settings.home, "ETDZ_CONFIG": os.devnull})  # no file, no variable
    lines = ["# ETDZ configuration, read by every `etdz` command and the Dagster code location.",
             "# The environment variable above each line overrides it; a commented line shows the default.", ""]
    for f in fields(Settings):
        if f.name not in VARIABLES:
            continue
        value = getattr(settings, f.name)
        shown = round(value / MEBIBYTE, 3) if f.name == "max_file_bytes" else value
        if shown is None:  # unset: computed; TOML has no null, so the line is a comment saying so
            lines += [f"# {VARIABLES[f.name]}", f"# {file_key(f.name)} = …  (unset: {UNSET[f.name]})"]
            continue
        # JSON string and number literals are valid TOML literals
        line = f"{file_key(f.name)} = {json.dumps(shown, ensure_ascii=False)}"
        lines += [f"# {VARIABLES[f.name]}", ("# " if value == getattr(defaults, f.name) else "") + line]
    try:
        with open(path, "x", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
    except FileExistsError:
        return None
    return path


def reports_port(ui_port: int) -> int:
    """The port ``etdz ui`` serves the reports on: the one after the Dagster UI's."""
    return int(ui_port) + 1


def _megabytes(value: str) -> int:
    """A number of MB (``ETDZ_MAX_FILE_MB``) in bytes."""
    try:
        mb = float(value)
    except ValueError:
        mb = math.nan
    if not math.isfinite(mb) or mb * MEBIBYTE < 1:
        raise ValueError(f"{value!r} is not a usable size: set it to a positive number of megabytes (the largest "
                         f"submission file that is read, e.g. 20 or 0.5), or remove it for the default 20")
    return int(mb * MEBIBYTE)


def _rows_per_measure(value: str) -> int:
    """``ETDZ_MAX_ROWS_PER_MEASURE``: a whole number ≥ 1."""
    try:
        n = int(value.strip())
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"{value!r} is not usable: set it to a whole number ≥ 1 (a submission file may hold that "
                         f"many non-blank rows per measure of the year's catalogue), or remove it for the default "
                         f"{DEFAULT_ROWS_PER_MEASURE}")
    return n


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise ValueError(f"a port must be a whole number, found {value!r}") from None
    if not 0 < port < 65535:
        raise ValueError(f"a port must be between 1 and 65534, found {value!r}")
    return port


def _seconds(value: str) -> int:
    try:
        seconds = int(value)
    except ValueError:
        raise ValueError(f"an interval must be a whole number of seconds, found {value!r}") from None
    if seconds < 1:
        raise ValueError(f"an interval must be at least 1 second, found {value!r}")
    return seconds


def _data_year(value: str) -> int:
    """``ETDZ_FIRST_DATA_YEAR`` / ``ETDZ_LAST_DATA_YEAR``: a four-digit year."""
    if not re.fullmatch(r"\s*\d{4}\s*", value):
        raise ValueError(f"{value!r} is not a data year: write four digits (e.g. 2018), or remove it to have the "
                         f"partitions' range computed")
    return int(value)


def _flag(value: str) -> bool:
    """A yes/no setting (``demo = true`` in the file, ``ETDZ_DEMO=1`` in the environment)."""
    text = str(value).strip().lower()
    if text in ("true", "1", "yes", "on"):
        return True
    if text in ("false", "0", "no", "off", ""):
        return False
    raise ValueError(f"{value!r} is not true or false (write true or false, or remove it for the default false)")


def _deadlines(value: str) -> str:
    """``ETDZ_DEADLINES`` as given, once checked: a malformed value fails here, before any run."""
    parse_deadlines(value)
    return value.strip()


# what an unset optional setting means (the comment `write_config` writes for it)
UNSET = {"first_data_year": "the first year of the catalogues",
         "last_data_year": "the latest year whose deadline has passed, or a later one with files in its inbox folder"}

PARSERS: dict[str, Callable[[str], object]] = {"max_file_bytes": _megabytes, "max_rows_per_measure": _rows_per_measure,
                                               "ui_port": _port, "portal_port": _port,
                                               "approval_required": _flag, "portal_behind_tls_proxy": _flag,
                                               "portal_lockout_seconds": _seconds,
                                               "deadlines": _deadlines, "poll_seconds": _seconds,
                                               "min_share_to_rank": min_share, "first_data_year": _data_year,
                                               "last_data_year": _data_year, "demo": _flag,
                                               "report_links_url": lambda v: v.strip().rstrip("/")}
