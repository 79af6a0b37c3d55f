"""Build the faulty-file corpus: awkward and faulty submissions for data year 2022.

Checked against the shipped catalogue 2021 and the shipped registry (plus the
provincial zone ``prov-demo``, which the test adds). Every file's expected verdict
and the check code it must raise are in ``expected.csv`` beside this script.

    python tests/corpus/build_corpus.py [OUT_FOLDER]    # default: tests/corpus/files/2022

Deterministic: the same bytes every time (the XLSX files get a fixed timestamp).
"""

from __future__ import annotations

import io
import random
import sys
import zipfile
from pathlib import Path

from tests.fixtures.submissions import csv_bytes, rows_for
from tests.fixtures.submissions import xlsx_bytes as fixture_xlsx_bytes

YEAR = 2022
ZONE = "beijing-beijing"
NOT_DUE = "jiangxi-guixi"  # added in 2024: first data year 2025
PROVINCIAL = "prov-demo"
COLUMNS = ["zone_code", "data_year", "measure_code", "value", "unit"]

# every measure of catalogue 2021 with a plausible value in its canonical unit
MEASURES = [
    ("fdi_actual", "52000", "万美元"), ("city_fdi_actual", "310000", "万美元"),
    ("trade_total", "1450.5", "亿元"), ("city_trade_total", "30000", "亿元"), ("hitech_trade", "600", "亿元"),
    ("gdp", "2800", "亿元"), ("city_gdp", "41000", "亿元"), ("tax_revenue", "420", "亿元"),
    ("city_tax_revenue", "5900", "亿元"), ("industrial_revenue", "5200", "亿元"),
    ("industrial_value_added", "1300", "亿元"), ("hitech_mfg_revenue", "2100", "亿元"),
    ("city_hitech_mfg_revenue", "9800", "亿元"), ("rd_expenditure", "160", "亿元"),
    ("large_manufacturers", "41", "家"), ("listed_companies", "28", "家"), ("built_land_area", "60", "平方公里"),
    ("rd_institutions", "210", "个"), ("hitech_enterprises", "1250", "家"), ("incubators", "36", "个"),
    ("invention_patents", "15200", "件"), ("population", "85", "万人"), ("energy_consumption", "310", "万吨标准煤"),
    ("co2_emissions", "820", "万吨"), ("water_consumption", "5200", "万立方米"), ("cod_emissions", "950", "吨"),
    ("ammonia_emissions", "80", "吨"), ("solid_waste_generated", "120", "万吨"),
    ("solid_waste_utilized", "110", "万吨"),
    ("new_urban_jobs", "23000", "人"), ("joint_parks", "4", "个"), ("paired_parks", "2", "个"),
    ("approval_powers", "180", "项"), ("startup_days", "1.5", "天"),
]


def rows(zone: str = ZONE, year: object = YEAR, **override) -> list[list[object]]:
    """Rows of a complete submission of every shipped measure; ``override={measure: (value, unit)}``."""
    return rows_for(zone, year, MEASURES, **override)


def xlsx_bytes(data_rows, columns=COLUMNS, title=None, first_sheet_empty=False) -> bytes:
    """The fixtures' workbook, with fixed zip timestamps so the corpus is byte-identical on every build."""
    return _fixed_zip(fixture_xlsx_bytes(data_rows, columns, title, first_sheet_empty))


def _fixed_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed member timestamps so the corpus is byte-for-byte reproducible."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=(2023, 3, 1, 0, 0, 0))
            zi.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


