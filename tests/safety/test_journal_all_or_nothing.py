"""A step's journal is applied all or nothing (issue 23, item 2).

When one output of a step cannot be replaced — a folder in its place, an immutable file or folder, a rename that
fails half-way — every output stays the previous one (the same file: same inode), nothing temporary is left, the
message names the obstacle and says truly that nothing changed, and later commands (this year once the obstacle is
gone, any other year at once) are never blocked by what the failure left.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest

import etdz.commit as commit_mod
from etdz import schemas
from etdz.commit import DeploymentLayout, apply_journal, atomic_write_text, step_commit
from etdz.errors import StorageError
from etdz.storage import Warehouse
from tests.safety.outputs_state import leftovers

YEAR = 2021
DATASETS = ("measures", "rankings", "submission_log")


def _table(n: int):
    df = pd.DataFrame({"zone_code": [f"z{i}" for i in range(n)], "measure_code": "m", "value": 1.0, "unit": "亿元"})
    return schemas.to_table(df, schemas.MEASURES)


def _files(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every output file (not temporary) with its identity and bytes."""
    out = {}
    for p in sorted(root.rglob("*")):
        rel = p.relative_to(root)
        if p.is_file() and not any(part.startswith(("_", ".")) for part in rel.parts[1:]) and "_locks" not in rel.parts:
            st = p.stat()
            out[rel.as_posix()] = (st.st_ino, st.st_mtime_ns, p.read_bytes())
    return out


@pytest.fixture
def deployment(tmp_path):
    """A year with 3 datasets and 9 report files written by an earlier step (the "old" outputs)."""
    out = DeploymentLayout(str(tmp_path / "warehouse"), str(tmp_path / "reports"), str(tmp_path / "dagster_home"))
    w = Warehouse(out.warehouse)
    with step_commit(out.journal_dir(YEAR), out.scope(YEAR)):
        for name in DATASETS:
            w.write(name, YEAR, _table(1))
        for i in range(9):
            atomic_write_text(tmp_path / "reports" / str(YEAR) / "zones" / f"z{i}.html", f"old {i}")
    return out, w, tmp_path


def _new_step(out: DeploymentLayout, w: Warehouse, root: Path, extra: bool = True) -> None:
    """A step replacing every old output and adding one report (z9.html)."""
    with step_commit(out.journal_dir(YEAR), out.scope(YEAR)):
        for name in DATASETS:
            w.write(name, YEAR, _table(3))
        for i in range(10 if extra else 9):
            atomic_write_text(root / "reports" / str(YEAR) / "zones" / f"z{i}.html", f"new {i}")


def _assert_all_old(before: dict, root: Path) -> None:
    assert _files(root) == before  # same names, same inodes, same bytes: nothing of the step changed
    assert leftovers(root) == []


@pytest.fixture
def chattr():
    """``chattr +i`` on paths, undone at the end (skips where the file system or the process cannot)."""
    done: list[Path] = []

    def immutable(path: Path) -> None:
        proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"chattr +i is not possible here: {proc.stderr.strip()}")
        done.append(path)

    yield immutable
    for path in done:
        subprocess.run(["chattr", "-i", str(path)], check=False)


def test_a_folder_in_the_place_of_one_output_changes_nothing_and_names_it(deployment):
    out, w, root = deployment
    obstacle = root / "reports" / str(YEAR) / "zones" / "z4.html"
    obstacle.unlink()
    obstacle.mkdir()
    (obstacle / "keep.txt").write_text("someone's folder")
    before = _files(root)
    with pytest.raises(StorageError) as err:
        _new_step(out, w, root)
    message = str(err.value)
    assert str(obstacle) in message and "folder" in message
    assert "Nothing of this step was changed" in message
    _assert_all_old(before, root)
    assert not list(out.journal_dir(YEAR).glob("*.json"))  # nothing left for a later command to trip over
    shutil.rmtree(obstacle)
    _new_step(out, w, root)  # the obstacle gone: the same step goes through
    assert w.read("measures", YEAR).num_rows == 3
    assert (root / "reports" / str(YEAR) / "zones" / "z4.html").read_text() == "new 4"


def test_an_immutable_output_changes_nothing(deployment, chattr):
    out, w, root = deployment
    immutable = Path(w.path("rankings", YEAR))  # the second of the three datasets
    before = _files(root)
    chattr(immutable)
    with pytest.raises(StorageError) as err:
        _new_step(out, w, root)
    assert str(immutable) in str(err.value) and "Nothing of this step was changed" in str(err.value)
    subprocess.run(["chattr", "-i", str(immutable)], check=True)
    _assert_all_old(before, root)


def test_an_immutable_folder_that_gets_a_new_file_changes_nothing(deployment, chattr):
    out, w, root = deployment
    folder = root / "reports" / str(YEAR) / "zones"
    before = _files(root)

    def freeze_then_commit():
        with step_commit(out.journal_dir(YEAR), out.scope(YEAR)):
            for name in DATASETS:
                w.write(name, YEAR, _table(3))
            for i in range(10):
                atomic_write_text(folder / f"z{i}.html", f"new {i}")
            chattr(folder)  # after staging, before the commit: the folder takes no new entry any more

    with pytest.raises(StorageError) as err:
        freeze_then_commit()
    assert str(folder) in str(err.value) and "Nothing of this step was changed" in str(err.value)
    subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert _files(root) == before
    assert not list(out.journal_dir(YEAR).glob("*.json"))
    out.recover_all()  # the staged files the frozen folder kept are swept by the next command
    assert leftovers(root) == [] and _files(root) == before


