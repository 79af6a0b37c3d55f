"""What a correction changed: the ``ranking_changes`` asset (docs/contract/04-outputs.md §4.1; core in
``etdz/changes.py``)."""

from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    asset,
)

from assets.mappings import previous_years
from assets.metadata import dataset_metadata, table_version
from assets.resource import EtdzResource
from etdz.changes import biggest_moves, compare, load_change_inputs, status_flips, write_comparison
from etdz.escape import markdown_frame

OWNERS = ["team:analysis"]
DESCRIPTION = ("Which cohort zones' total score, national rank or list status moved since the year's last run with "
               "other inputs (the Y and Y−1 submissions, registry or catalogue), from what to what: the zone's files "
               "whose status changed (superseded, newly accepted, newly rejected), its own figures that differ "
               "(changed_measures, old → new in canonical units) and the lists it entered or left (status_changes: "
               "top 30, top 100, its region's top 10, the summons list, the watch-list). A re-run on the same "
               "inputs leaves it as it was; empty for a year's first run.")


def build_changes_asset(partitions_def, code_version: str):
    @asset(name="ranking_changes", partitions_def=partitions_def, group_name="scoring", owners=OWNERS,
           kinds={"parquet", "pandas"}, description=DESCRIPTION, code_version=code_version,
           deps=[AssetKey("rankings"), AssetDep("submission_log", partition_mapping=previous_years(1))])
    def ranking_changes(context: AssetExecutionContext, resource: ResourceParam[EtdzResource]) -> MaterializeResult:
        year = int(context.partition_key)
        with resource.writing(year):
            store = resource.store()
            result = compare(load_change_inputs(store, year, resource.catalogue(year), resource.load_registry()))
            table, url = write_comparison(store, year, result)
        changes = table.to_pandas()
        previous = changes.previous_run_at.iloc[0].isoformat() if len(changes) else None
        flips = status_flips(changes)
        return MaterializeResult(data_version=DataVersion(table_version(table)), metadata=dataset_metadata(table, url, {
            "changes": len(changes),
            "same_inputs": result.same_inputs,
            "previous_run_at": previous or "",
            "biggest_moves": MetadataValue.md(markdown_frame(biggest_moves(changes), max_rows=10)),
            "status_changes": len(flips),
            "status_flips": MetadataValue.md(markdown_frame(flips, max_rows=50)),
        }))

    return ranking_changes
