"""Two "pods" on one warehouse: two processes, each with its own DAGSTER_HOME (nothing shared on local disk),
on one S3 bucket (moto's server on loopback) and one PostgreSQL instance storage — as two pods of a Kubernetes
deployment meet (docs/operations.md, "Several machines").

What they share is only what a deployment shares: the bucket (datasets, reports, the year locks and the commit
journals beside the warehouse) and the instance database. Proven here: a command meeting a year another pod
holds exits 2 naming it while a daemon-launched step waits; two runs of one year at once (one refuses, the
results are those of one run); a pod killed between journal and apply is rolled forward by the other; a pod
killed before its journal has its staging — and only its staging — removed; two steps of one year at once keep
each other's staging; a publish from the second pod records the reports the first one published, and its
``--verify`` catches a changed report.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from etdz.schemas import DATASETS
from tests.ops.conftest import REPO, golden_env, read_dataset, require

pytestmark = [pytest.mark.server, pytest.mark.slow]

BUCKET = "etdz-pods"
LEASE = 4.0  # seconds: a killed pod's lock runs out this fast here (60 s by default)
DEPLOY_YAML = REPO / "deploy" / "dagster.postgres.yaml"


@pytest.fixture(scope="module", autouse=True)
def _needs_moto():
    require(importlib.util.find_spec("moto") is not None and importlib.util.find_spec("s3fs") is not None,
            "moto[server] and s3fs are not installed (pip install -e '.[test]')")


@pytest.fixture(scope="module")
def bucket(s3_server):
    s3_server.create_bucket(BUCKET)
    return s3_server


@pytest.fixture(scope="module")
def instance_db(postgres_server):
    """One PostgreSQL database for the Dagster instance of both pods, and the environment that points at it."""
    db = "dagster_pods"
    postgres_server.create_database(db)
    return {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(postgres_server.port),
            "DAGSTER_PG_USERNAME": postgres_server.user, "DAGSTER_PG_PASSWORD": postgres_server.password,
            "DAGSTER_PG_DB": db}


class Pod:
    """One pod: its own folder and DAGSTER_HOME (the documented PostgreSQL dagster.yaml), the shared bucket."""

    def __init__(self, root: Path, s3, prefix: str, pg_env: dict[str, str]):
        self.root = root
        home = root / "dagster_home"
        home.mkdir(parents=True)
        shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
        self.warehouse = f"s3://{BUCKET}/{prefix}/warehouse"
        self.reports = f"s3://{BUCKET}/{prefix}/reports"
        self.env = golden_env(root, ETDZ_WAREHOUSE=self.warehouse, ETDZ_REPORTS=self.reports,
                              ETDZ_LOCK_LEASE_SECONDS=str(LEASE), PYTHONPATH=str(REPO), **s3.env(), **pg_env)

    def etdz(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=self.env, cwd=self.root,
                              capture_output=True, text=True, timeout=timeout)

    def start_etdz(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], env=self.env, cwd=self.root,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def start(self, *args: str) -> subprocess.Popen:
        """A pod_steps action in this pod (tests/ops/pod_steps.py)."""
        return subprocess.Popen([sys.executable, "-m", "tests.ops.pod_steps", *args], env=self.env, cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _pods(tmp_path: Path, s3, pg_env: dict[str, str]) -> tuple[Pod, Pod]:
    prefix = tmp_path.name  # each test its own prefix in the bucket
    return Pod(tmp_path / "pod-a", s3, prefix, pg_env), Pod(tmp_path / "pod-b", s3, prefix, pg_env)


def _until(proc: subprocess.Popen, line: str, timeout: float = 120) -> None:
    """Read the process's output until it prints ``line`` (it has reached that point)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        out = proc.stdout.readline()
        if out.strip() == line:
            return
        if not out and proc.poll() is not None:
            raise AssertionError(f"the pod's process ended ({proc.returncode}) before '{line}':\n{proc.stderr.read()}")
    raise AssertionError(f"the pod's process did not reach '{line}' within {timeout:.0f} s")


def _keys(s3, prefix: str) -> list[str]:
    fs = s3.filesystem()
    return sorted(k.split(f"{BUCKET}/", 1)[1] for k in fs.find(f"{BUCKET}/{prefix}"))


def _value(s3, warehouse: str, dataset: str, year: int) -> str | None:
    fs = s3.filesystem()
    path = f"{warehouse.removeprefix('s3://')}/{dataset}/data_year={year}/part-0.parquet"
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as fh:
        return pq.read_table(fh).column("value").to_pylist()[0]


def _pg_env(request) -> dict[str, str]:
    return request.getfixturevalue("instance_db")


# ----------------------------------------------------------------------------- the lock across pods


