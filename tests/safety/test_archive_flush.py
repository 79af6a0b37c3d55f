"""A failed flush of the archive fails the run before anything is reported as received (issue 15).

The received files are renamed into the archive without a flush each, then one syncfs of the archive's
file system makes them durable. When that flush fails (an I/O error of the disk, injected: the libc call
returns -1 with errno EIO), `etdz run` fails with one message naming the archive, writes no submission log
for a year never run, and leaves every output of a year run before exactly as it was.
"""

from __future__ import annotations

import ctypes
import errno
import shutil
from pathlib import Path

import pytest

import etdz.commit as commit_mod
from etdz.commit import is_temporary
from pipelines.cli import main
from tests.safety.outputs_state import GOLDEN, leftovers, snapshot

pytestmark = pytest.mark.slow


def _eio(fd: int) -> int:
    ctypes.set_errno(errno.EIO)
    return -1


def _run(capsys, year: int) -> tuple[int, str]:
    code = main(["run", "--data-year", str(year)])
    return code, capsys.readouterr().err


def _idents(state: dict) -> dict:
    return {step: {rel: f.ident for rel, f in files.items()} for step, files in state.items()}


def test_a_failed_flush_of_the_archive_reports_nothing_received(tmp_path, monkeypatch, capsys):
    inbox, archive = tmp_path / "inbox", tmp_path / "archive"
    shutil.copytree(GOLDEN / "inbox", inbox, copy_function=shutil.copy2)
    for key, value in {"ETDZ_HOME": tmp_path, "ETDZ_INBOX": inbox, "ETDZ_REGISTRY": GOLDEN / "registry.csv",
                       "ETDZ_METHODOLOGY": GOLDEN / "catalogues", "ETDZ_WAREHOUSE": tmp_path / "warehouse",
                       "ETDZ_REPORTS": tmp_path / "reports", "ETDZ_ARCHIVE": archive,
                       "DAGSTER_HOME": tmp_path / "dagster_home"}.items():
        monkeypatch.setenv(key, str(value))
    real = commit_mod._syncfs
    if real is None:
        pytest.skip("this platform has no syncfs(2)")

    # a year never run: its files are in the archive, but nothing says they were received
    monkeypatch.setattr(commit_mod, "_syncfs", _eio)
    code, err = _run(capsys, 2020)
    assert code == 1, err
    assert "Traceback" not in err and f"to disk in the archive {archive} failed" in err, err
    assert "input/output error" in err and "run the command again" in err
    assert not (tmp_path / "warehouse" / "submission_log").exists()
    assert snapshot(tmp_path, 2020) == {step: {} for step in snapshot(tmp_path, 2020)}

    # a year run before: a new file arrives, the flush fails, every output stays the last good one
    monkeypatch.setattr(commit_mod, "_syncfs", real)
    assert _run(capsys, 2020)[0] == 0 and _run(capsys, 2021)[0] == 0
    old = snapshot(tmp_path, 2021)
    (inbox / "2021" / "late addition.csv").write_bytes(b"zone_code,data_year\nE9,2021\n")
    monkeypatch.setattr(commit_mod, "_syncfs", _eio)
    code, err = _run(capsys, 2021)
    assert code == 1 and f"to disk in the archive {archive} failed" in err, err
    assert _idents(snapshot(tmp_path, 2021)) == _idents(old)
    assert leftovers(tmp_path / "warehouse") == [] and leftovers(tmp_path / "reports") == []

    monkeypatch.setattr(commit_mod, "_syncfs", real)
    assert _run(capsys, 2021)[0] == 0
    assert _idents(snapshot(tmp_path, 2021)) != _idents(old)
    assert not [p for p in Path(archive).rglob("*") if p.is_file() and is_temporary(p.name)]
