"""The one resource that tells every asset where things are and which rules apply."""

from __future__ import annotations

import contextlib
import os
from dataclasses import asdict
from pathlib import Path
from typing import Iterator

import pandas as pd
from dagster import ConfigurableResource

from etdz.catalogue import Catalogue, catalogue_for_year, load_catalogues
from etdz.history import Submissions, previous_submissions
from etdz.locks import year_lock
from etdz.reading import DEFAULT_ROWS_PER_MEASURE
from etdz.publish import ensure_writable
from etdz.registry import load_registry
from etdz.settings import Settings
from etdz.storage import Warehouse, publish_folder


class EtdzResource(ConfigurableResource):
    """Locations (from the ``ETDZ_*`` variables) and the loaded catalogues and registry."""

    inbox: str
    warehouse: str
    reports: str
    archive: str
    registry: str
    methodology: str
    max_file_bytes: int = 20 * 1024 * 1024
    max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE

    @classmethod
    def from_settings(cls, s: Settings) -> "EtdzResource":
        """The resource's fields are the settings' (all but DAGSTER_HOME, which Dagster itself reads)."""
        return cls(**{k: v for k, v in asdict(s).items() if k in cls.model_fields})

    def store(self) -> Warehouse:
        return Warehouse(self.warehouse)

    def catalogues(self) -> list[Catalogue]:
        return load_catalogues(self.methodology)

    def catalogue(self, data_year: int) -> Catalogue:
        return catalogue_for_year(self.catalogues(), data_year)

    def load_registry(self) -> pd.DataFrame:
        return load_registry(self.registry)

    def previous_submissions(self, data_year: int, catalogues: list[Catalogue],
                             registry: pd.DataFrame) -> Submissions:
        """Accepted submissions of Y−1 for growth and year-on-year checks (warehouse, else its inbox)."""
        return previous_submissions(self.store(), self.inbox, data_year, catalogues,
                                    catalogue_for_year(catalogues, data_year), registry, self.max_file_bytes,
                                    max_rows_per_measure=self.max_rows_per_measure)

    def inbox_dir(self, data_year: int) -> Path:
        return Path(self.inbox) / str(int(data_year))

    def reports_root(self) -> Path:
        """Where reports are written locally: ETDZ_REPORTS itself, or for an object-store URL a staging
        folder under DAGSTER_HOME whose files are then uploaded by :meth:`publish_reports`."""
        if "://" not in self.reports:
            return Path(self.reports)
        return Path(os.environ.get("DAGSTER_HOME") or Path.home()) / "etdz-reports-staging"

    def reports_dir(self, data_year: int) -> Path:
        return self.reports_root() / str(int(data_year))

    def reports_url(self, data_year: int) -> str:
        """Where a year's reports are published (a local folder or an object-store URL)."""
        return f"{self.reports.rstrip('/')}/{int(data_year)}"

    def publish_reports(self, data_year: int, subfolder: str | None = None, delete_stale: bool = False) -> None:
        """Upload a year's staged reports (or one sub-folder of them) when ETDZ_REPORTS is an object store."""
        if "://" not in self.reports:
            return
        local = self.reports_dir(data_year) / subfolder if subfolder else self.reports_dir(data_year)
        url = self.reports_url(data_year) + (f"/{subfolder}" if subfolder else "")
        if local.is_dir():
            publish_folder(local, url, delete_stale=delete_stale)

    def lock_dir(self) -> Path:
        """Where the per-year write locks live: beside a local warehouse, else under DAGSTER_HOME."""
        if "://" not in self.warehouse:
            return Path(self.warehouse) / "_locks"
        return Path(os.environ.get("DAGSTER_HOME") or Path.home()) / "etdz-locks"

    @contextlib.contextmanager
    def writing(self, data_year: int) -> Iterator[None]:
        """Hold the year's write lock and refuse a published year: wrap every asset's writes in this."""
        with year_lock(self.lock_dir(), data_year):
            ensure_writable(self.store(), data_year)
            yield
