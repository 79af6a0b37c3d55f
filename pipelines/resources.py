"""The one resource that tells every asset where things are and which rules apply."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from etdz.catalogue import Catalogue, catalogue_for_year, load_catalogues
from etdz.registry import load_registry
from etdz.settings import Settings
from etdz.storage import Warehouse


class EtdzResource(ConfigurableResource):
    """Locations (from the ``ETDZ_*`` variables) and the loaded catalogues and registry."""

    inbox: str
    warehouse: str
    reports: str
    archive: str
    registry: str
    methodology: str
    max_file_bytes: int = 20 * 1024 * 1024

    @classmethod
    def from_settings(cls, s: Settings, max_file_bytes: int = 20 * 1024 * 1024) -> "EtdzResource":
        return cls(inbox=s.inbox, warehouse=s.warehouse, reports=s.reports, archive=s.archive, registry=s.registry,
                   methodology=s.methodology, max_file_bytes=max_file_bytes)

    def store(self) -> Warehouse:
        return Warehouse(self.warehouse)

    def catalogues(self) -> list[Catalogue]:
        return load_catalogues(self.methodology)

    def catalogue(self, data_year: int) -> Catalogue:
        return catalogue_for_year(self.catalogues(), data_year)

    def load_registry(self) -> pd.DataFrame:
        return load_registry(self.registry)

    def inbox_dir(self, data_year: int) -> Path:
        return Path(self.inbox) / str(int(data_year))

    def reports_dir(self, data_year: int) -> Path:
        return Path(self.reports) / str(int(data_year))
