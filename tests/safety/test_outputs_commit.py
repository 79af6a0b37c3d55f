"""One commit per step: a fault at any write or rename leaves each step all-old or all-new (issues 11 and 23).

The golden example is run for 2020 and 2021 ("old"); then 2021 is run again on changed inputs (a zone's
file withdrawn, another faulty file) with a fault injected at the k-th file write or rename of the run,
for every k. After the failure and the recovery the next command runs first, every output of each step
must be exactly the old one or exactly the new one, 2020 untouched, and nothing temporary left.
"""

from __future__ import annotations

import errno
import os
import pickle
import shutil

import pandas as pd
import pytest

import etdz.commit as commit_mod
from etdz import schemas
from etdz.commit import (
    DeploymentLayout,
    Writer,
    YearScope,
    adopt,
    atomic_write,
    atomic_write_text,
    remove,
    step_commit,
    writer_for,
)
from etdz.errors import StorageError
from etdz.storage import Warehouse
from tests.safety.outputs_state import (
    STEPS,
    copy_state,
    leftovers,
    prepare_old_and_new,
    restore_archive,
    run_year,
    snapshot,
    verdict,
)

YEAR = 2021


class Killed(BaseException):
    """The process ending at that point (SIGKILL, a power cut): a journal being applied is neither finished nor
    rolled back by it — the next command finishes it (an error, unlike this, is rolled back at once)."""


# --------------------------------------------------------------------------- the mechanism on its own


def _table(n: int):
    df = pd.DataFrame({"zone_code": [f"z{i}" for i in range(n)], "measure_code": "m", "value": 1.0, "unit": "亿元"})
    return schemas.to_table(df, schemas.MEASURES)


def _scope(tmp_path) -> tuple[DeploymentLayout, YearScope]:
    out = DeploymentLayout(str(tmp_path / "warehouse"), str(tmp_path / "reports"))
    return out, out.scope(YEAR)


def test_staged_files_appear_only_at_the_commit_and_the_step_reads_its_own_writes(tmp_path):
    out, scope = _scope(tmp_path)
    w = Warehouse(out.warehouse)
    w.write("measures", YEAR, _table(1))
    with step_commit(out.journal_dir(YEAR), scope):
        w.write("measures", YEAR, _table(3))
        atomic_write_text(tmp_path / "reports" / str(YEAR) / "national_report.html", "new")
        assert w.read("measures", YEAR).num_rows == 3  # its own write
        assert not (tmp_path / "reports" / str(YEAR) / "national_report.html").exists()
        assert Warehouse(out.warehouse).read("measures", YEAR).num_rows == 3
        in_place = tmp_path / "warehouse" / "measures" / f"data_year={YEAR}" / "part-0.parquet"
        assert pd.read_parquet(in_place).shape[0] == 1
    assert w.read("measures", YEAR).num_rows == 3
    assert (tmp_path / "reports" / str(YEAR) / "national_report.html").read_text() == "new"
    assert leftovers(tmp_path) == []


def test_a_staged_write_makes_missing_folders_but_never_writes_twice(tmp_path):
    # the folder of a staged file is made only when the write finds it missing; a FileNotFoundError of the data's
    # own (a stream whose source vanished) is the step's error, and the data is not asked for a second time
    out, scope = _scope(tmp_path)
    calls = []

    def vanished(fh):
        calls.append(fh)
        raise FileNotFoundError(2, "No such file or directory", "the source")

    target = tmp_path / "reports" / str(YEAR) / "deep" / "er" / "card.html"
    with pytest.raises(StorageError, match="card.html"), step_commit(out.journal_dir(YEAR), scope):
        atomic_write_text(target.with_name("made.html"), "x")  # deep/er/ made on the way
        assert target.parent.is_dir()
        atomic_write(target, vanished)
    assert len(calls) == 1
    assert not target.exists() and not target.with_name("made.html").exists()
    assert leftovers(tmp_path) == []


