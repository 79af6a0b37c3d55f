"""Ingestion of a year's inbox: corpus verdicts, archive, superseding, isolation of faulty files, speed."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import fsspec
import pandas as pd
import pytest

from etdz import schemas
from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.history import GROWTH_COLUMNS
from etdz.ingestion import ingest_year, validate_files
from etdz.registry import load_registry
from etdz.validation import gx_module
from tests.corpus import build_corpus
from tests.fixtures.submissions import (
    csv_bytes,
    generate_year,
    rows_for,
    write_tiny_catalogue,
    write_tiny_registry,
    xlsx_bytes,
)

CORPUS_EXPECTED = pd.read_csv(Path(__file__).parent / "corpus" / "expected.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="session", autouse=True)
def gx():
    return gx_module()


@pytest.fixture(scope="session")
def shipped():
    cat = catalogue_for_year(load_catalogues(), 2022)
    reg = load_registry()
    prov = pd.DataFrame([{"zone_code": build_corpus.PROVINCIAL, "name_zh": "示例省级开发区", "province": "江苏",
                          "region": "east", "tier": "provincial", "first_data_year": pd.NA, "exit_data_year": pd.NA}])
    reg = pd.concat([reg, prov.astype({"first_data_year": "Int64", "exit_data_year": "Int64"})], ignore_index=True)
    return cat, reg


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, shipped):
    cat, reg = shipped
    root = tmp_path_factory.mktemp("corpus")
    build_corpus.build(root / "inbox" / "2022")
    archive = root / "archive"
    y = ingest_year(root / "inbox" / "2022", 2022, cat, reg, str(archive))
    return y, root


def test_corpus_has_enough_files_and_every_file_is_expected(corpus):
    y, root = corpus
    assert len(CORPUS_EXPECTED) >= 25
    assert sorted(y.log.file_name) == sorted(CORPUS_EXPECTED.file)


@pytest.mark.parametrize("name, verdict, check",
                         [tuple(r) for r in CORPUS_EXPECTED[["file", "verdict", "check"]].itertuples(index=False)])
def test_corpus_file(corpus, name, verdict, check):
    y, _ = corpus
    log = y.log.set_index("file_name")
    status = log.at[name, "status"]
    if verdict == "rejected":
        assert status == "rejected"
        assert log.at[name, "errors"] > 0
    else:
        assert status in ("accepted", "superseded"), y.issues.loc[y.issues.file_name == name, "message"].tolist()
        assert log.at[name, "errors"] == 0
    mine = y.issues.loc[y.issues.file_name == name]
    if check:
        assert check in set(mine.check), mine[["check", "message"]].to_dict("records")
    elif verdict == "accepted":
        assert mine.empty, mine[["check", "message"]].to_dict("records")
    for r in mine.itertuples():  # every issue is explained in Chinese, naming the file
        assert r.message and name in r.message and r.severity in ("error", "warning") and r.scope in ("file", "row")
        assert (r.scope == "file") == pd.isna(r.row)


def test_corpus_every_file_archived_and_logged_with_sha(corpus):
    y, root = corpus
    for r in y.log.itertuples():
        data = (root / "inbox" / "2022" / r.file_name).read_bytes()
        assert r.sha256 == hashlib.sha256(data).hexdigest()
        stored = root / "archive" / r.sha256[:2] / r.sha256
        assert stored.read_bytes() == data and r.archive_path == str(stored)
    names = {p.name for p in (root / "archive").rglob("*") if p.is_file()}
    assert names == set(y.log.sha256)  # nothing but sha-named files: original names never used in a path


def test_corpus_frames_conform_to_the_published_schemas(corpus):
    y, _ = corpus
    assert list(y.log.columns) == schemas.SUBMISSION_LOG.names
    assert list(y.issues.columns) == schemas.SUBMISSION_ISSUES.names
    assert list(y.measures.columns) == schemas.MEASURES.names
    schemas.to_table(y.log, schemas.SUBMISSION_LOG)
    schemas.to_table(y.issues, schemas.SUBMISSION_ISSUES)
    schemas.to_table(y.measures, schemas.MEASURES)
    assert y.log.received_at.dt.tz is not None


def test_corpus_measures_come_from_the_chosen_files_only(corpus):
    y, _ = corpus
    chosen = y.log.loc[y.log.status == "accepted"]
    assert set(y.measures.source_sha256) == set(chosen.sha256)
    assert set(y.measures.zone_code) == y.accepted_zones
    assert y.measures.groupby(["zone_code", "measure_code"]).size().max() == 1


def test_a_read_for_growth_builds_the_same_three_columns_of_the_measures(corpus, shipped):
    # Y−1's inbox read (etdz.history.read_inbox) builds only zone, measure and value: the same rows, in the same order
    y, root = corpus
    cat, reg = shipped
    slim = ingest_year(root / "inbox" / "2022", 2022, cat, reg, None, measure_columns=GROWTH_COLUMNS)
    assert list(slim.measures.columns) == list(GROWTH_COLUMNS)
    pd.testing.assert_frame_equal(slim.measures, y.measures[list(GROWTH_COLUMNS)])
    assert len(slim.measures) > 100
    with pytest.raises(ValueError, match="not columns of the measures table"):
        ingest_year(root / "inbox" / "2022", 2022, cat, reg, None, measure_columns=("zone_code", "valeur"))


def test_validate_command_on_the_corpus(corpus):
    _, root = corpus
    _cat, reg = catalogue_for_year(load_catalogues(), 2022), load_registry()
    folder = root / "inbox" / "2022"
    text, code = validate_files(sorted(folder.iterdir()), load_catalogues(), reg)
    assert code == 1
    for r in CORPUS_EXPECTED.itertuples():
        assert r.file in text
        if r.check:
            assert r.check in text
    text, code = validate_files([folder / "01 正常 UTF-8.csv", folder / "04_plain.xlsx"], load_catalogues(), reg)
    assert code == 0 and "REJECTED" not in text and "2021" in text
    assert not (root / "archive2").exists()


def test_validate_uses_the_catalogue_of_the_files_own_year(tmp_path):
    reg = load_registry()
    p = tmp_path / "some folder" / "zone 2019.csv"
    p.parent.mkdir()
    p.write_bytes(build_corpus.csv_bytes(build_corpus.rows(year=2019)))
    text, code = validate_files([p], load_catalogues(), reg)
    assert code == 0 and "考核办法 2016" in text, text
    text, code = validate_files([tmp_path / "missing.csv"], load_catalogues(), reg)
    assert code == 1


# --------------------------------------------------------------------------- tiny fixtures


@pytest.fixture
def tiny(tmp_path):
    return write_tiny_catalogue(tmp_path / "cat"), write_tiny_registry(tmp_path / "reg")


def _put(folder: Path, name: str, data: bytes, mtime: float | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_bytes(data)
    if mtime is not None:
        os.utime(p, (mtime, mtime))
    return p


def test_superseding_by_mtime_then_greater_name(tmp_path, tiny):
    cat, reg = tiny
    inbox = tmp_path / "inbox" / "2022"
    t = 1_700_000_000
    _put(inbox, "b_first.csv", csv_bytes(rows_for("Z1", 2022, output=("100", "亿元"))), t)
    _put(inbox, "a_corrected.csv", csv_bytes(rows_for("Z1", 2022, output=("110", "亿元"))), t + 60)
    _put(inbox, "c_later_but_bad.csv", csv_bytes(rows_for("Z1", 2022, output=("abc", "亿元"))), t + 120)
    _put(inbox, "Z2 v1.csv", csv_bytes(rows_for("Z2", 2022, output=("1", "亿元"))), t)
    _put(inbox, "z2 v1.csv", csv_bytes(rows_for("Z2", 2022, output=("2", "亿元"))), t)  # tie: 'z' > 'Z'
    y = ingest_year(inbox, 2022, cat, reg, None)
    log = y.log.set_index("file_name")
    assert log.at["a_corrected.csv", "status"] == "accepted"
    assert log.at["b_first.csv", "status"] == "superseded"
    assert log.at["b_first.csv", "superseded_by"] == log.at["a_corrected.csv", "sha256"]
    assert log.at["c_later_but_bad.csv", "status"] == "rejected"
    assert log.at["z2 v1.csv", "status"] == "accepted" and log.at["Z2 v1.csv", "status"] == "superseded"
    m = y.measures.set_index(["zone_code", "measure_code"])["value"]
    assert m[("Z1", "output")] == 110 and m[("Z2", "output")] == 2
    assert log.at["a_corrected.csv", "received_at"] == pd.Timestamp(t + 60, unit="s", tz="UTC")
    # the corrected file dropped later with an older mtime does not win
    os.utime(inbox / "a_corrected.csv", (t - 60, t - 60))
    y2 = ingest_year(inbox, 2022, cat, reg, None)
    assert y2.log.set_index("file_name").at["b_first.csv", "status"] == "accepted"


def test_valid_files_are_ingested_exactly_as_without_the_faulty_ones(tmp_path, tiny):
    cat, reg = tiny
    clean = {
        "z1.csv": csv_bytes(rows_for("Z1", 2022)),
        "z2.xlsx": xlsx_bytes(rows_for("Z2", 2022, output=("55", "亿元"))),
        "z3 gbk.csv": csv_bytes(rows_for("Z3", 2022, jobs=("8000", "人")), encoding="gbk"),
        "p1.csv": csv_bytes(rows_for("P1", 2022)),
    }
    faulty = {
        "z1 later bad.csv": csv_bytes(rows_for("Z1", 2022, firms=("-1", "家"))),
        "two zones.csv": csv_bytes(rows_for("Z1", 2022) + rows_for("Z2", 2022)),
        "garbage.xlsx": b"PK\x03\x04garbage",
        "empty.csv": b"",
        "notes.docx": b"hello",
        "zz unknown.csv": csv_bytes(rows_for("Q9", 2022)),
        "z3 wrong year.csv": csv_bytes(rows_for("Z3", 2021)),
    }
    a, b = tmp_path / "a" / "2022", tmp_path / "b" / "2022"
    t = 1_700_000_000
    for name, data in clean.items():
        _put(a, name, data, t)
        _put(b, name, data, t)
    for name, data in faulty.items():
        _put(b, name, data, t + 3600)
    ya = ingest_year(a, 2022, cat, reg, None)
    yb = ingest_year(b, 2022, cat, reg, None)
    pd.testing.assert_frame_equal(ya.measures, yb.measures)
    assert ya.accepted_zones == yb.accepted_zones == {"Z1", "Z2", "Z3", "P1"}
    lb = yb.log.set_index("file_name")
    assert (lb.loc[list(faulty), "status"] == "rejected").all()
    cols = ["sha256", "zone_code", "status", "errors", "warnings"]
    pd.testing.assert_frame_equal(ya.log.set_index("file_name")[cols], lb.loc[sorted(clean), cols])
    assert ya.issues.empty


def test_archive_byte_for_byte_before_anything_else(tmp_path, tiny, monkeypatch):
    import etdz.ingestion.opening as opening

    cat, reg = tiny
    inbox = tmp_path / "inbox" / "2022"
    data = csv_bytes(rows_for("Z1", 2022), encoding="gbk")
    _put(inbox, "报送 文件.csv", data)
    sha = hashlib.sha256(data).hexdigest()

    def crash(*a, **k):
        raise RuntimeError("reader crashed")

    monkeypatch.setattr(opening, "read_submission", crash)
    with pytest.raises(RuntimeError):
        ingest_year(inbox, 2022, cat, reg, str(tmp_path / "arch"))
    assert (tmp_path / "arch" / sha[:2] / sha).read_bytes() == data  # archived before reading


def test_archive_on_fsspec_storage_and_oversize_files(tmp_path, tiny):
    cat, reg = tiny
    inbox = tmp_path / "inbox" / "2022"
    small = csv_bytes(rows_for("Z1", 2022))
    big = csv_bytes(rows_for("Z2", 2022)) + b"," * 5000
    _put(inbox, "small.csv", small)
    _put(inbox, "big.csv", big)
    y = ingest_year(inbox, 2022, cat, reg, "memory://etdz-test-archive", max_bytes=2000)
    log = y.log.set_index("file_name")
    assert log.at["big.csv", "status"] == "rejected" and log.at["small.csv", "status"] == "accepted"
    assert set(y.issues.loc[y.issues.file_name == "big.csv", "check"]) == {"file.too_large"}
    fs = fsspec.filesystem("memory")
    for name, data in (("small.csv", small), ("big.csv", big)):
        sha = hashlib.sha256(data).hexdigest()
        assert log.at[name, "sha256"] == sha and log.at[name, "size_bytes"] == len(data)
        assert fs.cat_file(f"/etdz-test-archive/{sha[:2]}/{sha}") == data
    # a second run is idempotent (content-addressed)
    y2 = ingest_year(inbox, 2022, cat, reg, "memory://etdz-test-archive", max_bytes=2000)
    assert list(y2.log.archive_path) == list(y.log.archive_path)


def test_missing_folder_and_hidden_files_are_received_too(tmp_path, tiny):
    cat, reg = tiny
    y = ingest_year(tmp_path / "nope" / "2022", 2022, cat, reg, None)
    assert y.log.empty and y.issues.empty and y.measures.empty and y.accepted_zones == set()
    assert list(y.log.columns) == schemas.SUBMISSION_LOG.names
    schemas.to_table(y.measures, schemas.MEASURES)
    inbox = tmp_path / "inbox" / "2022"
    _put(inbox, ".DS_Store", b"\0\0")
    (inbox / "subfolder").mkdir()
    log = ingest_year(inbox, 2022, cat, reg, None).log
    # a hidden file is still a file received: logged (and archived) and rejected as not CSV/XLSX
    assert log.file_name.tolist() == [".DS_Store"] and log.status.tolist() == ["rejected"]


def test_230_files_validate_in_one_batch(tmp_path, shipped):
    """All 230 files go through one GX batch (the timing itself lives in bench/, not in a unit test)."""
    cat, _ = shipped
    reg = load_registry()
    paths = generate_year(tmp_path / "inbox" / "2022", cat, reg)
    assert len(paths) == 230
    y = ingest_year(tmp_path / "inbox" / "2022", 2022, cat, reg, str(tmp_path / "archive"))
    assert (y.log.status == "accepted").all() and len(y.accepted_zones) == 230
    assert y.validation.rows_checked == 230 * len(cat.measures)


# --------------------------------------------------------------------------- the archive: durable but batched


def _archive_inbox(inbox: Path) -> dict[str, bytes]:
    files = {f"z{i}.csv": csv_bytes(rows_for(f"Z{i}", 2022)) for i in (1, 2, 3)}
    files["z1 again.csv"] = files["z1.csv"]  # one content under two names: archived once
    files["notes.txt"] = b"not a submission, archived all the same"
    for name, data in files.items():
        _put(inbox, name, data, 1_700_000_000)
    return files


def _archived(archive: Path) -> dict[str, bytes]:
    return {str(p.relative_to(archive)): p.read_bytes() for p in archive.rglob("*") if p.is_file()}


def _expected_archive(files: dict[str, bytes]) -> dict[str, bytes]:
    shas = {hashlib.sha256(d).hexdigest(): d for d in files.values()}
    return {f"{sha[:2]}/{sha}": data for sha, data in shas.items()}


def test_the_archive_is_flushed_once_for_the_year_before_anything_is_validated(tmp_path, tiny, monkeypatch):
    import etdz.commit as commit_mod
    import etdz.ingestion.year as year_mod
    from etdz.ingestion import archive_url

    if commit_mod._syncfs is None:
        pytest.skip("this platform has no syncfs(2): each file is fsynced (tests/test_commit_batch.py)")
    cat, reg = tiny
    inbox, archive = tmp_path / "inbox" / "2022", tmp_path / "archive"
    files = _archive_inbox(inbox)
    events: list[str] = []
    real_syncfs, real_fsync, real_validate = commit_mod._syncfs, os.fsync, year_mod.validate_submissions
    monkeypatch.setattr(commit_mod, "_syncfs", lambda fd: events.append("syncfs") or real_syncfs(fd))
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(year_mod, "validate_submissions",
                        lambda *a, **k: events.append("validate") or real_validate(*a, **k))
    y = ingest_year(inbox, 2022, cat, reg, str(archive))
    assert events == ["syncfs", "validate"]  # no flush per file; one for the year, before the validation
    assert _archived(archive) == _expected_archive(files)  # byte for byte, nothing else (no temporary left)
    for r in y.log.itertuples():
        assert r.archive_path == archive_url(str(archive), r.sha256)
    inodes = {p: p.stat().st_ino for p in archive.rglob("*") if p.is_file()}
    events.clear()
    ingest_year(inbox, 2022, cat, reg, str(archive))
    assert {p: p.stat().st_ino for p in archive.rglob("*") if p.is_file()} == inodes  # stored files are kept
    assert events == ["syncfs", "validate"]  # flushed all the same: a killed earlier run may have left them unflushed


def test_a_failing_flush_fails_the_ingest_naming_the_archive_before_anything_is_validated(tmp_path, tiny,
                                                                                         monkeypatch):
    import ctypes
    import errno

    import etdz.commit as commit_mod
    import etdz.ingestion.year as year_mod
    from etdz.errors import StorageError

    cat, reg = tiny
    inbox, archive = tmp_path / "inbox" / "2022", tmp_path / "archive"
    _archive_inbox(inbox)

    def eio(fd):
        ctypes.set_errno(errno.EIO)
        return -1

    def never(*a, **k):
        raise AssertionError("validated before the archive was durable")

    monkeypatch.setattr(commit_mod, "_syncfs", eio)
    monkeypatch.setattr(year_mod, "validate_submissions", never)
    with pytest.raises(StorageError) as err:
        ingest_year(inbox, 2022, cat, reg, str(archive))
    message = str(err.value)
    assert f"flushing the files received for 2022 to disk in the archive {archive} failed" in message, message
    assert "input/output error" in message and "run the command again" in message


_CRASH = """
import os, sys
from pathlib import Path
import etdz.commit as commit_mod
from etdz.ingestion import ingest_year
from tests.fixtures.submissions import write_tiny_catalogue, write_tiny_registry

