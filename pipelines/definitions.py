"""The one Definitions object of the code location (found through workspace.yaml)."""

from __future__ import annotations

from dagster import Definitions

from etdz.settings import Settings
from pipelines.jobs import build_annual_job
from pipelines.partitions import data_year_partitions
from pipelines.resources import EtdzResource


def build_definitions(settings: Settings | None = None) -> Definitions:
    """Assemble assets, checks, jobs, schedules and sensors for the configured locations."""
    from assets.ingestion import build_ingestion_assets
    from assets.reports import build_report_assets
    from assets.scoring import build_scoring_assets

    settings = settings or Settings.from_env()
    resource = EtdzResource.from_settings(settings)
    catalogues = resource.catalogues()
    partitions = data_year_partitions(catalogues, settings.inbox)
    max_window = max([c.downgrade.window if c.downgrade else 2 for c in catalogues] + [2])
    assets = [*build_ingestion_assets(partitions), *build_scoring_assets(partitions, max_window),
              *build_report_assets(partitions, max_window)]
    return Definitions(
        assets=assets,
        jobs=[build_annual_job(partitions)],
        resources={"etdz": resource},
    )


def __getattr__(name: str):
    # Built on first access (by `dagster dev` / workspace.yaml), not on import, so the `etdz`
    # command can build its own from explicit settings without loading everything twice.
    if name == "defs":
        return build_definitions()
    raise AttributeError(name)
