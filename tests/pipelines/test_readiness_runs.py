"""04-outputs.md §4.3 "A year is ranked only when it can be", end to end: `etdz run`, the Dagster run it records,
the sensor and the schedule on the instance it leaves.

The golden example: data year 2020 with 10 files, 2021 with 12 (11 due national zones and a provincial one),
ranked once by a module fixture; every test works on a copy of that deployment and takes files out of
2021's inbox copy.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest

from tests.fixtures.runs import GOLDEN, dataset, etdz, golden_env
from tests.safety.outputs_state import step_of

pytestmark = pytest.mark.slow
DUE_2021 = 11  # national zones due in 2021 in the golden registry (P1, provincial, does not count)


@pytest.fixture(scope="module")
def ranked(tmp_path_factory) -> Path:
    """2020 and 2021 run and ranked (the last good results every test starts from)."""
    root = tmp_path_factory.mktemp("ranked")
    shutil.copytree(GOLDEN / "inbox", root / "inbox")
    proc = etdz(root, golden_env(root, root / "inbox"), "run", "--from", "2020", "--to", "2021")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


@pytest.fixture
def site(ranked, tmp_path) -> Path:
    """A private copy of the ranked deployment (inbox, warehouse, reports, Dagster instance)."""
    root = tmp_path / "site"
    shutil.copytree(ranked, root, symlinks=True)
    return root


def run(root: Path, *args: str, **env: str):
    return etdz(root, golden_env(root, root / "inbox", **env), "run", *args)


def keep_files(root: Path, year: int, names: list[str]) -> None:
    """Leave only ``names`` in the year's inbox (the others were never sent)."""
    for p in (root / "inbox" / str(year)).iterdir():
        if p.name not in names:
            p.unlink()


def hashes(root: Path, year: int) -> dict[str, str]:
    """Every output file of ``year`` (datasets and reports, not locks, archive or staging), by content."""
    out = {}
    for top in (root / "warehouse", root / "reports" / str(year)):
        for p in sorted(top.rglob("*")) if top.is_dir() else []:
            rel = p.relative_to(root).as_posix()
            if not p.is_file() or any(part.startswith(("_", ".")) for part in p.relative_to(root).parts[1:]):
                continue
            if rel.startswith("warehouse/") and f"data_year={year}" not in rel:
                continue
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def scoring_and_after(files: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in files.items() if step_of(k) != "ingestion"}


def instance(root: Path):
    """The deployment's own Dagster instance (what `DagsterInstance.get()` opens with its DAGSTER_HOME), without
    leaving DAGSTER_HOME exported into the test process; use it as a context manager."""
    from tests.instances import open_instance

    return open_instance(root / "dagster_home")


def step_events(inst, run_id: str) -> dict[str, tuple[str, str]]:
    """step key → (STEP_SUCCESS | STEP_FAILURE, the failure's message)."""
    out = {}
    for record in inst.all_logs(run_id):
        ev = record.dagster_event
        if ev is not None and ev.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            err = ev.step_failure_data.error if ev.is_step_failure else None
            text = ""
            while err is not None:
                text += err.message
                err = err.cause
            out[ev.step_key] = (ev.event_type_value, text)
    return out


