"""The suite worker (etdz/validation/worker.py): a year's row checks run in another process give the run's issues,
and every way the worker can fail leaves the suite to this process, with the same issues."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from demo.submissions import write_demo
from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.ingestion import ingest_year
from etdz.registry import load_registry
from etdz.settings import Settings
from etdz.validation import worker as suite_workers
from etdz.validation.worker import suite_worker, worker_pid

YEAR = 2023
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def year(tmp_path_factory):
    """A demo year (its faulty files included) and how the run ingests it."""
    home = tmp_path_factory.mktemp("worker_demo")
    write_demo(home, years=range(YEAR, YEAR + 1))
    s = Settings.from_env({"ETDZ_HOME": str(home), "ETDZ_INBOX": str(home / "inbox"),
                           "ETDZ_REGISTRY": str(home / "registry.csv")})
    catalogue = catalogue_for_year(load_catalogues(s.methodology), YEAR)
    registry = load_registry(s.registry)

    def ingest():
        return ingest_year(Path(s.inbox) / str(YEAR), YEAR, catalogue, registry, archive=None,
                           max_bytes=s.max_file_bytes, max_rows_per_measure=s.max_rows_per_measure)

    here = ingest()
    assert suite_workers._CURRENT is None
    return ingest, here


def _assert_same(got, want) -> None:
    pd.testing.assert_frame_equal(got.issues.reset_index(drop=True), want.issues.reset_index(drop=True))
    pd.testing.assert_frame_equal(got.log.drop(columns=["received_at"], errors="ignore"),
                                  want.log.drop(columns=["received_at"], errors="ignore"))
    assert got.validation.expectations == want.validation.expectations
    assert got.validation.gx_version == want.validation.gx_version != ""


def test_the_worker_gives_the_issues_of_the_suite_run_here(year):
    ingest, here = year
    assert (here.issues["check"].str.startswith("row.")).any()  # failing rows, mapped back: the real comparison
    with suite_worker(True) as worker:
        assert worker is not None and worker.running
        got = ingest()
        assert worker.suites_run == 1
        assert worker.running
        again = ingest()  # the suite built in the worker is kept: the same again
        assert worker.suites_run == 2
    assert not worker.running and suite_workers._CURRENT is None
    _assert_same(got, here)
    _assert_same(again, here)


def test_a_frame_too_large_to_send_runs_here_and_stops_the_worker(year, monkeypatch):
    ingest, here = year
    monkeypatch.setattr(suite_workers, "MAX_ROWS", 10)
    with suite_worker(True) as worker:
        got = ingest()
        assert worker.suites_run == 0
        assert not worker.running  # its memory given back before GX ran here
    _assert_same(got, here)


def test_a_worker_that_died_leaves_the_suite_to_this_process(year):
    ingest, here = year
    with suite_worker(True) as worker:
        os.kill(worker_pid(worker), signal.SIGKILL)
        got = ingest()
        assert not worker.running and worker.suites_run == 0
        assert ingest().issues.equals(got.issues)  # and it stays here
    _assert_same(got, here)


def test_a_gx_error_in_the_worker_is_raised_here(year, monkeypatch):
    """A machinery error of GX (a column the suite reads missing from the frame) is the same error as here."""
    ingest, _ = year
    monkeypatch.setattr(suite_workers, "_suite_columns", lambda catalogue: ["measure_code"])
    with suite_worker(True) as worker, pytest.raises(RuntimeError, match="Great Expectations failed"):
        ingest()
    assert worker.running is False


def test_one_core_starts_no_worker(monkeypatch):
    monkeypatch.setattr(suite_workers, "cores", lambda: 1)
    with suite_worker() as worker:
        assert worker is None


def test_no_worker_can_be_started_is_no_worker(monkeypatch):
    def refuse(*a, **k):
        raise OSError(11, "Resource temporarily unavailable")

    monkeypatch.setattr(suite_workers, "start_worker", refuse)
    with suite_worker(True) as worker:
        assert worker is None


def test_an_inner_suite_worker_uses_the_outer_one():
    with suite_worker(True) as outer, suite_worker(True) as inner:
        assert inner is outer
        assert outer.running
    assert not outer.running


_ORPHAN = """
import os, sys
if __name__ == "__main__":
    from etdz.validation.worker import suite_worker, worker_pid
    with suite_worker(True) as w:
        print(worker_pid(w), flush=True)
        os._exit(0)  # as a killed command: the worker is never stopped
"""


@pytest.mark.slow
def test_a_worker_whose_command_was_killed_leaves(tmp_path):
    out = subprocess.run([sys.executable, "-c", _ORPHAN], cwd=ROOT, capture_output=True, text=True, timeout=120)
    pid = int(out.stdout.split()[0])
    deadline = time.monotonic() + 10 * suite_workers.PARENT_POLL_S + 5
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"the worker {pid} outlived its command")


def test_the_columns_sent_are_the_columns_the_suite_reads():
    """What the command sends (read from the suite's spec, without GX) is what the GX suite reads."""
    from etdz.validation.suite import build_suite, ephemeral_context, spec_columns, suite_columns, suite_spec

    for catalogue in load_catalogues(None):
        ephemeral_context()
        assert spec_columns(suite_spec(catalogue)) == suite_columns(build_suite(catalogue, "t"))


def test_a_year_of_more_files_than_max_files_stops_the_worker(monkeypatch):
    monkeypatch.setattr(suite_workers, "MAX_FILES", 3)
    with suite_worker(True) as worker:
        suite_workers.year_of(3)
        assert worker.running
        suite_workers.year_of(4)
        assert not worker.running
    suite_workers.year_of(4)  # no worker: nothing to do
