"""`etdz validate` reports every problem of a file in one pass (issues 11 and 12): a file whose year is wrong,
unreadable as a year or without a catalogue still gets its zone and row problems listed, so one round of
corrections fixes everything."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from etdz.catalogue import load_catalogues
from etdz.ingestion import validate_files
from etdz.registry import load_registry
from tests.corpus.build_corpus import rows
from tests.fixtures.submissions import csv_bytes

ROW_PROBLEMS = {"gdp": ("约300", "亿元"), "trade_total": ("1450", "亿美圆"), "fdi_actual": ("-5", "万美元")}
ROW_CHECKS = {"row.invalid_value", "row.unknown_unit", "row.hard_bounds", "row.duplicate_measure"}


@pytest.fixture(scope="module")
def shipped():
    return load_catalogues(), load_registry()


def _bad_file(path, year: object) -> None:
    """A zone code not in the registry, three bad values, a measure twice, and ``year`` in every row."""
    data = rows("no-such-zone", year, **ROW_PROBLEMS)
    data.append(list(data[3]))  # a measure twice
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(csv_bytes(data))


def _codes(text: str) -> set[str]:
    return {line.split("]", 1)[1].split("（", 1)[0].strip() for line in text.splitlines() if line.startswith("   [")}


@pytest.mark.parametrize("year", ["二〇二二", ""], ids=["year-as-text", "year-empty"])
def test_a_file_without_a_usable_year_still_gets_its_zone_and_row_problems(tmp_path, shipped, year):
    path = tmp_path / "downloads" / "报送.csv"  # not in a year folder: the year can only come from the file
    _bad_file(path, year)
    text, status = validate_files([path], *shipped)
    assert status == 1
    assert {"file.year_mismatch", "file.unknown_zone"} | ROW_CHECKS <= _codes(text), text
    assert "数据年份 无法确定" in text and "按最新的考核办法检查" in text


def test_a_file_of_another_year_than_its_folder_gets_every_problem(tmp_path, shipped):
    path = tmp_path / "inbox" / "2022" / "报送.csv"
    _bad_file(path, 2021)
    text, status = validate_files([path], *shipped)
    assert status == 1 and {"file.year_mismatch", "file.unknown_zone"} | ROW_CHECKS <= _codes(text), text


def test_a_file_of_a_year_without_catalogue_gets_every_problem(tmp_path, shipped):
    path = tmp_path / "old" / "报送.csv"
    _bad_file(path, 1999)
    text, status = validate_files([path], *shipped)
    assert status == 1 and {"file.no_catalogue", "file.unknown_zone"} | ROW_CHECKS <= _codes(text), text


@pytest.mark.slow
def test_etdz_validate_prints_every_problem(tmp_path):
    path = tmp_path / "报送.csv"
    _bad_file(path, "二〇二二")
    env = {**os.environ, "ETDZ_HOME": str(tmp_path), "DAGSTER_HOME": str(tmp_path / "dh")}
    proc = subprocess.run([sys.executable, "-m", "etdz.cli", "validate", str(path)], env=env, check=False,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1, proc.stderr
    assert {"file.year_mismatch", "file.unknown_zone"} | ROW_CHECKS <= _codes(proc.stdout), proc.stdout
