"""Bounded work per file (issue 11): a file with far more rows than a submission can hold is rejected without
parsing the rest, a filled-in template with formatted empty rows is not, issue messages stay short, and the
limits are settings with clear errors."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile

import openpyxl
import pandas as pd
import pytest
from openpyxl.styles import Font
from openpyxl.worksheet import _read_only

from etdz.ingestion import ingest_year
from etdz.reading import DEFAULT_ROWS_PER_MEASURE
from etdz.settings import ConfigError, Settings
from tests.fixtures.submissions import (
    COLUMNS,
    GOOD,
    count_sheet_reads,
    csv_bytes,
    rows_for,
    write_tiny_catalogue,
    write_tiny_registry,
)

YEAR = 2022


@pytest.fixture
def env(tmp_path):
    cat = write_tiny_catalogue(tmp_path / "cat")  # 6 measures: at most 60 non-blank rows per file by default
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / str(YEAR)
    inbox.mkdir(parents=True)
    (inbox / "z2.csv").write_bytes(csv_bytes(rows_for("Z2", YEAR)))  # a normal zone beside the big file
    return cat, reg, inbox


def _many_rows(n: int, zone: str = "Z1") -> list[list[object]]:
    good = rows_for(zone, YEAR)
    return [good[i % len(good)] for i in range(n)]


def _xlsx(rows: list[list[object]], blank_formatted: int = 0) -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(COLUMNS)
    for r in rows:
        ws.append(r)
    bold = Font(bold=True)
    for r in range(len(rows) + 2, len(rows) + 2 + blank_formatted):  # formatted, empty: what templates carry
        for c in range(1, 6):
            ws.cell(row=r, column=c).font = bold
            ws.cell(row=r, column=c).number_format = "0.00"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _status(y, name: str) -> str:
    return y.log.set_index("file_name").at[name, "status"]


@pytest.mark.slow
def test_csv_over_the_row_limit_is_rejected_without_parsing_the_rest(env):
    cat, reg, inbox = env
    limit = DEFAULT_ROWS_PER_MEASURE * len(cat.measures)
    data = csv_bytes(_many_rows(200_000))
    # a row after the limit that the CSV reader would refuse: reached only if the rest were parsed
    data += b'"x"y,2022,output,1,\xe4\xba\xbf\xe5\x85\x83\r\n'
    (inbox / "big.csv").write_bytes(data)
    y = ingest_year(inbox, YEAR, cat, reg, None)
    assert _status(y, "big.csv") == "rejected" and _status(y, "z2.csv") == "accepted"
    iss = y.issues.loc[y.issues.file_name == "big.csv"]
    assert list(iss.check) == ["file.too_many_rows"]
    assert f"上限 {limit} 行" in iss.message.iloc[0] and f"第 {limit + 2} 行" in iss.message.iloc[0]
    assert pd.isna(y.log.set_index("file_name").at["big.csv", "rows"])  # no row count claimed for it


@pytest.mark.slow
def test_xlsx_over_the_row_limit_stops_streaming_at_the_limit(env, monkeypatch):
    cat, reg, inbox = env
    limit = DEFAULT_ROWS_PER_MEASURE * len(cat.measures)
    (inbox / "big.xlsx").write_bytes(_xlsx(_many_rows(20 * limit)))
    seen = []
    original = _read_only.ReadOnlyWorksheet._cells_by_row

    def counting(self, *args, **kwargs):
        for row in original(self, *args, **kwargs):
            seen.append(1)
            yield row

    monkeypatch.setattr(_read_only.ReadOnlyWorksheet, "_cells_by_row", counting)
    y = ingest_year(inbox, YEAR, cat, reg, None)
    assert _status(y, "big.xlsx") == "rejected" and _status(y, "z2.csv") == "accepted"
    assert list(y.issues.loc[y.issues.file_name == "big.xlsx", "check"]) == ["file.too_many_rows"]
    assert len(seen) <= limit + 2  # the header, the rows within the limit, the first one beyond: no more


@pytest.mark.slow
def test_xlsx_without_declared_dimensions_is_not_parsed_in_full_when_opened(env, monkeypatch):
    """openpyxl's write-only workbooks (and many exporters) declare no <dimension>: opening one used to parse every
    row of the sheet before the first was read. Count the bytes read from the sheet's XML."""
    cat, reg, inbox = env
    wb = openpyxl.Workbook(write_only=True)
    ws = wb.create_sheet()
    ws.append(COLUMNS)
    for r in _many_rows(20_000):
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    (inbox / "big.xlsx").write_bytes(buf.getvalue())
    with zipfile.ZipFile(buf) as z:
        sheet_size = z.getinfo("xl/worksheets/sheet1.xml").file_size
        assert b"<dimension" not in z.read("xl/worksheets/sheet1.xml")[:2000]
    read_bytes = count_sheet_reads(monkeypatch)
    y = ingest_year(inbox, YEAR, cat, reg, None)
    assert list(y.issues.loc[y.issues.file_name == "big.xlsx", "check"]) == ["file.too_many_rows"]
    assert sum(read_bytes) < sheet_size / 10, (sum(read_bytes), sheet_size)