def test_a_rename_failing_half_way_puts_every_previous_file_back(deployment, monkeypatch):
    out, w, root = deployment
    before = _files(root)
    real = commit_mod._rename
    calls = {"n": 0}

    def flaky(src, dst):
        if str(src).endswith(".tmp") and ".old." not in str(src) and "_commits" not in str(dst):
            calls["n"] += 1
            if calls["n"] == 7:  # 6 of the 13 staged files are in place when the disk fails
                raise OSError(errno.EIO, "Input/output error", str(dst))
        real(src, dst)

    monkeypatch.setattr(commit_mod, "_rename", flaky)
    with pytest.raises(StorageError) as err:
        _new_step(out, w, root)
    assert calls["n"] == 7
    assert "input/output error" in str(err.value) and "Nothing of this step was changed" in str(err.value)
    _assert_all_old(before, root)  # z9.html, which the step added, is gone again too


def test_a_journal_that_cannot_be_put_back_blocks_neither_other_years_nor_says_nothing_changed(deployment,
                                                                                               monkeypatch):
    out, w, root = deployment
    real = commit_mod._rename
    state = {"failing": True, "n": 0}

    def broken(src, dst):
        if state["failing"] and "_commits" not in str(dst) and (f"data_year={YEAR}/" in str(dst)
                                                                or f"reports/{YEAR}/" in str(dst)):
            state["n"] += 1
            if state["n"] >= 4:  # the 4th staged rename fails, and so does every rename putting files back
                raise OSError(errno.EIO, "Input/output error", str(dst))
        real(src, dst)

    monkeypatch.setattr(commit_mod, "_rename", broken)
    with pytest.raises(StorageError) as err:
        _new_step(out, w, root)
    message = str(err.value)
    assert "could not all be put back" in message and "3 of 13 files are new" in message
    assert "Nothing of this step was changed" not in message
    journals = list(out.journal_dir(YEAR).glob("*.json"))
    assert len(journals) == 1 and json.loads(journals[0].read_bytes())["state"] == "rollback"
    # another year: its commands and steps go on while the disk still fails for 2021
    other = Warehouse(out.warehouse)
    with step_commit(out.journal_dir(YEAR - 1), out.scope(YEAR - 1)):
        other.write("measures", YEAR - 1, _table(2))
    assert out.recover_all() == []  # 2021 still cannot be put back: said on stderr, not raised
    assert other.read("measures", YEAR - 1).num_rows == 2
    # the cause fixed: the next command of 2021 finishes the rollback — every file as before the step
    state["failing"] = False
    assert out.recover_all() == [YEAR]
    assert w.read("measures", YEAR).num_rows == 1
    assert {p.name: p.read_text() for p in (root / "reports" / str(YEAR) / "zones").iterdir()} == \
        {f"z{i}.html": f"old {i}" for i in range(9)}
    assert leftovers(root) == []


def test_a_commit_killed_half_way_is_finished_forward_and_one_killed_rolling_back_backward(deployment, monkeypatch):
    out, w, root = deployment
    real = commit_mod._rename
    calls = {"n": 0}

    def killed(src, dst):
        if str(src).endswith(".tmp") and ".old." not in str(src) and "_commits" not in str(dst):
            calls["n"] += 1
            if calls["n"] == 5:
                raise KeyboardInterrupt  # the process ends here: nothing runs after it
        real(src, dst)

    monkeypatch.setattr(commit_mod, "_rename", killed)
    with pytest.raises(KeyboardInterrupt):
        _new_step(out, w, root)
    monkeypatch.setattr(commit_mod, "_rename", real)
    assert out.recover_all() == [YEAR]  # a complete journal: rolled forward
    assert w.read("rankings", YEAR).num_rows == 3
    assert (root / "reports" / str(YEAR) / "zones" / "z9.html").read_text() == "new 9"
    assert leftovers(root) == []

    # a rollback killed half-way: the journal says so, and the next command finishes the rollback
    before = _files(root)
    with step_commit(out.journal_dir(YEAR), out.scope(YEAR)) as commit:
        w.write("measures", YEAR, _table(5))
        atomic_write_text(root / "reports" / str(YEAR) / "zones" / "z0.html", "newest")
        commit.commit = lambda: None  # stage only: the journal is written by hand below
    journal = out.journal_dir(YEAR) / "manual.json"
    journal.parent.mkdir(parents=True, exist_ok=True)
    renames = sorted(commit.staged.items())
    journal.write_text(json.dumps({"year": YEAR, "renames": renames, "removes": [], "absent": []}))
    commit_mod._prepare(journal, renames, [])  # backups made, then one file moved in, then "killed" mid-rollback
    final, tmp = renames[0]
    os.replace(tmp, final)
    journal.write_text(json.dumps({"year": YEAR, "renames": renames, "removes": [], "absent": [], "state": "rollback"}))
    apply_journal(journal)
    assert _files(root) == before and leftovers(root) == []
