"""The readiness rule of 04-outputs.md §4.3 (etdz/readiness.py), its settings, and the partitions' range."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from etdz.readiness import ALLOW_FLAG, ALLOW_TAG, YearNotReady, check_ready, year_readiness
from etdz.settings import ConfigError, Settings


def registry(n_due: int, provincial: int = 1) -> pd.DataFrame:
    rows = [{"zone_code": f"N{i:03d}", "name_zh": f"经开区{i}", "province": "江苏", "region": "east",
             "tier": "national", "first_data_year": 2015, "exit_data_year": None} for i in range(n_due)]
    rows += [{"zone_code": "GONE", "name_zh": "已退出", "province": "甘肃", "region": "west", "tier": "national",
              "first_data_year": 2015, "exit_data_year": 2019}]
    rows += [{"zone_code": f"P{i}", "name_zh": "省级", "province": "江苏", "region": "east", "tier": "provincial",
              "first_data_year": None, "exit_data_year": None} for i in range(provincial)]
    df = pd.DataFrame(rows)
    for col in ("first_data_year", "exit_data_year"):
        df[col] = df[col].astype("Int64")
    return df


def log(accepted: list[str], rejected: list[str] = ()) -> pd.DataFrame:
    return pd.DataFrame({"zone_code": [*accepted, *rejected],
                         "status": ["accepted"] * len(accepted) + ["rejected"] * len(rejected)})


def test_half_of_the_due_zones_ranks_one_fewer_does_not():
    reg = registry(230)
    at = year_readiness(2024, reg, log([f"N{i:03d}" for i in range(115)]), 0.5)
    below = year_readiness(2024, reg, log([f"N{i:03d}" for i in range(114)]), 0.5)
    assert (at.accepted, at.due, at.needed, at.ready) == (115, 230, 115, True)
    assert (below.accepted, below.ready) == (114, False)
    odd = registry(11)
    assert year_readiness(2021, odd, log([f"N{i:03d}" for i in range(6)]), 0.5).ready  # 6 ≥ 5.5
    assert not year_readiness(2021, odd, log([f"N{i:03d}" for i in range(5)]), 0.5).ready
    # the share is a setting: 0.8 of 11 needs 9; 0.3 of 10 needs exactly 3 (no float rounding up to 4)
    assert year_readiness(2021, odd, log([f"N{i:03d}" for i in range(8)]), 0.8).needed == 9
    assert year_readiness(2021, registry(10), log(["N000", "N001", "N002"]), 0.3).ready


def test_only_due_zones_with_an_accepted_file_count():
    reg = registry(4)
    r = year_readiness(2024, reg, log(["N000", "P0", "GONE"], rejected=["N001", "N002"]), 0.5)
    assert (r.accepted, r.due, r.ready) == (1, 4, False)  # provincial, exited and rejected files do not count
    assert year_readiness(2024, reg, None, 0.5).accepted == 0  # nothing ingested


def test_the_message_names_the_year_the_counts_the_deadline_and_what_to_do():
    r = year_readiness(2024, registry(230), log([f"N{i:03d}" for i in range(12)]), 0.5, {2024: dt.date(2025, 5, 31)})
    text = r.message(today=dt.date(2025, 7, 1))
    assert "data year 2024" in text and "12 of 230 due zones have an accepted file" in text
    assert "2025-05-31" in text and "115 are needed" in text
    assert f"etdz run --data-year 2024 {ALLOW_FLAG}" in text and f"{ALLOW_TAG}=true" in text
    assert "nothing of scoring, robustness, changes or reports was written" in text
    assert "in 30 day(s)" in r.message(today=dt.date(2025, 5, 1))  # before the deadline: how long is left


def test_allow_incomplete_ranks_below_the_share_but_never_a_year_without_any_file():
    reg = registry(10)
    few = year_readiness(2024, reg, log(["N000", "N001"]), 0.5)
    with pytest.raises(YearNotReady, match="2 of 10 due zones") as refused:
        check_ready(few, allowed=False)
    assert refused.value.exit_code == 2
    assert check_ready(few, allowed=True) is True  # ranked only because the operator said so: recorded
    assert check_ready(year_readiness(2024, reg, log([f"N{i:03d}" for i in range(5)]), 0.5), allowed=False) is False
    none = year_readiness(2024, reg, log([], rejected=["N000"]), 0.5)
    with pytest.raises(YearNotReady, match="none of its 10 due zones"):
        check_ready(none, allowed=True)


def test_the_share_and_the_range_are_settings_with_clear_errors(tmp_path):
    s = Settings.from_env({"ETDZ_MIN_SHARE_TO_RANK": "0.75", "ETDZ_FIRST_DATA_YEAR": "2018",
                           "ETDZ_LAST_DATA_YEAR": "2023"})
    assert (s.min_share_to_rank, s.first_data_year, s.last_data_year) == (0.75, 2018, 2023)
    assert Settings.from_env({}).min_share_to_rank == 0.5
    (tmp_path / "etdz.toml").write_text("min_share_to_rank = 0.6\nlast_data_year = 2022\n", encoding="utf-8")
    from_file = Settings.from_env({"ETDZ_HOME": str(tmp_path)})
    assert (from_file.min_share_to_rank, from_file.last_data_year) == (0.6, 2022)
    for var, value, words in (("ETDZ_MIN_SHARE_TO_RANK", "0", "between 0 and 1"),
                              ("ETDZ_MIN_SHARE_TO_RANK", "half", "between 0 and 1"),
                              ("ETDZ_FIRST_DATA_YEAR", "18", "four digits")):
        with pytest.raises(ConfigError, match=words) as exc:
            Settings.from_env({var: value})
        assert var in str(exc.value)
    with pytest.raises(ConfigError, match="before first_data_year"):
        Settings.from_env({"ETDZ_FIRST_DATA_YEAR": "2023", "ETDZ_LAST_DATA_YEAR": "2020"})


def test_schedule_date_is_retired_with_a_message_saying_what_replaced_it(tmp_path):
    with pytest.raises(ConfigError, match="ETDZ_SCHEDULE_DATE.*day after its deadline"):
        Settings.from_env({"ETDZ_SCHEDULE_DATE": "03-01"})
    (tmp_path / "etdz.toml").write_text('schedule_date = "03-01"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="schedule_date.*delete its line"):
        Settings.from_env({"ETDZ_HOME": str(tmp_path)})


def test_a_written_configuration_with_an_unset_range_reads_back(tmp_path):
    from etdz.settings import write_config

    settings = Settings.from_env({"ETDZ_HOME": str(tmp_path), "ETDZ_FIRST_DATA_YEAR": "2019"})
    path = write_config(settings)
    again = Settings.from_env({"ETDZ_HOME": str(tmp_path)})
    assert (again.first_data_year, again.last_data_year) == (2019, None)
    assert "# last_data_year = …" in path.read_text(encoding="utf-8")


# ---- the partitions' range (pipelines/partitions.py)

def _range(tmp_path: Path, on: dt.date, **env: str) -> tuple[int, int]:
    from etdz.catalogue import load_catalogues
    from pipelines.partitions import data_year_range

    settings = Settings.from_env({"ETDZ_INBOX": str(tmp_path / "inbox"), **env})
    return data_year_range(settings, load_catalogues(settings.methodology), on)


def test_the_range_runs_from_the_first_catalogue_year_to_the_last_deadline_passed(tmp_path):
    assert _range(tmp_path, dt.date(2026, 6, 30)) == (2015, 2024)  # 2025's deadline is today: not passed yet
    assert _range(tmp_path, dt.date(2026, 7, 1)) == (2015, 2025)
    # a moved deadline moves the range's end with it
    assert _range(tmp_path, dt.date(2026, 5, 16), ETDZ_DEADLINES="2025=2026-05-15") == (2015, 2025)


def test_a_year_whose_files_arrive_before_its_deadline_is_in_the_range(tmp_path):
    (tmp_path / "inbox" / "2026").mkdir(parents=True)
    assert _range(tmp_path, dt.date(2026, 12, 3)) == (2015, 2025)  # a folder without files: not yet
    (tmp_path / "inbox" / "2026" / "N001.csv").write_text("zone_code\n", encoding="utf-8")
    assert _range(tmp_path, dt.date(2026, 12, 3)) == (2015, 2026)


def test_a_configured_range_wins(tmp_path):
    (tmp_path / "inbox" / "2026").mkdir(parents=True)
    (tmp_path / "inbox" / "2026" / "N001.csv").write_text("zone_code\n", encoding="utf-8")
    assert _range(tmp_path, dt.date(2026, 12, 3), ETDZ_FIRST_DATA_YEAR="2018",
                  ETDZ_LAST_DATA_YEAR="2023") == (2018, 2023)


def test_the_definitions_list_no_folder(tmp_path, monkeypatch):
    """Building the code location (the webserver, the daemon, every run pod do) lists neither the inbox nor the
    warehouse: the partitions come from the settings and the date."""
    import os

    from pipelines.definitions import build_definitions

    for year in (2019, 2020):
        (tmp_path / "inbox" / str(year)).mkdir(parents=True)
        (tmp_path / "inbox" / str(year) / "a.csv").write_text("x", encoding="utf-8")
    (tmp_path / "warehouse" / "rankings" / "data_year=2020").mkdir(parents=True)
    listed = []
    real_scandir, real_listdir = os.scandir, os.listdir
    monkeypatch.setattr(os, "scandir", lambda p=".": (listed.append(os.fspath(p)), real_scandir(p))[1])
    monkeypatch.setattr(os, "listdir", lambda p=".": (listed.append(os.fspath(p)), real_listdir(p))[1])
    defs = build_definitions(Settings.from_env({"ETDZ_INBOX": str(tmp_path / "inbox"),
                                                "ETDZ_WAREHOUSE": str(tmp_path / "warehouse")}))
    assert not [p for p in listed if str(tmp_path) in str(Path(p).resolve())], listed
    keys = defs.resolve_job_def("annual_assessment").partitions_def.get_partition_keys()
    assert keys[0] == "2015" and "2020" in keys


def test_the_schedule_requests_a_year_on_the_day_after_its_deadline_only():
    from pipelines.schedules import years_due_on

    assert years_due_on(dt.date(2025, 7, 1), {}, 2015) == [2024]
    assert years_due_on(dt.date(2025, 6, 30), {}, 2015) == []  # the deadline day itself: files may still come
    assert years_due_on(dt.date(2025, 7, 2), {}, 2015) == []
    assert years_due_on(dt.date(2025, 5, 16), {2024: dt.date(2025, 5, 15)}, 2015) == [2024]
    assert years_due_on(dt.date(2025, 7, 1), {2024: dt.date(2025, 5, 15)}, 2015) == []


# ---- a published year that blocks a correction (etdz/publish.py: the one wording the sensor and schedule use)

def test_a_published_year_is_named_with_the_command_that_reopens_it(tmp_path, monkeypatch):
    import etdz.publish as publish
    from etdz.storage import Warehouse

    event = {"action": "publish", "at": "2022-08-01T10:00:00+08:00", "by": "考核办"}
    text = publish.blocked_by_publication(2021, event, "its inbox changed")
    assert text.startswith("data year 2021 is published (on 2022-08-01T10:00:00+08:00 by 考核办)")
    assert "not run although its inbox changed" in text
    assert publish.reopen_command(2021) == 'etdz reopen --data-year 2021 --reason "…"'
    assert publish.reopen_command(2021) in text and "etdz run --data-year 2021" in text
    # the assets' own refusal names the same command
    monkeypatch.setattr(publish, "history", lambda store, year: [event])
    with pytest.raises(publish.PublishedYearError) as refused:
        publish.ensure_writable(Warehouse(str(tmp_path)), 2021)
    assert publish.reopen_command(2021) in str(refused.value)
    monkeypatch.setattr(publish, "history", lambda store, year: [event, {"action": "reopen"}])
    publish.ensure_writable(Warehouse(str(tmp_path)), 2021)  # reopened: writable


def test_a_run_of_a_year_outside_the_partitions_exits_2_naming_the_range(tmp_path):
    from pipelines.runs import RunFailed, run_years

    golden = Path(__file__).resolve().parent / "fixtures" / "golden"
    settings = Settings.from_env({"ETDZ_HOME": str(tmp_path), "ETDZ_REGISTRY": str(golden / "registry.csv"),
                                  "ETDZ_METHODOLOGY": str(golden / "catalogues"), "ETDZ_INBOX": str(tmp_path / "in"),
                                  "ETDZ_FIRST_DATA_YEAR": "2020", "ETDZ_LAST_DATA_YEAR": "2021"})
    with pytest.raises(RunFailed) as refused:
        run_years([2022], settings, quiet=True)
    assert refused.value.exit_code == 2
    text = str(refused.value)
    assert "data year 2022 is not one of the data years 2020–2021" in text and "ETDZ_LAST_DATA_YEAR" in text
    assert not (tmp_path / "warehouse" / "submission_log").exists()  # nothing was run