@pytest.mark.slow
def test_filled_in_template_with_formatted_empty_rows_stays_within_the_limit(env):
    cat, reg, inbox = env
    (inbox / "z1.xlsx").write_bytes(_xlsx(rows_for("Z1", YEAR), blank_formatted=5000))
    y = ingest_year(inbox, YEAR, cat, reg, None)
    assert _status(y, "z1.xlsx") == "accepted"
    assert y.log.set_index("file_name").at["z1.xlsx", "rows"] == len(GOOD)


def test_issue_messages_are_bounded(env):
    cat, reg, inbox = env
    # the same measure 50 times (within the limit): each duplicate names a few rows and how many more
    dup = [["Z1", YEAR, "output", "1", "亿元"]] * 50
    (inbox / "dup.csv").write_bytes(csv_bytes(rows_for("Z1", YEAR, output=None) + dup))
    # 50 different zone codes and years in one file
    mixed = [[f"Z{i}", 1900 + i, "output", "1", "亿元"] for i in range(50)]
    (inbox / "mixed.csv").write_bytes(csv_bytes(mixed))
    y = ingest_year(inbox, YEAR, cat, reg, None)
    dups = y.issues.loc[(y.issues.file_name == "dup.csv") & (y.issues.check == "row.duplicate_measure")]
    assert len(dups) == 50
    assert dups.message.str.contains("及另外 45 行").all()
    assert dups.message.str.len().max() < 300
    mix = y.issues.loc[y.issues.file_name == "mixed.csv"].set_index("check")
    for check in ("file.several_zones", "file.year_mismatch"):
        assert len(mix.at[check, "message"]) < 600 and "共 50 个不同的值" in mix.at[check, "message"]
        assert mix.at[check, "value"].endswith("及另外 40 个")


def test_row_limit_is_a_setting(env):
    cat, reg, inbox = env
    assert Settings.from_env({"ETDZ_HOME": "/tmp/x"}).max_rows_per_measure == DEFAULT_ROWS_PER_MEASURE
    assert Settings.from_env({"ETDZ_HOME": "/tmp/x", "ETDZ_MAX_ROWS_PER_MEASURE": "2"}).max_rows_per_measure == 2
    (inbox / "twice.csv").write_bytes(csv_bytes(_many_rows(2 * len(cat.measures) + 1)))
    y = ingest_year(inbox, YEAR, cat, reg, None, max_rows_per_measure=2)
    assert list(y.issues.loc[y.issues.file_name == "twice.csv", "check"]) == ["file.too_many_rows"]


@pytest.mark.parametrize("var, value", [("ETDZ_MAX_ROWS_PER_MEASURE", "0"), ("ETDZ_MAX_ROWS_PER_MEASURE", "ten"),
                                        ("ETDZ_MAX_ROWS_PER_MEASURE", "2.5"), ("ETDZ_MAX_FILE_MB", "20MB"),
                                        ("ETDZ_MAX_FILE_MB", "-1"), ("ETDZ_MAX_FILE_MB", "nan"),
                                        ("ETDZ_MAX_FILE_MB", "inf")])
@pytest.mark.slow
def test_a_bad_limit_setting_is_one_plain_message(tmp_path, var, value):
    with pytest.raises(ConfigError, match=var):
        Settings.from_env({"ETDZ_HOME": str(tmp_path), var: value})
    (tmp_path / "x.csv").write_text("zone_code\n", encoding="utf-8")
    env = {**os.environ, "ETDZ_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dh"), var: value}
    proc = subprocess.run([sys.executable, "-m", "etdz.cli", "validate", str(tmp_path / "x.csv")], env=env,
                          check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert f"{var}: {value!r}" in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
