"""One listing of each inbox year folder per step (issue 15): `etdz run`, the sensor, the partitions.

Listing a folder of 23,000 files costs ~0.2 s (a directory read and one lstat per entry); the launcher, the
definitions, the ingestion step and the scoring step each list a year folder at most once and derive the
digest, the number of files and the files to ingest from that one listing. Counted on ``os.scandir`` and
``os.listdir`` themselves, so any way of listing counts.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections import Counter
from pathlib import Path

import pytest
from dagster import DagsterInstance, build_sensor_context

from etdz.inbox_state import folder_digest, listing_digest, scan_inbox
from tests.safety.outputs_state import GOLDEN

pytestmark = pytest.mark.slow


def _phase() -> str:
    """The Dagster step running now; outside one, the definitions being built or else the launcher."""
    from dagster import OpExecutionContext
    from dagster._core.errors import DagsterInvariantViolationError

    try:
        return str(OpExecutionContext.get().op_handle)
    except DagsterInvariantViolationError:
        pass
    frame = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "data_year_partitions":
            return "definitions"
        frame = frame.f_back
    return "launcher"


@pytest.fixture
def listings(monkeypatch):
    """Every listing of a folder: (phase, folder) → how many times."""
    seen: Counter = Counter()
    real_scandir, real_listdir = os.scandir, os.listdir

    def scandir(path="."):
        seen[(_phase(), os.path.abspath(os.fsdecode(path)))] += 1
        return real_scandir(path)

    def listdir(path="."):
        seen[(_phase(), os.path.abspath(os.fsdecode(path)))] += 1
        return real_listdir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    monkeypatch.setattr(os, "listdir", listdir)
    return seen


@pytest.fixture
def env(tmp_path, monkeypatch):
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    for key, value in {"ETDZ_HOME": tmp_path, "ETDZ_INBOX": inbox, "ETDZ_REGISTRY": GOLDEN / "registry.csv",
                       "ETDZ_METHODOLOGY": GOLDEN / "catalogues", "ETDZ_WAREHOUSE": tmp_path / "warehouse",
                       "ETDZ_REPORTS": tmp_path / "reports", "DAGSTER_HOME": tmp_path / "dagster_home"}.items():
        monkeypatch.setenv(key, str(value))
    return inbox


def test_one_run_lists_each_year_folder_once_per_step(env, listings, capsys):
    from pipelines.cli import main

    year, previous = env / "2021", env / "2020"  # 2020 is never run: both steps read it from its inbox
    assert main(["run", "--data-year", "2021"]) == 0, capsys.readouterr().err
    counts = {(phase, Path(folder).name): n for (phase, folder), n in listings.items()
              if folder in (str(year), str(previous))}
    assert counts and max(counts.values()) == 1, counts
    phases = {phase for phase, _ in counts}
    assert {"launcher", "submissions", "scores"} <= phases, counts  # each step was seen listing
    assert "definitions" not in phases, counts  # the partitions come from the settings and the date (04 §4.3)
    assert ("launcher", "2021") in counts and ("submissions", "2021") in counts and ("submissions", "2020") in counts

    # what the run recorded is the digest of the folder as it is
    with DagsterInstance.get() as instance:
        [run] = instance.get_run_records(limit=1)
        assert run.dagster_run.tags["etdz/inbox_digest"] == folder_digest(year)
        assert run.dagster_run.tags["etdz/files"] == str(len(scan_inbox(year)))


def test_a_sensor_tick_lists_each_year_folder_once(env, listings):
    from etdz.settings import Settings
    from pipelines.definitions import build_definitions

    defs = build_definitions(Settings.from_env())
    sensor = defs.resolve_sensor_def("inbox_sensor")
    years = {str(env / "2020"), str(env / "2021")}
    cursor = None
    with DagsterInstance.ephemeral() as instance:
        for _ in range(2):  # the second tick sees the same digest again: it records the change, requests a run
            listings.clear()
            ctx = build_sensor_context(instance=instance, cursor=cursor,
                                       resources={"resource": defs.resources["resource"]}, definitions=defs)
            data = sensor.evaluate_tick(ctx)
            cursor = data.cursor
            assert {folder: n for (_, folder), n in listings.items() if folder in years} == dict.fromkeys(years, 1)
    [observation] = [e for e in data.asset_events if e.partition == "2021"]
    assert observation.tags["dagster/data_version"] == listing_digest(scan_inbox(env / "2021"))
    assert observation.metadata["files"].value == len(scan_inbox(env / "2021"))
