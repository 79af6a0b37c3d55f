"""The submission template (etdz/template.py)."""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
from pathlib import Path

import pytest
import yaml
from openpyxl import load_workbook

from etdz.catalogue import SHIPPED_DIR, MethodologyError, catalogue_for_year, load_catalogues
from etdz.registry import load_registry
from etdz.template import HEADER, neutralise, write_template

SUZHOU = "jiangsu-suzhou-industrial-park"


@pytest.fixture(scope="module")
def cats():
    return load_catalogues()


def read_csv(path: Path) -> list[dict]:
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 with BOM: Excel shows the Chinese right
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))


def read_xlsx(path: Path):
    wb = load_workbook(path)
    return wb, wb.worksheets[0]


@pytest.mark.parametrize("year,version", [(2019, "2016"), (2022, "2021")])
def test_one_row_per_measure_with_canonical_unit(tmp_path, cats, year, version):
    paths = write_template(tmp_path, year, cats)
    assert [p.name for p in paths] == [f"etdz_template_{year}.csv", f"etdz_template_{year}.xlsx"]
    cat = catalogue_for_year(cats, year)
    assert cat.version == version
    rows = read_csv(paths[0])
    assert list(rows[0]) == HEADER
    assert [r["measure_code"] for r in rows] == list(cat.measures)
    assert len(rows) == 34
    required = set(cat.required_measures)
    for r in rows:
        m = cat.measures[r["measure_code"]]
        assert r["unit"] == m.unit and r["value"] == "" and r["data_year"] == str(year) and r["zone_code"] == ""
        assert r["note"].startswith(m.name_zh)
        assert ("必填" in r["note"]) == (r["measure_code"] in required)
        for u in m.accepted_units:
            assert u in r["note"]
        assert ("整数" in r["note"]) == m.integer
    fdi = next(r for r in rows if r["measure_code"] == "fdi_actual")
    assert "亿美元（×10000）" in fdi["note"]


def test_zone_prefill_and_file_names(tmp_path, cats):
    paths = write_template(tmp_path, 2022, cats, zone=SUZHOU, registry=load_registry())
    assert [p.name for p in paths] == [f"etdz_template_2022_{SUZHOU}.csv", f"etdz_template_2022_{SUZHOU}.xlsx"]
    assert {(r["zone_code"], r["data_year"]) for r in read_csv(paths[0])} == {(SUZHOU, "2022")}
    wb, ws = read_xlsx(paths[1])
    body = list(ws.iter_rows(min_row=2, values_only=True))
    assert {(r[0], r[1]) for r in body} == {(SUZHOU, 2022)}
    assert all(r[3] is None for r in body)


def test_unknown_or_malformed_zone_is_refused(tmp_path, cats):
    with pytest.raises(ValueError, match="not in the zone registry.*jiangsu-suzhou-industrial-park"):
        write_template(tmp_path, 2022, cats, zone="suzhou-industrial-park")
    with pytest.raises(ValueError, match="not in the zone registry"):
        write_template(tmp_path, 2022, cats, zone="Z999999", registry=load_registry())
    with pytest.raises(ValueError, match=r"did you mean sichuan-neijiang\b"):  # a typo: difflib's suggestion
        write_template(tmp_path, 2022, cats, zone="sichuan-neijang", registry=load_registry())
    with pytest.raises(ValueError, match=r"did you mean sichuan-neijiang\b"):  # another case
        write_template(tmp_path, 2022, cats, zone="Sichuan-Neijiang", registry=load_registry())
    for bad in ("../etc", "a/b", "苏州工业园区", "x" * 41, ""):
        with pytest.raises(ValueError, match="not valid|not in the zone registry"):
            write_template(tmp_path, 2022, cats, zone=bad)
    assert not list(tmp_path.iterdir())  # nothing written
    # a provincial candidate of another registry is fine
    import pandas as pd
    reg = pd.DataFrame({"zone_code": ["P1"], "name_zh": ["示例"], "province": ["江苏"], "region": ["east"],
                        "tier": ["provincial"], "first_data_year": [pd.NA], "exit_data_year": [pd.NA]})
    assert write_template(tmp_path, 2022, cats, zone="P1", registry=reg)[0].name == "etdz_template_2022_P1.csv"


def test_no_catalogue_for_the_year(tmp_path, cats):
    with pytest.raises(MethodologyError):
        write_template(tmp_path, 1999, cats)


def test_xlsx_layout(tmp_path, cats):
    _, xlsx = write_template(tmp_path, 2022, cats)
    wb, ws = read_xlsx(xlsx)
    assert wb.sheetnames[0] == "submission" and "说明" in wb.sheetnames
    assert [c.value for c in ws[1]] == HEADER
    assert all(c.font.bold for c in ws[1])
    assert ws.freeze_panes == "A2"
    for col in "ABCDEF":
        assert ws.column_dimensions[col].width and ws.column_dimensions[col].width >= 10
    cat = catalogue_for_year(cats, 2022)
    for i, (code, m) in enumerate(cat.measures.items(), start=2):
        assert ws.cell(row=i, column=3).value == code
        fmt = ws.cell(row=i, column=4).number_format
        assert fmt == ("0" if m.integer else "0.00####")
        assert isinstance(ws.cell(row=i, column=2).value, int)
    assert ws.max_row == 1 + len(cat.measures)
    assert ws.data_validations.dataValidation  # unit drop-downs and the number check


