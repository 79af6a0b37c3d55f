"""The rank-robustness asset (group ``scoring``): how firm each zone's rank is (03-scoring.md §3.9)."""

import pandas as pd
from dagster import AssetExecutionContext, AssetKey, DataVersion, MaterializeResult, MetadataValue, ResourceParam, asset

from assets.metadata import dataset_metadata, table_version
from assets.resource import EtdzResource
from etdz import schemas
from etdz.catalogue import Catalogue
from etdz.escape import markdown_frame
from etdz.reports.robustness import varied
from etdz.scoring.robustness import load_robustness_inputs, rank_robustness

OWNERS = ["team:data-engineering"]
DESCRIPTION = ("Per cohort zone: its national rank against the ranks it gets under N sampled variants of what the "
               "year's method left unpublished (the catalogue's robustness section) — median rank and 90% interval, "
               "share of variants in the top 100, in its region's bottom n and on the downgrade watch-list "
               "(p_candidate: the window's earlier years as on record) (03-scoring.md §3.9).")


def build_robustness_assets(partitions_def, code_version: str):
    """The ``rank_robustness`` asset, one partition per data year, after the year's scores and rankings."""

    @asset(name="rank_robustness", partitions_def=partitions_def, group_name="scoring", owners=OWNERS,
           kinds={"parquet", "pandas"}, deps=[AssetKey("indicator_scores"), AssetKey("rankings")],
           code_version=code_version, description=DESCRIPTION)
    def rank_robustness_asset(context: AssetExecutionContext,
                              resource: ResourceParam[EtdzResource]) -> MaterializeResult:
        year = int(context.partition_key)
        with resource.writing(year):
            catalogue = resource.catalogue(year)
            store = resource.store()
            result = rank_robustness(load_robustness_inputs(store, year, catalogue))
            table = schemas.to_table(result, schemas.RANK_ROBUSTNESS)
            url = store.write("rank_robustness", year, table)
        return MaterializeResult(data_version=DataVersion(table_version(table)),
                                 metadata=dataset_metadata(table, url, _metadata(result, catalogue, year)))

    return [rank_robustness_asset]


def _metadata(r: pd.DataFrame, catalogue: Catalogue, year: int) -> dict:
    """Sizes, the settings, and the zones whose top-100, bottom-n or watch-list status depends on the
    unpublished choices."""
    settings = catalogue.robustness
    top_uncertain = (r.p_top100 > 0) & (r.p_top100 < 1)
    bottom_uncertain = (r.p_region_bottom > 0) & (r.p_region_bottom < 1)
    candidate_uncertain = (r.p_candidate > 0) & (r.p_candidate < 1)
    uncertain = r[top_uncertain | bottom_uncertain | candidate_uncertain]
    return {
        "method_version": catalogue.version,
        "zones": len(r),
        "samples": settings.samples,
        "seed": settings.seed if settings.seed is not None else year,
        "weights_spread": settings.weights,
        "category_weights_spread": settings.category_spread,
        "varied": ", ".join(varied(settings, catalogue)["items"]) or "nothing",
        "winsorise_options": str([list(o) if o else None for o in settings.winsorise_options]),
        "no_base_options": str(list(settings.no_base_options)),
        "top100_uncertain": int(top_uncertain.sum()),
        "region_bottom_uncertain": int(bottom_uncertain.sum()) if catalogue.downgrade else MetadataValue.null(),
        "candidate_uncertain": int(candidate_uncertain.sum()) if catalogue.downgrade else MetadataValue.null(),
        "uncertain_zones": MetadataValue.md(markdown_frame(uncertain[[
            "rank_nominal", "zone_code", "rank_median", "rank_p05", "rank_p95", "p_top100", "p_region_bottom",
            "p_candidate"]], max_rows=30)),
    }
