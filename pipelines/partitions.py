"""Data-year partitions (Dagster has no yearly class: a time window on 1 January, keyed ``%Y``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from dagster import TimeWindowPartitionsDefinition

from etdz.inbox_state import has_entries, inbox_years
from etdz.storage import Warehouse

# the datasets whose years say "results exist for Y" (every run writes both)
RESULT_DATASETS = ("submission_log", "rankings")


def next_scheduled_year(schedule_date: str, today: dt.date) -> int:
    """The data year the yearly schedule requests next: on ``MM-DD`` of year T it runs T − 1."""
    month, day = (int(x) for x in schedule_date.split("-"))
    return today.year - 1 if (today.month, today.day) <= (month, day) else today.year


def data_year_partitions(inbox: str, warehouse: str, schedule_date: str,
                         today: dt.date | None = None) -> TimeWindowPartitionsDefinition:
    """Yearly partitions from the first year with data to the year the schedule requests next.

    First: the earliest year with a folder in the inbox or results in the warehouse — not the oldest
    catalogue year, so the UI shows no years that can only ever read "Missing". Last: the year the
    schedule requests next, or a later inbox / warehouse year. With no data at all, that one year.
    """
    upcoming = next_scheduled_year(schedule_date, today or dt.date.today())
    years = {y for y in inbox_years(inbox) if has_entries(Path(inbox) / str(y))}
    store = Warehouse(warehouse)
    for name in RESULT_DATASETS:
        years.update(store.years(name))
    first = min(years | {upcoming})
    last = max(years | {upcoming})
    # end_offset=1: the current calendar year is a partition too (its window has not closed yet) when it is the
    # year the schedule requests next; `end` keeps every later year out
    return TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", fmt="%Y", start=str(first), end=str(last + 1),
                                          end_offset=1)
