"""Reading Y−1 (etdz/history.py): one explicit function, its only memory the dict its caller owns."""

from __future__ import annotations

import os
import time

import pandas as pd
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


def _read_ahead(tmp_path, inbox, cat, reg, memo=None, background=None):
    return history.previous_submissions_ahead(Warehouse(str(tmp_path / "w")), inbox, 2022, [cat], cat, reg, 2**20,
                                              memo=memo, background=background)


@pytest.fixture
def two_zones_2021(tmp_path):
    cat = write_tiny_catalogue(tmp_path / "cat")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox"
    (inbox / "2021").mkdir(parents=True)
    (inbox / "2021" / "z1.csv").write_bytes(csv_bytes(rows_for("Z1", 2021)))
    (inbox / "2021" / "z2.csv").write_bytes(b"not,a,submission\n")  # rejected: Z2 has no accepted file
    return inbox, cat, reg


@pytest.mark.slow
def test_a_previous_inbox_read_by_a_worker_is_the_read_done_here(tmp_path, two_zones_2021):
    inbox, cat, reg = two_zones_2021
    here = previous_submissions(Warehouse(str(tmp_path / "w")), inbox, 2022, [cat], cat, reg, 2**20)
    memo: dict = {}
    with _read_ahead(tmp_path, inbox, cat, reg, memo, background=True) as pending:
        assert pending.in_background
        there = pending.result()
    assert there.origin == here.origin == "inbox" and there.zones == here.zones == {"Z1"}
    pd.testing.assert_frame_equal(there.measures.reset_index(drop=True), here.measures.reset_index(drop=True))
    assert list(memo.values()) == [there]  # the next step of the run reads it from the memo
    with _read_ahead(tmp_path, inbox, cat, reg, memo, background=True) as again:
        assert not again.in_background and again.result() is there


def test_small_previous_inboxes_and_the_warehouse_need_no_worker(tmp_path, two_zones_2021):
    inbox, cat, reg = two_zones_2021
    assert history.PARALLEL_MIN_FILES > 2
    with _read_ahead(tmp_path, inbox, cat, reg) as pending:
        assert not pending.in_background and pending.result().zones == {"Z1"}
    with _read_ahead(tmp_path, tmp_path / "no inbox", cat, reg, background=True) as none:
        assert not none.in_background and none.result().origin == "none"


@pytest.mark.slow
def test_a_worker_that_dies_leaves_the_read_to_this_process(tmp_path, two_zones_2021, monkeypatch):
    import signal

    inbox, cat, reg = two_zones_2021
    reads = []
    real = history.ingest_year
    monkeypatch.setattr(history, "ingest_year", lambda *a, **k: reads.append(a[1]) or real(*a, **k))
    with _read_ahead(tmp_path, inbox, cat, reg, background=True) as pending:
        # the worker is still importing Great Expectations (seconds) when it is killed, as the OOM killer would
        for pid in _spawned_children():
            os.kill(pid, signal.SIGKILL)
        got = pending.result()
    assert reads == [2021]  # read here, after the worker died
    assert got.origin == "inbox" and got.zones == {"Z1"}


@pytest.mark.slow
def test_the_worker_process_ends_as_soon_as_it_has_answered(tmp_path, two_zones_2021):
    # its memory (~700 MB at 23,000 files) must not stay beside this year's files until they ask for Y−1
    inbox, cat, reg = two_zones_2021
    with _read_ahead(tmp_path, inbox, cat, reg, background=True) as pending:
        assert pending.in_background and _spawned_children()
        deadline = time.monotonic() + 120
        while _spawned_children(allow_none=True) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _spawned_children(allow_none=True), "the worker outlived its answer"
        got = pending.result()  # the answer was kept
    assert got.origin == "inbox" and got.zones == {"Z1"}


def _spawned_children(allow_none: bool = False) -> list[int]:
    """This process's children started by multiprocessing's spawn (its workers, not its resource tracker)."""
    out = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as fh:
            for pid in fh.read().split():
                try:
                    with open(f"/proc/{pid}/cmdline", "rb") as cmd:
                        if b"spawn_main" in cmd.read():
                            out.append(int(pid))
                except FileNotFoundError:  # ended meanwhile
                    continue
    assert out or allow_none, "no spawned worker found"
    return out


def test_a_worker_that_cannot_start_leaves_the_read_to_this_process(tmp_path, two_zones_2021, monkeypatch):
    inbox, cat, reg = two_zones_2021

    def no_process():
        raise OSError(11, "Resource temporarily unavailable")  # what fork/exec says at the process limit

    monkeypatch.setattr(history, "one_worker", no_process)
    with _read_ahead(tmp_path, inbox, cat, reg, background=True) as pending:
        assert not pending.in_background
        got = pending.result()
    assert got.origin == "inbox" and got.zones == {"Z1"}
