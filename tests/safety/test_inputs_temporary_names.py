"""Temporary names of Excel and upload tools (issue 11): ``~$x.xlsx``, ``.~lock.x#``, ``*.part``, ``*.tmp``,
``*.crdownload`` are received like every file — archived byte for byte and logged — and rejected with
``file.temporary_name`` without being read, even when their content is a valid, newer submission."""

from __future__ import annotations

import hashlib
import os

from etdz.ingestion import archive_url, ingest_year
from tests.fixtures.submissions import csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry, xlsx_bytes

YEAR = 2022
OLD, NEW = 1_650_000_000, 1_660_000_000
EXCEL_OWNER_FILE = b"\x08jdoe" + b"\x00" * 50 + b"\x08\x00j\x00d\x00o\x00e\x00" + b"\x00" * 100  # what Excel leaves


def test_temporary_names_are_archived_logged_and_rejected_unread(tmp_path):
    cat = write_tiny_catalogue(tmp_path / "cat")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / str(YEAR)
    inbox.mkdir(parents=True)
    archive = str(tmp_path / "archive")
    real = csv_bytes(rows_for("Z1", YEAR))
    newer = csv_bytes(rows_for("Z1", YEAR, output=("999", "亿元")))  # valid, and newer: would win if it were read
    files = {
        "Z1.csv": (real, OLD),
        "~$Z1.xlsx": (EXCEL_OWNER_FILE, NEW),
        ".~lock.Z1.csv#": (b",jdoe,host,29.11.2026 03:00,file:///home/jdoe/.config/libreoffice/4;", NEW),
        "Z1.csv.part": (newer, NEW),
        "Z1 (1).csv.crdownload": (newer, NEW),
        "upload.tmp": (newer, NEW),
        "Z1.xlsx.tmp": (xlsx_bytes(rows_for("Z1", YEAR)), NEW),
    }
    for name, (data, mtime) in files.items():
        (inbox / name).write_bytes(data)
        os.utime(inbox / name, (mtime, mtime))

    y = ingest_year(inbox, YEAR, cat, reg, archive)
    log = y.log.set_index("file_name")
    assert set(log.index) == set(files)
    assert log.at["Z1.csv", "status"] == "accepted"
    assert y.measures.set_index("measure_code").at["output", "value"] == 120.5  # the real file's figure
    for name, (data, _) in files.items():
        sha = hashlib.sha256(data).hexdigest()
        assert log.at[name, "sha256"] == sha and log.at[name, "archive_path"] == archive_url(archive, sha)
        assert (tmp_path / "archive" / sha[:2] / sha).read_bytes() == data  # received: archived byte for byte
        if name == "Z1.csv":
            continue
        assert log.at[name, "status"] == "rejected" and log.at[name, "size_bytes"] == len(data)
        iss = y.issues.loc[y.issues.file_name == name]
        assert list(iss.check) == ["file.temporary_name"], iss.message.tolist()
        assert "不是一份完成的报送" in iss.message.iloc[0]


def test_hidden_files_are_received_and_read_as_before(tmp_path):
    cat = write_tiny_catalogue(tmp_path / "cat")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / str(YEAR)
    inbox.mkdir(parents=True)
    (inbox / ".Z2.csv").write_bytes(csv_bytes(rows_for("Z2", YEAR)))
    (inbox / ".DS_Store").write_bytes(b"\x00\x00\x00\x01Bud1")
    y = ingest_year(inbox, YEAR, cat, reg, None)
    log = y.log.set_index("file_name")
    assert log.at[".Z2.csv", "status"] == "accepted"
    assert log.at[".DS_Store", "status"] == "rejected"
    assert list(y.issues.loc[y.issues.file_name == ".DS_Store", "check"]) == ["file.not_csv_xlsx"]
