"""Fixtures of the report tests; the builder and the HTML parser are in reports_synth.py."""

from __future__ import annotations

import pytest
from reports_synth import SynthYear, make_year

from etdz.catalogue import Catalogue, catalogue_for_year, load_catalogues


@pytest.fixture(scope="session")
def catalogue_2021() -> Catalogue:
    return catalogue_for_year(load_catalogues(), 2022)


@pytest.fixture(scope="session")
def small_year(catalogue_2021) -> SynthYear:
    return make_year(catalogue_2021, 2022)


@pytest.fixture
def year_builder():
    """The builder itself, for tests that need their own variant."""
    return make_year


@pytest.fixture(scope="session")
def written_year(tmp_path_factory, small_year):
    """The small synthetic year, written once: (SynthYear, ReportOutputs)."""
    from etdz.reports import write_year_reports

    root = tmp_path_factory.mktemp("reports")
    return small_year, write_year_reports(small_year.inputs(), root, generated="2026-01-01 00:00 UTC")
