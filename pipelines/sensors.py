"""The inbox sensor: a new or replaced file in <inbox>/<Y>/ requests a run of year Y, once.

The cursor holds each year folder's digest (names, sizes, modification times). On the
first tick, with no cursor yet, the digests last recorded in the instance (by `etdz run`
or earlier ticks) stand in for it, so a freshly started sensor does not re-run years that
were already run on the same files. Every change is also recorded as an observation of
the `inbox` source asset, which is what turns that year's assets stale in the UI.
"""

from __future__ import annotations

import json
from pathlib import Path

from dagster import DefaultSensorStatus, RunRequest, SensorEvaluationContext, SensorResult, SkipReason, sensor

from etdz.inbox_state import folder_digest, inbox_files, inbox_years
from etdz.publish import is_published
from pipelines.observations import inbox_observation, last_observed_digest
from pipelines.resources import EtdzResource


def build_inbox_sensor(job, partitions_def, interval_seconds: int = 30):
    @sensor(
        name="inbox_sensor",
        job=job,
        minimum_interval_seconds=interval_seconds,
        default_status=DefaultSensorStatus.RUNNING,  # safe: the first tick starts from the recorded digests
        description="Requests a run for a data year when a submission file is added to or replaced in its inbox "
                    "folder.",
    )
    def inbox_sensor(context: SensorEvaluationContext, etdz: EtdzResource):
        cursor: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
        keys = set(partitions_def.get_partition_keys())
        requests, events, notes = [], [], []
        for year in inbox_years(etdz.inbox):
            if str(year) not in keys:
                continue
            folder = Path(etdz.inbox) / str(year)
            digest = folder_digest(folder)
            known = cursor.get(str(year)) or last_observed_digest(context.instance, year)
            cursor[str(year)] = digest
            if digest == known:
                continue
            events.append(inbox_observation(year, digest, len(inbox_files(folder))))
            if is_published(etdz.store(), year):
                notes.append(f"{year}: files changed but the year is published (reopen it to re-run)")
                continue
            requests.append(RunRequest(partition_key=str(year), run_key=f"inbox-{year}-{digest}",
                                       tags={"etdz/trigger": "inbox_sensor", "etdz/inbox_digest": digest}))
        if not requests and not events:
            return SensorResult(skip_reason=SkipReason("no new or replaced files"), cursor=json.dumps(cursor))
        if notes:
            context.log.warning("; ".join(notes))
        return SensorResult(run_requests=requests, asset_events=events, cursor=json.dumps(cursor, sort_keys=True))

    return inbox_sensor
