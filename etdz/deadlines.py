"""Submission deadlines and late files (docs/contract/04-outputs.md §4.1, ``submission_log.late``).

A data year's deadline is an Asia/Shanghai calendar date, inclusive: a file is *late* when the
Asia/Shanghai date of its ``received_at`` (the file's modification time) is after it. Late files are
accepted or rejected on their merits like any other; ``late`` only records the fact.

Default: 30 June of the following year. docs/contract/01-domain.md documents the ministry's cycle as "zones report
after their annual statistics close (first half of the following year); review runs in the second
half", so the end of the first half is the last day a file is still on time; an operator sets an
earlier (or later) date per year with ``ETDZ_DEADLINES`` (docs/operations.md, "Submission deadlines").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

import pandas as pd

TIMEZONE = "Asia/Shanghai"
_ITEM = re.compile(r"\s*(\d{4})\s*=\s*(\d{4}-\d{2}-\d{2})\s*")


def default_deadline(data_year: int) -> date:
    """30 June of ``data_year + 1``: the end of the half-year in which zones report (docs/contract/01-domain.md)."""
    return date(int(data_year) + 1, 6, 30)


def deadline(data_year: int, overrides: Mapping[int, date] | None = None) -> date:
    """The deadline of ``data_year``: the configured date when there is one, else :func:`default_deadline`."""
    return (overrides or {}).get(int(data_year)) or default_deadline(data_year)


def late_flags(received_at: pd.Series, data_year: int, overrides: Mapping[int, date] | None = None) -> pd.Series:
    """Per file, whether it was received after the year's deadline (Asia/Shanghai date, inclusive).

    ``received_at``: timezone-aware timestamps (naive ones are taken as UTC); an unknown time is not late."""
    ts = pd.to_datetime(received_at, utc=True)
    local_day = ts.dt.tz_convert(TIMEZONE).dt.date
    last = deadline(data_year, overrides)
    return pd.Series([d is not None and not pd.isna(d) and d > last for d in local_day], index=received_at.index,
                     dtype="bool")


def parse_deadlines(text: str | None) -> dict[int, date]:
    """``ETDZ_DEADLINES``: ``"2023=2024-05-15,2024=2025-05-31"`` (data year = last day, Asia/Shanghai) → dict.

    Raises ValueError naming the variable and the bad item, so a typo never silently moves a deadline."""
    out: dict[int, date] = {}
    for item in (text or "").split(","):
        if not item.strip():
            continue
        m = _ITEM.fullmatch(item)
        if not m:
            raise ValueError(f"ETDZ_DEADLINES: {item.strip()!r} is not DATA_YEAR=YYYY-MM-DD "
                             f"(e.g. ETDZ_DEADLINES=\"2023=2024-05-15,2024=2025-05-31\")")
        year = int(m.group(1))
        try:
            day = date.fromisoformat(m.group(2))
        except ValueError:
            raise ValueError(f"ETDZ_DEADLINES: {m.group(2)!r} (data year {year}) is not a calendar date") from None
        if day.year <= year:
            raise ValueError(f"ETDZ_DEADLINES: the deadline of data year {year} ({day}) must fall after that year "
                             f"(zones report once the year's statistics are closed)")
        if year in out:
            raise ValueError(f"ETDZ_DEADLINES: data year {year} is given twice")
        out[year] = day
    return out
