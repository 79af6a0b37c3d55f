"""A run killed with SIGKILL while writing leaves the previous outputs readable; the next run repairs all."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.dataset as pads
import pytest

from etdz.schemas import DATASETS

pytestmark = pytest.mark.slow
YEAR = 2023


def _env(root: Path, layout) -> dict:
    return {**os.environ, "ETDZ_HOME": str(root), "ETDZ_INBOX": str(layout.inbox), "ETDZ_REGISTRY": str(layout.registry),
            "ETDZ_WAREHOUSE": str(root / "warehouse"), "ETDZ_REPORTS": str(root / "reports"),
            "DAGSTER_HOME": str(root / "dagster_home")}


def _read_all(warehouse: Path) -> dict:
    """Every dataset, read as a whole the way an analyst would (fails on any half-written file)."""
    return {name: pads.dataset(str(warehouse / name), partitioning="hive", format="parquet").to_table()
            for name in DATASETS}


def _run(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--data-year", str(YEAR)], env=env,
                          capture_output=True, text=True, timeout=900)


def test_sigkill_during_writing_keeps_previous_outputs_and_next_run_repairs(tmp_path):
    from etdz.demo_data import write_synthetic_year

    layout = write_synthetic_year(tmp_path / "data", YEAR, 1500, seed=7)
    env = _env(tmp_path, layout)
    first = _run(env)
    assert first.returncode == 0, first.stderr
    before = _read_all(tmp_path / "warehouse")
    marker = tmp_path / "warehouse" / "measures" / f"data_year={YEAR}" / "part-0.parquet"
    written_at = marker.stat().st_mtime_ns

    # start the same year again and kill it as soon as it has replaced its first file (mid-run, between writes)
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--data-year", str(YEAR)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 300
    while marker.stat().st_mtime_ns == written_at and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(30)

    after_kill = _read_all(tmp_path / "warehouse")  # every dataset still reads as a whole
    for name in DATASETS:
        assert after_kill[name].schema == before[name].schema, name
        assert after_kill[name].num_rows == before[name].num_rows, name
    leftovers = [p for p in (tmp_path / "warehouse").rglob("*") if p.is_file() and p.name.startswith("_")
                 and "_archive" not in p.parts and "_locks" not in p.parts]
    # a temporary file may remain from the killed write: readers skip it and the next write replaces it
    assert all(p.name.startswith("_part-0.parquet.") for p in leftovers), leftovers

    second = _run(env)  # the lock died with the killed process: the next run proceeds and repairs everything
    assert second.returncode == 0, second.stderr
    repaired = _read_all(tmp_path / "warehouse")
    for name in DATASETS:
        if name == "submission_log":  # received_at etc. are the same files: identical too
            pass
        assert repaired[name].equals(before[name]), name
