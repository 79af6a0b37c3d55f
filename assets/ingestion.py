"""Ingestion assets: the year's inbox → submission log, issues and accepted measures (group ``ingestion``)."""


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

from assets.inbox import INBOX_KEY
from assets.mappings import earlier_years
from assets.metadata import dataset_metadata, report_location, table_version
from assets.resource import EtdzResource
from checks.validation import submission_check_results, submission_check_specs
from etdz import schemas
from etdz.catalogue import catalogue_for_year
from etdz.deadlines import parse_deadlines
from etdz.escape import markdown_frame
from etdz.guard import ALLOW_TAG, acceptance_findings, cohort_findings, refuse_if
from etdz.ingestion import ingest_year
from etdz.validation_page import write_rejection_notices, write_validation_page

OWNERS = ["team:data-engineering"]
LOG, ISSUES, MEASURES = AssetKey("submission_log"), AssetKey("submission_issues"), AssetKey("measures")


def build_ingestion_assets(partitions_def, code_version: str):
    @multi_asset(
        name="submissions",
        partitions_def=partitions_def,
        can_subset=False,
        specs=[
            AssetSpec(LOG, group_name="ingestion", owners=OWNERS, kinds={"parquet", "pandas"}, deps=[INBOX_KEY],
                      code_version=code_version,
                      description="Every file received for the data year: SHA-256, status (accepted / rejected / "
                                  "superseded), error and warning counts, modification time. Files are archived "
                                  "byte for byte under their SHA-256 before anything else happens."),
            AssetSpec(ISSUES, group_name="ingestion", owners=OWNERS, kinds={"parquet", "pandas"}, deps=[INBOX_KEY],
                      code_version=code_version,
                      description="Every problem found in the year's files (errors reject a file, warnings do not), "
                                  "with file, row, column, value found, what was expected and a Chinese message."),
            AssetSpec(MEASURES, group_name="ingestion", owners=OWNERS, kinds={"parquet", "pandas"},
                      deps=[INBOX_KEY, AssetDep(MEASURES, partition_mapping=earlier_years(1))],
                      code_version=code_version,
                      description="Accepted measure values of each zone's chosen submission, in canonical units. "
                                  "Depends on the previous year's measures (year-on-year plausibility warnings)."),
        ],
        check_specs=submission_check_specs(LOG, partitions_def),
        description="Archive, read and validate the year's submissions "
                    "(Great Expectations suite derived from the catalogue).",
    )
    def submissions(context: AssetExecutionContext, resource: ResourceParam[EtdzResource]):
        year = int(context.partition_key)
        with resource.writing(year):
            catalogues = resource.catalogues()  # parsed once per step
            catalogue = catalogue_for_year(catalogues, year)
            registry = resource.load_registry()
            store = resource.store()
            allowed = context.run.tags.get(ALLOW_TAG, "").lower() == "true"
            last_rankings = store.read_replaced("rankings", year)
            refuse_if(cohort_findings(year, registry, resource.settings.registry or "(shipped registry)",
                                      None if last_rankings is None else last_rankings.to_pandas()), year, allowed)
            # a large Y−1 inbox is read by a worker process while this year's files are archived and read
            with resource.previous_submissions_ahead(year, catalogues, registry) as pending:
                ingest = ingest_year(resource.inbox_dir(year), year, catalogue, registry,
                                     archive=resource.settings.archive, previous=lambda: pending.result().measures,
                                     max_bytes=resource.settings.max_file_bytes,
                                     deadlines=parse_deadlines(resource.settings.deadlines),
                                     max_rows_per_measure=resource.settings.max_rows_per_measure)
                prev = pending.result()
            last_log = store.read_replaced("submission_log", year)
            refuse_if(acceptance_findings(year, ingest.accepted_zones,
                                          None if last_log is None else last_log.to_pandas(), str(catalogue.path)),
                      year, allowed)
            context.log.info(f"data year {year}: {len(ingest.log)} file(s), {len(ingest.accepted_zones)} zone(s) "
                             f"with an accepted submission, previous year's submissions from {prev.origin}"
                             + (" (read by a worker process meanwhile)" if pending.in_background else ""))

            out = resource.reports_dir(year)
            write_validation_page(ingest, out / "validation.html", registry, demo=resource.settings.demo)
            write_rejection_notices(ingest, out / "rejections", registry,
                                    deadlines=parse_deadlines(resource.settings.deadlines), demo=resource.settings.demo)
            resource.publish_reports(year, "rejections", delete_stale=True)  # object-store reports: upload
            resource.publish_reports(year)

            tables = {
                LOG: schemas.to_table(ingest.log, schemas.SUBMISSION_LOG),
                ISSUES: schemas.to_table(ingest.issues, schemas.SUBMISSION_ISSUES),
                MEASURES: schemas.to_table(ingest.measures, schemas.MEASURES),
            }
            urls = {key: store.write(key.path[-1], year, table) for key, table in tables.items()}
            log, issues = ingest.log, ingest.issues
            status_counts = log.status.value_counts().to_dict() if len(log) else {}
            extra = {
                LOG: {
                    "method_version": catalogue.version, "catalogue": MetadataValue.path(catalogue.path),
                    "files": len(log), **{f"files_{k}": int(v) for k, v in status_counts.items()},
                    "late_files": int(log["late"].sum()) if len(log) else 0,
                    "validation_report": report_location(resource, year, "validation.html"),
                    "rejection_notices": report_location(resource, year, "rejections"),
                    "files_preview": MetadataValue.md(markdown_frame(
                        log[["file_name", "zone_code", "status", "errors", "warnings"]], max_rows=50)),
                },
                ISSUES: {
                    "errors": int((issues.severity == "error").sum()) if len(issues) else 0,
                    "warnings": int((issues.severity == "warning").sum()) if len(issues) else 0,
                },
                MEASURES: {
                    "zones_with_accepted_submission": len(ingest.accepted_zones),
                    "previous_year_from": prev.origin,
                },
            }
            for key, table in tables.items():
                yield MaterializeResult(asset_key=key, data_version=DataVersion(table_version(table)),
                                        metadata=dataset_metadata(table, urls[key], extra[key]))
            yield from submission_check_results(ingest, LOG)

    return [submissions]

