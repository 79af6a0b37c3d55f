"""The inbox is read as it is, not as it was listed (issue 11): a file deleted, replaced (temporary file + rename,
as upload tools do) or refused by the system between the listing and the read is logged as rejected with its own
check code and nothing archived, and every other zone is read as usual."""

from __future__ import annotations

import errno
import os

import pandas as pd
import pytest

import etdz.ingestion.opening
import etdz.ingestion.year
from etdz.inbox_state import scan_inbox
from etdz.ingestion import ingest_year, load_file
from tests.fixtures.submissions import csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry

YEAR = 2022


@pytest.fixture
def env(tmp_path):
    cat = write_tiny_catalogue(tmp_path / "cat")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / str(YEAR)
    inbox.mkdir(parents=True)
    for zone in ("Z1", "Z2", "Z3"):
        (inbox / f"{zone}.csv").write_bytes(csv_bytes(rows_for(zone, YEAR)))
    return cat, reg, inbox, tmp_path / "archive"


def _after_listing(monkeypatch, change) -> None:
    """Run ``change()`` right after the ingestion has listed the folder (the window of a real race)."""
    def listing(folder):
        entries = scan_inbox(folder)
        change()
        return entries

    monkeypatch.setattr(etdz.ingestion.year, "scan_inbox", listing)


def _only_issue(y, name):
    iss = y.issues.loc[y.issues.file_name == name]
    assert len(iss) == 1, iss[["check", "message"]].to_dict("records")
    return iss.iloc[0]


def test_vanished_and_replaced_files_are_logged_and_the_other_zones_read(env, monkeypatch):
    cat, reg, inbox, archive = env

    def change():
        (inbox / "Z1.csv").unlink()  # deleted by the operator meanwhile
        tmp = inbox / ".upload-Z2.tmp-hidden"  # an upload tool writes a temporary file, then renames it
        tmp.write_bytes(csv_bytes(rows_for("Z2", YEAR, output=("130", "亿元"))))
        os.utime(tmp, ns=(1_700_000_000_000_000_000, 1_700_000_000_000_000_000))
        os.replace(tmp, inbox / "Z2.csv")

    _after_listing(monkeypatch, change)
    y = ingest_year(inbox, YEAR, cat, reg, str(archive))
    log = y.log.set_index("file_name")
    assert list(log.index) == ["Z1.csv", "Z2.csv", "Z3.csv"]  # every listed file is in the log
    gone, changed = _only_issue(y, "Z1.csv"), _only_issue(y, "Z2.csv")
    assert gone.check == "file.vanished" and "已被删除或改名" in gone.message
    assert changed.check == "file.changed" and "下一次运行" in changed.message
    for name in ("Z1.csv", "Z2.csv"):
        assert log.at[name, "status"] == "rejected" and log.at[name, "sha256"] == ""
        assert pd.isna(log.at[name, "archive_path"])
    assert log.at["Z3.csv", "status"] == "accepted"
    assert [p.name for p in archive.rglob("*") if p.is_file()] == [log.at["Z3.csv", "sha256"]]  # nothing else
    assert set(y.measures.zone_code) == {"Z3"}
    # the next run reads the replaced file as it now is
    monkeypatch.undo()
    y = ingest_year(inbox, YEAR, cat, reg, str(archive))
    assert y.log.set_index("file_name").at["Z2.csv", "status"] == "accepted"
    assert y.measures.set_index(["zone_code", "measure_code"]).at[("Z2", "output"), "value"] == 130


@pytest.mark.parametrize("error", [PermissionError(errno.EACCES, "Permission denied"),
                                   OSError(errno.EIO, "Input/output error")])
def test_a_file_the_system_refuses_to_open_is_logged_and_the_others_read(env, monkeypatch, error):
    cat, reg, inbox, archive = env
    real_open = os.open

    def refusing(path, flags, *args, **kwargs):  # tests run as root: chmod 000 would not stop them
        if os.fspath(path).endswith("Z2.csv"):
            raise error
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(etdz.ingestion.opening.os, "open", refusing)
    y = ingest_year(inbox, YEAR, cat, reg, str(archive))
    monkeypatch.undo()
    log = y.log.set_index("file_name")
    iss = _only_issue(y, "Z2.csv")
    assert iss.check == "file.cannot_open" and type(error).__name__ in iss.message and "权限" in iss.message
    assert log.at["Z2.csv", "status"] == "rejected" and pd.isna(log.at["Z2.csv", "archive_path"])
    assert (log.loc[["Z1.csv", "Z3.csv"], "status"] == "accepted").all()
    assert len([p for p in archive.rglob("*") if p.is_file()]) == 2


def test_a_file_written_to_while_it_is_read_is_not_taken(env, monkeypatch):
    _cat, _reg, inbox, archive = env
    entry = next(e for e in scan_inbox(inbox) if e.name == "Z1.csv")
    real_fstat = os.fstat
    calls = []

    def growing(fd):  # the second look at the open file sees it grown: someone is still writing it
        st = real_fstat(fd)
        calls.append(fd)
        if len(calls) == 2:
            with open(inbox / "Z1.csv", "ab") as fh:
                fh.write(b"Z1,2022,extra_info,1,\xe9\xa1\xb9\r\n")
            st = real_fstat(fd)
        return st

    monkeypatch.setattr(etdz.ingestion.opening.os, "fstat", growing)
    f = load_file(entry, 0, YEAR, str(archive), 1 << 20)
    monkeypatch.undo()
    assert [p.check for p in f.read.problems] == ["file.changed"] and f.archive_path is None
    assert not archive.exists()
