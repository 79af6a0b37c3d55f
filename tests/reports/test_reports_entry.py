"""The entry point: files where docs/contract/04-outputs.md §4.2 puts them, atomic writes, speed."""

from __future__ import annotations

import pytest

from etdz.reports import ReportOutputs, write_year_reports


def test_layout_and_outputs(written_year):
    data, out = written_year
    assert isinstance(out, ReportOutputs)
    year_dir = out.national_report.parent
    assert year_dir.name == str(data.data_year)
    assert out.national_report.name == "national_report.html"
    assert out.workbook == year_dir / "rankings.xlsx"
    assert out.cards_dir == year_dir / "zones"
    assert not [p for p in year_dir.rglob("_*")]
    assert set(out.seconds) >= {"national_report", "cards", "workbook", "total"}


def test_rerun_replaces_files_and_prunes_stale_cards(small_year, tmp_path):
    write_year_reports(small_year.inputs(), tmp_path)
    stale = tmp_path / "2022" / "zones" / "GONE.html"
    stale.write_text("old")
    out = write_year_reports(small_year.inputs(), tmp_path)
    assert not stale.exists()
    assert out.cards == len(small_year.frames["rankings"])


def test_history_without_current_year(small_year, tmp_path):
    inp = small_year.inputs()
    inp.history = small_year.history[small_year.history.data_year < small_year.data_year]
    out = write_year_reports(inp, tmp_path)
    assert out.cards == len(small_year.frames["rankings"])


@pytest.mark.slow
def test_230_zones_write_a_card_each(year_builder, catalogue_2021, tmp_path):
    """The full-size year (its timing is measured by bench/bench_reports.py, not asserted here)."""
    data = year_builder(catalogue_2021, 2023, per_region={"east": 112, "central": 68, "west": 50}, years=5)
    out = write_year_reports(data.inputs(), tmp_path)
    assert out.cards == 230 and len(list((tmp_path / "2023" / "zones").glob("*.html"))) == 230


def test_frames_read_back_from_parquet_schemas(small_year, tmp_path):
    """As the Dagster asset passes them: each frame through its pyarrow schema and back to pandas."""
    from etdz.schemas import rankings_schema, schema_for, to_table

    inp = small_year.inputs()
    cat = small_year.catalogue
    for name in ("rankings", "category_scores", "indicator_scores", "indicator_bounds", "downgrade_watchlist",
                 "upgrade_candidates", "submission_log", "submission_issues", "measures"):
        df = getattr(inp, name)
        setattr(inp, name, to_table(df, schema_for(name, cat.top_lists)).to_pandas())
    hist = small_year.history
    inp.history = (to_table(hist, rankings_schema(cat.top_lists)).to_pandas()
                   .assign(data_year=hist.data_year.to_numpy()))
    out = write_year_reports(inp, tmp_path)
    assert out.cards == len(small_year.frames["rankings"])
    ref = write_year_reports(small_year.inputs(), tmp_path / "ref", generated="x")
    again = write_year_reports(inp, tmp_path / "again", generated="x")
    assert again.national_report.read_text() == ref.national_report.read_text()
    code = small_year.frames["rankings"].zone_code.iloc[0]
    assert (again.cards_dir / f"{code}.html").read_text() == (ref.cards_dir / f"{code}.html").read_text()