root, where = Path(sys.argv[1]), sys.argv[2]
cat, reg = write_tiny_catalogue(root / "child_cat"), write_tiny_registry(root / "child_reg")
if where == "before the flush":  # every file renamed into place, the machine goes down before the syncfs
    commit_mod._syncfs = lambda fd: os._exit(9)
else:  # killed in the middle of the third file's write: a half-written temporary stays behind
    real, n = commit_mod._write_file, []

    def write(path, data, **kw):
        n.append(path)
        if len(n) == 3:
            with open(path, "wb") as fh:
                fh.write(data[: len(data) // 2])
            os._exit(9)
        real(path, data, **kw)

    commit_mod._write_file = write
ingest_year(root / "inbox" / "2022", 2022, cat, reg, str(root / "archive"))
os._exit(0)
"""


@pytest.mark.parametrize("where", ["before the flush", "while writing"])
def test_an_ingest_killed_while_archiving_leaves_nothing_half_named_after_the_next_run(tmp_path, tiny, where):
    import subprocess
    import sys

    from etdz.commit import is_temporary

    cat, reg = tiny
    inbox, archive = tmp_path / "inbox" / "2022", tmp_path / "archive"
    files = _archive_inbox(inbox)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run([sys.executable, "-c", _CRASH, str(tmp_path), where], cwd=root, env=env,
                           capture_output=True, text=True, timeout=300)
    assert child.returncode == 9, child.stderr
    left = [p.name for p in archive.rglob("*") if p.is_file() and is_temporary(p.name)]
    assert bool(left) == (where == "while writing")  # the crash happened where it was meant to
    ingest_year(inbox, 2022, cat, reg, str(archive))
    assert _archived(archive) == _expected_archive(files)  # exactly a clean run's archive, no temporary
