"""The yearly job, and the rule by which Dagster's declarative automation runs it.

One run of :data:`ANNUAL_JOB` is every asset of one data year, in one process. The in-process executor is
deliberate: the multiprocess default re-imports the code location (pandas, pyarrow, Great Expectations) for
every step, which costs seconds per step for no parallelism gain on a per-year graph this small.

Propagation. Year Y + 1 reads year Y (growth, previous rank, the downgrade window: the ``measures`` self-edge
Y − 1 → Y), so a corrected file for 2021 must give runs of 2021, then 2022, then 2023 — one whole-job run per
year, each after the previous one ended. Asset-level conditions cannot give that here (a requested key is
mapped onto its execution set through its own partition mappings; ``any_deps_updated`` pulls the next year
into the same tick): the job carries a *job-scoped* condition instead,
``AutomationCondition.any_job_root_assets_match`` (Preview in Dagster 1.13; dagster is pinned in setup.py and
tests/pipelines/test_automation_daemon.py runs it under a real daemon). :func:`annual_condition` explains
each part. The condition is evaluated by the automation condition sensor :func:`build_automation_sensor`.

A partitioned job with an automation condition cannot be executed in-process by Dagster (its
``as_ephemeral_job`` passes the synthesized partitioned config back and the constructor rejects the pair), so
`etdz run` executes the *twin* :func:`build_annual_job` ``(automated=False)``: the same name, selection,
executor and partitions, without the condition. Its runs are runs of the same job for the UI and for the
automation (``in_progress`` and ``newly_updated`` are per asset partition, whatever run wrote it), and it
holds the year's lock (etdz/locks.py) for the whole run.
"""

from __future__ import annotations

from dagster import AssetSelection, AutomationCondition, DefaultSensorStatus, define_asset_job, in_process_executor

import pipelines.quiet  # noqa: F401 - first: the warnings of features used on purpose off
from etdz.reports import fictitious

#: on a command-line run of year Y whose command runs Y + 1 next (`etdz run --from A --to B`, pipelines/runs.py):
#: the automation does not start Y + 1 for Y's sake in the moment between the two runs, the command runs it
CLI_NEXT_TAG = "etdz/cli_runs_next"

ANNUAL_JOB = "annual_assessment"
#: the year's three reports alone, re-written when its review queries change (pipelines/review_sensor.py)
REPORTS_JOB = "year_reports"
REPORT_KEYS = ("national_report", "zone_cards", "rankings_workbook")
AUTOMATION_SENSOR = "annual_automation"
#: the asset whose inbox partition is the year's files (a source asset, observed by the inbox sensor)
_INBOX, _MEASURES, _RANKINGS, _LAST_STEP = "inbox", "measures", "rankings", "national_report"