def test_a_year_below_the_share_keeps_its_ingestion_and_its_last_good_results(site):
    """6 of 11 due zones (the guard lets it through: the last run accepted 11, 6 is more than half of that)
    and E4's file rejected, min_share_to_rank 0.8: 9 needed. Exit 2, the message; the ingestion is committed
    (log, issues, measures, validation page, the rejection notice); nothing after it is written: 2021's
    scores, robustness, changes and reports, and every output of 2020, stay byte-identical."""
    before_2020, before_2021 = hashes(site, 2020), hashes(site, 2021)
    keep_files(site, 2021, ["C1.csv", "C2.csv", "C3.csv", "E1.csv", "E2.csv", "E3.csv", "P1.csv"])
    e4 = (GOLDEN / "inbox" / "2021" / "E4.csv").read_text(encoding="utf-8")
    assert "E4,2021,fdi_actual,3303," in e4
    (site / "inbox" / "2021" / "E4.csv").write_text(e4.replace("E4,2021,fdi_actual,3303,", "E4,2021,fdi_actual,三千,"),
                                                    encoding="utf-8")
    proc = run(site, "--data-year", "2021", ETDZ_MIN_SHARE_TO_RANK="0.8")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    err = proc.stderr
    assert f"data year 2021 is not ranked: 6 of {DUE_2021} due zones have an accepted file" in err, err
    assert "at least 9 are needed" in err and "the deadline was 2022-06-30" in err
    assert "--allow-incomplete" in err and "Traceback" not in err

    after_2021 = hashes(site, 2021)
    assert hashes(site, 2020) == before_2020
    assert scoring_and_after(after_2021) == scoring_and_after(before_2021)
    assert scoring_and_after(before_2021)  # there were results to keep
    # the ingestion is committed: the operator sees who is missing
    log = dataset(site, "submission_log").query("data_year == 2021")
    assert len(log) == 8 and set(log.query("status == 'accepted'").zone_code) == {
        "C1", "C2", "C3", "E1", "E2", "E3", "P1"}
    assert list(log.query("status == 'rejected'").zone_code) == ["E4"]
    issues = dataset(site, "submission_issues").query("data_year == 2021")
    assert "error" in set(issues.query("zone_code == 'E4'").severity)
    measures = dataset(site, "measures").query("data_year == 2021")
    assert set(measures.zone_code) == {"C1", "C2", "C3", "E1", "E2", "E3", "P1"}  # this inbox's, not the last run's
    for name in ("submission_log", "submission_issues", "measures"):
        part = f"warehouse/{name}/data_year=2021/part-0.parquet"
        assert after_2021[part] != before_2021[part], name
    assert after_2021["reports/2021/validation.html"] != before_2021["reports/2021/validation.html"]
    page = (site / "reports" / "2021" / "validation.html").read_text(encoding="utf-8")
    assert "E4" in page and "W1" in page  # the rejected file and the zones that sent none are listed
    [notice] = (site / "reports" / "2021" / "rejections").glob("*.txt")
    assert "E4" in notice.read_text(encoding="utf-8") and notice.relative_to(site).as_posix() in after_2021

    # in Dagster (what the UI shows): the ingestion step succeeded, the scoring step failed with the message,
    # and nothing after it ran
    with instance(site) as inst:
        [latest] = inst.get_run_records(limit=1)
        steps = step_events(inst, latest.dagster_run.run_id)
    assert steps["submissions"][0] == "STEP_SUCCESS"
    assert steps["scores"][0] == "STEP_FAILURE" and f"6 of {DUE_2021} due zones" in steps["scores"][1]
    assert not {k for k in steps if k not in ("submissions", "scores")}, steps


def test_the_guard_runs_first_and_keeps_its_nothing_written_rule(site):
    """3 of the 11 zones the last run accepted: the guard refuses before anything is written (its message,
    --allow-shrink), though the year is also below the share. With --allow-shrink the guard lets it through and
    readiness refuses after the ingestion."""
    before = hashes(site, 2021)
    keep_files(site, 2021, ["C1.csv", "E1.csv", "W1.csv"])
    proc = run(site, "--data-year", "2021")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refused" in proc.stderr and "--allow-shrink" in proc.stderr and "not ranked" not in proc.stderr
    assert hashes(site, 2021) == before  # not even the submission log

    proc = run(site, "--data-year", "2021", "--allow-shrink")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"3 of {DUE_2021} due zones have an accepted file" in proc.stderr
    after = hashes(site, 2021)
    assert scoring_and_after(after) == scoring_and_after(before)
    assert after["warehouse/submission_log/data_year=2021/part-0.parquet"] != \
        before["warehouse/submission_log/data_year=2021/part-0.parquet"]


