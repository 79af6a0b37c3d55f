"""The one Definitions object of the code location (found through workspace.yaml)."""

from __future__ import annotations

import copy
import hashlib

from dagster import AssetSpec, Definitions, SourceAsset, definitions, map_asset_specs

import pipelines.quiet  # noqa: F401 - first: Dagster's beta / preview warnings off
from assets.resource import EtdzResource
from etdz.reports import fictitious
from etdz.scoring.downgrade import years_back
from etdz.settings import Settings
from pipelines.columns import with_column_schemas
from pipelines.jobs import build_annual_job, build_automation_sensor, build_reports_job
from pipelines.partitions import data_year_partitions
from pipelines.schedules import build_yearly_schedule
from pipelines.sensors import build_inbox_sensor
from pipelines.tags import build_run_tags_sensor

# Bump when a change of the code changes what the assets produce (the UI then shows them stale).
CODE_VERSION = "1"


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Assemble assets, checks, jobs, schedules and sensors for the configured locations."""
    from assets.changes import build_changes_asset
    from assets.inbox import build_inbox_asset
    from assets.ingestion import build_ingestion_assets
    from assets.queries import build_review_queries_asset
    from assets.reports import build_report_assets
    from assets.robustness import build_robustness_assets
    from assets.scoring import build_scoring_assets
    from pipelines.review_sensor import build_review_queries_sensor

    settings = settings or Settings.from_env()
    resource = EtdzResource(settings)
    catalogues = resource.catalogues()
    partitions = data_year_partitions(settings, catalogues)
    # Code versions: a change of the code release or of any catalogue marks the assets stale in the UI.
    method = hashlib.sha256("".join(sorted(c.sha256 for c in catalogues)).encode()).hexdigest()[:12]
    assets = with_column_schemas([
        build_inbox_asset(partitions),
        build_review_queries_asset(partitions),
        *build_ingestion_assets(partitions, code_version=f"{CODE_VERSION}+{method}"),
        *build_scoring_assets(partitions, years_back(catalogues), code_version=f"{CODE_VERSION}+{method}"),
        *build_robustness_assets(partitions, code_version=f"{CODE_VERSION}+{method}"),
        build_changes_asset(partitions, code_version=f"{CODE_VERSION}+{method}"),
        *build_report_assets(partitions, code_version=CODE_VERSION),
    ], top_lists=[m for c in catalogues for m in c.top_lists])
    if settings.demo:  # a demo deployment: every description in the UI (assets, job, schedule, sensors) says so
        assets = map_asset_specs(_demo_description, assets)
    job, reports_job = build_annual_job(settings.demo), build_reports_job(settings.demo)
    return Definitions(
        assets=assets,
        jobs=[job, reports_job],
        schedules=[build_yearly_schedule(job, partitions, settings.demo)],
        sensors=[build_inbox_sensor(partitions, settings.poll_seconds, settings.demo),
                 build_automation_sensor(settings.poll_seconds, settings.demo),
                 build_review_queries_sensor(reports_job, partitions, settings.poll_seconds, settings.demo),
                 build_run_tags_sensor([job, reports_job], settings, catalogues, settings.poll_seconds, settings.demo)],
        resources={"resource": resource},
    )


def _demo_description(spec: AssetSpec | SourceAsset) -> AssetSpec | SourceAsset:
    """The spec with the demo's mark (etdz.reports.fictitious) in front of its description."""
    if isinstance(spec, SourceAsset):  # the inbox: an observable source asset, which has no replace_attributes
        marked = copy.copy(spec)
        marked.description = fictitious.describe(spec.description, True)
        return marked
    return spec.replace_attributes(description=fictitious.describe(spec.description, True))


@definitions
def defs() -> Definitions:
    """The code location's definitions, for workspace.yaml (``attribute: defs``): Dagster calls this when it loads
    the location (webserver, daemon, each run), never at import, so the `etdz` command can build its own from
    explicit settings (:func:`build_definitions`) without loading everything twice."""
    return build_definitions()