def test_a_command_in_one_pod_meeting_a_year_held_in_the_other_exits_2_naming_it(bucket, tmp_path, request):
    a, b = _pods(tmp_path, bucket, _pg_env(request))
    go = tmp_path / "go"
    holder = a.start("hold", "2020", str(go))
    try:
        _until(holder, "held")
        lock = json.loads(bucket.filesystem().cat_file(f"{a.warehouse.removeprefix('s3://')}/_locks/data_year=2020.lock"))
        assert {"host", "pid", "command", "since", "expires"} <= set(lock) and lock["pid"] == holder.pid
        t0 = time.monotonic()
        run = b.etdz("run", "--data-year", "2020", timeout=300)
        waited = time.monotonic() - t0
        assert run.returncode == 2, run.stdout + run.stderr
        assert f"process {holder.pid} on host {socket.gethostname()}" in run.stderr
        assert "pod_steps.py hold 2020" in run.stderr and "lease runs out at" in run.stderr, run.stderr
        assert "Traceback" not in run.stderr
        assert waited < 120  # the pod's startup plus COMMAND_WAIT: it does not wait for the holder
        # a daemon-launched step in pod B waits for the lock instead of failing, then writes
        step = b.start("step", "2020", "rankings", "from-b")
        time.sleep(LEASE)  # longer than one lease: A renews it, B keeps waiting
        assert step.poll() is None and _value(bucket, b.warehouse, "rankings", 2020) is None
        go.touch()
        assert holder.wait(60) == 0
        assert step.wait(120) == 0, step.stderr.read()
        assert _value(bucket, b.warehouse, "rankings", 2020) == "from-b"
    finally:
        go.touch()
        for p in (holder,):
            if p.poll() is None:
                p.kill()


def test_a_killed_holder_blocks_its_year_only_until_its_lease_runs_out(bucket, tmp_path, request):
    a, b = _pods(tmp_path, bucket, _pg_env(request))
    holder = a.start("hold", "2020", str(tmp_path / "never"))
    _until(holder, "held")
    holder.kill()  # SIGKILL: no chance to delete the lock object
    holder.wait()
    t0 = time.monotonic()
    step = b.start("step", "2020", "rankings", "after-the-lease")
    assert step.wait(120) == 0, step.stderr.read()
    assert time.monotonic() - t0 < LEASE + 60
    assert _value(bucket, b.warehouse, "rankings", 2020) == "after-the-lease"
    assert "took over the lock" in step.stderr.read()


# ----------------------------------------------------------------------------- the commit across pods


def test_a_pod_killed_between_journal_and_apply_is_rolled_forward_by_the_other(bucket, tmp_path, request):
    a, b = _pods(tmp_path, bucket, _pg_env(request))
    first = a.start("step", "2020", "rankings", "old")
    assert first.wait(120) == 0, first.stderr.read()
    killed = a.start("step", "2020", "rankings", "new", "--kill", "journal")
    killed.wait(120)
    assert killed.returncode == -9
    prefix = tmp_path.name
    journals = [k for k in _keys(bucket, prefix) if "/_commits/" in k]
    assert [k for k in journals if k.endswith(".json")], "the journal is on the bucket, not in the pod"
    assert _value(bucket, a.warehouse, "rankings", 2020) == "old"  # all old until someone rolls it forward
    # pod B: any command rolls the journal forward before reading (once the killed pod's lease has run out)
    time.sleep(LEASE)
    verify = b.etdz("publish", "--data-year", "2020", "--verify", timeout=300)
    assert "Traceback" not in verify.stderr, verify.stderr
    assert _value(bucket, a.warehouse, "rankings", 2020) == "new"
    keys = _keys(bucket, prefix)
    assert not [k for k in keys if "/_commits/" in k], keys  # journal and marker gone
    assert not [k for k in keys if k.endswith(".tmp")], keys


def test_a_pod_killed_before_its_journal_leaves_all_old_and_its_staging_only_is_removed(bucket, tmp_path, request):
    a, b = _pods(tmp_path, bucket, _pg_env(request))
    assert a.start("step", "2020", "measures", "old").wait(120) == 0
    killed = a.start("step", "2020", "measures", "new", "--kill", "staged")
    killed.wait(120)
    prefix = tmp_path.name
    staged = [k for k in _keys(bucket, prefix) if k.endswith(".tmp")]
    assert len(staged) == 1 and _value(bucket, a.warehouse, "measures", 2020) == "old"
    # pod B's next step of the year: A's staging goes, B's own commit goes through, nothing else is touched
    step = b.start("step", "2020", "rankings", "from-b")
    assert step.wait(120) == 0, step.stderr.read()
    keys = _keys(bucket, prefix)
    assert not [k for k in keys if k.endswith(".tmp") or "/_commits/" in k], keys
    assert _value(bucket, a.warehouse, "measures", 2020) == "old"
    assert _value(bucket, a.warehouse, "rankings", 2020) == "from-b"


