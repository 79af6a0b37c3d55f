"""Dagster asset checks of the validation, the HTML page and the rejection notice."""

from __future__ import annotations

import json

import dagster as dg
import pytest

from checks.validation import GX_SUITE, submission_check_results, submission_check_specs
from etdz.ingestion import ingest_year
from etdz.validation import FAMILIES, gx_module
from etdz.validation_page import rejection_notice_text, render_validation_page, write_validation_page
from tests.fixtures.submissions import GIZMO_CATALOGUE, csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry

KEY = dg.AssetKey(["submission_log"])


@pytest.fixture(scope="session", autouse=True)
def gx():
    return gx_module()


@pytest.fixture
def year(tmp_path):
    """A year written by the test: its own catalogue with a new measure bounded by hard_max: 100."""
    cat = write_tiny_catalogue(tmp_path / "cat", GIZMO_CATALOGUE, "new.yaml")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / "2022"
    inbox.mkdir(parents=True)
    (inbox / "good.csv").write_bytes(csv_bytes([["Z1", 2022, "gizmos", "40", "台"],
                                                ["Z1", 2022, "ratio_x", "12%", "%"]]))
    (inbox / "<b>too many<i>.csv").write_bytes(csv_bytes([["Z2", 2022, "ratio_x", "5", "%"],
                                                          ["Z2", 2022, "gizmos", "101", "台"]]))
    (inbox / "说明.pdf").write_bytes(b"%PDF-1.4")
    return ingest_year(inbox, 2022, cat, reg, str(tmp_path / "archive"))


def test_specs_one_per_family_plus_gx_suite():
    specs = submission_check_specs(KEY)
    assert [s.name for s in specs] == list(FAMILIES) + [GX_SUITE]
    assert all(s.asset_key == KEY for s in specs)


def test_check_metadata_names_file_row_and_column_of_the_catalogues_own_bound(year):
    results = {r.check_name: r for r in submission_check_results(year, KEY)}
    assert set(results) == set(FAMILIES) | {GX_SUITE}
    hb = results["hard_bounds"]
    assert hb.passed is False and hb.severity == dg.AssetCheckSeverity.WARN
    rows = hb.metadata["failing_rows_json"].value
    assert rows == [{
        "file": "<b>too many<i>.csv", "sha256": rows[0]["sha256"], "zone_code": "Z2", "row": 3, "column": "value",
        "value": "101", "check": "row.hard_bounds", "severity": "error", "message": rows[0]["message"],
    }]
    assert "第 3 行" in rows[0]["message"] and "0 ～ 100 台" in rows[0]["message"]
    md = hb.metadata["failing_rows"].value
    assert r"\<b\>too many\<i\>\.csv | 3 | value | 101 | row\.hard\_bounds" in md and "<b>" not in md
    assert hb.metadata["errors"].value == 1
    gx = results[GX_SUITE]
    assert gx.passed is False and gx.severity == dg.AssetCheckSeverity.WARN
    assert gx.metadata["rejected"].value == 2 and gx.metadata["accepted"].value == 1
    assert gx.metadata["expectations_failed"].value >= 1
    assert results["files_readable"].passed is False  # the PDF
    assert results["integers"].passed is True
    vv = results["valid_values"]  # 12% normalised: a warning only, the check passes
    assert vv.passed is True and vv.metadata["warnings"].value == 1
    json.dumps(gx.metadata["failing_rows_json"].value)


def test_checks_pass_on_a_clean_year(tmp_path):
    cat = write_tiny_catalogue(tmp_path / "cat")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / "2022"
    inbox.mkdir(parents=True)
    (inbox / "z1.csv").write_bytes(csv_bytes(rows_for("Z1", 2022)))
    results = submission_check_results(ingest_year(inbox, 2022, cat, reg, None), KEY)
    assert all(r.passed for r in results)


def test_checks_inside_a_partitioned_asset_do_not_fail_the_run(year):
    parts = dg.StaticPartitionsDefinition(["2022"])

    @dg.asset(key=KEY, partitions_def=parts, check_specs=submission_check_specs(KEY))
    def submission_log(context):
        yield dg.Output(len(year.log))
        yield from submission_check_results(year, context.asset_key)

    res = dg.materialize([submission_log], partition_key="2022")
    assert res.success
    evals = res.get_asset_check_evaluations()
    assert len(evals) == len(FAMILIES) + 1
    assert {e.check_name for e in evals if not e.passed} >= {"hard_bounds", GX_SUITE, "files_readable"}


def test_validation_page_is_self_contained_escaped_and_chinese(year, tmp_path):
    html = render_validation_page(year)
    assert "&lt;b&gt;too many&lt;i&gt;.csv" in html and "<b>too many<i>" not in html
    assert "已拒收" in html and "row.hard_bounds" in html and "说明.pdf" in html
    assert "http://" not in html and "https://" not in html and "<script" not in html
    out = tmp_path / "reports" / "2022" / "validation.html"
    write_validation_page(year, out)
    assert out.read_text(encoding="utf-8") == html
    assert not [p for p in out.parent.iterdir() if p.name.startswith("_")]


def test_rejection_notice_lists_every_problem_and_how_to_fix(year):
    log = year.log.set_index("file_name", drop=False)
    row = log.loc["<b>too many<i>.csv"]
    text = rejection_notice_text(row, year.issues[year.issues.sha256 == row["sha256"]])
    assert "<b>too many<i>.csv" in text and "Z2" in text and "row.hard_bounds" in text
    assert "第 3 行" in text and "修改方法" in text and "应为：0 ～ 100 台" in text
    pdf = log.loc["说明.pdf"]
    text = rejection_notice_text(pdf.to_dict(), year.issues[year.issues.sha256 == pdf["sha256"]])
    assert "file.not_csv_xlsx" in text and "（无法确定）" in text


def test_failing_rows_are_the_errors_and_the_warnings_are_counted_apart(year):
    """A year's accepted warnings (a normalised "12%") must not crowd the errors out of failing_rows: they are
    counted by check and sampled in warning_rows; each result names its data year (the checks list mixes years)."""
    results = {r.check_name: r for r in submission_check_results(year, KEY)}
    for name in (GX_SUITE, "valid_values"):
        meta = results[name].metadata
        assert all(r["severity"] == "error" for r in meta["failing_rows_json"].value), name
        assert "| warning |" not in meta["failing_rows"].value, name
        assert results[name].description.startswith("data year 2022 — "), name
        assert meta["data_year"].value == 2022
    vv = results["valid_values"].metadata
    assert vv["failing_rows"].value == "no error found" and vv["failing_rows_json"].value == []
    assert vv["warnings"].value == 1
    assert r"good\.csv | 3 | value | 12% | row\.number\_normalised | warning" in vv["warning_rows"].value
    assert vv["warnings_by_check"].value == {"row.number_normalised": 1}
    hb = results["hard_bounds"].metadata
    assert hb["warning_rows"].value == "no warning" and hb["warnings_by_check"].value == {}
