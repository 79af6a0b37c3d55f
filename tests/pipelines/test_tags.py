"""The same tags on every run of a year, whoever starts it (pipelines/tags.py): `etdz run`, the inbox sensor,
the schedule; and a run started for an earlier year's change names that year."""

from __future__ import annotations

from dagster import build_sensor_context, instance_for_test

from etdz.catalogue import load_catalogues
from etdz.inbox_state import folder_digest, scan_inbox
from etdz.settings import Settings
from pipelines.tags import COMMON, REASON_TAG, UPSTREAM_YEAR_TAG, earlier_year_changed, year_run_tags


def test_inbox_sensor_runs_carry_the_tags_of_command_line_runs(golden_env):
    from pipelines.definitions import build_definitions

    settings = Settings.from_env()
    defs = build_definitions(settings)
    sensor = defs.resolve_sensor_def("inbox_sensor")
    with instance_for_test() as instance:
        cursor = None
        for _ in range(2):  # the second tick sees the same digest: the folder is stable
            with build_sensor_context(instance=instance, cursor=cursor, repository_def=defs.get_repository_def(),
                                      resources={"resource": defs.resources["resource"]}) as ctx:
                result = sensor.evaluate_tick(ctx)
            cursor = result.cursor
    requests = {r.partition_key: r for r in result.run_requests}
    assert set(requests) == {"2020", "2021"}
    catalogues = load_catalogues(settings.methodology)
    for year, request in requests.items():
        cli = year_run_tags(settings, catalogues, int(year), "cli", scan_inbox(golden_env / "inbox" / year))
        assert set(COMMON) <= set(request.tags), set(COMMON) - set(request.tags)
        ours = {k: v for k, v in request.tags.items() if k.startswith("etdz/") and k != "etdz/trigger"}
        assert ours == {k: v for k, v in cli.items() if k != "etdz/trigger"}
        assert request.tags["etdz/trigger"] == "inbox_sensor"
        assert request.tags["etdz/inbox_digest"] == folder_digest(golden_env / "inbox" / year)
        assert request.tags["etdz/catalogue"] and request.tags["etdz/files"] == str(
            len(list((golden_env / "inbox" / year).iterdir())))


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
