"""Reading untrusted files: strict decoding, XLSX read-only without formulas, zip-bomb guard, size limit."""

from __future__ import annotations

import io
import zipfile

import pytest

from etdz.reading import (
    ROW_KEY,
    Formula,
    decode_csv,
    file_format,
    read_csv_bytes,
    read_submission,
    read_xlsx_bytes,
    zip_guard,
)
from tests.fixtures.submissions import count_sheet_reads, csv_bytes, rows_for, xlsx_bytes

ROWS = rows_for("Z1", 2022)


def test_decoding_order_utf8_bom_then_gb18030():
    text = "zone_code,unit\nZ1,万元\n"
    assert decode_csv(text.encode("utf-8")) == (text, "utf-8")
    assert decode_csv(b"\xef\xbb\xbf" + text.encode("utf-8")) == (text, "utf-8-sig")
    assert decode_csv(text.encode("gbk")) == (text, "gb18030")
    assert decode_csv(text.encode("gb18030")) == (text, "gb18030")
    # short GBK that a statistical detector would call something else: decoded right, never guessed
    assert decode_csv("亿元".encode("gbk"))[0] == "亿元"
    assert decode_csv("\ufeffabc".encode("utf-16-le")) == (None, None)
    assert decode_csv(b"\xef\xbb\xbf\xff\xfe") == (None, None)


def test_csv_rows_and_row_numbers_header_is_row_1():
    r = read_csv_bytes(csv_bytes(ROWS, encoding="gbk"))
    assert r.ok and r.encoding == "gb18030" and r.file_format == "csv"
    assert [x[ROW_KEY] for x in r.rows] == list(range(2, 2 + len(ROWS)))
    assert r.rows[0]["unit"] == "亿元"


def test_blank_lines_are_skipped_but_row_numbers_stay_what_excel_shows():
    data = csv_bytes(ROWS[:1]) + b",,,,\r\n\r\n" + csv_bytes(ROWS[1:2], columns=None)
    r = read_csv_bytes(data)
    assert [x[ROW_KEY] for x in r.rows] == [2, 5]


def test_column_names_case_insensitive_and_stripped_any_order():
    cols = [" UNIT", "Value ", "measure_code", "DATA_YEAR", "\u3000zone_code"]
    data = csv_bytes([[r[4], r[3], r[2], r[1], r[0]] for r in ROWS], columns=cols)
    r = read_csv_bytes(data)
    assert r.ok and r.rows[0]["zone_code"] == "Z1" and r.rows[0]["unit"] == "亿元"


def test_extra_columns_listed_empty_unnamed_columns_ignored():
    data = csv_bytes([r + ["x", ""] for r in ROWS],
                     columns=["zone_code", "data_year", "measure_code", "value", "unit", "备注2", ""])
    r = read_csv_bytes(data)
    assert r.ok and r.extra_columns == ["备注2"]


@pytest.mark.parametrize("data, check", [
    (b"", "file.empty"),
    (b"\r\n\r\n", "file.empty"),
    (csv_bytes([]), "file.no_data"),
    (csv_bytes(ROWS, delimiter=";"), "file.missing_columns"),
    (csv_bytes([r[:4] for r in ROWS], columns=["zone_code", "data_year", "measure_code", "value"]),
     "file.missing_columns"),
    (b"zone_code,data_year\x00\x01\x02\x03", "file.encoding"),
    (b"\xff\xfe\x00\x00garbage\x81", "file.encoding"),
    (csv_bytes(ROWS) + b'"open', "file.unreadable"),
    (csv_bytes([r + [r[3]] for r in ROWS],
               columns=["zone_code", "data_year", "measure_code", "value", "unit", "Value"]),
     "file.duplicate_column"),
])
def test_csv_file_problems(data, check):
    r = read_csv_bytes(data)
    assert [p.check for p in r.problems] == [check]


def test_semicolon_and_title_row_hints():
    semi = read_csv_bytes(csv_bytes(ROWS, delimiter=";"))
    assert "分号" in semi.problems[0].message
    title = read_csv_bytes(b"2022 data\r\n" + csv_bytes(ROWS))
    assert "第 2 行" in title.problems[0].message