def annual_condition() -> AutomationCondition:
    """True for a year when its inputs changed since its last run, and nothing forbids running it now.

    Triggers (each a separate ``since``: a combined ``(a | b).since(c | d)`` lost an update under the real
    daemon):

    - the year's ``inbox`` got a new data version (the inbox sensor observes a stable change);
    - ``measures`` of the year before was written (only the Y − 1 self-edge: a trigger on the rankings'
      window would start Y + 1 and Y + 2 in one tick) — for a year run before only: a year with no files
      yet (the partitions reach the latest year whose deadline passed) is not ranked empty.

    Both are reset by the year's own roots being updated (its run). Blocks, all needed for one run per year
    in order (asset records are prefetched at tick start, so "in progress" is read through the run's last
    step, ``national_report``):

    - a run that failed since the trigger (a refusal — readiness, a guard — or an error) is not retried
      until a new change: the UI shows why, the operator fixes it or runs the year by hand;
    - the year, the year before, or any earlier year its rankings read, in progress;
    - the year before failed (its results are not the ones this year should read).
    """
    ac, own = AutomationCondition, AssetSelection.assets
    inbox_changed = ac.any_deps_match(ac.newly_updated()).allow(own(_INBOX)).with_label("inbox changed")
    # not when the command line wrote it and runs this year next (`etdz run --from A --to B`: its tag
    # pipelines.tags.CLI_NEXT_TAG): else a tick between its two runs would start this year too
    previous_year_ran = ac.asset_matches(_MEASURES, ac.any_deps_match(
        ac.newly_updated() & ~ac.executed_with_tags(tag_keys={CLI_NEXT_TAG})).allow(own(_MEASURES))).with_label(
        "previous year written (not by a command that runs this year next)")
    # a year never run (no files yet: the partitions reach the latest year whose deadline passed) is not run
    # for its previous year's sake: only once its own files arrive
    pending = (inbox_changed.since(ac.newly_updated())
               | (previous_year_ran.since(ac.newly_updated()) & ~ac.missing().with_label("never run")))
    failed_since_trigger = ac.execution_failed().newly_true().since(inbox_changed | previous_year_ran)
    this_year_running = ac.asset_matches(_LAST_STEP, ac.in_progress())
    previous_year_running = ac.asset_matches(_MEASURES, ac.any_deps_match(
        ac.asset_matches(_LAST_STEP, ac.in_progress())).allow(own(_MEASURES)))
    earlier_year_scoring = ac.asset_matches(_LAST_STEP, ac.any_deps_match(ac.in_progress()).allow(own(_RANKINGS)))
    previous_year_failed = ac.asset_matches(_MEASURES, ac.any_deps_match(
        ac.asset_matches(_LAST_STEP, ac.execution_failed())).allow(own(_MEASURES)))
    root = (pending & ~failed_since_trigger.with_label("failed since the change")
            & ~ac.in_progress() & ~this_year_running.with_label("this year running")
            & ~previous_year_running.with_label("previous year running")
            & ~earlier_year_scoring.with_label("an earlier year it reads running")
            & ~previous_year_failed.with_label("previous year failed"))
    return ac.any_job_root_assets_match(root)


def build_annual_job(demo: bool = False, automated: bool = True):
    """The yearly job; ``automated=False``: its twin without the condition, for in-process runs (`etdz run`).

    Its partitions are the assets' data years: Dagster infers them from the selection (passing
    ``partitions_def`` is deprecated since 1.10). The job has no partitioned config on purpose: Dagster 1.13
    refuses a job with both an automation condition and partitioned run config (the automation submits its
    runs without resolving per-partition config or tags), so the year's tags are not set through
    ``tags_for_partition_key_fn``; pipelines/tags.py's :func:`~pipelines.tags.build_run_tags_sensor` completes
    them on every run instead.
    """
    return define_asset_job(
        ANNUAL_JOB,
        selection=AssetSelection.all(),
        executor_def=in_process_executor,
        description=fictitious.describe(
            "Ingest, validate, score, rank and report one data year. Run by automation when a year's inbox "
            "changed or the year before it was re-run.", demo),
        automation_condition=annual_condition() if automated else None,
    )


def build_reports_job(demo: bool = False):
    """The job of a year's three reports only (:data:`REPORT_KEYS`), without an automation condition.

    A job of its own rather than a run of :data:`ANNUAL_JOB` with an asset selection: Dagster 1.13.27 cannot
    subset a partitioned job that carries an automation condition (the subset job is built with the parent's
    synthesized partitioned config, and the constructor rejects the pair: "has both an automation_condition
    and partitioned run config"), so every such request failed in the daemon. The run queue's per-year limit
    (``dagster/partition``) holds for both jobs.
    """
    return define_asset_job(
        REPORTS_JOB,
        selection=AssetSelection.assets(*REPORT_KEYS),
        executor_def=in_process_executor,
        description=fictitious.describe(
            "Write one data year's national report, zone cards and ranking workbook again from its stored "
            "results. Run by the review_queries_sensor when a review query of the year was opened, answered or "
            "closed in the portal.", demo),
    )


def build_automation_sensor(interval_seconds: int = 30, demo: bool = False):
    """The sensor that evaluates :func:`annual_condition` (running by default: Dagster's own default sensor
    is off until someone turns it on in the UI, which nobody would know to do)."""
    from pipelines.dagster_private import job_automation_sensor
    from pipelines.tags import AUTOMATION, TRIGGER_TAG

    return job_automation_sensor(
        AUTOMATION_SENSOR, ANNUAL_JOB, minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING, run_tags={TRIGGER_TAG: AUTOMATION},
        description=fictitious.describe(
            "Runs a data year, one run at a time and oldest first, when its inbox changed (the inbox sensor "
            "records it) or the year before it was re-run; a failed or refused run is not retried until a new "
            "change.", demo))
