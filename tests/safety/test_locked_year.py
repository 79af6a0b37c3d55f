"""A command that meets a locked year exits 2 within seconds naming the holder (issue 23, item 7).

The lock file records who holds it (host, pid, command, since when); a command typed by someone waits
``COMMAND_WAIT`` seconds at most, then refuses with exit 2 naming the holder; a step of a run launched by the daemon
waits as long as it takes (never fails for a lock).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from etdz.locks import COMMAND_WAIT, LockTimeout, holder, year_lock

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
ROOT = Path(__file__).resolve().parents[2]

HOLD = textwrap.dedent("""
    import sys, time
    lock_dir, seconds = sys.argv[1], float(sys.argv[2])
    sys.argv = ["etdz", "run", "--data-year", "2021", "\\x1b[31m"]  # the command the lock file records
    from etdz.locks import year_lock
    with year_lock(lock_dir, 2021):
        print("held", flush=True)
        time.sleep(seconds)
""")


def _hold(lock_dir: Path, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(lock_dir), str(seconds)], cwd=ROOT,
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_the_lock_file_records_its_holder(tmp_path):
    proc = _hold(tmp_path, 30)
    try:
        record = holder(tmp_path, 2021)
        assert record["pid"] == proc.pid and record["host"] == socket.gethostname()
        assert record["command"].startswith("etdz run --data-year 2021") and record["since"].endswith("+00:00")
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.slow
def test_a_command_meeting_a_held_year_refuses_within_seconds_naming_the_holder(tmp_path):
    proc = _hold(tmp_path, 30)
    try:
        t0 = time.monotonic()
        with pytest.raises(LockTimeout) as err:
            with year_lock(tmp_path, 2021, timeout=COMMAND_WAIT):
                pass
        waited = time.monotonic() - t0
    finally:
        proc.kill()
        proc.wait()
    assert COMMAND_WAIT <= waited < COMMAND_WAIT + 5
    message = str(err.value)
    assert f"process {proc.pid} on host {socket.gethostname()}" in message and "etdz run --data-year 2021" in message
    assert "since 20" in message and "\x1b" not in message  # the recorded command is shown inert
    assert err.value.exit_code == 2
    with year_lock(tmp_path, 2021, timeout=0):  # released by the OS when the holder was killed
        pass


@pytest.mark.slow
def test_a_step_of_a_daemon_run_waits_for_the_holder_instead_of_failing(tmp_path):
    proc = _hold(tmp_path, 2 * COMMAND_WAIT)
    t0 = time.monotonic()
    with year_lock(tmp_path, 2021):  # no timeout: as resource.writing() takes it in every step
        waited = time.monotonic() - t0
    proc.wait()
    assert waited > COMMAND_WAIT  # it did wait past the point where a command gives up, and then got the lock


@pytest.mark.slow
def test_etdz_run_of_a_locked_year_exits_2_naming_the_holder(tmp_path):
    shutil.copytree(GOLDEN / "inbox", tmp_path / "inbox")
    env = {**os.environ, "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
           "ETDZ_INBOX": str(tmp_path / "inbox"), "ETDZ_WAREHOUSE": str(tmp_path / "warehouse"),
           "ETDZ_REPORTS": str(tmp_path / "reports"), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "ETDZ_HOME": str(tmp_path)}
    proc = _hold(tmp_path / "warehouse" / "_locks", 300)
    try:
        run = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--data-year", "2021"], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=120)
    finally:
        proc.kill()
        proc.wait()
    assert run.returncode == 2, run.stdout + run.stderr
    assert f"process {proc.pid}" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "warehouse" / "submission_log").exists()
