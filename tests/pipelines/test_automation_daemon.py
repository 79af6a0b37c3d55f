"""Under a real `dagster-daemon` (loopback, a temporary DAGSTER_HOME, ticks every second): the job's automation
condition (pipelines/jobs.py) brings a corrected year and every later one up to date — one run per year, in
order, each after the one before ended — and runs nothing it should not.

Three data years (2020, 2021 from the golden example; 2022 a copy of 2021), run by the command line first, and
one daemon for the module (the tests run in order on its instance; each starts with nothing in progress and
counts only the runs it causes). A refused year not retried until a new change: the daemon test of
tests/pipelines/test_readiness_runs.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from dagster import AssetKey, AssetRecordsFilter, DagsterInstance, DagsterRunStatus, RunsFilter

from etdz.settings import Settings
from tests.ops.conftest import stop_group

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
YEARS = [2020, 2021, 2022]
pytestmark = [pytest.mark.slow, pytest.mark.server]
AUTOMATION_RUNS = RunsFilter(job_name="annual_assessment", tags={"etdz/trigger": "automation"})


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """Three years of the golden example, run by `etdz run`, and the daemon; the settings (ticks every second)."""
    root = tmp_path_factory.mktemp("automation")
    shutil.copytree(GOLDEN / "inbox", root / "inbox")
    (root / "inbox" / "2022").mkdir()
    for src in sorted((root / "inbox" / "2021").iterdir()):
        text = src.read_text(encoding="utf-8").replace(",2021,", ",2022,")
        (root / "inbox" / "2022" / src.name).write_text(text, encoding="utf-8")
    env = {"ETDZ_HOME": str(root), "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"),
           "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"), "ETDZ_INBOX": str(root / "inbox"),
           "ETDZ_WAREHOUSE": str(root / "warehouse"), "ETDZ_REPORTS": str(root / "reports"),
           "DAGSTER_HOME": str(root / "dagster_home"), "ETDZ_POLL_SECONDS": "1"}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        from pipelines.runs import run_years

        settings = Settings.from_env()
        run_years(YEARS, settings, quiet=True)
        daemon = Daemon(settings, root / "daemon.log")
        try:
            yield settings, daemon, env
        finally:
            daemon.stop()


@pytest.fixture
def deployed(deployment, monkeypatch):
    """The module's deployment, its variables exported for this test (each test gets a private home first)."""
    settings, daemon, env = deployment
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return settings, daemon


class Daemon:
    """A `dagster-daemon run` of this code location, as `etdz ui` starts it; its log for failure messages."""

    def __init__(self, settings: Settings, log: Path):
        from pipelines.cli import ui_commands

        ui = ui_commands(settings, "127.0.0.1", 3000)
        self.log, self.socket_folder = log, ui.socket.parent
        with open(log, "wb") as fh:  # no webserver: the code server and the daemon reading it
            self.code_server, self.proc = ui.start(webserver=False, stdout=fh, stderr=subprocess.STDOUT)

    def stop(self) -> None:
        stop_group(self.proc, timeout=30)
        stop_group(self.code_server, timeout=30)
        shutil.rmtree(self.socket_folder, ignore_errors=True)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def alive(self) -> None:
        assert self.proc.poll() is None, f"the daemon exited:\n{self.tail()}"


def _runs(instance) -> list:
    return sorted(instance.get_run_records(AUTOMATION_RUNS), key=lambda r: r.create_timestamp)


def _years(runs) -> list[str]:
    return [r.dagster_run.tags["dagster/partition"] for r in runs]


def _wait_for(instance, daemon: Daemon, count: int, timeout: float = 240) -> list:
    """Wait until ``count`` automation runs exist and all have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        daemon.alive()
        runs = _runs(instance)
        if len(runs) >= count and all(r.dagster_run.is_finished for r in runs):
            return runs
        time.sleep(1)
    found = [(y, r.dagster_run.status.value) for y, r in zip(_years(_runs(instance)), _runs(instance))]
    raise AssertionError(f"{count} automation runs expected within {timeout} s, found {found}:\n{daemon.tail()}")


def _quiet(instance, daemon: Daemon, count: int, seconds: float = 20) -> None:
    """Several automation ticks (the asset daemon loops every 5 s at least) pass and no further run is made."""
    time.sleep(seconds)
    daemon.alive()
    assert len(_runs(instance)) == count, _years(_runs(instance))


def _in_order(runs: list) -> list[str]:
    """The years of ``runs``, each created after the one before it ended, all successful."""
    for before, after in zip(runs, runs[1:]):
        assert after.create_timestamp.timestamp() >= before.end_time, (
            "a run was created while the one before it was still running", _years(runs))
    assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in runs), [
        (r.dagster_run.tags["dagster/partition"], r.dagster_run.status.value) for r in runs]
    return _years(runs)


def _tagged(instance, daemon: Daemon, runs: list, timeout: float = 60) -> list[dict]:
    """The tags of ``runs`` once each carries the year's tags (pipelines/tags.py: the run-tags sensor adds them to
    the automation's runs shortly after they start)."""
    from pipelines.tags import COMMON

    deadline = time.monotonic() + timeout
    while True:
        tags = [instance.get_run_by_id(r.dagster_run.run_id).tags for r in runs]
        missing = [(t["dagster/partition"], sorted(set(COMMON) - set(t))) for t in tags if not set(COMMON) <= set(t)]
        if not missing:
            return tags
        assert time.monotonic() < deadline, f"runs without the year's tags: {missing}\n{daemon.tail()}"
        daemon.alive()
        time.sleep(1)


