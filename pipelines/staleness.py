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

#: why a year is behind, when its own inbox got a new recorded state
INBOX_CHANGED = "its inbox changed"


def earlier_year_changed(year: int) -> str:
    """Why ``year`` is behind when its previous year was re-run after its own last run (it names that year)."""
    return (f"data year {int(year) - 1} changed after this year's last run (its growth indicators, previous rank "
            f"and downgrade watch-list read {int(year) - 1})")


def _latest(instance: DagsterInstance, asset: str, year: int, observation: bool = False,
            before: float | None = None) -> float | None:
    records_filter = AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[str(year)],
                                        before_timestamp=before)
    fetch = instance.fetch_observations if observation else instance.fetch_materializations
    records = fetch(records_filter, limit=1).records
    return records[0].timestamp if records else None


def why_behind(instance: DagsterInstance, year: int, before: float | None = None) -> tuple[str, int | None] | None:
    """``(reason, earlier year)`` when ``year`` is behind its inputs as the event log stood at ``before`` (a
    timestamp; None: now), else None. The earlier year is the one whose re-run left ``year`` behind (None when
    its own inbox changed). A year with a recorded inbox state and no run yet is behind; a year never run is
    not behind for its previous year's sake (it has no files yet)."""
    ran = _latest(instance, "submission_log", year, before=before)
    inbox = _latest(instance, INBOX_KEY, year, observation=True, before=before)
    previous = _latest(instance, "measures", year - 1, before=before)
    if inbox is not None and (ran is None or inbox > ran):
        return INBOX_CHANGED, None
    if previous is not None and ran is not None and previous > ran:
        return earlier_year_changed(year), year - 1
    return None


def years_behind(instance: DagsterInstance, years: list[int]) -> dict[int, str]:
    """The years whose inbox changed, or whose previous year was re-run, since their last run (oldest first),
    each with the reason in words (:func:`why_behind`)."""
    out: dict[int, str] = {}
    for y in sorted(years):
        if behind := why_behind(instance, y):
            out[y] = behind[0]
    return out


def stale_assets(defs: Definitions, instance: DagsterInstance, years: list[int]) -> dict[int, list[str]]:
    """For each year, the assets the UI shows STALE (missing ones are not listed): what the UI's badges say, for
    tests and checks; `--stale` uses :func:`years_behind`."""
    from pipelines.dagster_private import stale_asset_keys

    out = {y: stale_asset_keys(defs, instance, str(y)) for y in years}
    return {y: keys for y, keys in out.items() if keys}
