"""The asset graph against a committed snapshot: keys, groups, dependencies, partition mappings, checks.

A dropped or added dependency, a changed partition mapping (a cross-year window), a renamed group or a lost
check fails this test until the snapshot is regenerated on purpose, and the diff of
``asset_graph_snapshot.json`` shows the change in review. Regenerate it with

    ETDZ_UPDATE_SNAPSHOT=1 python -m pytest tests/pipelines/test_asset_graph_snapshot.py
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from dagster import TimeWindowPartitionMapping

from etdz.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
SNAPSHOT = Path(__file__).with_name("asset_graph_snapshot.json")


def _mapping(mapping) -> dict:
    out = {"class": type(mapping).__name__}
    if isinstance(mapping, TimeWindowPartitionMapping):
        out.update(start_offset=mapping.start_offset, end_offset=mapping.end_offset,
                   allow_nonexistent_upstream_partitions=mapping.allow_nonexistent_upstream_partitions)
    return out


def asset_graph_snapshot(defs) -> dict:
    """What the graph promises, in a stable order (no dates: the partitions' end follows the calendar)."""
    graph = defs.resolve_asset_graph()
    checks: dict[str, list[str]] = {}
    for check in graph.asset_check_keys:
        checks.setdefault(check.asset_key.to_user_string(), []).append(check.name)
    out = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        out[key.to_user_string()] = {
            "group": node.group_name,
            "kind": "materializable" if node.is_materializable else "observable" if node.is_observable else "external",
            "partitions": None if partitions is None else {
                "class": type(partitions).__name__, "cron": getattr(partitions, "cron_schedule", None),
                "fmt": getattr(partitions, "fmt", None)},
            "deps": {parent.to_user_string(): _mapping(graph.get_partition_mapping(key, parent))
                     for parent in sorted(node.parent_keys, key=lambda k: k.to_user_string())},
            "checks": sorted(checks.get(key.to_user_string(), [])),
        }
    return out


@pytest.fixture(autouse=True)
def fixed_calendar(monkeypatch):
    """The partitions end at the latest year whose deadline has passed, and the report assets read every year from
    the first: pin the date (2026's deadline, 30 June 2027, has passed), so the snapshot does not change when the
    calendar does."""
    import datetime as dt

    monkeypatch.setattr("pipelines.partitions.today", lambda: dt.date(2027, 7, 1))


def golden_definitions():
    from pipelines.definitions import build_definitions

    return build_definitions(Settings.from_env({
        "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
        "ETDZ_INBOX": str(GOLDEN / "inbox")}))


def test_the_asset_graph_matches_the_committed_snapshot():
    got = asset_graph_snapshot(golden_definitions())
    if os.environ.get("ETDZ_UPDATE_SNAPSHOT"):
        SNAPSHOT.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    want = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert got == want, ("the asset graph changed; if on purpose, regenerate the snapshot: "
                         "ETDZ_UPDATE_SNAPSHOT=1 python -m pytest tests/pipelines/test_asset_graph_snapshot.py")


def test_the_snapshot_holds_the_cross_year_lineage():
    """The snapshot is worth comparing: it records the edges a dropped dependency would remove."""
    want = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert want["rankings"]["deps"]["rankings"]["end_offset"] == -1
    assert want["rankings"]["deps"]["measures"] == {"class": "TimeWindowPartitionMapping", "start_offset": -1,
                                                    "end_offset": 0, "allow_nonexistent_upstream_partitions": True}
    assert "gx_suite" in want["submission_log"]["checks"]
    assert want["inbox"]["kind"] == "observable"
    # the review queries feed every report of their own year (06-portal.md §6.3): closing one refreshes them
    assert want["review_queries"]["kind"] == "observable"
    for report in ("national_report", "zone_cards", "rankings_workbook"):
        assert want[report]["deps"]["review_queries"]["start_offset"] == 0
