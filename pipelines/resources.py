"""The one resource that tells every asset where things are and which rules apply."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import pandas as pd
from dagster import ConfigurableResource

from etdz.catalogue import Catalogue, catalogue_for_year, load_catalogues
from etdz.commit import Outputs, commit_for, step_commit
from etdz.history import Submissions, previous_submissions
from etdz.locks import year_lock
from etdz.publish import ensure_writable
from etdz.reading import DEFAULT_ROWS_PER_MEASURE
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
    report_links_url: str = ""  # where report links point (Settings.report_links_url); empty: object-store URLs
    deadlines: str = ""  # ETDZ_DEADLINES (etdz.deadlines.parse_deadlines)
    max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE
    demo: bool = False  # Settings.demo: a demo deployment, whose pages, sheets and notices say so

    @classmethod
    def from_settings(cls, s: Settings) -> EtdzResource:
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

    def outputs(self) -> Outputs:
        """Where the outputs, their year locks and their commit journals live."""
        return Outputs(self.warehouse, self.reports)

    def reports_root(self) -> Path:
        """Where reports are written locally: ETDZ_REPORTS itself, or for an object-store URL a staging
        folder under DAGSTER_HOME whose files are then uploaded by :meth:`publish_reports`."""
        return self.outputs().reports_root()

    def reports_dir(self, data_year: int) -> Path:
        return self.reports_root() / str(int(data_year))

    def reports_url(self, data_year: int) -> str:
        """Where a year's reports are published (a local folder or an object-store URL)."""
        return f"{self.reports.rstrip('/')}/{int(data_year)}"

    def publish_reports(self, data_year: int, subfolder: str | None = None, delete_stale: bool = False) -> None:
        """Upload a year's staged reports (or one sub-folder of them) when ETDZ_REPORTS is an object store.

        Inside a step the upload waits until the step's files are committed locally."""
        if "://" not in self.reports:
            return
        local = self.reports_dir(data_year) / subfolder if subfolder else self.reports_dir(data_year)
        url = self.reports_url(data_year) + (f"/{subfolder}" if subfolder else "")

        def upload() -> None:
            if local.is_dir():
                publish_folder(local, url, delete_stale=delete_stale)

        commit = commit_for(str(self.reports_dir(data_year)))
        if commit is not None:
            commit.after.append(upload)
        else:
            upload()

    def lock_dir(self) -> Path:
        """Where the per-year write locks live: beside a local warehouse, else under DAGSTER_HOME."""
        return self.outputs().lock_dir()

    @contextlib.contextmanager
    def writing(self, data_year: int) -> Iterator[None]:
        """Wrap every asset's writes in this: hold the year's write lock, refuse a published year, and make
        the step one commit — what a failed run left is rolled forward or back first, then every dataset,
        report and notice the step writes appears together when the block ends (nothing if it raises)."""
        outputs = self.outputs()
        with year_lock(outputs.lock_dir(), data_year):
            ensure_writable(self.store(), data_year)
            with step_commit(outputs.journal_dir(data_year), outputs.scope(data_year)):
                yield