def test_xlsx_reads_first_sheet_numbers_and_keeps_formulas_unevaluated():
    data = xlsx_bytes([["Z1", 2022.0, "output", 120.5, "亿元"], ["Z1", 2022, "firms", "=1+1", "家"]])
    r = read_xlsx_bytes(data)
    assert r.ok and r.file_format == "xlsx"
    assert r.rows[0]["data_year"] == 2022 and r.rows[0]["value"] == 120.5
    assert isinstance(r.rows[1]["value"], Formula) and r.rows[1]["value"].text == "=1+1"
    assert [x[ROW_KEY] for x in r.rows] == [2, 3]


def test_xlsx_title_row_and_empty_first_sheet():
    assert read_xlsx_bytes(xlsx_bytes(ROWS, title="标题")).problems[0].check == "file.missing_columns"
    assert read_xlsx_bytes(xlsx_bytes(ROWS, first_sheet_empty=True)).problems[0].check == "file.empty"
    assert read_xlsx_bytes(xlsx_bytes([])).problems[0].check == "file.no_data"


def test_xlsx_not_a_zip_or_an_old_xls():
    assert read_xlsx_bytes(b"zone_code,data_year\n").problems[0].check == "file.unreadable"
    p = read_xlsx_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(100)).problems[0]
    assert p.check == "file.unreadable" and ".xls" in p.message


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for n, b in members.items():
            z.writestr(n, b)
    return buf.getvalue()


def test_zip_bomb_guard_ratio_and_total_size_checked_before_opening(monkeypatch):
    import openpyxl

    def boom(*a, **k):  # the guard must refuse before openpyxl is ever called
        raise AssertionError("openpyxl opened a zip bomb")

    monkeypatch.setattr(openpyxl, "load_workbook", boom)
    bomb = _zip({"xl/worksheets/sheet1.xml": b"\0" * (3 * 1024 * 1024)})
    assert read_xlsx_bytes(bomb).problems[0].check == "file.zip_bomb"
    big = _zip({f"m{i}": bytes(range(256)) * 400 for i in range(10)})  # ~1 MB uncompressed, low ratio
    assert zip_guard(big, max_uncompressed=500_000).check == "file.zip_bomb"
    assert zip_guard(big) is None


def test_a_real_workbook_passes_the_guard():
    assert zip_guard(xlsx_bytes(ROWS)) is None


def test_size_limit_and_format_by_extension():
    assert read_submission("a.csv", None, 21 * 1024 * 1024).problems[0].check == "file.too_large"
    assert read_submission("a.csv", b"x" * 11, 11, max_bytes=10).problems[0].check == "file.too_large"
    assert read_submission("报送.PDF", b"%PDF", 4).problems[0].check == "file.not_csv_xlsx"
    assert read_submission("old.xls", b"", 0).problems[0].check == "file.not_csv_xlsx"
    assert file_format("A.CSV") == "csv" and file_format("b.XlSx") == "xlsx" and file_format("c") is None
    assert read_submission("数据 2022.CSV", csv_bytes(ROWS), 10).ok


def test_csv_overflow_fields_are_kept_for_the_row_check():
    data = csv_bytes(ROWS[:1]).replace(b"120.5", b"1,120.5")  # unquoted thousands separator
    r = read_csv_bytes(data)
    assert r.rows[0]["value"] == "1" and r.rows[0]["unit"] == "120.5" and r.rows[0]["__extra__"] == ["亿元"]


def test_opening_a_workbook_scans_its_sheet_only_up_to_the_data(monkeypatch):
    from openpyxl import Workbook

    from etdz import reading

    for write_only in (False, True):  # with a <dimension> element (openpyxl's normal writer) and without one
        wb = Workbook(write_only=write_only)
        ws = wb.create_sheet("s") if write_only else wb.active
        ws.append(["zone_code", "data_year", "measure_code", "value", "unit"])
        for i in range(2000):
            ws.append(["Z1", 2022, f"m{i}", i, "亿元"])
        raw = io.BytesIO()
        wb.save(raw)
        scanned = count_sheet_reads(monkeypatch)
        wb2 = reading._open_workbook(raw.getvalue())
        ws2 = wb2.worksheets[0]
        # the scan of openpyxl's opening stopped within a couple of small reads, not 16 KB of rows
        assert sum(scanned) <= 3 * reading._SCAN_CHUNK, scanned
        assert (ws2.max_row, ws2.max_column) == ((2001, 5) if not write_only else (None, None))
        wb2.close()
        monkeypatch.undo()
        assert read_xlsx_bytes(raw.getvalue()).ok
