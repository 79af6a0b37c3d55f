"""Amounts in another currency (docs/contract/02-inputs.md §2.3): converted at the data year's rate of the shipped
catalogues."""

from __future__ import annotations

import math

import pytest

from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.ingestion import ingest_year, validate_files
from etdz.registry import load_registry
from etdz.validation import CHECKS, gx_module
from tests.fixtures.submissions import csv_bytes

ZONE = "beijing-beijing"


@pytest.fixture(scope="module", autouse=True)
def gx():
    return gx_module()  # imported once (3-4 s)


@pytest.fixture(scope="module")
def shipped():
    return load_catalogues(), load_registry()


def ingest(tmp_path, shipped, year: int, rows: list[tuple[str, str, str]], name: str = "报送.csv"):
    cats, reg = shipped
    folder = tmp_path / "inbox" / str(year)
    folder.mkdir(parents=True)
    (folder / name).write_bytes(csv_bytes([(ZONE, str(year), m, v, u) for m, v, u in rows]))
    return ingest_year(folder, year, catalogue_for_year(cats, year), reg, None)


def test_trade_in_usd_is_accepted_at_the_years_rate(tmp_path, shipped):
    # the city's trade (33.03亿美元 = 213.1 亿元) above the zone's (159.35 亿元): trade_total <= city_trade_total
    y = ingest(tmp_path, shipped, 2021, [("trade_total", "24.7", "亿美元"), ("city_trade_total", "330300", "万美元"),
                                         ("hitech_trade", "80.5", "亿元")])
    assert y.log.at[0, "status"] == "accepted", y.issues[["check", "message"]].to_dict("records")
    m = y.measures.set_index("measure_code")
    assert m.at["trade_total", "value"] == 24.7 * 6.4515 and m.at["trade_total", "unit"] == "亿元"
    assert m.at["trade_total", "reported_value"] == "24.7" and m.at["trade_total", "reported_unit"] == "亿美元"
    assert m.at["trade_total", "rate"] == 6.4515
    assert m.at["city_trade_total", "value"] == 330300 * 6.4515 * 0.0001
    assert m.at["hitech_trade", "value"] == 80.5 and math.isnan(m.at["hitech_trade", "rate"])  # a plain unit: no rate


def test_investment_in_yuan_is_divided_by_the_rate(tmp_path, shipped):
    y = ingest(tmp_path, shipped, 2016, [("fdi_actual", "21000", "万元"), ("city_fdi_actual", "2.5", "亿元")])
    assert y.log.at[0, "status"] == "accepted", y.issues[["check", "message"]].to_dict("records")
    m = y.measures.set_index("measure_code")
    assert m.at["fdi_actual", "value"] == 21000 / 6.6423 and m.at["fdi_actual", "unit"] == "万美元"
    assert m.at["city_fdi_actual", "value"] == 2.5 / 6.6423 * 10000 and m.at["city_fdi_actual", "rate"] == 6.6423


def test_a_year_without_rate_rejects_the_row_naming_year_and_catalogue(tmp_path, shipped):
    y = ingest(tmp_path, shipped, 2025, [("trade_total", "24.7", "亿美元"), ("hitech_trade", "80.5", "亿元")])
    assert y.log.at[0, "status"] == "rejected" and y.measures.empty
    got = y.issues.loc[y.issues["check"] == "row.no_exchange_rate"]
    assert len(got) == 1 and CHECKS["row.no_exchange_rate"].severity == "error"
    issue = got.iloc[0]
    assert issue["row"] == 2 and issue["column"] == "unit" and issue["value"] == "亿美元"
    assert "2025" in issue["message"] and "2021（2021.yaml）" in issue["message"] and "报送.csv" in issue["message"]
    assert "亿元、万元、元" in issue["message"]  # what to use instead
    # rows in a plain unit are unaffected by the missing rate
    assert set(y.issues.loc[y.issues["severity"] == "error", "check"]) == {"row.no_exchange_rate"}


def test_messages_explain_the_conversion(tmp_path, shipped):
    """A warning on a converted value shows the computation (the rejection notices and `etdz validate` print it):
    a trade above its city's within the 5 % tolerance of the rule trade_total <= city_trade_total."""
    y = ingest(tmp_path, shipped, 2021, [("trade_total", "24.7", "亿美元"), ("city_trade_total", "155", "亿元")])
    issue = y.issues.loc[y.issues["check"] == "row.inconsistent"].iloc[0]  # 159.35 亿元 > 155 亿元 (≤ 162.75)
    assert issue["severity"] == "warning" and y.log.at[0, "status"] == "accepted"
    assert "24.7 亿美元 × 6.4515 = 159.35 亿元" in issue["message"] and "155 亿元" in issue["message"]
    cats, reg = shipped
    path = tmp_path / "inbox" / "2021" / "报送.csv"
    text, status = validate_files([path], cats, reg)
    assert status == 0 and "24.7 亿美元 × 6.4515 = 159.35 亿元" in text


def test_a_trade_above_its_citys_beyond_the_tolerance_rejects_the_file(tmp_path, shipped):
    """Converted first, then compared: 24.7 亿美元 = 159.35 亿元 > 100 亿元 × 1.05."""
    y = ingest(tmp_path, shipped, 2021, [("trade_total", "24.7", "亿美元"), ("city_trade_total", "100", "亿元")])
    issue = y.issues.loc[y.issues["check"] == "row.inconsistent"].iloc[0]
    assert issue["severity"] == "error" and y.log.at[0, "status"] == "rejected"
    assert "24.7 亿美元 × 6.4515 = 159.35 亿元" in issue["message"] and "容差内上限 105 亿元" in issue["message"]
    cats, reg = shipped
    text, status = validate_files([tmp_path / "inbox" / "2021" / "报送.csv"], cats, reg)
    assert status == 1 and "row.inconsistent" in text
