"""The yearly job: every asset of one data year, in one process.

The in-process executor is deliberate: the multiprocess default re-imports the
code location (pandas, pyarrow, Great Expectations) for every step, which costs
seconds per step for no parallelism gain on a per-year graph this small.
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job, in_process_executor

from etdz.reports import fictitious

ANNUAL_JOB = "annual_assessment"


def build_annual_job(partitions_def, demo: bool = False):
    return define_asset_job(
        ANNUAL_JOB,
        selection=AssetSelection.all(),
        partitions_def=partitions_def,
        executor_def=in_process_executor,
        description=fictitious.describe("Ingest, validate, score, rank and report one data year.", demo),
    )
