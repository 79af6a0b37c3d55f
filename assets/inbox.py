"""The inbox as an observable source asset: one data version per year folder.

Observing it (the sensor does on every tick, `etdz run` before every run, the UI's
"Observe sources" on demand) records the folder's digest; a new or replaced file
changes the digest, and Dagster then shows that year's ingestion assets as stale.
"""

from dagster import DataVersion, DataVersionsByPartition, ResourceParam, observable_source_asset

from assets.resource import EtdzResource
from etdz.inbox_state import folder_digest

INBOX_KEY = "inbox"


def build_inbox_asset(partitions_def):
    @observable_source_asset(
        name=INBOX_KEY,
        partitions_def=partitions_def,
        group_name="ingestion",
        owners=["team:data-engineering"],
        description="Submission files as received: <inbox>/<data_year>/*.csv|*.xlsx. Its data version per year is a "
                    "digest of the folder's file names, sizes and modification times.",
    )
    def inbox(context, resource: ResourceParam[EtdzResource]) -> DataVersionsByPartition:
        keys = context.partition_keys if context.has_partition_key_range or context.has_partition_key else \
            partitions_def.get_partition_keys()
        return DataVersionsByPartition({k: DataVersion(folder_digest(resource.inbox_dir(int(k)))) for k in keys})

    return inbox
