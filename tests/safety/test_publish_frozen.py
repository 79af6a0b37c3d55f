"""A frozen year does not change (issue 23, item 1).

`etdz publish` while a run of the same year ingests used to succeed, and the run then committed its ingestion into
the published year. Publishing and reopening now hold the year's write lock (and look for runs of the year the
Dagster instance has in progress), and write the manifest and the history atomically, the history last.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

import etdz.commit as commit_mod
from etdz.errors import StorageError
from etdz.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

# `etdz run --data-year 2021` whose ingestion, once started, waits for a file: "a run of the year that ingests"
SLOW_RUN = textwrap.dedent("""
    import pathlib, sys, time
    started, go = sys.argv[1:3]
    sys.argv = ["etdz", "run", "--data-year", "2021"]  # what the lock file records as the holder's command
    import assets.ingestion as ingestion
    real = ingestion.ingest_year
    def slow(*args, **kwargs):
        pathlib.Path(started).write_text("ingesting")
        while not pathlib.Path(go).exists():
            time.sleep(0.05)
        return real(*args, **kwargs)
    ingestion.ingest_year = slow
    from pipelines.cli import main
    sys.exit(main(["run", "--data-year", "2021"]))
""")


@pytest.fixture
def env(golden_env):
    """The golden example as a deployment (tests/conftest.py)."""
    from pipelines.runs import run_years

    run_years([2021], Settings.from_env(), quiet=True)  # (2020 is read from its inbox)
    return golden_env


def _published(root: Path) -> Path:
    return root / "warehouse" / "_published" / "data_year=2021"


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the run never started ingesting"
        time.sleep(0.1)


def test_publish_while_a_run_of_the_year_ingests_refuses_and_the_run_then_commits_nothing_frozen(env, capsys):
    from pipelines.cli import main

    # the year's inbox changes (E2 withdrawn), then a run starts ingesting it
    (env / "inbox" / "2021" / "E2.csv").unlink()
    started, go = env / "started", env / "go"
    proc = subprocess.Popen([sys.executable, "-c", SLOW_RUN, str(started), str(go)], cwd=ROOT, env=os.environ.copy(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _wait_for(started, proc)
        t0 = time.monotonic()
        assert main(["publish", "--data-year", "2021", "--approved-by", "考核办"]) == 2
        assert time.monotonic() - t0 < 15  # refused within seconds, not after an hour
        err = capsys.readouterr().err
        assert f"process {proc.pid}" in err and "run --data-year 2021" in err and "nothing was written" in err
        assert not _published(env).exists()  # no manifest, no history
        assert main(["reopen", "--data-year", "2021", "--reason", "x"]) == 2  # reopening waits for the lock too
    finally:
        go.write_text("go")
        out, errs = proc.communicate(timeout=300)
    assert proc.returncode == 0, out + errs
    # published after the run: the manifest is the run's state, and it stays intact
    assert main(["publish", "--data-year", "2021", "--approved-by", "考核办"]) == 0
    assert main(["publish", "--data-year", "2021", "--verify"]) == 0
    manifest = json.loads((_published(env) / "manifest.json").read_text("utf-8"))
    assert "E2.csv" not in {f["file_name"] for f in manifest["submission_files"]}


def test_publish_refuses_while_the_instance_has_a_run_of_the_year_in_progress(env, capsys):
    from dagster import DagsterInstance, DagsterRunStatus
    from dagster._core.storage.dagster_run import DagsterRun

    from pipelines.cli import main

    with DagsterInstance.get() as instance:  # a run launched from the UI, between two of its steps
        run = DagsterRun(job_name="annual_assessment", status=DagsterRunStatus.STARTED,
                         tags={"dagster/partition": "2021", "etdz/trigger": "ui"})
        instance.add_run(run)
    assert main(["publish", "--data-year", "2021"]) == 2
    assert run.run_id in capsys.readouterr().err
    assert not _published(env).exists()
    with DagsterInstance.get() as instance:
        instance.report_run_canceled(instance.get_run_by_id(run.run_id))
    assert main(["publish", "--data-year", "2021"]) == 0


def test_a_publication_that_fails_half_way_is_not_recorded_and_keeps_the_previous_manifest(env, monkeypatch, capsys):
    from etdz.publish import history, is_published, verify
    from etdz.storage import Warehouse
    from pipelines.cli import main

    store = Warehouse(str(env / "warehouse"))
    assert main(["publish", "--data-year", "2021"]) == 0
    first = (_published(env) / "manifest.json").read_bytes()
    assert main(["reopen", "--data-year", "2021", "--reason", "更正"]) == 0
    real = commit_mod._write_file

    def full_at_history(path, data, **kw):
        if "history.jsonl" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(path, data, **kw)

    monkeypatch.setattr(commit_mod, "_write_file", full_at_history)
    with pytest.raises(StorageError, match="history.jsonl"):
        from assets.resource import EtdzResource
        from etdz.publish import publish_year

        resource = EtdzResource(Settings.from_env())
        publish_year(store, resource.reports_dir(2021), 2021, resource.catalogue(2021), resource.settings.registry)
    monkeypatch.undo()
    assert is_published(store, 2021) is None  # not recorded: still reopened
    assert [e["action"] for e in history(store, 2021)] == ["publish", "reopen"]
    assert (_published(env) / "manifest.json").read_bytes() == first  # the copy of the last publication stays
    assert not [p for p in _published(env).iterdir() if p.name.endswith(".tmp")]
    assert verify(store, 2021) == []  # the last publication's manifest, and nothing changed since