def test_two_steps_of_one_year_in_two_pods_at_once_keep_each_others_staging(bucket, tmp_path, request):
    a, b = _pods(tmp_path, bucket, _pg_env(request))
    go = tmp_path / "go"
    first = a.start("step", "2021", "measures", "from-a", "--wait", str(go))
    try:
        _until(first, "staged")
        staged_a = [k for k in _keys(bucket, tmp_path.name) if k.endswith(".tmp")]
        assert len(staged_a) == 1
        second = b.start("step", "2021", "rankings", "from-b")  # waits for A's lock: it does not sweep A's staging
        time.sleep(2)
        assert second.poll() is None
        assert [k for k in _keys(bucket, tmp_path.name) if k.endswith(".tmp")] == staged_a
        go.touch()
        assert first.wait(120) == 0, first.stderr.read()
        assert second.wait(120) == 0, second.stderr.read()
    finally:
        go.touch()
        if first.poll() is None:
            first.kill()
    assert _value(bucket, a.warehouse, "measures", 2021) == "from-a"
    assert _value(bucket, a.warehouse, "rankings", 2021) == "from-b"
    assert not [k for k in _keys(bucket, tmp_path.name) if k.endswith(".tmp") or "/_commits/" in k]


# ----------------------------------------------------------------------------- whole runs in two pods


@pytest.fixture(scope="module")
def two_runs(bucket, instance_db, tmp_path_factory):
    """`etdz run --from 2020 --to 2021` started in both pods at once, on one bucket and one instance database."""
    root = tmp_path_factory.mktemp("runs")
    a, b = _pods(root, bucket, instance_db)
    procs = [pod.start_etdz("run", "--from", "2020", "--to", "2021") for pod in (a, b)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=900)
        out.append((p.returncode, stdout, stderr))
    return root, a, b, out


def test_two_runs_of_one_year_at_once_one_refuses_naming_the_other(two_runs):
    _, a, b, out = two_runs
    codes = sorted(code for code, _, _ in out)
    assert codes == [0, 2], out
    refused = next(o for o in out if o[0] == 2)
    assert "is being written by process" in refused[2] and "run --from 2020 --to 2021" in refused[2], refused[2]
    assert "Traceback" not in refused[2]


@pytest.mark.parametrize("name", DATASETS)
def test_the_results_are_those_of_one_run(bucket, two_runs, baseline_run, name):
    _, a, _, _ = two_runs
    got = read_dataset(a.warehouse.removeprefix("s3://"), name, filesystem=bucket.filesystem())
    want = read_dataset(str(baseline_run[0] / "warehouse"), name)
    if name == "submission_log":  # where each file was archived differs by design
        got.pop("archive_path")
        want.pop("archive_path")
    pd.testing.assert_frame_equal(got, want)


def test_publish_from_the_other_pod_records_the_published_reports_and_verify_catches_a_change(bucket, two_runs):
    root, a, b, out = two_runs
    winner, other = (a, b) if out[0][0] == 0 else (b, a)
    assert not (other.root / "dagster_home" / "etdz-reports-staging" / "2021").exists()  # nothing local to hash
    pub = other.etdz("publish", "--data-year", "2021", "--approved-by", "reviewer", timeout=300)
    assert pub.returncode == 0, pub.stdout + pub.stderr
    fs = bucket.filesystem()
    manifest = json.loads(fs.cat_file(f"{winner.warehouse.removeprefix('s3://')}/_published/data_year=2021/manifest.json"))
    reports = manifest["reports"]
    assert reports["folder"] == f"{winner.reports}/2021"
    published = {k.split("/reports/2021/", 1)[1] for k in fs.find(f"{winner.reports.removeprefix('s3://')}/2021")}
    assert set(reports["files"]) == published and "national_report.html" in published
    assert other.etdz("publish", "--data-year", "2021", "--verify").returncode == 0
    page = f"{winner.reports.removeprefix('s3://')}/2021/national_report.html"
    fs.pipe_file(page, fs.cat_file(page) + b"<!-- changed -->")
    verify = other.etdz("publish", "--data-year", "2021", "--verify")
    assert verify.returncode == 1 and "national_report.html: changed since publication" in verify.stdout


def test_nothing_of_either_pod_is_left_on_the_bucket_or_in_a_pod(bucket, two_runs):
    root, a, b, _ = two_runs
    keys = _keys(bucket, root.name)
    assert not [k for k in keys if k.endswith(".tmp") or "/_commits/" in k or "/_locks/" in k], keys
    for pod in (a, b):
        home = pod.root / "dagster_home"
        assert not (home / "etdz-locks").exists() and not (home / "etdz-commits").exists()
    assert os.environ.get("ETDZ_LOCK_LEASE_SECONDS") is None  # the short lease is the pods' only