def test_an_exception_in_the_step_leaves_everything_as_it_was(tmp_path):
    out, scope = _scope(tmp_path)
    w = Warehouse(out.warehouse)
    w.write("measures", YEAR, _table(1))
    notice = tmp_path / "reports" / str(YEAR) / "rejections" / "abc.txt"
    atomic_write_text(notice, "old notice")
    with pytest.raises(RuntimeError), step_commit(out.journal_dir(YEAR), scope):
        w.write("measures", YEAR, _table(3))
        remove(notice)
        raise RuntimeError("the scorer failed")
    assert w.read("measures", YEAR).num_rows == 1 and notice.read_text() == "old notice"
    assert leftovers(tmp_path) == []


def test_what_a_helper_process_stages_appears_at_the_commit_and_only_once_adopted(tmp_path):
    out, scope = _scope(tmp_path)
    zones = tmp_path / "reports" / str(YEAR) / "zones"
    atomic_write_text(zones / "C1.html", "old")
    with step_commit(out.journal_dir(YEAR), scope):
        writer = pickle.loads(pickle.dumps(writer_for(zones)))  # as a pool's worker receives it
        staged = writer.write(zones / "C1.html", b"new")
        assert (zones / "C1.html").read_text() == "old" and staged is not None
        adopt(zones / "C1.html", staged)
        lost = writer.write(zones / "C2.html", b"never adopted")  # its worker failed before reporting it
        assert lost is not None
    assert (zones / "C1.html").read_text() == "new" and not (zones / "C2.html").exists()
    # a temporary, which the next step's recovery removes
    assert leftovers(tmp_path) == [os.path.relpath(lost, tmp_path)]


def test_an_abandoned_step_removes_what_its_helper_processes_staged(tmp_path):
    out, scope = _scope(tmp_path)
    zones = tmp_path / "reports" / str(YEAR) / "zones"
    atomic_write_text(zones / "C1.html", "old")
    with pytest.raises(RuntimeError), step_commit(out.journal_dir(YEAR), scope):
        writer = writer_for(zones)
        adopt(zones / "C1.html", writer.write(zones / "C1.html", b"new"))
        writer.write(zones / "C2.html", b"not adopted yet")
        raise RuntimeError("a card worker died")
    assert (zones / "C1.html").read_text() == "old" and not (zones / "C2.html").exists()
    assert leftovers(tmp_path) == []


def test_outside_a_step_a_helper_process_replaces_the_file_at_once(tmp_path):
    target = tmp_path / "reports" / str(YEAR) / "zones" / "C1.html"
    assert writer_for(target.parent) == Writer(None)
    assert Writer(None).write(target, b"now") is None and target.read_bytes() == b"now"
    adopt(target, None)  # nothing to adopt
    assert leftovers(tmp_path) == []


def test_other_years_and_the_archive_are_outside_the_commit(tmp_path):
    out, scope = _scope(tmp_path)
    w = Warehouse(out.warehouse)
    with step_commit(out.journal_dir(YEAR), scope):
        w.write("measures", YEAR - 1, _table(2))  # not this year's: written at once
        assert w.read("measures", YEAR - 1).num_rows == 2
        assert not scope.contains(str(tmp_path / "warehouse" / "_archive" / "ab" / "abcd"))


