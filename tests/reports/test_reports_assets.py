"""The report assets declare exactly what they read (issue 10: the lineage gap)."""

from __future__ import annotations

from pathlib import Path

from dagster import AssetKey

from etdz.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def test_reports_depend_on_the_rankings_of_every_year_on_record(tmp_path):
    from pipelines.definitions import build_definitions

    inbox = tmp_path / "inbox"
    for y in range(2020, 2026):
        (inbox / str(y)).mkdir(parents=True)
        (inbox / str(y) / "E1.csv").write_text("zone_code\n", encoding="utf-8")  # partitions start at the first file
    settings = Settings.from_env({"ETDZ_HOME": str(tmp_path), "ETDZ_INBOX": str(inbox),
                                  "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"),
                                  "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues")})
    graph = build_definitions(settings).resolve_asset_graph()
    partitions = graph.get(AssetKey("national_report")).partitions_def
    keys = partitions.get_partition_keys()
    assert keys[0] == "2020" and "2025" in keys
    for name in ("national_report", "zone_cards", "rankings_workbook"):
        node = graph.get(AssetKey(name))
        assert {AssetKey("ranking_changes"), AssetKey("rank_robustness"), AssetKey("rankings")} <= node.parent_keys
        mapping = node.partition_mappings[AssetKey("rankings")]
        # the cards' trends read every year from the first one: a corrected 2020 marks the 2025 cards stale
        upstream = mapping.get_upstream_mapped_partitions_result_for_partitions(
            partitions.subset_with_partition_keys(["2025"]), partitions, partitions).partitions_subset
        assert sorted(upstream.get_partition_keys()) == [k for k in keys if k <= "2025"]
