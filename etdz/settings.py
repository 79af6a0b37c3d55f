"""Where things are: every location comes from an environment variable with a demo default."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from etdz.catalogue import SHIPPED_DIR
from etdz.errors import ConfigurationError
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
        )


def _megabytes(value: str | None, default: float) -> int:
    """``ETDZ_MAX_FILE_MB`` (a number of MB, default 20) in bytes."""
    try:
        mb = float(value) if value not in (None, "") else default
    except ValueError:
        raise ConfigurationError(f"ETDZ_MAX_FILE_MB must be a number of megabytes, found {value!r}") from None
    if mb <= 0:
        raise ConfigurationError(f"ETDZ_MAX_FILE_MB must be > 0, found {value!r}")
    return int(mb * 1024 * 1024)