def test_template_files_are_deterministic(tmp_path, cats):
    a = write_template(tmp_path / "a", 2022, cats, zone=SUZHOU)
    b = write_template(tmp_path / "b", 2022, cats, zone=SUZHOU)
    assert [p.read_bytes() for p in a] == [p.read_bytes() for p in b]


def test_formula_like_text_is_neutralised(tmp_path):
    assert neutralise("=1+1") == "'=1+1"
    assert neutralise("+86") == "'+86" and neutralise("-3") == "'-3" and neutralise("@SUM(A1)") == "'@SUM(A1)"
    assert neutralise(" =cmd") == "' =cmd" and neutralise("\t=x") == "'\t=x"
    assert neutralise("实际使用外资金额") == "实际使用外资金额" and neutralise("") == ""
    # a catalogue whose names start like formulas: no cell of either file starts with = + - @
    doc = yaml.safe_load((SHIPPED_DIR / "2021.yaml").read_text(encoding="utf-8"))
    doc["measures"][0]["name_zh"] = '=HYPERLINK("http://example.invalid","点击")'
    doc["measures"][1]["name_zh"] = "@SUM(1)"
    doc["name_zh"] = "-考核办法"
    folder = tmp_path / "cats"
    folder.mkdir()
    (folder / "2021.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    shutil.copy(SHIPPED_DIR / "2016.yaml", folder / "2016.yaml")
    csv_path, xlsx_path = write_template(tmp_path / "out", 2022, load_catalogues(folder))
    wb = load_workbook(xlsx_path)
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(("=", "+", "-", "@")), cell.value
                    assert cell.data_type != "f"
    for row in csv.reader(io.StringIO(csv_path.read_bytes().decode("utf-8-sig"))):
        assert not any(c.startswith(("=", "+", "-", "@")) for c in row)
    assert read_csv(csv_path)[0]["note"].startswith("'=HYPERLINK")


def _fill_csv(path: Path, cat, out: Path) -> Path:
    rows = read_csv(path)
    for i, r in enumerate(rows):
        m = cat.measures[r["measure_code"]]
        r["value"] = str(10 + i) if m.integer else f"{12.5 + i:.2f}"
        if r["measure_code"].startswith("city_"):
            r["value"] = str(100000 + i)  # a city's figure above the zone's
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=HEADER, lineterminator="\r\n")
    w.writeheader()
    w.writerows(rows)
    out.write_bytes(buf.getvalue().encode("utf-8-sig"))
    return out


def _fill_xlsx(path: Path, cat, out: Path) -> Path:
    wb, ws = read_xlsx(path)
    for row in range(2, ws.max_row + 1):
        code = ws.cell(row=row, column=3).value
        m = cat.measures[code]
        ws.cell(row=row, column=4).value = (100000 + row) if code.startswith("city_") else (
            (10 + row) if m.integer else 12.5 + row)
    wb.save(out)
    return out


@pytest.mark.skipif(importlib.util.find_spec("etdz.ingestion") is None, reason="etdz/ingestion/ not written yet")
@pytest.mark.parametrize("year", [2019, 2022])
def test_a_filled_in_template_passes_validation(tmp_path, cats, year):
    from etdz.ingestion import validate_files

    registry = load_registry()
    csv_path, xlsx_path = write_template(tmp_path / "t", year, cats, zone=SUZHOU, registry=registry)
    cat = catalogue_for_year(cats, year)
    folder = tmp_path / "inbox" / str(year)
    folder.mkdir(parents=True)
    filled_csv = _fill_csv(csv_path, cat, folder / "苏州工业园区 填报.csv")
    filled_xlsx = _fill_xlsx(xlsx_path, cat, folder / "苏州工业园区 填报.xlsx")
    for f in (filled_csv, filled_xlsx):
        text, code = validate_files([f], cats, registry)
        assert code == 0, text
    # the untouched template (every value empty) reports nothing: not a submission (issue 11), so it is rejected
    text, code = validate_files([csv_path], cats, registry)
    assert code == 1 and "file.no_values" in text, text



def _validation_of(ws, cell: str):
    found = [dv for dv in ws.data_validations.dataValidation if cell in dv.sqref]
    assert len(found) == 1, f"{cell}: {len(found)} validations"
    return found[0]