def test_allow_incomplete_ranks_provisionally_and_the_run_records_it(site):
    keep_files(site, 2021, ["C1.csv", "E1.csv", "W1.csv"])
    proc = run(site, "--data-year", "2021", "--allow-shrink", "--allow-incomplete")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "zones ranked (provisional)" in proc.stdout
    rankings = dataset(site, "rankings").query("data_year == 2021")
    assert len(rankings) == DUE_2021 and set(rankings.results_status) == {"provisional"}
    assert (rankings.submission_status == "accepted").sum() == 3
    from dagster import AssetKey

    with instance(site) as inst:
        [latest] = inst.get_run_records(limit=1)
        assert latest.dagster_run.tags["etdz/allow_incomplete"] == "true"
        [mat] = inst.fetch_materializations(AssetKey("rankings"), limit=1).records
        meta = mat.asset_materialization.metadata
    assert mat.run_id == latest.dagster_run.run_id
    assert meta["allow_incomplete"].value is True
    assert meta["readiness"].value == f"3 of {DUE_2021} due zones have an accepted file"
    assert (site / "reports" / "2021" / "national_report.html").is_file()


def test_a_year_with_no_inbox_folder_is_refused_and_never_ranked(site):
    """`etdz run --data-year 2024` with no inbox/2024: exit 2 with the readiness message, also with
    --allow-incomplete; the earlier years' outputs are untouched and 2024 has no rankings."""
    before = {y: hashes(site, y) for y in (2020, 2021)}
    assert not (site / "inbox" / "2024").exists()
    for extra in ((), ("--allow-incomplete",)):
        proc = run(site, "--data-year", "2024", *extra)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        assert "data year 2024 is not ranked: none of its" in proc.stderr and "2025-06-30" in proc.stderr
    assert {y: hashes(site, y) for y in (2020, 2021)} == before
    assert not (site / "warehouse" / "rankings" / "data_year=2024").exists()
    assert not (site / "reports" / "2024" / "national_report.html").exists()
    assert (site / "reports" / "2024" / "validation.html").is_file()  # the list of who has to send a file


