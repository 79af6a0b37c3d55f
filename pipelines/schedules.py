"""The yearly schedule: on the configured date (``schedule_date``, default 1 March) request the previous data year.

Dagster's partitioned-schedule helper cannot move a yearly schedule off 1 January, so
this is a plain schedule returning a RunRequest for the partition (stack.md).
"""

from __future__ import annotations

from dagster import DefaultScheduleStatus, RunRequest, ScheduleEvaluationContext, SkipReason, schedule

from etdz.settings import Settings


def schedule_cron(date: str = Settings.schedule_date, hour: int = 6) -> str:
    """Cron for 06:00 on ``MM-DD`` (the settings' ``schedule_date``, already checked when loaded)."""
    month, day = (int(x) for x in date.split("-"))
    return f"0 {hour} {day} {month} *"


def build_yearly_schedule(job, partitions_def, date: str = Settings.schedule_date):
    @schedule(
        name="yearly_assessment",
        cron_schedule=schedule_cron(date),
        job=job,
        execution_timezone="Asia/Shanghai",
        default_status=DefaultScheduleStatus.RUNNING,
        description="Once a year (schedule_date, default 1 March, 06:00 Beijing time) run the data year that "
                    "has just closed: the year before the tick's.",
    )
    def yearly_assessment(context: ScheduleEvaluationContext):
        year = context.scheduled_execution_time.year - 1
        if str(year) not in partitions_def.get_partition_keys():
            return SkipReason(f"data year {year} is not a partition (no catalogue covers it?)")
        return RunRequest(partition_key=str(year), run_key=f"yearly-{year}",
                          tags={"etdz/trigger": "schedule"})

    return yearly_assessment
