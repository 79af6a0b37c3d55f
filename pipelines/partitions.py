"""Data-year partitions (Dagster has no yearly class: a time window on 1 January, keyed ``%Y``).

The range is ``first_data_year`` … ``last_data_year`` (04-outputs.md §4.3), computed from the settings, the
catalogues and the date — never by listing the inbox or the warehouse at code load: a listing costs a
round trip per folder on every load of the code location (the webserver, the daemon, every run pod), and a
code server and a run pod that see different folders would disagree on the partitions.
"""

from __future__ import annotations

import datetime as dt

from dagster import TimeWindowPartitionsDefinition

from etdz.catalogue import Catalogue
from etdz.deadlines import deadline, parse_deadlines
from etdz.inbox_state import has_entries
from etdz.locations import is_local, local_path
from etdz.readiness import shanghai_today
from etdz.settings import Settings


def today() -> dt.date:
    """Today in Asia/Shanghai, where the deadlines are (a function, so a test can pin the calendar)."""
    return shanghai_today()


def last_year_due(on: dt.date, deadlines: dict[int, dt.date] | None = None) -> int:
    """The latest data year whose deadline has passed on ``on`` (a Shanghai date)."""
    year = on.year - 1  # year T's deadline falls in T + 1 or later: T = on.year has not passed
    while deadline(year, deadlines) >= on:
        year -= 1
    return year


def data_year_range(settings: Settings, catalogues: list[Catalogue], on: dt.date | None = None) -> tuple[int, int]:
    """``(first, last)`` data year of the partitions.

    First: ``first_data_year``, else the first year the catalogues cover. Last: ``last_data_year``, else the
    latest year whose deadline has passed, or a later year (up to the current one) whose inbox folder has a
    file — zones that send early get their year in the UI. That is a ``stat`` of at most two named folders
    and, for one that exists, a look for its first entry, never a listing of the inbox or the warehouse; an
    inbox on an object store is not looked at (set ``last_data_year`` there).
    """
    on = on or today()
    first = settings.first_data_year
    if first is None:
        first = min((c.year_from for c in catalogues), default=on.year - 1)
    last = settings.last_data_year
    if last is None:
        last = last_year_due(on, parse_deadlines(settings.deadlines))
        if is_local(settings.inbox):
            for year in range(on.year, last, -1):
                folder = local_path(settings.inbox) / str(year)
                if folder.is_dir() and has_entries(folder):  # an empty folder is no files
                    last = year
                    break
    return first, max(first, last)


def data_year_partitions(settings: Settings, catalogues: list[Catalogue],
                         on: dt.date | None = None) -> TimeWindowPartitionsDefinition:
    """Yearly partitions from :func:`data_year_range`'s first year to its last."""
    first, last = data_year_range(settings, catalogues, on)
    # end_offset=1: the current calendar year can be a partition too (its window has not closed yet); `end`
    # keeps every year after `last` out
    return TimeWindowPartitionsDefinition(cron_schedule="0 0 1 1 *", fmt="%Y", start=str(first), end=str(last + 1),
                                          end_offset=1)


def partition_years(partitions_def) -> list[int]:
    """The data years of the partitions, oldest first."""
    return [int(k) for k in partitions_def.get_partition_keys()]

