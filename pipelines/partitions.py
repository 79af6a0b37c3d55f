"""Data-year partitions (Dagster has no yearly class: a time window on 1 January, keyed ``%Y``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagster import TimeWindowPartitionMapping, TimeWindowPartitionsDefinition

from etdz.catalogue import Catalogue


def data_year_partitions(catalogues: list[Catalogue], inbox: str | None = None,
                         today: dt.date | None = None) -> TimeWindowPartitionsDefinition:
    """Yearly partitions from the first catalogue year to the latest year anyone could run.

    The range is derived, not hard-coded, so a catalogue or an inbox folder for any
    year (past or future) has its partition: start = the earliest catalogue or inbox
    year; end = the latest of this year, the inbox years and the closed catalogue ends.
    """
    today = today or dt.date.today()
    years = [c.year_from for c in catalogues] + [c.year_to for c in catalogues if c.year_to]
    if inbox and "://" not in inbox and Path(inbox).is_dir():
        years += [int(p.name) for p in Path(inbox).iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 4]
    first = min(years) if years else today.year - 1
    last = max(years + [today.year])
    return TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", fmt="%Y", start=str(first), end=str(last + 1))


def previous_years(n: int) -> TimeWindowPartitionMapping:
    """Year Y depends on Y−n … Y (n ≥ 1); years before the first partition simply do not exist."""
    return TimeWindowPartitionMapping(start_offset=-n, end_offset=0, allow_nonexistent_upstream_partitions=True)


def earlier_years(n: int) -> TimeWindowPartitionMapping:
    """Year Y depends on Y−n … Y−1 (a self-dependency on earlier years of the same asset)."""
    return TimeWindowPartitionMapping(start_offset=-n, end_offset=-1, allow_nonexistent_upstream_partitions=True)