@pytest.mark.parametrize("year", [2019, 2022])
def test_every_value_cell_checks_as_the_zone_types(tmp_path, cats, year):
    """A number everywhere; with a single unit the measure's hard bounds and whole-ness; Chinese messages."""
    _, xlsx = write_template(tmp_path, year, cats)
    _, ws = read_xlsx(xlsx)
    cat = catalogue_for_year(cats, year)
    singles = 0
    for i, (code, m) in enumerate(cat.measures.items(), start=2):
        dv = _validation_of(ws, f"D{i}")
        assert dv.showErrorMessage and dv.showInputMessage and dv.allow_blank
        assert dv.prompt and m.name_zh in dv.error and ("整数" if dv.type == "whole" else "数字") in dv.error
        if len(cat.units_for_year(code, year)) == 1:
            singles += 1
            assert dv.type == ("whole" if m.integer else "decimal")
            bounds = [float(x) for x in (dv.formula1, dv.formula2) if x is not None]
            expected = [b for b in (m.hard_min, m.hard_max) if b is not None]
            assert bounds == (expected or [-1e15, 1e15])
            one_side = "greaterThanOrEqual" if m.hard_min is not None else "lessThanOrEqual"
            assert dv.operator == (one_side if len(expected) == 1 else "between")
        else:  # several units: the bounds depend on the unit chosen; only the sign holds in every unit
            assert dv.type == "decimal"
            assert float(dv.formula1) == (0.0 if m.hard_min is not None and m.hard_min >= 0 else -1e15)
    assert singles >= 5  # the shipped catalogues have %, 天, … measures with one unit
    days = _validation_of(ws, f"D{list(cat.measures).index('startup_days') + 2}")
    assert (days.type, days.operator, days.formula1) == ("decimal", "greaterThanOrEqual", "0")
    patents = _validation_of(ws, f"D{list(cat.measures).index('invention_patents') + 2}")
    assert (patents.type, patents.formula1) == ("whole", "0") and "整数" in patents.error


def test_both_bounds_of_a_single_unit_measure(tmp_path):
    from tests.fixtures.submissions import write_tiny_catalogue

    cat = write_tiny_catalogue(tmp_path / "cat")
    _, xlsx = write_template(tmp_path / "out", 2022, [cat])
    _, ws = read_xlsx(xlsx)
    dv = _validation_of(ws, f"D{list(cat.measures).index('share') + 2}")
    assert (dv.type, dv.operator, dv.formula1, dv.formula2) == ("decimal", "between", "0", "100")
    assert "0 ～ 100 %" in dv.error and "0 ～ 100 %" in dv.prompt


def test_units_are_a_drop_down_with_currency_units_only_for_years_with_a_rate(tmp_path, cats):
    for year, has_rate in ((2022, True), (2025, False)):
        _, xlsx = write_template(tmp_path / str(year), year, cats)
        _, ws = read_xlsx(xlsx)
        cat = catalogue_for_year(cats, year)
        for i, code in enumerate(cat.measures, start=2):
            dv = _validation_of(ws, f"E{i}")
            assert dv.type == "list" and dv.formula1.strip('"').split(",") == list(cat.units_for_year(code, year))
        trade = list(cat.measures).index("trade_total") + 2
        assert ("亿美元" in _validation_of(ws, f"E{trade}").formula1) == has_rate
        notes = " ".join(r[0] for r in load_workbook(xlsx)["说明"].iter_rows(values_only=True))
        if has_rate:
            assert "24.7 亿美元 × 6.7261 = 166.13 亿元" in notes and "统计公报" in notes
        else:
            assert "2025 年的汇率" in notes


def test_identifying_columns_are_locked(tmp_path, cats):
    for zone in (SUZHOU, None):
        _, xlsx = write_template(tmp_path / str(zone), 2022, cats, zone=zone)
        _, ws = read_xlsx(xlsx)
        assert ws.protection.sheet
        for i in range(2, ws.max_row + 1):
            assert ws.cell(row=i, column=1).protection.locked == (zone is not None)  # a zone to fill in stays open
            assert ws.cell(row=i, column=2).protection.locked and ws.cell(row=i, column=3).protection.locked
            assert not any(ws.cell(row=i, column=c).protection.locked for c in (4, 5, 6))
        assert all(c.protection.locked for c in ws[1])


def test_a_template_filled_in_foreign_currency_passes_validation(tmp_path, cats):
    from etdz.ingestion import validate_files

    registry = load_registry()
    _, xlsx_path = write_template(tmp_path / "t", 2021, cats, zone=SUZHOU, registry=registry)
    cat = catalogue_for_year(cats, 2021)
    folder = tmp_path / "inbox" / "2021"
    folder.mkdir(parents=True)
    filled = _fill_xlsx(xlsx_path, cat, folder / "填报.xlsx")
    wb, ws = read_xlsx(filled)
    for row in range(2, ws.max_row + 1):
        code = ws.cell(row=row, column=3).value
        if code == "trade_total":
            ws.cell(row=row, column=4).value, ws.cell(row=row, column=5).value = 24.7, "亿美元"
        if code == "fdi_actual":
            ws.cell(row=row, column=4).value, ws.cell(row=row, column=5).value = 21000, "万元"
    wb.save(filled)
    text, code = validate_files([filled], cats, registry)
    assert code == 0, text
    assert "24.7 亿美元 × 6.4515 = 159.35 亿元" in text and "21000 万元 ÷ 6.4515 = 3255.06 万美元" in text
