"""A damaged archive copy is repaired from the inbox (issue 23, item 4).

An archived submission whose bytes no longer match its name (same size, other bytes) used to be kept for ever and
published as is. Now a re-run re-hashes a kept copy whose modification time is not etdz's stamp (any ordinary
write changes it) and writes it again from the file received; a copy etdz wrote or checked is not read again
(cheap at 23,000 files); publishing refuses a damaged copy, naming it and the run that repairs it.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import pytest

import etdz.ingestion.archive as archive_mod
from etdz.ingestion.archive import archiving, verified_mtime_ns
from etdz.ingestion.opening import load_file

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def _receive(inbox_file: Path, archive: Path) -> Path:
    """One file received and archived as a run does (the year's batch); returns the archived copy."""
    with archiving(str(archive), 2021) as archiver:
        f = load_file(inbox_file, 0, 2021, str(archive), 1 << 20, archiver)
    return Path(f.archive_path)


def _damage(copy: Path) -> None:
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size, one byte other
    with open(copy, "r+b") as fh:  # written in place, as a disk, a script or a person would
        fh.write(bytes(data))


def test_a_copy_changed_in_place_is_repaired_by_the_next_run(tmp_path, caplog):
    sent = tmp_path / "inbox" / "E1.csv"
    sent.parent.mkdir()
    shutil.copy(GOLDEN / "inbox" / "2021" / "E1.csv", sent)
    sha = hashlib.sha256(sent.read_bytes()).hexdigest()
    copy = _receive(sent, tmp_path / "archive")
    assert copy.name == sha and copy.stat().st_mtime_ns == verified_mtime_ns(sha)
    _damage(copy)
    assert hashlib.sha256(copy.read_bytes()).hexdigest() != sha and copy.stat().st_size == sent.stat().st_size
    assert _receive(sent, tmp_path / "archive") == copy
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == sha  # repaired from the inbox
    assert "no longer matches its SHA-256" in caplog.text and str(copy) in caplog.text


def test_an_intact_copy_is_not_read_again_and_an_unstamped_one_is_checked_once(tmp_path, monkeypatch):
    sent = tmp_path / "inbox" / "E1.csv"
    sent.parent.mkdir()
    shutil.copy(GOLDEN / "inbox" / "2021" / "E1.csv", sent)
    copy = _receive(sent, tmp_path / "archive")
    reads = []
    real = archive_mod._file_sha256
    monkeypatch.setattr(archive_mod, "_file_sha256", lambda p: reads.append(p) or real(p))
    _receive(sent, tmp_path / "archive")
    assert reads == []  # stamped: kept without reading it
    os.utime(copy, None)  # a copy from an archive written before the stamp existed (same bytes)
    inode = copy.stat().st_ino
    _receive(sent, tmp_path / "archive")
    _receive(sent, tmp_path / "archive")
    assert len(reads) == 1 and copy.stat().st_ino == inode  # checked once, stamped, not rewritten


@pytest.mark.slow
def test_publish_refuses_a_damaged_copy_and_a_rerun_repairs_it(golden_env, capsys):
    from pipelines.cli import main

    tmp_path = golden_env
    assert main(["run", "--data-year", "2021"]) == 0
    sha = hashlib.sha256((tmp_path / "inbox" / "2021" / "E1.csv").read_bytes()).hexdigest()
    copy = tmp_path / "warehouse" / "_archive" / sha[:2] / sha
    _damage(copy)
    capsys.readouterr()
    assert main(["publish", "--data-year", "2021"]) == 2
    err = capsys.readouterr().err
    assert str(copy) in err and "E1.csv" in err and "etdz run --data-year 2021" in err
    assert not (tmp_path / "warehouse" / "_published").exists()
    assert main(["run", "--data-year", "2021"]) == 0
    assert hashlib.sha256(copy.read_bytes()).hexdigest() == sha
    assert main(["publish", "--data-year", "2021"]) == 0
    assert main(["publish", "--data-year", "2021", "--verify"]) == 0
