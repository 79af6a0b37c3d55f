"""Many files written atomically and made durable together: etdz.commit.DurableBatch, a step's commit."""

from __future__ import annotations

import ctypes
import errno
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import etdz.commit as commit_mod
from etdz.commit import DeploymentLayout, DurableBatch, atomic_write_text, is_temporary, step_commit, sync_filesystem
from etdz.errors import StorageError
from tests.safety.outputs_state import leftovers


def _temporaries(root: Path) -> list[str]:
    return [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and is_temporary(p.name)]


@pytest.fixture
def calls(monkeypatch):
    """Count the flushes: syncfs (the real one still runs) and fsync of files and folders."""
    seen = {"syncfs": 0, "fsync": 0}
    real_syncfs, real_fsync = commit_mod._syncfs, os.fsync
    if real_syncfs is None:
        pytest.skip("this platform has no syncfs(2)")

    def syncfs(fd):
        seen["syncfs"] += 1
        return real_syncfs(fd)

    def fsync(fd):
        seen["fsync"] += 1
        real_fsync(fd)

    monkeypatch.setattr(commit_mod, "_syncfs", syncfs)
    monkeypatch.setattr(os, "fsync", fsync)
    return seen


def _failing_syncfs(code: int):
    def syncfs(fd):  # what the C call does on failure: errno set, -1 returned
        ctypes.set_errno(code)
        return -1
    return syncfs


def test_each_file_is_in_place_at_once_and_one_syncfs_makes_all_durable(tmp_path, calls):
    root = tmp_path / "archive"
    batch = DurableBatch(root, "y2022")
    batch.begin()
    files = {root / f"{i:02x}"[:2] / f"file{i}": f"content {i}".encode() * (i + 1) for i in range(40)}
    for path, data in files.items():
        assert batch.replace(path, data) == path
        assert path.read_bytes() == data  # whole, under its final name, before the sync
    assert calls == {"syncfs": 0, "fsync": 0}  # no flush per file
    batch.sync()
    assert calls == {"syncfs": 1, "fsync": 0}
    assert _temporaries(root) == []
    assert {p for p in root.rglob("*") if p.is_file()} == set(files)  # the marker of a batch writing is gone


def test_a_failing_syncfs_raises_one_message_naming_the_folder_and_what_to_do(tmp_path, monkeypatch):
    root = tmp_path / "archive"
    batch = DurableBatch(root, "y2022")
    batch.begin()
    batch.replace(root / "ab" / "abcd", b"data")
    monkeypatch.setattr(commit_mod, "_syncfs", _failing_syncfs(errno.EIO))
    with pytest.raises(StorageError) as err:
        batch.sync("flushing the received files to disk in the archive")
    message = str(err.value)
    assert f"flushing the received files to disk in the archive {root} failed" in message
    assert "input/output error" in message and "check the disk" in message and "run the command again" in message
    assert err.value.exit_code == 1 and batch.marker.exists()  # not durable: the next batch looks for leftovers
    monkeypatch.setattr(commit_mod, "_syncfs", _failing_syncfs(errno.ENOSPC))  # delayed allocation met a full disk
    with pytest.raises(StorageError, match="the disk is full"):
        sync_filesystem(root)


def test_without_syncfs_each_file_and_each_folder_touched_is_fsynced(tmp_path, monkeypatch):
    monkeypatch.setattr(commit_mod, "_syncfs", None)
    fsynced, folders = [], []
    real_fsync, real_fsync_dir = os.fsync, commit_mod.fsync_dir

    def fsync(fd):
        fsynced.append(fd)
        real_fsync(fd)

    def fsync_dir(folder):
        folders.append(str(folder))
        real_fsync_dir(folder)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(commit_mod, "fsync_dir", fsync_dir)
    root = tmp_path / "archive"
    (root / "aa").mkdir(parents=True)
    batch = DurableBatch(root, "y2022")
    batch.begin()
    assert sync_filesystem(root) is False
    for name in ("aa/one", "aa/two", "bb/three"):
        batch.replace(root / name, name.encode())
    assert len(fsynced) == 3  # each file, before its rename
    batch.sync()
    # the folders whose entries changed: the two with new files, and the root where "bb" appeared
    assert sorted(folders) == sorted({str(root), str(root / "aa"), str(root / "bb")})
    assert _temporaries(root) == [] and (root / "bb" / "three").read_bytes() == b"bb/three"


def test_a_failed_write_leaves_no_temporary_and_names_the_final_file(tmp_path, monkeypatch):
    root = tmp_path / "archive"
    batch = DurableBatch(root, "y2022")

    def full(path, data, **kw):
        with open(path, "wb") as fh:
            fh.write(b"half")
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(commit_mod, "_write_file", full)
    with pytest.raises(StorageError) as err:
        batch.replace(root / "ab" / "abcd", b"data")
    assert "disk is full" in str(err.value) and str(root / "ab" / "abcd") in str(err.value)
    assert _temporaries(root) == [] and not (root / "ab" / "abcd").exists()