def _correct(folder: Path, zone: str, figure: str, name: str) -> Path:
    """A corrected file for ``zone`` (a different trade figure), dated a minute ahead (a new listing digest)."""
    lines = (folder / f"{zone}.csv").read_text(encoding="utf-8").splitlines()
    lines = [ln if ",trade_total," not in ln else ln.rsplit(",", 2)[0] + f",{figure},亿元" for ln in lines]
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(path, (time.time() + 60, time.time() + 60))
    return path


def _last_write(instance, asset: str, year: int) -> float:
    [record] = instance.fetch_materializations(
        AssetRecordsFilter(asset_key=AssetKey(asset), asset_partitions=[str(year)]), limit=1).records
    return record.timestamp


def _up_to_date(instance, settings: Settings) -> None:
    """Every year read the year before as it finally is, and its inbox as it now is."""
    from etdz.inbox_state import folder_digest
    from pipelines.observations import ingested_digest

    for y in YEARS:
        assert ingested_digest(instance, y) == folder_digest(Path(settings.inbox) / str(y)), y
        if y > YEARS[0]:
            assert _last_write(instance, "submission_log", y) > _last_write(instance, "measures", y - 1), y


def test_a_correction_flows_to_every_later_year_once_and_a_withdrawal_again(deployed):
    from pipelines.runs import run_years

    settings, daemon = deployed
    inbox = Path(settings.inbox)
    with DagsterInstance.get() as instance:
        _quiet(instance, daemon, 0)  # nothing the command line ran is run again

        _correct(inbox / "2020", "E4", "999", "E4 corrected.csv")
        runs = _wait_for(instance, daemon, 3)
        assert _in_order(runs) == ["2020", "2021", "2022"]
        # each with the year's tags, like a command-line run, and why: 2020's inbox, then the year before it
        from etdz.inbox_state import folder_digest
        from pipelines.staleness import INBOX_CHANGED

        tags = _tagged(instance, daemon, runs)
        assert tags[0].get("etdz/reason") == INBOX_CHANGED and "etdz/after_year" not in tags[0]
        assert [t.get("etdz/after_year") for t in tags[1:]] == ["2020", "2021"]
        assert [t["etdz/reason"][:20] for t in tags[1:]] == ["data year 2020 chang", "data year 2021 chang"]
        assert tags[0]["etdz/inbox_digest"] == folder_digest(inbox / "2020")
        _quiet(instance, daemon, 3)
        _up_to_date(instance, settings)

        # a correction of 2021 the operator runs by hand before the automation gets to it: 2021 is not run again,
        # 2022 (which reads it) is
        corrected = _correct(inbox / "2021", "E2", "1234", "E2 corrected.csv")
        run_years([2021], settings, quiet=True)
        runs = _wait_for(instance, daemon, 4)
        assert _years(runs)[3:] == ["2022"] and runs[3].create_timestamp.timestamp() >= _last_write(
            instance, "national_report", 2021)
        _quiet(instance, daemon, 4)

        corrected.unlink()  # withdrawn: the 2021 inbox is back in an earlier state, which runs again
        runs = _wait_for(instance, daemon, 6)
        assert _in_order(runs[4:]) == ["2021", "2022"]
        _quiet(instance, daemon, 6)
        _up_to_date(instance, settings)
        # every run of the job, the command line's and the automation's, carries the same tags
        _tagged(instance, daemon, instance.get_run_records(RunsFilter(job_name="annual_assessment")))


def test_two_years_corrected_at_once_end_up_read_in_order(deployed):
    settings, daemon = deployed
    inbox = Path(settings.inbox)
    with DagsterInstance.get() as instance:
        done = len(_runs(instance))
        assert all(r.dagster_run.is_finished for r in _runs(instance))
        # 2021 and 2022 corrected at once: both may start in one tick (2022 then runs again once 2021 is written);
        # however the runs interleave, every year ends up read in order, from its inbox as it now is
        _correct(inbox / "2021", "E3", "777", "E3 corrected.csv")
        _correct(inbox / "2022", "E4", "888", "E4 corrected.csv")
        _wait_for(instance, daemon, done + 2)
        _quiet(instance, daemon, len(_runs(instance)))
        runs = _runs(instance)[done:]
        assert all(r.dagster_run.status == DagsterRunStatus.SUCCESS for r in runs)
        assert set(_years(runs)) == {"2021", "2022"} and len(runs) <= 3, _years(runs)
        _up_to_date(instance, settings)


def test_a_command_running_several_years_is_not_overtaken_by_the_automation(deployed):
    """`etdz run --from 2020 --to 2022` with the daemon up: between two of its runs the automation does not start
    the next year for the previous one's sake (the command's runs carry pipelines.jobs.CLI_NEXT_TAG), so the
    command is never refused by a lock the automation took, and nothing is run twice."""
    from pipelines.jobs import CLI_NEXT_TAG
    from pipelines.runs import run_years

    settings, daemon = deployed
    with DagsterInstance.get() as instance:
        done = len(_runs(instance))
        assert all(r.dagster_run.is_finished for r in _runs(instance))
        summaries = run_years(YEARS, settings, quiet=True)  # raises (exit 2) if it met a lock the automation holds
        cli = sorted(instance.get_run_records(RunsFilter(run_ids=[s["run_id"] for s in summaries])),
                     key=lambda r: r.create_timestamp)
        assert [r.dagster_run.tags.get(CLI_NEXT_TAG) for r in cli] == ["2021", "2022", None]
        _quiet(instance, daemon, done)
        _up_to_date(instance, settings)
