"""Deadlines and late files (etdz/deadlines.py; ``submission_log.late`` set by ingestion)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

import pandas as pd
import pytest

from etdz.deadlines import deadline, default_deadline, late_flags, parse_deadlines
from etdz.ingestion import ingest_year
from etdz.settings import Settings
from tests.fixtures.submissions import csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry


def utc(*args) -> pd.Timestamp:
    return pd.Timestamp(datetime(*args, tzinfo=UTC))


def test_default_is_the_end_of_the_reporting_half_year():
    assert default_deadline(2022) == date(2023, 6, 30)
    assert deadline(2022, {2022: date(2023, 5, 15)}) == date(2023, 5, 15)
    assert deadline(2021, {2022: date(2023, 5, 15)}) == date(2022, 6, 30)


def test_the_deadline_day_is_inclusive_in_shanghai_time():
    received = pd.Series([
        utc(2023, 6, 30, 15, 59, 59),  # 30 June 23:59:59 in Shanghai: on time
        utc(2023, 6, 30, 16, 0, 0),  # 1 July 00:00 in Shanghai: late (still 30 June in UTC)
        utc(2023, 1, 5),
        pd.NaT,  # unknown time: never flagged
    ])
    assert late_flags(received, 2022).tolist() == [False, True, False, False]
    assert late_flags(received, 2022, {2022: date(2023, 7, 1)}).tolist() == [False, False, False, False]


def test_configured_deadlines_are_parsed_and_checked():
    assert parse_deadlines("2023=2024-05-15, 2024=2025-05-31") == {2023: date(2024, 5, 15), 2024: date(2025, 5, 31)}
    assert parse_deadlines("") == {} and parse_deadlines(None) == {}
    for bad, why in [("2023:2024-05-15", "DATA_YEAR=YYYY-MM-DD"), ("2023=2024-02-30", "not a calendar date"),
                     ("2023=2023-12-31", "after that year"), ("2023=2024-05-15,2023=2024-06-01", "twice")]:
        with pytest.raises(ValueError, match=why):
            parse_deadlines(bad)
    env = {"ETDZ_HOME": "/tmp/x", "ETDZ_DEADLINES": "2023=2024-05-15"}
    assert Settings.from_env(env).deadlines == "2023=2024-05-15"
    with pytest.raises(ValueError, match="ETDZ_DEADLINES"):
        Settings.from_env({"ETDZ_HOME": "/tmp/x", "ETDZ_DEADLINES": "2023=15.5.2024"})


def test_late_files_are_flagged_and_decided_on_their_merits(tmp_path):
    cat, reg = write_tiny_catalogue(tmp_path / "cat"), write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / "2022"
    inbox.mkdir(parents=True)
    files = {"on_time.csv": (rows_for("Z1", 2022), utc(2023, 3, 1)),
             "late_good.csv": (rows_for("Z2", 2022), utc(2023, 8, 1)),
             "late_bad.csv": (rows_for("Z3", 2022, output=("约120", "亿元")), utc(2023, 8, 2))}
    for name, (rows, when) in files.items():
        (inbox / name).write_bytes(csv_bytes(rows))
        os.utime(inbox / name, ns=(when.value, when.value))
    log = ingest_year(inbox, 2022, cat, reg, None).log.set_index("file_name")
    assert log["late"].to_dict() == {"on_time.csv": False, "late_good.csv": True, "late_bad.csv": True}
    assert log["status"].to_dict() == {"on_time.csv": "accepted", "late_good.csv": "accepted",
                                       "late_bad.csv": "rejected"}
    configured = ingest_year(inbox, 2022, cat, reg, None, deadlines={2022: date(2023, 8, 1)}).log.set_index("file_name")
    assert configured["late"].to_dict() == {"on_time.csv": False, "late_good.csv": False, "late_bad.csv": True}