def test_a_journal_left_by_a_crash_is_rolled_forward_by_the_next_step(tmp_path, monkeypatch):
    out, scope = _scope(tmp_path)
    w = Warehouse(out.warehouse)
    w.write("measures", YEAR, _table(1))
    w.write("rankings", YEAR, schemas.to_table(None, schemas.schema_for("rankings", [])))
    real = commit_mod._rename
    calls = []

    def crash_after_first_rename(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # the journal's own rename, then the first staged file: then the "power cut"
            raise KeyboardInterrupt
        real(src, dst)

    monkeypatch.setattr(commit_mod, "_rename", crash_after_first_rename)
    with pytest.raises(KeyboardInterrupt), step_commit(out.journal_dir(YEAR), scope):
        w.write("measures", YEAR, _table(3))
        w.write("submission_log", YEAR, schemas.to_table(None, schemas.SUBMISSION_LOG))
    monkeypatch.setattr(commit_mod, "_rename", real)
    assert list(out.journal_dir(YEAR).glob("*.json"))  # a complete journal is waiting
    assert out.recover_all() == [YEAR]
    assert w.read("measures", YEAR).num_rows == 3 and w.read("submission_log", YEAR) is not None
    assert leftovers(tmp_path) == []


def test_a_full_disk_while_staging_names_the_file_and_changes_nothing(tmp_path, monkeypatch):
    out, scope = _scope(tmp_path)
    w = Warehouse(out.warehouse)
    w.write("measures", YEAR, _table(1))

    def full(path, data, **kw):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(commit_mod, "_write_file", full)
    with pytest.raises(StorageError) as err, step_commit(out.journal_dir(YEAR), scope):
        w.write("measures", YEAR, _table(3))
    message = str(err.value)
    assert "disk is full" in message and "measures" in message and "run the command again" in message
    assert err.value.exit_code == 1
    monkeypatch.undo()
    assert w.read("measures", YEAR).num_rows == 1 and leftovers(tmp_path) == []


# --------------------------------------------------------------------------- the real steps, faults everywhere


@pytest.fixture(scope="module")
def old_and_new(tmp_path_factory):
    return prepare_old_and_new(tmp_path_factory.mktemp("commit"))


@pytest.mark.slow
def test_a_fault_at_every_write_and_rename_leaves_each_step_all_old_or_all_new(old_and_new, tmp_path, monkeypatch):
    base, inbox_b, old, new_state, ops = old_and_new
    old_2020 = snapshot(old, 2020)
    assert any(kind == "rename" and "_commits" in path for kind, path in ops), "the steps journal their commits"
    outcomes = {}
    for k in range(1, len(ops) + 1):
        root = tmp_path / f"trial{k}"
        copy_state(old, root)
        restore_archive(base)
        before = snapshot(root, YEAR)  # identities of the copied files: "old" in this trial
        counter = {"n": 0}
        real_write, real_rename = commit_mod._write_file, commit_mod._rename

        def fault(counter=counter, k=k):
            counter["n"] += 1
            if counter["n"] == k:  # in turn a full disk, a plain exception (a bug), the process killed there
                if k % 3 == 1:
                    raise OSError(errno.ENOSPC, "No space left on device")
                if k % 3 == 2:
                    raise RuntimeError(f"injected fault at operation {k}")
                raise Killed(f"killed at operation {k}")  # nothing of the commit runs after it: no rollback

        def write(path, data, fault=fault, real=real_write, **kw):
            fault()
            real(path, data, **kw)

        def rename(src, dst, fault=fault, real=real_rename):
            fault()
            real(src, dst)

        monkeypatch.setattr(commit_mod, "_write_file", write)
        monkeypatch.setattr(commit_mod, "_rename", rename)
        result = run_year(root, inbox_b, YEAR, base / "archive")
        monkeypatch.setattr(commit_mod, "_write_file", real_write)
        monkeypatch.setattr(commit_mod, "_rename", real_rename)
        assert counter["n"] >= k, f"operation {k} was never reached"
        # the next command's first act
        DeploymentLayout(str(root / "warehouse"), str(root / "reports")).recover_all()
        now = snapshot(root, YEAR)
        verdicts = {step: verdict(now[step], before[step], new_state[step]) for step in STEPS}
        assert "torn" not in verdicts.values(), (k, ops[k - 1], verdicts)
        assert leftovers(root / "warehouse") == [] and leftovers(root / "reports") == [], (k, ops[k - 1])
        assert {r: s.data for r, s in snapshot(root, 2020)["ingestion"].items()} == \
            {r: s.data for r, s in old_2020["ingestion"].items()}
        outcomes[k] = (result.success, verdicts)
        shutil.rmtree(root)
    # the fault points cover every step both before and after its commit
    seen = {(step, v) for _, verdicts in outcomes.values() for step, v in verdicts.items()}
    assert {(s, v) for s in STEPS for v in ("old", "new")} <= seen, seen
    print(f"{len(ops)} fault points ({sum(1 for o in ops if o[0] == 'write')} writes, "
          f"{sum(1 for o in ops if o[0] == 'rename')} renames): every step all-old or all-new")
