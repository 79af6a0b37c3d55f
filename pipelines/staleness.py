"""Which data years are behind their inputs, by the triggers of the job's automation condition (for
`etdz run --stale`, the same rule from the command line when no daemon runs).

pipelines/jobs.py's :func:`~pipelines.jobs.annual_condition` runs year Y when, since Y's last run, its inbox
got a new recorded state (an observation of ``inbox`` Y) or the year before was re-run (``measures`` Y − 1
written). Here the same two facts are read from the instance's event log, through public APIs: a year is
behind when the latest of them is newer than its ``submission_log`` (the run's first write). The condition's
blocks (a run in progress, a failed run) are the daemon's business: a command someone types runs what it is
asked, and a failed year fails in front of them.
"""

from __future__ import annotations

from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, Definitions

from assets.inbox import INBOX_KEY


def _latest(instance: DagsterInstance, asset: str, year: int, observation: bool = False) -> float | None:
    records_filter = AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[str(year)])
    fetch = instance.fetch_observations if observation else instance.fetch_materializations
    records = fetch(records_filter, limit=1).records
    return records[0].timestamp if records else None


def years_behind(instance: DagsterInstance, years: list[int]) -> dict[int, str]:
    """The years whose inbox changed, or whose previous year was re-run, since their last run (oldest first),
    each with the reason in words. A year with a recorded inbox state and no run yet is behind too; a year
    never run is not behind for its previous year's sake (it has no files yet)."""
    out: dict[int, str] = {}
    for y in sorted(years):
        ran = _latest(instance, "submission_log", y)
        inbox = _latest(instance, INBOX_KEY, y, observation=True)
        previous = _latest(instance, "measures", y - 1)
        if inbox is not None and (ran is None or inbox > ran):
            out[y] = "its inbox changed"
        elif previous is not None and ran is not None and previous > ran:
            out[y] = f"data year {y - 1}, which it reads, was re-run"
    return out


def stale_assets(defs: Definitions, instance: DagsterInstance, years: list[int]) -> dict[int, list[str]]:
    """For each year, the assets the UI shows STALE (missing ones are not listed): what the UI's badges say, for
    tests and checks; `--stale` uses :func:`years_behind`."""
    from pipelines.dagster_private import stale_asset_keys

    out = {y: stale_asset_keys(defs, instance, str(y)) for y in years}
    return {y: keys for y, keys in out.items() if keys}
