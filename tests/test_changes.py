"""What a correction changed (etdz/changes.py; 04-outputs.md §4.1 ``ranking_changes``), on the golden example
ingested and scored with the real code, then corrected."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.changes import biggest_moves, compare, load_change_inputs, read_baseline, write_comparison
from etdz.ingest import ingest_year
from etdz.registry import load_registry
from etdz.schemas import schema_for, to_table
from etdz.scoring import YearInputs, score_year
from etdz.storage import Warehouse
from etdz.submission_log import accepted_zones

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"


@pytest.fixture
def setup(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    return {"inbox": inbox, "store": Warehouse(str(tmp_path / "warehouse")),
            "catalogues": load_catalogues(GOLDEN / "catalogues"), "registry": load_registry(GOLDEN / "registry.csv")}


def run_year(s: dict, year: int, when: str) -> pd.DataFrame:
    """Ingest, score and compare one year as the assets do; returns the ranking_changes written."""
    store, cat = s["store"], catalogue_for_year(s["catalogues"], year)
    ing = ingest_year(s["inbox"] / str(year), year, cat, s["registry"], archive=None)
    store.write("submission_log", year, to_table(ing.log, schema_for("submission_log")))
    store.write("measures", year, to_table(ing.measures, schema_for("measures")))
    prev_log, prev_measures = store.read("submission_log", year - 1), store.read("measures", year - 1)
    prev_zones = accepted_zones(None if prev_log is None else prev_log.to_pandas())
    history = {year - 1: store.read("rankings", year - 1).to_pandas()} if store.exists("rankings", year - 1) else {}
    result = score_year(YearInputs(
        data_year=year, catalogue=cat, registry=s["registry"], measures=ing.measures,
        submitted=accepted_zones(ing.log),
        prev_measures=None if prev_measures is None else prev_measures.to_pandas(), prev_submitted=prev_zones,
        history=history))
    store.write("rankings", year, to_table(result.rankings, schema_for("rankings", cat.top_lists)))
    comparison = compare(load_change_inputs(store, year, cat, s["registry"]), now=pd.Timestamp(when, tz="UTC"))
    table, _ = write_comparison(store, year, comparison)
    return table.to_pandas()


def correct_e1(inbox: Path) -> None:
    """E1 sends a corrected 2021 file (much more trade), received after its first one."""
    old = inbox / "2021" / "E1.csv"
    text = old.read_text(encoding="utf-8").replace("E1,2021,trade_total,2900,", "E1,2021,trade_total,290,")
    new = inbox / "2021" / "E1 更正.csv"
    new.write_text(text, encoding="utf-8")
    t = old.stat().st_mtime + 3600
    os.utime(new, (t, t))


def test_first_run_is_empty_and_a_correction_lists_the_zone_and_its_file(setup):
    run_year(setup, 2020, "2026-03-01")
    first = run_year(setup, 2021, "2026-03-02")
    assert first.empty
    before = setup["store"].read("rankings", 2021).to_pandas().set_index("zone_code")

    correct_e1(setup["inbox"])
    changes = run_year(setup, 2021, "2026-03-05").set_index("zone_code")
    after = setup["store"].read("rankings", 2021).to_pandas().set_index("zone_code")
    moved = [z for z in after.index if round(after.at[z, "total_score"], 6) != round(before.at[z, "total_score"], 6)
             or after.at[z, "national_rank"] != before.at[z, "national_rank"]]
    assert "E1" in moved and sorted(changes.index) == sorted(moved)
    e1 = changes.loc["E1"]
    assert e1.prev_total_score == pytest.approx(before.at["E1", "total_score"])
    assert e1.total_score == pytest.approx(after.at["E1", "total_score"])
    assert e1.prev_national_rank == before.at["E1", "national_rank"]
    assert e1.national_rank == after.at["E1", "national_rank"]
    files = {(f["file_name"], f["previous_status"], f["status"]) for f in e1.changed_files}
    assert files == {("E1.csv", "accepted", "superseded"), ("E1 更正.csv", None, "accepted")}
    others = changes.drop(index="E1")
    assert len(others) and all(len(fs) == 0 for fs in others.changed_files)  # moved because E1 did
    assert (changes.previous_run_at == pd.Timestamp("2026-03-02", tz="UTC")).all()

    # a re-run on the same inputs leaves the dataset as it was, byte for byte
    path = Path(setup["store"].path("ranking_changes", 2021))
    data = path.read_bytes()
    again = run_year(setup, 2021, "2026-03-09").set_index("zone_code")
    assert path.read_bytes() == data
    pd.testing.assert_frame_equal(again, changes)
    assert read_baseline(setup["store"], 2021).run_at == pd.Timestamp("2026-03-09", tz="UTC")


def test_a_previous_year_correction_names_the_y_minus_1_file(setup):
    run_year(setup, 2020, "2026-03-01")
    run_year(setup, 2021, "2026-03-02")
    src = setup["inbox"] / "2020" / "E2.csv"
    fixed = setup["inbox"] / "2020" / "E2 更正.csv"
    fixed.write_text(src.read_text(encoding="utf-8").replace("E2,2020,fdi_actual,31000,", "E2,2020,fdi_actual,3100,"),
                     encoding="utf-8")
    os.utime(fixed, (src.stat().st_mtime + 60,) * 2)
    run_year(setup, 2020, "2026-03-03")
    changes = run_year(setup, 2021, "2026-03-04").set_index("zone_code")
    assert "E2" in changes.index  # its 2021 growth moved with its 2020 base
    assert {(f["data_year"], f["file_name"], f["status"]) for f in changes.at["E2", "changed_files"]} == {
        (2020, "E2.csv", "superseded"), (2020, "E2 更正.csv", "accepted")}


def test_a_registry_change_is_other_inputs(setup):
    run_year(setup, 2020, "2026-03-01")
    run_year(setup, 2021, "2026-03-02")
    reg = setup["registry"]
    setup["registry"] = reg[reg.zone_code != "W3"].reset_index(drop=True)  # a zone leaves the cohort
    changes = run_year(setup, 2021, "2026-03-03")
    assert len(changes) and "W3" not in set(changes.zone_code)
    assert all(len(fs) == 0 for fs in changes.changed_files)


def test_biggest_moves_orders_by_rank_move():
    changes = pd.DataFrame({
        "zone_code": ["A", "B", "C"], "name_zh": ["a", "b", "c"], "prev_total_score": [50.0, 40.0, None],
        "total_score": [49.0, 45.0, 30.0], "prev_national_rank": pd.array([1, 9, None], dtype="Int32"),
        "national_rank": pd.array([2, 3, 7], dtype="Int32"),
        "changed_files": [[], [{"data_year": 2021, "file_name": "b.csv", "sha256": "x", "previous_status": None,
                                "status": "accepted"}], []]})
    m = biggest_moves(changes)
    assert list(m.zone_code) == ["C", "B", "A"]  # new in the cohort first, then 6 places, then 1
    assert m.files.iloc[1] == "b.csv (new → accepted)"


def test_the_asset_reports_the_count_and_the_biggest_moves(setup, tmp_path):
    from dagster import DagsterInstance, materialize

    from assets.changes import build_changes_asset
    from etdz.escape import markdown_text
    from etdz.settings import Settings
    from pipelines.partitions import data_year_partitions
    from pipelines.resources import EtdzResource

    run_year(setup, 2020, "2026-03-01")
    run_year(setup, 2021, "2026-03-02")
    correct_e1(setup["inbox"])
    run_year(setup, 2021, "2026-03-05")  # E1 and the zones it passed moved
    path = Path(setup["store"].path("ranking_changes", 2021))
    data = path.read_bytes()
    resource = EtdzResource(inbox=str(setup["inbox"]), warehouse=setup["store"].root, reports=str(tmp_path / "r"),
                            archive=str(tmp_path / "a"), registry=str(GOLDEN / "registry.csv"),
                            methodology=str(GOLDEN / "catalogues"))
    partitions = data_year_partitions(Settings.from_env({"ETDZ_INBOX": str(setup["inbox"])}),
                                      load_catalogues(GOLDEN / "catalogues"))
    asset = build_changes_asset(partitions, code_version="t")
    res = materialize([asset], partition_key="2021", resources={"resource": resource},
                      instance=DagsterInstance.ephemeral())
    assert res.success
    meta = res.asset_materializations_for_node("ranking_changes")[0].metadata
    assert meta["same_inputs"].value is True and path.read_bytes() == data  # same inputs: left as it was
    n = len(setup["store"].read("ranking_changes", 2021))
    assert meta["changes"].value == n > 0
    # the file names reach the UI through the one markdown escaper (they render as written)
    moves = meta["biggest_moves"].value
    assert "| E1 |" in moves and markdown_text("E1 更正.csv (new → accepted)") in moves
