"""Registry format (docs/contract/02-inputs.md §2.2) and who is due."""

from __future__ import annotations

import pytest

from etdz.registry import RegistryError, due_zones, is_due, load_registry, may_submit

HEADER = "zone_code,name_zh,province,region,tier,first_data_year,exit_data_year\n"


def test_shipped_registry_counts_match_the_known_assessments():
    reg = load_registry()
    assert len(reg) == 236 and set(reg.tier) == {"national"}
    # 219 zones in the 2017–2019 assessments, 218 in 2020, 217 in 2021–2022, 230 in 2023 (docs/contract/01-domain.md)
    due = [len(due_zones(reg, y)) for y in (2016, 2017, 2018, 2019, 2020, 2021, 2022)]
    assert due == [219, 219, 219, 218, 217, 217, 230]
    assert due_zones(reg, 2022).region.value_counts().to_dict() == {"east": 112, "central": 68, "west": 50}
    jq = reg.set_index("name_zh").loc["酒泉经济技术开发区"]
    assert jq.exit_data_year == 2018


def test_due_rule_and_provincial_zones(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text(HEADER + "A,甲,江苏,east,national,2020,\n"
                 "B,乙,江苏,east,national,2018,2020\n"
                 "P,丙,江苏,east,provincial,,\n", encoding="utf-8")
    reg = load_registry(p)
    assert due_zones(reg, 2019).zone_code.tolist() == ["B"]
    assert due_zones(reg, 2020).zone_code.tolist() == ["A", "B"]
    assert due_zones(reg, 2021).zone_code.tolist() == ["A"]


@pytest.mark.parametrize("year,due", [(2017, False), (2018, True), (2020, True), (2021, False)])
def test_the_entry_and_the_exit_year_are_both_assessed(year, due):
    # B: first_data_year 2018, exit_data_year 2020 — assessed 2018…2020 inclusive, neither before nor after
    assert is_due("national", 2018, 2020, year) is due
    assert may_submit({"tier": "national", "first_data_year": 2018, "exit_data_year": 2020}, year) is due


@pytest.mark.parametrize("first,exit_,year,due", [
    (2020, None, 2019, False), (2020, None, 2020, True), (2020, None, 2099, True),  # still listed: no exit
    (None, None, 2020, False),  # a national zone without a first year is never due
    (2018, float("nan"), 2030, True),
])
def test_is_due_with_open_years(first, exit_, year, due):
    assert is_due("national", first, exit_, year) is due


def test_provincial_zones_may_submit_every_year_and_are_never_due(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text(HEADER + "P,丙,江苏,east,provincial,,\nQ,丁,江苏,east,provincial,2018,2019\n", encoding="utf-8")
    reg = load_registry(p)
    for year in (2000, 2019, 2020, 2030):
        assert due_zones(reg, year).empty
        assert all(may_submit(row, year) for row in reg.to_dict("records"))


@pytest.mark.parametrize("row,needle", [
    ("A B,甲,江苏,east,national,2020,", "zone_code"),
    ("A,甲,江苏,north,national,2020,", "region"),
    ("A,甲,江苏,east,county,2020,", "tier"),
    ("A,甲,江苏,east,national,twenty,", "first_data_year"),
    ("A,甲,江苏,east,national,,", "national zone needs"),
])
def test_bad_registry_rows_are_refused_with_row_and_column(tmp_path, row, needle):
    p = tmp_path / "r.csv"
    p.write_text(HEADER + row + "\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="row 2") as exc:
        load_registry(p)
    assert needle in str(exc.value) and str(p) in str(exc.value)


def test_missing_column_is_refused(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("zone_code,name_zh\nA,甲\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="missing column"):
        load_registry(p)


def test_shipped_registry_is_the_reference_list_mapped_as_02_inputs_says():
    from pathlib import Path

    import pandas as pd

    from etdz.registry import SHIPPED_REGISTRY, build_from_reference

    built = build_from_reference(Path(__file__).parent / "fixtures" / "reference" / "etdz_registry.csv")
    shipped = pd.read_csv(SHIPPED_REGISTRY, dtype=str, keep_default_na=False)
    as_text = built.astype("string").fillna("").astype(str)
    assert as_text.values.tolist() == shipped.values.tolist()
    assert built.loc[built.name_zh == "石嘴山经济技术开发区", "exit_data_year"].item() == 2019


def test_a_registry_is_checked_once_until_its_file_changes(tmp_path, monkeypatch):
    from etdz import registry

    checks = []
    real = registry._check
    monkeypatch.setattr(registry, "_check", lambda path, data: checks.append(path) or real(path, data))
    p = tmp_path / "r.csv"
    p.write_text(HEADER + "A,甲,江苏,east,national,2020,\n", encoding="utf-8")
    first = load_registry(p)
    first.loc[0, "name_zh"] = "changed by a caller"
    again = load_registry(p)  # the same bytes: checked once (a multi-year run loads it ~5 times a year) ...
    assert len(checks) == 1
    assert again.loc[0, "name_zh"] == "甲"  # ... and every caller gets its own copy
    p.write_text(HEADER + "A,乙,江苏,east,national,2020,\n", encoding="utf-8")
    assert load_registry(p).loc[0, "name_zh"] == "乙" and len(checks) == 2  # an edited file is checked again
    p.write_text(HEADER + "A,乙,江苏,nowhere,national,2020,\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="column region"):  # and a broken one refused, never from the memo
        load_registry(p)
    p.unlink()
    with pytest.raises(RegistryError, match="cannot be read"):
        load_registry(p)
