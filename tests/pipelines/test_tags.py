"""The same tags on every run of a year, whoever starts it (pipelines/tags.py): `etdz run`, the schedule and the
review sensor; and a run started for an earlier year's change names that year. (The inbox sensor requests no run:
tests/pipelines/test_automation.py.)"""

from __future__ import annotations

from etdz.catalogue import load_catalogues
from etdz.inbox_state import scan_inbox
from etdz.settings import Settings
from pipelines.tags import COMMON, REASON_TAG, UPSTREAM_YEAR_TAG, earlier_year_changed, year_run_tags


def test_a_run_for_an_earlier_years_change_names_that_year(golden_env):
    settings = Settings.from_env()
    tags = year_run_tags(settings, load_catalogues(settings.methodology), 2021, "inbox_sensor",
                         scan_inbox(golden_env / "inbox" / "2021"), reason=earlier_year_changed(2021),
                         after_year=2020)
    assert tags[REASON_TAG].startswith("data year 2020 changed") and tags[UPSTREAM_YEAR_TAG] == "2020"
    assert set(COMMON) <= set(tags)


def test_command_line_flags_are_recorded(golden_env):
    settings = Settings.from_env()
    tags = year_run_tags(settings, load_catalogues(settings.methodology), 2021, "cli", [], allow_shrink=True,
                         allow_incomplete=True)
    assert tags["etdz/allow_shrink"] == "true" and tags["etdz/allow_incomplete"] == "true"
    assert tags["etdz/files"] == "0"
