"""Report assets: the national report, the zone report cards and the ranking workbook (group ``reports``)."""


from dagster import (
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    ResourceParam,
    multi_asset,
)

from assets.mappings import previous_years
from assets.metadata import report_location
from assets.queries import REVIEW_QUERIES_KEY, load_year_queries
from assets.resource import EtdzResource
from etdz.catalogue import catalogue_for_year
from etdz.deadlines import deadline, parse_deadlines
from etdz.history import all_rankings
from etdz.queries import LABELS, query_status, results_label, results_status_of
from etdz.reports import ReportInputs, ReportOutputs, write_year_reports

OWNERS = ["team:analysis"]
INPUTS = ("rankings", "category_scores", "indicator_scores", "indicator_bounds", "downgrade_watchlist",
          "upgrade_candidates", "submission_log", "submission_issues", "measures")
OPTIONAL = ("ranking_changes", "rank_robustness")  # read when the year has them


def build_report_assets(partitions_def, code_version: str):
    deps = [AssetKey(name) for name in INPUTS + OPTIONAL if name != "rankings"]
    # The cards' rank trends read the rankings of every year on record up to Y (all_rankings), so a corrected
    # early year must mark them stale: Y depends on every partition from the first one.
    n_years = len(partitions_def.get_partition_keys())
    deps.append(AssetDep("rankings", partition_mapping=previous_years(max(1, n_years - 1))))
    deps.append(AssetKey(REVIEW_QUERIES_KEY))  # a query opened, answered or closed refreshes them (06-portal.md §6.3)

    @multi_asset(
        name="reports",
        partitions_def=partitions_def,
        can_subset=False,
        specs=[
            AssetSpec("national_report", group_name="reports", owners=OWNERS, kinds={"html"}, deps=deps,
                      code_version=code_version,
                      description="national_report.html: the year at a glance — top 30, regional top 10s, "
                                  "single-item top lists, distributions, rank robustness, movers, changes since "
                                  "the previous run, watch-list, summons, upgrade candidates, data quality. Its "
                                  "results are called final (正式) only when results_status is final and no review "
                                  "query is open or answered-but-not-closed (metadata: results, open_queries)."),
            AssetSpec("zone_cards", group_name="reports", owners=OWNERS, kinds={"html"}, deps=deps,
                      code_version=code_version,
                      description="zones/<zone_code>.html: each ranked zone's result notice (结果通知书) with ranks, "
                                  "trend, how firm its rank is, category scores against the averages, every "
                                  "indicator, its downgrade risk and every target it cares about."),
            AssetSpec("rankings_workbook", group_name="reports", owners=OWNERS, kinds={"excel"}, deps=deps,
                      code_version=code_version,
                      description="rankings.xlsx for officials: national sheet, one per region, upgrade candidates."),
        ],
        description="Write the year's reports from the published datasets.",
    )
    def reports(context: AssetExecutionContext, resource: ResourceParam[EtdzResource]):
        year = int(context.partition_key)
        queries = load_year_queries(resource.settings, year)  # None without a portal database
        with resource.writing(year):
            out = write_reports(resource, year, queries)
            resource.publish_reports(year, "zones", delete_stale=True)  # object-store reports: upload
            resource.publish_reports(year)
        yield MaterializeResult(asset_key="national_report", metadata={
            "path": report_location(resource, year, "national_report.html"),
            "top30": MetadataValue.md(out.top30_markdown),
            **results_metadata(year_results_status(resource, year), queries),
            "seconds": round(out.seconds.get("national_report", 0.0), 3),
        })
        yield MaterializeResult(asset_key="zone_cards", metadata={
            "folder": report_location(resource, year, "zones"), "cards": out.cards,
            "seconds": round(out.seconds.get("cards", 0.0), 3),
        })
        yield MaterializeResult(asset_key="rankings_workbook", metadata={
            "path": report_location(resource, year, "rankings.xlsx"),
            "seconds": round(out.seconds.get("workbook", 0.0), 3),
        })

    return [reports]


def year_results_status(resource: EtdzResource, year: int) -> str:
    """``results_status`` of the year's rankings (04-outputs.md)."""
    table = resource.store().read("rankings", year)
    return results_status_of([] if table is None else table.column("results_status").to_pylist())


def results_metadata(results_status: str, queries: list[dict] | None) -> dict:
    """What the UI shows of a year's results: final only when no review query is open or answered-but-not-closed
    (etdz.queries), with the counts; without a portal database only results_status."""
    status = query_status(queries)
    zh, en = LABELS[results_label(results_status, status)]
    out = {"results": f"{zh} {en}"}
    if status.known:
        out.update({"review_queries": status.describe(), "open_queries": status.open,
                    "answered_queries": status.answered})
    return out


def write_reports(resource: EtdzResource, year: int, queries: list[dict] | None = None) -> ReportOutputs:
    """Read the year's datasets from the warehouse and write its reports (``queries``: the year's review queries,
    None without a portal database)."""
    store = resource.store()
    frames = {}
    for name in INPUTS:
        table = store.read(name, year)
        if table is None:
            raise RuntimeError(f"data year {year}: dataset {name} is missing from {resource.settings.warehouse}; "
                               f"materialise the scoring assets for {year} first (etdz run --data-year {year})")
        frames[name] = table.to_pandas()
    for name in OPTIONAL:
        table = store.read(name, year)
        frames[name] = None if table is None else table.to_pandas()
    catalogues = resource.catalogues()
    # Y−1 as the scorer read it (warehouse, else its inbox folder): the cards' levers re-score a zone with it
    prev = resource.previous_submissions(year, catalogues, resource.load_registry())
    return write_year_reports(ReportInputs(data_year=year, catalogue=catalogue_for_year(catalogues, year),
                                           history=all_rankings(store, year), prev_measures=prev.measures,
                                           prev_accepted=set(prev.zones), demo=resource.settings.demo,
                                           deadline=deadline(year, parse_deadlines(resource.settings.deadlines)),
                                           queries=queries, **frames), resource.reports_root())
