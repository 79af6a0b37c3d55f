"""A run killed with SIGKILL while writing leaves the previous outputs readable; the next run repairs all."""

from __future__ import annotations

import os
import shutil
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
    return {**os.environ, "ETDZ_HOME": str(root), "ETDZ_INBOX": str(layout.inbox),
            "ETDZ_REGISTRY": str(layout.registry),
            "ETDZ_WAREHOUSE": str(root / "warehouse"), "ETDZ_REPORTS": str(root / "reports"),
            "DAGSTER_HOME": str(root / "dagster_home")}


def _read_all(warehouse: Path) -> dict:
    """Every dataset the run writes, read as a whole the way an analyst would (fails on any half-written file)."""
    return {name: pads.dataset(str(warehouse / name), partitioning="hive", format="parquet").to_table()
            for name in DATASETS if (warehouse / name).is_dir()}


def _run(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--data-year", str(YEAR)], env=env,
                          capture_output=True, text=True, timeout=900)


def test_sigkill_during_writing_keeps_previous_outputs_and_next_run_repairs(tmp_path):
    from demo import write_synthetic_year

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
    assert after_kill.keys() == before.keys()
    for name in before:
        assert after_kill[name].schema == before[name].schema, name
        assert after_kill[name].num_rows == before[name].num_rows, name
    leftovers = [p for p in (tmp_path / "warehouse").rglob("*") if p.is_file() and p.name.startswith("_")
                 and not {"_archive", "_locks", "_commits"} & set(p.parts)]
    # files the killed step had staged may remain: readers skip them and the next command removes them
    assert all(p.name.startswith("_part-0.parquet.") for p in leftovers), leftovers

    second = _run(env)  # the lock died with the killed process: the next run proceeds and repairs everything
    assert second.returncode == 0, second.stderr
    repaired = _read_all(tmp_path / "warehouse")
    for name in before:
        if name == "submission_log":  # received_at etc. are the same files: identical too
            pass
        assert repaired[name].equals(before[name]), name
    left = [p for top in ("warehouse", "reports") for p in (tmp_path / top).rglob("*.tmp") if "_archive" not in p.parts]
    assert not left, left  # nothing the killed run left behind remains


KILL_TRIALS = int(os.environ.get("ETDZ_KILL_TRIALS", "8"))


def _golden_env(root: Path, inbox: Path, archive: Path) -> dict:
    from tests.safety.outputs_state import GOLDEN

    return {**os.environ, "ETDZ_HOME": str(root), "ETDZ_INBOX": str(inbox),
            "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
            "ETDZ_WAREHOUSE": str(root / "warehouse"), "ETDZ_REPORTS": str(root / "reports"),
            "ETDZ_ARCHIVE": str(archive), "DAGSTER_HOME": str(root / "dagster_home")}


def _start(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "pipelines.cli", "run", "--data-year", "2021"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _writing(root: Path) -> bool:
    from tests.safety.outputs_state import leftovers

    return bool(leftovers(root / "warehouse") or leftovers(root / "reports"))


def test_sigkill_at_random_points_leaves_each_step_all_old_or_all_new(tmp_path):
    """SIGKILL at a random moment of the writes; after the next command's recovery each step is whole.

    A clean run measures how long the writes last (from the first staged file to the end); each trial
    starts the run, waits for its first staged file, then kills it after a random part of that window."""
    import random

    from etdz.commit import DeploymentLayout
    from tests.safety.outputs_state import (
        STEPS,
        copy_state,
        leftovers,
        prepare_old_and_new,
        restore_archive,
        snapshot,
        verdict,
    )

    base, inbox_b, old, new_state, _ = prepare_old_and_new(tmp_path / "state")
    # when do the writes happen in a clean run? (from the first temporary file seen to the end)
    probe = tmp_path / "probe"
    copy_state(old, probe)
    restore_archive(base)
    t0 = time.monotonic()
    proc = _start(_golden_env(probe, inbox_b, base / "archive"))
    first = None
    while proc.poll() is None:
        if first is None and _writing(probe):
            first = time.monotonic() - t0
        time.sleep(0.005)
    end = time.monotonic() - t0
    assert proc.returncode == 0 and first is not None
    rng = random.Random(20261129)
    outcomes = []
    for trial in range(KILL_TRIALS):
        root = tmp_path / f"kill{trial}"
        copy_state(old, root)
        restore_archive(base)
        before = snapshot(root, 2021)
        delay = rng.uniform(0.0, end - first)
        proc = _start(_golden_env(root, inbox_b, base / "archive"))
        while proc.poll() is None and not _writing(root):
            time.sleep(0.002)
        time.sleep(delay)
        finished = proc.poll() is not None
        if not finished:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        DeploymentLayout(str(root / "warehouse"), str(root / "reports")).recover_all()  # the next command's first act
        now = snapshot(root, 2021)
        verdicts = {step: verdict(now[step], before[step], new_state[step]) for step in STEPS}
        assert "torn" not in verdicts.values(), (trial, round(delay, 2), verdicts)
        assert leftovers(root / "warehouse") == [] and leftovers(root / "reports") == [], trial
        outcomes.append((round(delay, 2), finished, tuple(verdicts.values())))
        shutil.rmtree(root)
    killed = sum(1 for _, done, _ in outcomes if not done)
    assert killed >= max(1, KILL_TRIALS // 4), outcomes  # the trials really interrupt the writes
    print(f"{KILL_TRIALS} SIGKILL trials, {killed} killed mid-run (writes lasted {end - first:.2f} s in a clean run): "
          f"{outcomes}")
