"""Scoring assets: indicator scores, bounds, category scores, rankings, watch-list, upgrade candidates
(group ``scoring``).

The cross-year lineage is declared as partition mappings so the UI shows it: the
year's growth indicators read the measures of Y−1, and the rankings (previous rank,
downgrade window) read the rankings of the earlier years in the widest window any
catalogue declares.
"""


import pandas as pd
from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    DataVersion,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    multi_asset,
)

from assets.mappings import earlier_years, previous_years
from assets.metadata import dataset_metadata, table_version
from assets.resource import EtdzResource
from etdz import schemas
from etdz.catalogue import catalogue_for_year
from etdz.deadlines import parse_deadlines
from etdz.escape import markdown_frame
from etdz.readiness import ALLOW_TAG, check_ready, year_readiness
from etdz.scoring import score_year
from etdz.scoring.inputs import load_year_inputs

OWNERS = ["team:data-engineering"]
KEYS = {name: AssetKey(name) for name in ("indicator_scores", "indicator_bounds", "category_scores", "rankings",
                                          "downgrade_watchlist", "upgrade_candidates")}

DESCRIPTIONS = {
    "indicator_scores": "Every cohort zone × indicator: value, status (ok / missing / no_base), normalised score "
                        "0–100, whether imputed, better than the national / regional average "
                        "(docs/contract/03-scoring.md §3.1–3.5).",
    "indicator_bounds": "Per indicator: the bounds L and U used for clipping and scaling, mean(F) and the no_base "
                        "median (§3.2) — everything needed to re-derive a score.",
    "category_scores": "Every cohort zone × category: weighted category score and its national rank (§3.3–3.4).",
    "rankings": "The national ranking of the data year: total score, national / regional / provincial ranks, "
                "previous rank and change, top lists, better-than-average counts, downgrade and summons flags "
                "(§3.4–3.6).",
    "downgrade_watchlist": "Downgrade candidates under the catalogue's rule (regional_bottom or national_consecutive), "
                           "with their bottom years, mean score and rank within the region (§3.6).",
    "upgrade_candidates": "Provincial zones with an accepted submission, scored on the national cohort's bounds, with "
                          "their candidate rank and equivalent national rank (§3.7).",
}


def build_scoring_assets(partitions_def, years_back: int, code_version: str):
    """The ``scores`` multi-asset; ``rankings`` depends on its own ``years_back`` earlier partitions
    (:func:`etdz.scoring.downgrade.years_back`: the widest downgrade window and the previous rank)."""
    specs = []
    for name, key in KEYS.items():
        deps: list = [AssetDep("measures", partition_mapping=previous_years(1)), AssetKey("submission_log")]
        if name == "rankings":
            deps.append(AssetDep(key, partition_mapping=earlier_years(years_back)))
        specs.append(AssetSpec(key, group_name="scoring", owners=OWNERS, kinds={"parquet", "pandas"},
                               description=DESCRIPTIONS[name], deps=deps, code_version=code_version))

    @multi_asset(name="scores", specs=specs, partitions_def=partitions_def, can_subset=False,
                 description="Score and rank the data year exactly as docs/contract/03-scoring.md says.")
    def scores(context: AssetExecutionContext, resource: ResourceParam[EtdzResource]):
        year = int(context.partition_key)
        with resource.writing(year):
            catalogues = resource.catalogues()  # parsed once per step
            catalogue = catalogue_for_year(catalogues, year)
            registry = resource.load_registry()
            store = resource.store()
            # 04 §4.3: rank only when enough due zones have an accepted file; the ingestion before this step
            # is committed either way, and raising here writes nothing of this step or the ones after it
            log = store.read("submission_log", year)
            settings = resource.settings
            readiness = year_readiness(year, registry, None if log is None else log.to_pandas(),
                                       settings.min_share_to_rank, parse_deadlines(settings.deadlines))
            forced = check_ready(readiness, context.run.tags.get(ALLOW_TAG, "").lower() == "true")
            if forced:
                context.log.warning(f"data year {year}: {readiness.provisional_note()}")
            result = score_year(load_year_inputs(
                store, year, catalogue, registry, lambda: resource.previous_submissions(year, catalogues, registry)))
            top_lists = sorted({m for c in catalogues for m in c.top_lists})
            for name, key in KEYS.items():
                df: pd.DataFrame = getattr(result, name)
                table = schemas.to_table(df, schemas.schema_for(name, top_lists))
                url = store.write(name, year, table)
                extra: dict = {"method_version": catalogue.version}
                if name == "rankings":
                    extra.update(_rankings_metadata(result.rankings, catalogue))
                    extra["readiness"] = readiness.counts()
                    extra["allow_incomplete"] = forced  # ranked below min_share_to_rank on the operator's word
                elif name == "downgrade_watchlist":
                    extra["preview"] = MetadataValue.md(markdown_frame(df.assign(
                        bottom_years=df.get("bottom_years", pd.Series(dtype=object)).map(
                            lambda ys: ",".join(map(str, ys)))), max_rows=50))
                elif name == "upgrade_candidates":
                    extra["preview"] = MetadataValue.md(markdown_frame(df, max_rows=50))
                yield MaterializeResult(asset_key=key, data_version=DataVersion(table_version(table)),
                                        metadata=dataset_metadata(table, url, extra))

    return [scores]


def _rankings_metadata(r: pd.DataFrame, catalogue) -> dict:
    cols = ["national_rank", "zone_code", "name_zh", "region", "total_score", "regional_rank", "rank_change"]
    return {
        "top30": MetadataValue.md(markdown_frame(r[cols], max_rows=30)),
        "zones_ranked": len(r),
        "results_status": r.results_status.iloc[0] if len(r) else "final",
        "no_valid_submission": int((r.submission_status != "accepted").sum()),
        "downgrade_candidates": int(r.downgrade_candidate.sum()),
        "summoned": int(r.summoned.sum()),
        "method_changed": bool(r.method_changed.iloc[0]) if len(r) else False,
        "catalogue": MetadataValue.path(catalogue.path),
    }
