"""Only regular files are read (issue 11): a symbolic link (to /etc/passwd, to a huge file, dangling), a FIFO, a
socket or a device in the inbox is listed in the submission log as rejected (``file.not_regular``); its target is
never opened nor archived, the FIFO never blocks the run, and the other zones are unaffected."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import threading
from pathlib import Path

import pandas as pd
import pytest

from etdz.inbox_state import scan_inbox
from etdz.ingestion import ingest_year, load_file
from tests.fixtures.runs import dataset, etdz, golden_env
from tests.fixtures.submissions import csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry

YEAR = 2022
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def _special_entries(folder: Path, tmp_path: Path) -> dict[str, str]:
    """Make every kind of non-regular entry in ``folder``; returns {name: what the message must say}."""
    huge = tmp_path / "huge.bin"
    with open(huge, "wb") as fh:
        fh.truncate(3 * 1024 ** 3)  # 3 GB, sparse: copying it would show in the archive
    made = {"passwd.csv": "符号链接", "huge.csv": "符号链接", "dangling.csv": "符号链接", "pipe.csv": "命名管道",
            "sock.csv": "套接字"}
    (folder / "passwd.csv").symlink_to("/etc/passwd")
    (folder / "huge.csv").symlink_to(huge)
    (folder / "dangling.csv").symlink_to(tmp_path / "nowhere.csv")
    os.mkfifo(folder / "pipe.csv")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(str(folder / "sock.csv"))
    sock.close()  # the socket file stays
    try:
        os.mknod(folder / "null.csv", 0o600 | stat.S_IFCHR, os.makedev(1, 3))  # /dev/null's numbers
        made["null.csv"] = "字符设备"
    except PermissionError:
        pass  # a container without CAP_MKNOD: the other kinds still run
    return made


def _ingest_in_thread(*args, **kwargs):
    """ingest_year in a thread with a deadline: a FIFO that blocked the read would fail the test, not hang it."""
    out: dict = {}
    t = threading.Thread(target=lambda: out.setdefault("y", ingest_year(*args, **kwargs)), daemon=True)
    t.start()
    t.join(300)
    assert not t.is_alive(), "the ingestion blocked (a FIFO or a device was opened)"
    return out["y"]


def test_links_fifos_sockets_and_devices_are_logged_rejected_and_never_opened(tmp_path):
    cat = write_tiny_catalogue(tmp_path / "cat")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / str(YEAR)
    inbox.mkdir(parents=True)
    (inbox / "z1.csv").write_bytes(csv_bytes(rows_for("Z1", YEAR)))
    (inbox / "sub").mkdir()  # a sub-folder is not a submission: skipped, as before
    made = _special_entries(inbox, tmp_path)
    archive = tmp_path / "archive"

    y = _ingest_in_thread(inbox, YEAR, cat, reg, str(archive))
    log = y.log.set_index("file_name")
    assert set(log.index) == set(made) | {"z1.csv"}
    assert log.at["z1.csv", "status"] == "accepted"
    for name, what in made.items():
        row = log.loc[name]
        assert row.status == "rejected" and row.sha256 == "" and pd.isna(row.archive_path) and row.size_bytes == 0
        iss = y.issues.loc[y.issues.file_name == name]
        assert list(iss.check) == ["file.not_regular"] and what in iss.message.iloc[0]
    # only the regular file's bytes are in the archive: no copy of /etc/passwd, nothing of the 3 GB file
    stored = [p for p in archive.rglob("*") if p.is_file()]
    assert [p.name for p in stored] == [log.at["z1.csv", "sha256"]]
    first_line = Path("/etc/passwd").read_text().splitlines()[0]
    assert not y.issues.astype(str).apply(lambda c: c.str.contains(first_line, regex=False)).any().any()


def test_an_entry_swapped_for_a_link_or_a_fifo_after_the_listing_is_not_read(tmp_path):
    folder = tmp_path / str(YEAR)
    folder.mkdir()
    for name in ("a.csv", "b.csv", "c.csv"):
        (folder / name).write_bytes(csv_bytes(rows_for("Z1", YEAR)))
    listed = {e.name: e for e in scan_inbox(folder)}
    os.replace(folder / "a.csv", tmp_path / "a.moved")
    (folder / "a.csv").symlink_to("/etc/passwd")
    (folder / "b.csv").unlink()
    os.mkfifo(folder / "b.csv")
    (folder / "c.csv").unlink()
    (folder / "c.csv").mkdir()
    for name, what in (("a.csv", "符号链接"), ("b.csv", "命名管道"), ("c.csv", "文件夹")):
        f = load_file(listed[name], 0, YEAR, str(tmp_path / "archive"), 1 << 20)
        assert [p.check for p in f.read.problems] == ["file.not_regular"] and what in f.read.problems[0].message
        assert f.sha256 == "" and f.archive_path is None
    assert not (tmp_path / "archive").exists()


@pytest.mark.slow
def test_etdz_run_with_special_files_in_the_inbox(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    folder = inbox / "2021"
    made = _special_entries(folder, tmp_path)
    proc = etdz(tmp_path, golden_env(tmp_path, inbox), "run", "--from", "2020", "--to", "2021")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    log = dataset(tmp_path, "submission_log").query("data_year == 2021").set_index("file_name")
    issues = dataset(tmp_path, "submission_issues").query("data_year == 2021")
    for name in made:
        assert log.at[name, "status"] == "rejected"
        assert list(issues.loc[issues.file_name == name, "check"]) == ["file.not_regular"]
    first_line = Path("/etc/passwd").read_text().splitlines()[0]
    page = (tmp_path / "reports" / "2021" / "validation.html").read_text(encoding="utf-8")
    assert first_line not in page and "passwd.csv" in page
    archived = {p.name for p in (tmp_path / "warehouse" / "_archive").rglob("*") if p.is_file()}
    # every year's regular files, nothing else
    assert archived == set(dataset(tmp_path, "submission_log")["sha256"]) - {""}
    exp = pd.read_csv(GOLDEN / "expected" / "rankings.csv")
    got = dataset(tmp_path, "rankings").merge(exp, on=["data_year", "zone_code"], suffixes=("", "_exp"))
    assert len(got) == len(exp) and (got.total_score - got.total_score_exp).abs().max() < 1e-9


def test_etdz_validate_applies_the_same_rule(tmp_path):
    from etdz.catalogue import load_catalogues
    from etdz.ingestion import validate_files
    from etdz.registry import load_registry

    os.mkfifo(tmp_path / "pipe.csv")
    (tmp_path / "passwd.csv").symlink_to("/etc/passwd")
    out: dict = {}
    args = ([tmp_path / "pipe.csv", tmp_path / "passwd.csv"], load_catalogues(), load_registry())
    t = threading.Thread(target=lambda: out.setdefault("r", validate_files(*args)), daemon=True)
    t.start()
    t.join(300)
    assert not t.is_alive(), "etdz validate blocked on a FIFO"
    text, status = out["r"]
    assert status == 1 and text.count("file.not_regular") == 2, text
    assert Path("/etc/passwd").read_text().splitlines()[0] not in text
