"""With the daemon running: a corrected file for an earlier year brings that year and every later one up to date,
in order, exactly one run per year per inbox state — and a withdrawn file (the inbox back in an earlier
state) does it again."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from etdz.settings import Settings
from tests.ops.conftest import stop_group

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
pytestmark = [pytest.mark.slow, pytest.mark.server]
SENSOR_RUNS = RunsFilter(job_name="annual_assessment", tags={"etdz/trigger": "inbox_sensor"})


def _sensor_runs(instance) -> list:
    return sorted(instance.get_run_records(SENSOR_RUNS), key=lambda r: r.create_timestamp)


def _wait_for_runs(instance, count: int, daemon, log: Path, timeout: float = 420) -> list:
    """Wait until ``count`` sensor runs exist and all have finished; fail early if the daemon died."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert daemon.poll() is None, f"the daemon exited:\n{log.read_text(errors='replace')[-3000:]}"
        runs = _sensor_runs(instance)
        if len(runs) >= count and all(r.dagster_run.is_finished for r in runs):
            return runs
        time.sleep(1)
    found = [(r.dagster_run.tags.get("dagster/partition"), r.dagster_run.status) for r in _sensor_runs(instance)]
    raise AssertionError(f"{count} runs expected, found {found}:\n{log.read_text(errors='replace')[-3000:]}")


def _quiet_period(instance, count: int, seconds: float = 12) -> None:
    """Several sensor ticks pass (the interval is 1 s) and no further run is requested."""
    time.sleep(seconds)
    assert len(_sensor_runs(instance)) == count, [r.dagster_run.tags.get("dagster/partition")
                                                 for r in _sensor_runs(instance)]


def _in_order(runs: list) -> list[str]:
    """The years of ``runs``, checking each started after the one before it ended."""
    for before, after in zip(runs, runs[1:]):
        assert after.start_time >= before.end_time, "a later year ran while the earlier one was still running"
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in runs)
    return [r.dagster_run.tags["dagster/partition"] for r in runs]


def test_a_corrected_earlier_year_flows_to_every_later_year_once(tmp_path, monkeypatch):
    from pipelines.cli import ui_commands
    from pipelines.runs import run_years

    shutil.copytree(GOLDEN / "inbox", tmp_path / "inbox")
    env = {"ETDZ_HOME": str(tmp_path), "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"),
           "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"), "ETDZ_INBOX": str(tmp_path / "inbox"),
           "ETDZ_WAREHOUSE": str(tmp_path / "warehouse"), "ETDZ_REPORTS": str(tmp_path / "reports"),
           "DAGSTER_HOME": str(tmp_path / "dagster_home"), "ETDZ_POLL_SECONDS": "1"}
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    settings = Settings.from_env()
    run_years([2020, 2021], settings, quiet=True)  # the command line ran both years on these files
    [_, daemon_cmd], daemon_env = ui_commands(settings, "127.0.0.1", 3000)
    log = tmp_path / "daemon.log"
    with open(log, "wb") as fh:
        daemon = subprocess.Popen(daemon_cmd, env=daemon_env, stdout=fh, stderr=subprocess.STDOUT,
                                  start_new_session=True)
    try:
        with DagsterInstance.get() as instance:
            _quiet_period(instance, 0)  # nothing the command line already ran is run again

            # a corrected 2020 file arrives: a different trade figure for E4
            src = (tmp_path / "inbox" / "2020" / "E4.csv").read_text(encoding="utf-8").splitlines()
            lines = [ln if ",trade_total," not in ln else ln.rsplit(",", 2)[0] + ",999,亿元" for ln in src]
            corrected = tmp_path / "inbox" / "2020" / "E4 corrected.csv"
            corrected.write_text("\n".join(lines) + "\n", encoding="utf-8")
            os.utime(corrected, (time.time() + 60, time.time() + 60))
            assert _in_order(_wait_for_runs(instance, 2, daemon, log)) == ["2020", "2021"]
            _quiet_period(instance, 2)

            # the file is withdrawn: the inbox is back in its first state, which runs again
            corrected.unlink()
            runs = _wait_for_runs(instance, 4, daemon, log)
            assert _in_order(runs) == ["2020", "2021", "2020", "2021"]
            _quiet_period(instance, 4)
    finally:
        stop_group(daemon, timeout=30)
