"""Reading Y−1 (etdz/history.py): one explicit function, its only memory the dict its caller owns."""

from __future__ import annotations

import os

import pytest

import etdz.history as history
from etdz.history import previous_submissions
from etdz.storage import Warehouse
from tests.fixtures.submissions import csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry


@pytest.fixture
def year_2021(tmp_path, monkeypatch):
    cat = write_tiny_catalogue(tmp_path / "cat")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox"
    (inbox / "2021").mkdir(parents=True)
    (inbox / "2021" / "z1.csv").write_bytes(csv_bytes(rows_for("Z1", 2021)))
    reads = []
    real = history.ingest_year
    monkeypatch.setattr(history, "ingest_year", lambda *a, **k: reads.append(a[1]) or real(*a, **k))

    def read(memo=None):
        return previous_submissions(Warehouse(str(tmp_path / "w")), inbox, 2022, [cat], cat, reg, 2**20, memo=memo)

    return read, reads, inbox / "2021" / "z1.csv"


def test_without_a_memo_every_call_reads_the_inbox(year_2021):
    read, reads, _ = year_2021
    a, b = read(), read()
    assert reads == [2021, 2021] and a.origin == b.origin == "inbox" and a.zones == b.zones == {"Z1"}


def test_the_caller_s_memo_keeps_the_last_read_until_a_file_changes(year_2021):
    read, reads, path = year_2021
    memo: dict = {}
    first = read(memo)
    assert read(memo) is first and reads == [2021] and len(memo) == 1
    path.write_bytes(csv_bytes(rows_for("Z1", 2021, output=("7", "亿元"))))
    os.utime(path, ns=(path.stat().st_mtime_ns + 10**9,) * 2)
    again = read(memo)
    assert reads == [2021, 2021] and again is not first and len(memo) == 1
    assert not hasattr(history, "_INBOX_MEMO")  # nothing kept by the module
