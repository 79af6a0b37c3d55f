"""Recording the inbox's state in the Dagster instance (used by `etdz run` and the sensor)."""

from __future__ import annotations

from dagster import AssetKey, AssetObservation, AssetRecordsFilter, DagsterInstance
from dagster._core.definitions.data_version import DATA_VERSION_TAG  # stable tag name since 1.2

from assets.inbox import INBOX_KEY


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
