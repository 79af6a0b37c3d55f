"""Which year partitions are stale, as the Dagster UI computes it (for `etdz run --stale`).

Uses Dagster's own stale-status resolver, the one behind the UI's "stale" badges and the
GraphQL ``staleStatus`` field. It is an internal class, so dagster is pinned to one release
in setup.py; tests/pipelines/test_automation.py
(``test_corrected_file_marks_the_right_partitions_stale_and_a_rerun_clears_them``, through ``run_stale``)
catches a change of behaviour.
"""

from __future__ import annotations

from dagster import DagsterInstance, Definitions
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._time import get_current_datetime


def stale_assets(defs: Definitions, instance: DagsterInstance, years: list[int]) -> dict[int, list[str]]:
    """For each year, the materializable assets whose partition is STALE (missing ones are not listed)."""
    graph = defs.resolve_asset_graph()
    view = AssetGraphView(temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
                          instance=instance, asset_graph=graph)
    resolver = CachingStaleStatusResolver(instance=instance, asset_graph=graph, loading_context=view)
    out: dict[int, list[str]] = {}
    for y in years:
        keys = [k.to_user_string() for k in sorted(graph.materializable_asset_keys)
                if resolver.get_status(k, str(y)) == StaleStatus.STALE]
        if keys:
            out[y] = keys
    return out
