"""The yearly schedule: on a configurable date (default 1 March) request the previous data year.

Dagster's partitioned-schedule helper cannot move a yearly schedule off 1 January, so
this is a plain schedule returning a RunRequest for the partition (stack.md).
"""

from __future__ import annotations

import os
import re

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

DEFAULT_DATE = "03-01"  # MM-DD: zones have closed their annual statistics by then


def schedule_cron(date: str | None = None, hour: int = 6) -> str:
    """Cron for 06:00 on ``MM-DD`` (``ETDZ_SCHEDULE_DATE``, default 03-01)."""
    date = date or os.environ.get("ETDZ_SCHEDULE_DATE") or DEFAULT_DATE
    m = re.fullmatch(r"(\d{1,2})-(\d{1,2})", date.strip())
    if not m or not (1 <= int(m.group(1)) <= 12 and 1 <= int(m.group(2)) <= 31):
        raise ValueError(f"ETDZ_SCHEDULE_DATE must be MM-DD (e.g. 03-01), found {date!r}")
    return f"0 {hour} {int(m.group(2))} {int(m.group(1))} *"


def build_yearly_schedule(job, partitions_def, date: str | None = None):
    @schedule(
        name="yearly_assessment",
        cron_schedule=schedule_cron(date),
        job=job,
        execution_timezone="Asia/Shanghai",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Once a year (ETDZ_SCHEDULE_DATE, default 1 March, 06:00 Beijing time) run the data year that "
                    "has just closed: the year before the tick's.",
    )
    def yearly_assessment(context: ScheduleEvaluationContext):
        year = context.scheduled_execution_time.year - 1
        if str(year) not in partitions_def.get_partition_keys():
            return SkipReason(f"data year {year} is not a partition (no catalogue covers it?)")
        return RunRequest(partition_key=str(year), run_key=f"yearly-{year}",
                          tags={"etdz/trigger": "schedule"})

    return yearly_assessment
