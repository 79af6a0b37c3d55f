"""Every machinery failure is one plain message naming the path and what to do, with its exit code (issue 11).

Exit codes: 0 the run succeeded, 2 refused before anything was written, 1 a run that started failed.
A read-only warehouse is a real tmpfs remounted read-only (root's chmod would not stop writes); a full
disk is a real small tmpfs; permission denied is injected (as root, permissions do not apply).
"""

from __future__ import annotations

import errno
import hashlib
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import etdz.commit as commit_mod
from pipelines.cli import main
from tests.safety.outputs_state import leftovers, snapshot

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
pytestmark = pytest.mark.slow


def _env(monkeypatch, root: Path, warehouse: Path | None = None) -> None:
    values = {"ETDZ_HOME": root, "ETDZ_INBOX": GOLDEN / "inbox", "ETDZ_REGISTRY": GOLDEN / "registry.csv",
              "ETDZ_METHODOLOGY": GOLDEN / "catalogues", "ETDZ_WAREHOUSE": warehouse or root / "warehouse",
              "ETDZ_REPORTS": root / "reports", "ETDZ_ARCHIVE": root / "archive",
              "DAGSTER_HOME": root / "dagster_home"}
    for key, value in values.items():
        monkeypatch.setenv(key, str(value))


def _run(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    err = capsys.readouterr().err
    return code, err


def _plain(message: str) -> None:
    """One plain line (besides the line every command prints about the configuration it read)."""
    lines = [line for line in message.splitlines()
             if not re.match(r"etdz \w+: (no configuration file|configuration )", line)]
    assert "Traceback" not in message and len(lines) <= 1, message


@pytest.fixture
def tmpfs(tmp_path):
    """A real 16 MB tmpfs (we run as root); skipped, with the reason, where mounting is not permitted."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mnt)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}): needs root and CAP_SYS_ADMIN")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def _hashes(folder: Path) -> dict[str, str]:
    """Every result file's digest. The year locks (``_locks/``) are left out: a lock records its latest holder
    (host, pid, command, since), which is not a result."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and "_locks" not in p.relative_to(folder).parts}


def test_a_read_only_warehouse_refuses_with_exit_2_and_a_plain_message(tmp_path, tmpfs, monkeypatch, capsys):
    _env(monkeypatch, tmp_path, warehouse=tmpfs / "warehouse")
    assert _run(capsys, "run", "--from", "2020", "--to", "2021")[0] == 0
    before = _hashes(tmpfs)
    subprocess.run(["mount", "-o", "remount,ro", str(tmpfs)], check=True)
    code, err = _run(capsys, "run", "--data-year", "2021")
    assert code == 2, err
    _plain(err)
    assert "read-only" in err and str(tmpfs / "warehouse") in err and "run the command again" in err
    assert _hashes(tmpfs) == before


def test_a_missing_output_folder_refuses_with_exit_2(tmp_path, monkeypatch, capsys):
    (tmp_path / "not a folder").write_text("a file where the warehouse's parent should be")
    _env(monkeypatch, tmp_path, warehouse=tmp_path / "not a folder" / "warehouse")
    code, err = _run(capsys, "run", "--data-year", "2020")
    assert code == 2, err
    _plain(err)
    assert "not a folder" in err and "correct the setting" in err


def test_a_full_disk_fails_the_run_with_exit_1_keeps_every_step_whole_and_the_next_run_repairs(
        tmp_path, tmpfs, monkeypatch, capsys):
    _env(monkeypatch, tmp_path, warehouse=tmpfs / "warehouse")
    monkeypatch.setenv("ETDZ_REPORTS", str(tmpfs / "reports"))
    assert _run(capsys, "run", "--from", "2020", "--to", "2021")[0] == 0
    old = snapshot(tmpfs, 2021)
    # leave almost nothing free: the year's writes cannot all fit
    filler = tmpfs / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    code, err = _run(capsys, "run", "--data-year", "2021")
    assert code == 1, err
    _plain(err)
    assert "disk is full" in err and str(tmpfs) in err and "free space" in err
    now = snapshot(tmpfs, 2021)
    assert {s: {r: f.ident for r, f in files.items()} for s, files in now.items()} == \
        {s: {r: f.ident for r, f in files.items()} for s, files in old.items()}  # every step all-old
    assert leftovers(tmpfs / "warehouse") == [] and leftovers(tmpfs / "reports") == []
    filler.unlink()
    assert _run(capsys, "run", "--data-year", "2021")[0] == 0
    assert leftovers(tmpfs / "warehouse") == [] and leftovers(tmpfs / "reports") == []


def test_permission_denied_names_the_file_and_changes_nothing(tmp_path, monkeypatch, capsys):
    _env(monkeypatch, tmp_path)
    assert _run(capsys, "run", "--from", "2020", "--to", "2021")[0] == 0
    before = _hashes(tmp_path / "warehouse")
    real = commit_mod._write_file

    def denied(path, data, **kw):
        if "reports" in Path(path).parts:  # the reports step cannot write: root ignores modes, so inject
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        real(path, data, **kw)

    monkeypatch.setattr(commit_mod, "_write_file", denied)
    code, err = _run(capsys, "run", "--data-year", "2021")
    assert code == 1, err
    _plain(err)
    assert "permission denied" in err and str(tmp_path / "reports" / "2021") in err and "write access" in err
    monkeypatch.setattr(commit_mod, "_write_file", real)
    assert leftovers(tmp_path / "reports") == [] and _hashes(tmp_path / "warehouse") == before


def test_a_damaged_parquet_of_an_earlier_year_is_named_with_the_command_that_rebuilds_it(tmp_path, monkeypatch,
                                                                                         capsys):
    _env(monkeypatch, tmp_path)
    assert _run(capsys, "run", "--from", "2020", "--to", "2021")[0] == 0
    damaged = tmp_path / "warehouse" / "measures" / "data_year=2020" / "part-0.parquet"
    damaged.write_bytes(damaged.read_bytes()[:100])  # a torn copy from a backup tool, say
    kept = damaged.read_bytes()
    before_2021 = snapshot(tmp_path, 2021)
    code, err = _run(capsys, "run", "--data-year", "2021")
    assert code == 1, err
    _plain(err)
    assert str(damaged) in err and "etdz run --data-year 2020" in err
    assert damaged.read_bytes() == kept  # never rewritten by another year's run
    after = snapshot(tmp_path, 2021)
    assert {r: f.ident for s in after.values() for r, f in s.items()} == \
        {r: f.ident for s in before_2021.values() for r, f in s.items()}
    # the named command rebuilds it
    assert _run(capsys, "run", "--data-year", "2020")[0] == 0
    assert _run(capsys, "run", "--data-year", "2021")[0] == 0


def test_debug_shows_the_traceback(tmp_path, monkeypatch, capsys):
    (tmp_path / "not a folder").write_text("x")
    _env(monkeypatch, tmp_path, warehouse=tmp_path / "not a folder" / "warehouse")
    from etdz.errors import StorageError

    with pytest.raises(StorageError):
        main(["--debug", "run", "--data-year", "2020"])
    shutil.rmtree(tmp_path / "dagster_home", ignore_errors=True)


def test_publish_verify_names_every_changed_file_and_says_whether_the_year_was_reopened(tmp_path, monkeypatch,
                                                                                        capsys):
    _env(monkeypatch, tmp_path)
    assert _run(capsys, "run", "--data-year", "2020")[0] == 0
    assert _run(capsys, "publish", "--data-year", "2020", "--approved-by", "审核组")[0] == 0
    capsys.readouterr()
    assert main(["publish", "--data-year", "2020", "--verify"]) == 0
    assert "intact" in capsys.readouterr().out

    report = tmp_path / "reports" / "2020" / "national_report.html"
    report.write_text(report.read_text(encoding="utf-8").replace("</h1>", " (edited)</h1>", 1), encoding="utf-8")
    archived = next((tmp_path / "archive").rglob("*"))
    while archived.is_dir():
        archived = next(archived.iterdir())
    archived.write_bytes(archived.read_bytes() + b"\n")
    (tmp_path / "reports" / "2020" / "zones" / "extra.html").write_text("<p>not ours</p>", encoding="utf-8")
    assert main(["publish", "--data-year", "2020", "--verify"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert f"report {report}: changed since publication" in out
    assert f"archived submission {archived}: changed since publication" in out
    assert f"report {tmp_path / 'reports' / '2020' / 'zones' / 'extra.html'}: added since publication" in out
    assert "was not reopened since its publication" in out[-1]
    assert len(out) == 4, out  # nothing else differs

    assert main(["reopen", "--data-year", "2020", "--reason", "复核"]) == 0
    capsys.readouterr()
    assert main(["publish", "--data-year", "2020", "--verify"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert "was reopened since its publication" in out[-1] and "复核" in out[-1]


def test_a_bad_setting_refuses_with_exit_2_and_a_plain_message(tmp_path, monkeypatch, capsys):
    _env(monkeypatch, tmp_path)
    monkeypatch.setenv("ETDZ_MAX_FILE_MB", "二十")
    code, err = _run(capsys, "run", "--data-year", "2020")
    assert code == 2, err
    _plain(err)
    assert "ETDZ_MAX_FILE_MB" in err and "二十" in err
    assert not (tmp_path / "warehouse").exists()