def test_a_batch_after_a_killed_one_removes_the_temporaries_of_its_own_tag_only(tmp_path):
    root = tmp_path / "archive"
    killed = DurableBatch(root, "y2022")
    killed.begin()
    killed.replace(root / "ab" / "abcd", b"complete, renamed into place")
    mine = root / "cd" / "_cdef.y2022.0123456789abcdef.tmp"  # the write it was killed in
    other_year = root / "cd" / "_cdef.y2021.0123456789abcdef.tmp"  # another year's ingest may be writing it now
    durable_write = root / "cd" / "_cdef.0123456789abcdef.tmp"  # not a batch's
    for p in (mine, other_year, durable_write):
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"half")
    assert DurableBatch(root, "y2021").begin() == 0  # its tag's last batch finished: nothing to look for
    nxt = DurableBatch(root, "y2022")
    assert nxt.begin() == 1
    assert not mine.exists() and other_year.exists() and durable_write.exists()
    assert (root / "ab" / "abcd").read_bytes() == b"complete, renamed into place"
    nxt.sync()
    assert not nxt.marker.exists() and DurableBatch(root, "y2022").begin() == 0
    with pytest.raises(ValueError):
        DurableBatch(tmp_path, "y2022.1")


def test_one_content_twice_in_a_batch(tmp_path):
    """A year may hold one content under two names: the second write replaces the first with the same bytes."""
    root = tmp_path / "archive"
    batch = DurableBatch(root, "y2022")
    batch.begin()
    data = os.urandom(64 * 1024)
    for _ in range(2):
        batch.replace(root / "ab" / "abcd", data)
    batch.sync()
    assert (root / "ab" / "abcd").read_bytes() == data and _temporaries(root) == []


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.from_regex(r"[0-9a-f]{2}/[0-9a-f]{1,8}", fullmatch=True), st.binary(max_size=300),
                       max_size=12),
       st.binary(max_size=50))
def test_every_file_of_a_batch_holds_exactly_its_last_bytes(tmp_path_factory, files, streamed):
    root = tmp_path_factory.mktemp("batch") / "archive"
    batch = DurableBatch(root, "y2022")
    batch.begin()
    for name, data in files.items():
        batch.replace(root / name, data)
    batch.replace(root / "ff" / "streamed", lambda out: out.write(streamed))
    for name, data in files.items():
        batch.replace(root / name, data)  # again: idempotent
    batch.sync()
    assert {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()} == \
        {**files, "ff/streamed": streamed}


# --------------------------------------------------------------------------- a step's commit: flushed once


def test_a_step_commit_flushes_its_staged_files_once_before_its_journal(tmp_path, calls, monkeypatch):
    out = DeploymentLayout(str(tmp_path / "warehouse"), str(tmp_path / "reports"))
    cards = [tmp_path / "reports" / "2021" / "zones" / f"Z{i}.html" for i in range(50)]
    at_journal = []
    real_replace = commit_mod.replace_file

    def replace_file(path, data):
        at_journal.append(dict(calls))
        return real_replace(path, data)

    monkeypatch.setattr(commit_mod, "replace_file", replace_file)
    with step_commit(out.journal_dir(2021), out.scope(2021)):
        for i, card in enumerate(cards):
            atomic_write_text(card, f"card {i}")
        assert calls == {"syncfs": 0, "fsync": 0}  # staged without a flush each
    assert at_journal == [{"syncfs": 1, "fsync": 0}]  # one flush, before the journal names the files
    assert [c.read_text() for c in cards] == [f"card {i}" for i in range(50)] and leftovers(tmp_path) == []


def test_a_failed_flush_of_a_step_leaves_its_previous_outputs(tmp_path, monkeypatch):
    out = DeploymentLayout(str(tmp_path / "warehouse"), str(tmp_path / "reports"))
    zones = tmp_path / "reports" / "2021" / "zones"
    atomic_write_text(zones / "Z1.html", "old card")
    monkeypatch.setattr(commit_mod, "_syncfs", _failing_syncfs(errno.EIO))
    with pytest.raises(StorageError) as err, step_commit(out.journal_dir(2021), out.scope(2021)):
        atomic_write_text(zones / "Z1.html", "new card")
        atomic_write_text(zones / "Z2.html", "new card")
    assert f"flushing the step's files to disk in {zones} failed" in str(err.value)
    assert "Nothing of this step was changed" in str(err.value)
    assert (zones / "Z1.html").read_text() == "old card" and not (zones / "Z2.html").exists()
    assert leftovers(tmp_path) == []