def _schedule_tick(site: Path, day: dt.date, **env: str):
    """The schedule evaluated at 06:00 Beijing time on ``day``, on the site's configuration and instance."""
    from dagster import build_schedule_context

    from etdz.settings import Settings
    from pipelines.definitions import build_definitions

    when = dt.datetime(day.year, day.month, day.day, 6, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    with instance(site) as inst:  # opened first: resolving the definitions looks for the current instance
        defs = build_definitions(Settings.from_env(golden_env(site, site / "inbox", **env)))
        schedule = defs.resolve_schedule_def("yearly_assessment")
        assert schedule.cron_schedule == "0 6 * * *" and schedule.execution_timezone == "Asia/Shanghai"
        # the context is closed before the instance: `context.instance` opens an instance of its own from the
        # reference, which sets Dagster's current definitions-state storage until the context closes (left
        # open, it is reset when garbage-collected, to the storage of an instance already gone)
        with build_schedule_context(instance=inst, scheduled_execution_time=when,
                                    repository_def=defs.get_repository_def(),
                                    resources={"resource": defs.resources["resource"]}) as ctx:
            return schedule.evaluate_tick(ctx)


def test_the_schedule_runs_a_year_the_day_after_its_deadline_and_skips_it_when_not_ready(site):
    """Requested once per inbox state (the run key carries the digest); skipped with the readiness message, as
    an upper bound before the files are ingested and exactly after a refused run; not requested again on the
    following days, and requested again when the inbox changes."""
    from etdz.inbox_state import folder_digest
    from pipelines.schedules import deadline_run_key

    deadlines = {"ETDZ_DEADLINES": "2021=2022-05-15"}
    on_the_day = _schedule_tick(site, dt.date(2022, 5, 15), **deadlines)
    assert not on_the_day.run_requests and "no data year's deadline was yesterday" in on_the_day.skip_message
    [request] = _schedule_tick(site, dt.date(2022, 5, 16), **deadlines).run_requests
    assert request.partition_key == "2021" and request.tags["etdz/trigger"] == "schedule"
    full = folder_digest(site / "inbox" / "2021")
    assert request.run_key == deadline_run_key(2021, full) and request.tags["etdz/inbox_digest"] == full
    assert not _schedule_tick(site, dt.date(2022, 3, 1), **deadlines).run_requests  # the retired 1 March

    # not ingested yet, too few files to make the share: skipped with the readiness message
    keep_files(site, 2021, ["C1.csv", "E1.csv", "W1.csv"])
    skipped = _schedule_tick(site, dt.date(2022, 5, 16), **deadlines)
    assert not skipped.run_requests
    assert f"at most 3 of {DUE_2021} due zones can have an accepted file" in skipped.skip_message
    assert "2022-05-15" in skipped.skip_message
    # ingested and refused: the schedule knows the exact count from the run on this inbox, and skips
    proc = run(site, "--data-year", "2021", "--allow-shrink", **deadlines)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    known = _schedule_tick(site, dt.date(2022, 5, 16), **deadlines)
    assert not known.run_requests and f"3 of {DUE_2021} due zones have an accepted file" in known.skip_message
    assert "etdz run --data-year 2021 --allow-incomplete" in known.skip_message
    # the next days' ticks do not request it again
    for day in (dt.date(2022, 5, 17), dt.date(2022, 5, 18)):
        assert not _schedule_tick(site, day, **deadlines).run_requests
    # its inbox changes (three more files: 6 of 11 can make the share): requested, under a run key of its own
    for name in ("C2.csv", "E2.csv", "W2.csv"):
        shutil.copy2(GOLDEN / "inbox" / "2021" / name, site / "inbox" / "2021" / name)
    [again] = _schedule_tick(site, dt.date(2022, 5, 16), **deadlines).run_requests
    assert again.run_key == deadline_run_key(2021, folder_digest(site / "inbox" / "2021")) != request.run_key


def _sensor_ticks(site: Path, n: int, cursor=None):
    from dagster import build_sensor_context

    from etdz.settings import Settings
    from pipelines.definitions import build_definitions

    requested, reasons = [], []
    with instance(site) as inst:
        defs = build_definitions(Settings.from_env(golden_env(site, site / "inbox")))
        sensor = defs.resolve_sensor_def("inbox_sensor")
        for _ in range(n):
            ctx = build_sensor_context(instance=inst, cursor=cursor, resources={"resource": defs.resources["resource"]},
                                       definitions=defs)
            data = sensor.evaluate_tick(ctx)
            for event in data.asset_events:  # the daemon records these; here the test does
                inst.report_runless_asset_event(event)
            assert not data.run_requests  # the sensor only records; the job's automation condition runs
            requested += [e.partition for e in data.asset_events]  # the years whose new inbox state it recorded
            reasons.append(data.skip_message or "")
            cursor = data.cursor
    return requested, reasons, cursor


def test_a_refused_year_is_not_requested_again_until_its_inbox_changes(site):
    keep_files(site, 2021, ["C1.csv", "C2.csv", "C3.csv", "E1.csv", "E2.csv", "E3.csv", "P1.csv"])
    proc = run(site, "--data-year", "2021", ETDZ_MIN_SHARE_TO_RANK="0.8")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    requested, _, cursor = _sensor_ticks(site, 3)
    assert requested == []  # the inbox state the refused run read is recorded already: nothing new to run
    shutil.copy(GOLDEN / "inbox" / "2021" / "E4.csv", site / "inbox" / "2021" / "E4.csv")
    requested, _, _ = _sensor_ticks(site, 2, cursor)
    assert requested == ["2021"]


@pytest.mark.server
def test_the_daemon_does_not_request_a_refused_year_again_until_its_inbox_changes(site, monkeypatch):
    """The real daemon (ticks every second): 6 of 11 due zones with min_share_to_rank 0.8 → one automation run of
    2021, its scoring step refused; many ticks later still that one run; three more files → one more run, ranked."""
    from dagster import DagsterRunStatus

    from etdz.settings import Settings
    from tests.pipelines.test_automation_daemon import Daemon, _quiet, _wait_for

    for k, v in golden_env(site, site / "inbox", ETDZ_MIN_SHARE_TO_RANK="0.8", ETDZ_POLL_SECONDS="1").items():
        monkeypatch.setenv(k, v)
    keep_files(site, 2021, ["C1.csv", "C2.csv", "C3.csv", "E1.csv", "E2.csv", "E3.csv", "P1.csv"])
    daemon = Daemon(Settings.from_env(), site / "daemon.log")
    try:
        with instance(site) as inst:
            [refused] = _wait_for(inst, daemon, 1)
            assert refused.dagster_run.tags["dagster/partition"] == "2021"
            assert refused.dagster_run.status == DagsterRunStatus.FAILURE
            steps = step_events(inst, refused.dagster_run.run_id)
            assert steps["submissions"][0] == "STEP_SUCCESS"
            assert steps["scores"][0] == "STEP_FAILURE"
            assert f"data year 2021 is not ranked: 6 of {DUE_2021} due zones" in steps["scores"][1]
            _quiet(inst, daemon, 1)  # a dozen ticks: not run again on the same inbox

            for name in ("E4.csv", "E5.csv", "W1.csv"):  # 9 of 11: 0.8 of them
                shutil.copy2(GOLDEN / "inbox" / "2021" / name, site / "inbox" / "2021" / name)
            runs = _wait_for(inst, daemon, 2)
            assert runs[1].dagster_run.tags["dagster/partition"] == "2021"
            assert runs[1].dagster_run.status == DagsterRunStatus.SUCCESS
            _quiet(inst, daemon, 2)
        assert len(dataset(site, "rankings").query("data_year == 2021")) == DUE_2021
    finally:
        daemon.stop()


def test_a_published_year_names_itself_and_the_command_that_reopens_it(site):
    proc = etdz(site, golden_env(site, site / "inbox"), "publish", "--data-year", "2021", "--approved-by", "考核办")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    keep_files(site, 2021, [p.name for p in (GOLDEN / "inbox" / "2021").iterdir() if p.name != "W3.csv"])
    requested, reasons, _ = _sensor_ticks(site, 2)
    assert requested == []
    assert "data year 2021 is published" in reasons[-1] and "its inbox changed" in reasons[-1]
    assert 'etdz reopen --data-year 2021 --reason' in reasons[-1]
    tick = _schedule_tick(site, dt.date(2022, 7, 1))
    assert not tick.run_requests and "data year 2021 is published" in tick.skip_message
    assert "etdz reopen --data-year 2021" in tick.skip_message


def test_the_demo_writes_its_own_range_into_its_configuration(tmp_path, monkeypatch, demo_without_accounts):
    """`etdz demo` writes 2018–2023 (its --from/--to) as first_data_year/last_data_year: the UI's partitions are
    exactly the years it wrote, whatever the date. (The runs themselves are the demo tests' business.)"""
    import pipelines.cli as cli
    from etdz.settings import Settings
    from pipelines.definitions import build_definitions

    ran = []
    monkeypatch.setattr(cli, "run_years", lambda years, settings, **_: ran.append(list(years)))
    home = tmp_path / "demo"
    assert cli.main(["demo", "--home", str(home), "--from", "2022", "--to", "2023"]) == 0
    assert ran == [[2022, 2023]]
    text = (home / "etdz.toml").read_text(encoding="utf-8")
    assert "first_data_year = 2022" in text and "last_data_year = 2023" in text
    monkeypatch.setenv("ETDZ_HOME", str(home))
    with instance(home):  # resolving the definitions looks for the current instance
        defs = build_definitions(Settings.from_env())
        assert defs.resolve_job_def("annual_assessment").partitions_def.get_partition_keys() == ["2022", "2023"]
