"""Recording the inbox's state in the Dagster instance (used by `etdz run`, the sensor and the schedule).

The state is etdz/inbox_state.py's digest: an observation of the ``inbox`` asset records it when a run is
requested, and every run carries it in its :data:`DIGEST_TAG`, so the instance tells which inbox state the
year's datasets were written from."""

from __future__ import annotations

from dagster import AssetKey, AssetObservation, AssetRecordsFilter, DagsterInstance

from assets.inbox import INBOX_KEY
from pipelines.dagster_private import DATA_VERSION_TAG

#: the run tag holding the digest of the inbox folder the run reads (command-line, sensor and schedule runs)
DIGEST_TAG = "etdz/inbox_digest"


def inbox_observation(data_year: int, digest: str, files: int) -> AssetObservation:
    return AssetObservation(asset_key=INBOX_KEY, partition=str(int(data_year)), tags={DATA_VERSION_TAG: digest},
                            metadata={"files": files, "digest": digest})


def last_observed_digest(instance: DagsterInstance, data_year: int) -> str | None:
    """The inbox digest last recorded for a year, or None."""
    records = instance.fetch_observations(
        AssetRecordsFilter(asset_key=AssetKey(INBOX_KEY), asset_partitions=[str(int(data_year))]), limit=1).records
    if not records:
        return None
    obs = records[0].event_log_entry.asset_observation
    return obs.tags.get(DATA_VERSION_TAG) if obs and obs.tags else None


def ingested_digest(instance: DagsterInstance, data_year: int) -> str | None:
    """The inbox digest of the run that wrote the year's ``submission_log`` last (its :data:`DIGEST_TAG`), or
    None: the inbox state the year's ingestion — and a refusal at its scoring step — was made from."""
    records = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey("submission_log"), asset_partitions=[str(int(data_year))]),
        limit=1).records
    if not records:
        return None
    run = instance.get_run_by_id(records[0].run_id)
    if run is None:
        return None
    if DIGEST_TAG in run.tags:
        return run.tags[DIGEST_TAG]
    # a run launched by the automation carries no digest: it read the inbox as last observed before it started
    before = instance.fetch_observations(
        AssetRecordsFilter(asset_key=AssetKey(INBOX_KEY), asset_partitions=[str(int(data_year))],
                           before_timestamp=records[0].timestamp), limit=1).records
    obs = before[0].event_log_entry.asset_observation if before else None
    return obs.tags.get(DATA_VERSION_TAG) if obs and obs.tags else None