def zip_bomb() -> bytes:
    """A small .xlsx-looking zip whose sheet member inflates 5 MB of zeros (ratio > 1000:1)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("[Content_Types].xml", (2023, 3, 1, 0, 0, 0)), "<Types/>")
        zi = zipfile.ZipInfo("xl/worksheets/sheet1.xml", (2023, 3, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, b"\0" * (5 * 1024 * 1024))
    return out.getvalue()


def formula_xlsx() -> bytes:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(COLUMNS)
    for r in rows():
        ws.append(r)
    ws["D2"] = "=SUM(1000,2000)"  # fdi_actual as a formula
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed_zip(buf.getvalue())


def float_cells_xlsx() -> bytes:
    data = [[z, float(y), m, float(v), u] for z, y, m, v, u in rows()]
    return xlsx_bytes(data)


def build(folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(2022)
    files: dict[str, bytes] = {
        # accepted, clean or with warnings only
        "01 正常 UTF-8.csv": csv_bytes(rows()),
        "02_utf8_bom.csv": csv_bytes(rows(), bom=True),
        "03_gbk_excel.csv": csv_bytes(rows(), encoding="gbk"),
        "04_plain.xlsx": xlsx_bytes(rows()),
        "05_float_cells.xlsx": float_cells_xlsx(),
        "06_fullwidth_digits.csv": csv_bytes(rows(gdp=("２８００．５", "亿元"))),
        "07_thousands_quoted.csv": csv_bytes(rows(gdp=("2,800.5", "亿元"))),
        "08_header_case_spaces.csv": csv_bytes(rows(), columns=[" Zone_Code ", "DATA_YEAR", "Measure_Code", " value",
                                                                "Unit "]),
        "09_mixed_units.csv": csv_bytes(rows(gdp=("28000000", "万元"), fdi_actual=("5.2", "亿美元"),
                                             population=("850000", "人"))),
        "10_required_empty.csv": csv_bytes(rows(fdi_actual=("", "万美元"))),
        "11_required_absent.csv": csv_bytes(rows(rd_institutions=None)),
        "12_extra_column.csv": csv_bytes([r + ["填表人：张三"] for r in rows()], columns=COLUMNS + ["填表人"]),
        "13_not_above_city.csv": csv_bytes(rows(gdp=("50000", "亿元"))),  # city 41000: beyond 5 %, rejected
        "14_zone_not_due.csv": csv_bytes(rows(zone=NOT_DUE)),
        "15_provincial.csv": csv_bytes(rows(zone=PROVINCIAL)),
        "16_spaces_around.csv": csv_bytes(rows(gdp=("  2800  ", "亿元"))),
        "17_city_within_tolerance.csv": csv_bytes(rows(gdp=("42000", "亿元"))),  # city 41000: within 5 %
        # rejected: row errors
        "20_text_value.csv": csv_bytes(rows(gdp=("约300", "亿元"))),
        "21_na_value.csv": csv_bytes(rows(trade_total=("N/A", "亿元"))),
        "22_percent_not_pct.csv": csv_bytes(rows(startup_days=("12%", "天"))),
        "23_unknown_unit.csv": csv_bytes(rows(gdp=("2800", "万美元"))),
        "24_unknown_measure.csv": csv_bytes(rows() + [[ZONE, YEAR, "GDP_total", "1", "亿元"]]),
        "25_duplicate_measure.csv": csv_bytes(rows() + [[ZONE, YEAR, "gdp", "2900", "亿元"]]),
        "26_negative_count.csv": csv_bytes(rows(hitech_enterprises=("-3", "家"))),
        "27_fractional_count.csv": csv_bytes(rows(listed_companies=("2.5", "家"))),
        "28_unquoted_thousands.csv": csv_bytes(rows(gdp=("2,800.5", "亿元"))).replace(b'"2,800.5"', b"2,800.5"),
        "29_formula.xlsx": formula_xlsx(),
        "30_dash_value.csv": csv_bytes(rows(tax_revenue=("—", "亿元"))),
        "31_two_dots.csv": csv_bytes(rows(tax_revenue=("1.2.3", "亿元"))),
        # rejected: file errors
        "40_missing_unit_column.csv": csv_bytes([r[:4] for r in rows()], columns=COLUMNS[:4]),
        "41_empty.csv": b"",
        "42_header_only.csv": csv_bytes([]),
        "43_binary_garbage.csv": bytes(rng.randrange(256) for _ in range(4096)),
        "44_zip_bomb.xlsx": zip_bomb(),
        "45_year_mismatch.csv": csv_bytes(rows(year=2021)),
        "46_unknown_zone.csv": csv_bytes(rows(zone="no-such-zone")),
        "47_several_zones.csv": csv_bytes(rows() + rows(zone="tianjin-tianjin")[:3]),
        "48_semicolon.csv": csv_bytes(rows(), delimiter=";"),
        "49_title_row.xlsx": xlsx_bytes(rows(), title="北京经济技术开发区 2022 年度考核数据"),
        "50_report.pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n",
        "51_renamed_xls.xlsx": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512),
        "52_utf16.csv": "\ufeff".encode("utf-16-le") + csv_bytes(rows()).decode("utf-8").encode("utf-16-le"),
        "53_first_sheet_empty.xlsx": xlsx_bytes(rows(), first_sheet_empty=True),
        "54_broken_quote.csv": csv_bytes(rows())[:-10] + b'"unterminated,',
        "55_year_text.csv": csv_bytes(rows(year="二〇二二")),
        "56_empty_zone_cells.csv": csv_bytes(rows()[:30] + rows(zone="")[30:]),
        "57_duplicate_column.csv": csv_bytes([r + [r[3]] for r in rows()], columns=COLUMNS + ["VALUE"]),
    }
    out = []
    for name, data in files.items():
        p = folder / name
        p.write_bytes(data)
        out.append(p)
    return out


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "files" / str(YEAR)
    for p in build(target):
        print(p)
