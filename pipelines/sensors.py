"""The inbox sensor: once a year's folder is stable after a change, record the change — nothing else.

A folder counts as stable when two ticks in a row see the same digest (names, sizes, modification
times), so a file still being copied is not read half-written. The cursor holds, per year, the digest
last recorded and the one seen on the previous tick; with no cursor, the digests last recorded in the
instance (by `etdz run` or earlier ticks) stand in, so a freshly started sensor does not record again
what is already recorded, and `etdz run` followed by the sensor never runs a year twice on one inbox
state. Each recorded change is an observation of the ``inbox`` source asset with the digest as its data
version: the UI then shows the year stale, and the job's automation condition (pipelines/jobs.py, evaluated
by the ``annual_automation`` sensor) runs the year, then every later year in order. An inbox that returns
to an earlier state (a file added, then withdrawn) is a new observation and runs again. A published year's
changes are not recorded (reopen it first).

The sensor requests no runs: which year runs when is the automation condition's alone (one home for the
rule; `etdz run --stale` applies the same triggers from the command line, pipelines/staleness.py).
"""

from __future__ import annotations

import json
from pathlib import Path

from dagster import DefaultSensorStatus, ResourceParam, SensorEvaluationContext, SensorResult, SkipReason, sensor

from assets.resource import EtdzResource
from etdz.inbox_state import InboxFolderRefused, inbox_years, listing_digest, scan_inbox
from etdz.publish import blocked_by_publication, is_published
from etdz.reports import fictitious
from pipelines.observations import inbox_observation, last_observed_digest


def build_inbox_sensor(partitions_def, interval_seconds: int = 30, demo: bool = False):
    """The sensor observing the inbox folders every ``interval_seconds`` (``poll_seconds``)."""

    @sensor(
        name="inbox_sensor",
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,  # safe: it starts from the recorded digests
        description=fictitious.describe(
            "Records a data year's inbox when a file was added to, replaced in or removed from its folder and "
            "the folder is stable; the job's automation then runs the year and the later ones.", demo),
    )
    def inbox_sensor(context: SensorEvaluationContext, resource: ResourceParam[EtdzResource]):
        cursor: dict[str, dict] = json.loads(context.cursor) if context.cursor else {}
        keys = set(partitions_def.get_partition_keys())
        events, notes = [], []
        for year in inbox_years(resource.settings.inbox):
            if str(year) not in keys:
                continue
            if not isinstance(cursor.get(str(year)), dict):
                cursor.pop(str(year), None)  # a cursor of an earlier release (one digest per year)
            try:
                entries = scan_inbox(Path(resource.settings.inbox) / str(year))  # listed once: the digest and the count
            except InboxFolderRefused as exc:  # a linked year folder: said on the tick, the other years go on
                notes.append(f"{year}: {exc}")
                continue
            digest = listing_digest(entries)
            state = cursor.get(str(year)) or {"recorded": last_observed_digest(context.instance, year)}
            if digest == state.get("recorded"):
                state.pop("seen", None)
            elif digest != state.get("seen"):
                state["seen"] = digest  # changed since the last tick: wait until it stays the same
            elif digest == last_observed_digest(context.instance, year):
                state = {"recorded": digest}  # `etdz run` recorded this state itself (and ran the year on it)
            elif event := is_published(resource.store(), year):
                notes.append(blocked_by_publication(year, event, "its inbox changed"))
            else:
                events.append(inbox_observation(year, digest, len(entries)))
                state = {"recorded": digest}
            cursor[str(year)] = state
        cursor.pop("behind", None)  # kept by the sensor of an earlier release
        if notes:
            context.log.warning("; ".join(notes))
        text = json.dumps(cursor, sort_keys=True)
        if not events:
            reason = " | ".join(notes) or "no stable change in the inbox"
            return SensorResult(skip_reason=SkipReason(reason), cursor=text)
        return SensorResult(asset_events=events, cursor=text)

    return inbox_sensor
