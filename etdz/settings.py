"""Where things are: every location comes from an environment variable with a demo default."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from etdz.catalogue import SHIPPED_DIR
from etdz.reading import DEFAULT_ROWS_PER_MEASURE
from etdz.registry import SHIPPED_REGISTRY


@dataclass(frozen=True)
class Settings:
    inbox: str
    warehouse: str
    reports: str
    archive: str
    registry: str
    methodology: str
    dagster_home: str
    max_file_bytes: int = 20 * 1024 * 1024
    max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> "Settings":
        """Read ``ETDZ_*`` and ``DAGSTER_HOME``; unset variables fall back to folders under ``$ETDZ_HOME``."""
        env = dict(os.environ if env is None else env)
        home = Path(env.get("ETDZ_HOME") or Path.home() / "etdz").expanduser()
        warehouse = env.get("ETDZ_WAREHOUSE") or str(home / "warehouse")

        def local(key: str, default: Path | str) -> str:
            value = env.get(key) or str(default)
            # object-store URLs stay as they are; local paths become absolute so runs work from any directory
            return value if "://" in value else str(Path(value).expanduser().resolve())

        return cls(
            inbox=local("ETDZ_INBOX", home / "inbox"),
            warehouse=local("ETDZ_WAREHOUSE", warehouse),
            reports=local("ETDZ_REPORTS", home / "reports"),
            archive=local("ETDZ_ARCHIVE", warehouse.rstrip("/") + "/_archive"),
            registry=local("ETDZ_REGISTRY", SHIPPED_REGISTRY),
            methodology=local("ETDZ_METHODOLOGY", SHIPPED_DIR),
            dagster_home=local("DAGSTER_HOME", home / "dagster_home"),
            max_file_bytes=_megabytes(env.get("ETDZ_MAX_FILE_MB"), 20),
            max_rows_per_measure=_rows_per_measure(env.get("ETDZ_MAX_ROWS_PER_MEASURE")),
        )


class SettingsError(ValueError):
    """A setting whose value cannot be used; the message names the variable, the value found and what to do."""


def _megabytes(value: str | None, default: float) -> int:
    """``ETDZ_MAX_FILE_MB`` (a number of MB, default 20) in bytes."""
    try:
        mb = float(value) if value not in (None, "") else default
    except ValueError:
        mb = math.nan
    if not math.isfinite(mb) or mb <= 0 or mb * 1024 * 1024 < 1:
        raise SettingsError(f"ETDZ_MAX_FILE_MB={value!r} is not a usable size: set it to a positive number of "
                            f"megabytes (the largest submission file that is read, e.g. 20 or 0.5), or unset it "
                            f"for the default {default:g}")
    return int(mb * 1024 * 1024)


def _rows_per_measure(value: str | None) -> int:
    """``ETDZ_MAX_ROWS_PER_MEASURE``: a file may hold at most this many non-blank rows per catalogue measure."""
    if value in (None, ""):
        return DEFAULT_ROWS_PER_MEASURE
    try:
        n = int(value.strip())
    except ValueError:
        n = 0
    if n < 1:
        raise SettingsError(f"ETDZ_MAX_ROWS_PER_MEASURE={value!r} is not usable: set it to a whole number ≥ 1 (a "
                            f"submission file may hold that many non-blank rows per measure of the year's "
                            f"catalogue), or unset it for the default {DEFAULT_ROWS_PER_MEASURE}")
    return n
