"""`poll_seconds` is the interval of every sensor of the code location (inbox, automation, review queries, run
tags): part of the definitions, so it takes effect where the definitions are loaded again — the daemon's only when
the daemon restarts (docs/operations.md, "Automation")."""

from __future__ import annotations

import os

from etdz.settings import Settings


def test_poll_seconds_sets_every_sensors_interval(golden_env):
    from pipelines.definitions import build_definitions

    defs = build_definitions(Settings.from_env({**os.environ, "ETDZ_POLL_SECONDS": "7"}))
    sensors = {s.name: s.minimum_interval_seconds for s in defs.get_repository_def().sensor_defs}
    names = {"inbox_sensor", "annual_automation", "review_queries_sensor", "year_run_tags"}
    assert sensors == dict.fromkeys(names, 7), sensors
