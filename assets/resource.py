"""The one resource that tells every asset where things are and which rules apply."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from etdz.catalogue import Catalogue, catalogue_for_year, load_catalogues
from etdz.commit import DeploymentLayout, commit_for, step_commit
from etdz.history import PendingSubmissions, Submissions, previous_submissions_ahead
from etdz.locations import is_local
from etdz.locks import year_lock
from etdz.memory import map_large_allocations
from etdz.publish import ensure_writable
from etdz.registry import load_registry
from etdz.settings import Settings
from etdz.storage import Warehouse, publish_folder


class EtdzResource:
    """The installation's :class:`~etdz.settings.Settings` (the one configuration: defaults, ``etdz.toml``, the
    environment) and what every asset derives from them: the warehouse, the rules, the year's lock and commit.

    A plain object handed to the assets as ``ResourceParam[EtdzResource]``: it holds the settings themselves, so a
    new setting is declared once (in ``Settings``) and read here as ``resource.settings.<name>``."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        # Y−1's inbox read, kept for the next step of the same run (etdz.history.previous_submissions' memo)
        self._previous_inbox: dict = {}

    def __repr__(self) -> str:
        return f"EtdzResource({self.settings!r})"

    def store(self) -> Warehouse:
        return Warehouse(self.settings.warehouse)

    def catalogues(self) -> list[Catalogue]:
        """The catalogues, parsed: call once per step and pass them on (tests/test_resource.py counts)."""
        return load_catalogues(self.settings.methodology)

    def catalogue(self, data_year: int) -> Catalogue:
        return catalogue_for_year(self.catalogues(), data_year)

    def load_registry(self) -> pd.DataFrame:
        """The registry, parsed: call once per step and pass it on."""
        return load_registry(self.settings.registry)

    def previous_submissions(self, data_year: int, catalogues: list[Catalogue],
                             registry: pd.DataFrame) -> Submissions:
        """Accepted submissions of Y−1 for growth and year-on-year checks (warehouse, else its inbox)."""
        with self.previous_submissions_ahead(data_year, catalogues, registry, background=False) as pending:
            return pending.result()

    def previous_submissions_ahead(self, data_year: int, catalogues: list[Catalogue], registry: pd.DataFrame,
                                   background: bool | None = None) -> PendingSubmissions:
        """:meth:`previous_submissions`, started: a large Y−1 inbox is read by a worker process meanwhile
        (``background``: :func:`etdz.history.previous_submissions_ahead`)."""
        s = self.settings
        return previous_submissions_ahead(self.store(), s.inbox, data_year, catalogues,
                                          catalogue_for_year(catalogues, data_year), registry, s.max_file_bytes,
                                          max_rows_per_measure=s.max_rows_per_measure, memo=self._previous_inbox,
                                          background=background)

    def inbox_dir(self, data_year: int) -> Path:
        return Path(self.settings.inbox) / str(int(data_year))

    def layout(self) -> DeploymentLayout:
        """Where the outputs, their year locks and their commit journals live."""
        s = self.settings
        return DeploymentLayout(s.warehouse, s.reports, s.dagster_home)

    def reports_root(self) -> Path:
        """Where reports are written locally: ETDZ_REPORTS itself, or for an object-store URL a staging
        folder under DAGSTER_HOME whose files are then uploaded by :meth:`publish_reports`."""
        return self.layout().reports_root()

    def reports_dir(self, data_year: int) -> Path:
        return self.reports_root() / str(int(data_year))

    def reports_url(self, data_year: int) -> str:
        """Where a year's reports are published (a local folder or an object-store URL)."""
        return f"{self.settings.reports.rstrip('/')}/{int(data_year)}"

    def publish_reports(self, data_year: int, subfolder: str | None = None, delete_stale: bool = False) -> None:
        """Upload a year's staged reports (or one sub-folder of them) when ETDZ_REPORTS is an object store.

        Inside a step the upload waits until the step's files are committed locally."""
        if is_local(self.settings.reports):
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
        return self.layout().lock_dir()

    @contextlib.contextmanager
    def writing(self, data_year: int) -> Iterator[None]:
        """Wrap every asset's writes in this: hold the year's write lock, refuse a published year, and make
        the step one commit — what a failed run left is rolled forward or back first, then every dataset,
        report and notice the step writes appears together when the block ends (nothing if it raises).
        The step's process maps its large allocations (etdz.memory): what one step frees is not kept for the next."""
        map_large_allocations()
        outputs = self.layout()
        with year_lock(outputs.lock_dir(), data_year):
            ensure_writable(self.store(), data_year)
            with step_commit(outputs.journal_dir(data_year), outputs.scope(data_year)):
                yield
