"""What a correction changed (etdz/changes.py; 04-outputs.md §4.1 ``ranking_changes``), on the golden example
ingested and scored with the real code, then corrected."""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.changes import (
    biggest_moves,
    compare,
    list_statuses,
    load_change_inputs,
    read_baseline,
    status_flips,
    write_comparison,
)
from etdz.ingestion import ingest_year
from etdz.registry import load_registry
from etdz.schemas import schema_for, to_table
from etdz.scoring import YearInputs, score_year
from etdz.storage import Warehouse
from etdz.submission_log import accepted_zones

GOLDEN = Path(__file__).resolve().parent / "fixtures" / "golden"


def _copy_of(built: dict, tmp_path: Path) -> dict:
    """A private copy of a built deployment (inbox and warehouse; ``copytree`` keeps the files' mtimes, which
    decide what supersedes what), so a test may correct files and re-run without touching the shared one."""
    shutil.copytree(built["root"], tmp_path / "site")
    return {"inbox": tmp_path / "site" / "inbox", "store": Warehouse(str(tmp_path / "site" / "warehouse")),
            "catalogues": built["catalogues"], "registry": built["registry"].copy(), "first": built["first"]}


@contextlib.contextmanager
def _private_home(tmp_path_factory):
    """A module fixture's runs see no real configuration either (the autouse ``private_etdz_home`` is per test)."""
    home = tmp_path_factory.mktemp("changes_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ETDZ_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster_home"))
        yield


@pytest.fixture(scope="module")
def golden_built(tmp_path_factory) -> dict:
    """The golden example with 2020 and 2021 ingested, scored and compared once per module (runs of
    2026-03-01 and 2026-03-02, as every test here starts); ``first`` is the first 2021 run's ranking_changes."""
    root = tmp_path_factory.mktemp("changes_golden")
    shutil.copytree(GOLDEN / "inbox", root / "inbox")
    s = {"inbox": root / "inbox", "store": Warehouse(str(root / "warehouse")),
         "catalogues": load_catalogues(GOLDEN / "catalogues"), "registry": load_registry(GOLDEN / "registry.csv")}
    return _first_runs(s, root, tmp_path_factory)


@pytest.fixture
def setup(golden_built, tmp_path):
    """The golden example after its first 2020 and 2021 runs, the test's own copy."""
    return _copy_of(golden_built, tmp_path)


def _first_runs(s: dict, root, tmp_path_factory) -> dict:
    """``s`` after its first 2020 and 2021 runs (on 2026-03-01 and 2026-03-02); ``first``: 2021's ranking_changes."""
    with _private_home(tmp_path_factory):
        run_year(s, 2020, "2026-03-01")
        first = run_year(s, 2021, "2026-03-02")
    return {**s, "root": root, "first": first}


def run_year(s: dict, year: int, when: str) -> pd.DataFrame:
    """Ingest, score and compare one year as the assets do; returns the ranking_changes written."""
    store, cat = s["store"], catalogue_for_year(s["catalogues"], year)
    ing = ingest_year(s["inbox"] / str(year), year, cat, s["registry"], archive=None)
    store.write("submission_log", year, to_table(ing.log, schema_for("submission_log")))
    store.write("submission_issues", year, to_table(ing.issues, schema_for("submission_issues")))
    store.write("measures", year, to_table(ing.measures, schema_for("measures")))
    prev_log, prev_measures = store.read("submission_log", year - 1), store.read("measures", year - 1)
    prev_zones = accepted_zones(None if prev_log is None else prev_log.to_pandas())
    history = {year - 1: store.read("rankings", year - 1).to_pandas()} if store.exists("rankings", year - 1) else {}
    result = score_year(YearInputs(
        data_year=year, catalogue=cat, registry=s["registry"], measures=ing.measures,
        accepted=accepted_zones(ing.log),
        prev_measures=None if prev_measures is None else prev_measures.to_pandas(), prev_accepted=prev_zones,
        history=history))
    store.write("rankings", year, to_table(result.rankings, schema_for("rankings", cat.top_lists)))
    for name in ("indicator_scores", "indicator_bounds", "category_scores", "downgrade_watchlist",
                 "upgrade_candidates"):
        store.write(name, year, to_table(getattr(result, name), schema_for(name)))
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
    assert setup["first"].empty
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
    from assets.resource import EtdzResource
    from etdz.escape import markdown_text
    from etdz.settings import Settings
    from pipelines.partitions import data_year_partitions

    correct_e1(setup["inbox"])
    run_year(setup, 2021, "2026-03-05")  # E1 and the zones it passed moved
    path = Path(setup["store"].path("ranking_changes", 2021))
    data = path.read_bytes()
    resource = EtdzResource(Settings(inbox=str(setup["inbox"]), warehouse=setup["store"].root,
                                     reports=str(tmp_path / "r"), archive=str(tmp_path / "a"),
                                     registry=str(GOLDEN / "registry.csv"), methodology=str(GOLDEN / "catalogues"),
                                     dagster_home=str(tmp_path / "dh")))
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
    written = setup["store"].read("ranking_changes", 2021).to_pandas()
    flipped = written[written.status_changes.map(len) > 0]
    assert meta["status_changes"].value == len(flipped)
    table = meta["status_flips"].value
    assert len(flipped) or table == "_(no rows)_"  # E1 went from 1st to 2nd: no list changed
    for z, statuses in zip(flipped.zone_code, flipped.status_changes):
        assert f"| {z} |" in table and markdown_text(", ".join(statuses)) in table


# --------------------------------------------------------------------------- what a correction flipped
#
# 120 zones, Z001 best … Z120 worst: east Z001–Z060, west Z061–Z120, every figure a straight line in the zone's
# number (trade 10·(121−i) 亿元, high-tech firms 121−i), min–max scores, no winsorising, so every rank is the
# zone's number and a correction's effect can be read off. In 2021 Z120's first file has its trade in 万元 (945
# 万元 = 0.0945 亿元) and 4 high-tech firms for 94: it is last. Its corrected file (945 亿元, 94 firms) puts it
# 27th, between Z026 and Z027; Z027…Z119 each fall one place. In 2020 Z120 was fine (27th), so the west's
# bottom 2 were Z118 and Z119.

SCENARIO_CATALOGUE = """\
version: S1
name_zh: 修订情景办法
data_years: {from: 2020, to: null}
normalisation: {winsorise: null}
downgrade: {rule: regional_bottom, bottom_n: 2, window: 3, times: 2}
summons_bottom_n: 3
categories:
- {code: OPN, name_zh: 对外开放, weight: 0.6}
- {code: INN, name_zh: 科技创新, weight: 0.4}
measures:
- {code: trade_total, name_zh: 进出口总额, unit: 亿元, accepted_units: {亿元: 1, 万元: 0.0001}, hard_min: 0}
- {code: hitech_enterprises, name_zh: 高新技术企业数, unit: 家, hard_min: 0, integer: true}
indicators:
- {code: OPN01, name_zh: 进出口总额, category: OPN, direction: higher, kind: value, measure: trade_total}
- {code: INN01, name_zh: 高新技术企业数, category: INN, direction: higher, kind: value, measure: hitech_enterprises}
"""


def _write_file(path: Path, zone: str, year: int, trade: str, unit: str, firms: int, mtime: float) -> None:
    path.write_text("zone_code,data_year,measure_code,value,unit\n"
                    f"{zone},{year},trade_total,{trade},{unit}\n"
                    f"{zone},{year},hitech_enterprises,{firms},家\n", encoding="utf-8")
    os.utime(path, (mtime, mtime))


@pytest.fixture(scope="module")
def scenario_built(tmp_path_factory) -> dict:
    """The 120-zone scenario with 2020 and 2021 ingested, scored and compared once per module (runs of 2026-03-01
    and 2026-03-02); ``first`` is the first 2021 run's ranking_changes."""
    tmp_path = tmp_path_factory.mktemp("changes_scenario")
    (tmp_path / "catalogues").mkdir()
    (tmp_path / "catalogues" / "s1.yaml").write_text(SCENARIO_CATALOGUE, encoding="utf-8")
    codes = [f"Z{i:03d}" for i in range(1, 121)]
    registry = pd.DataFrame({"zone_code": codes, "name_zh": [f"第{i}经开区" for i in range(1, 121)],
                             "province": ["江苏" if i <= 60 else "四川" for i in range(1, 121)],
                             "region": ["east" if i <= 60 else "west" for i in range(1, 121)],
                             "tier": "national", "first_data_year": 2020, "exit_data_year": None})
    registry.to_csv(tmp_path / "registry.csv", index=False)
    t0 = pd.Timestamp("2022-03-01", tz="UTC").timestamp()
    for year in (2020, 2021):
        folder = tmp_path / "inbox" / str(year)
        folder.mkdir(parents=True)
        for i, code in enumerate(codes, start=1):
            trade, unit, firms = str(10 * (121 - i)), "亿元", 121 - i
            if code == "Z120":
                trade, unit, firms = ("945", "亿元", 94) if year == 2020 else ("945", "万元", 4)
            _write_file(folder / f"{code}.csv", code, year, trade, unit, firms, t0 + i)
    s = {"inbox": tmp_path / "inbox", "store": Warehouse(str(tmp_path / "warehouse")),
         "catalogues": load_catalogues(tmp_path / "catalogues"), "registry": load_registry(tmp_path / "registry.csv")}
    return _first_runs(s, tmp_path, tmp_path_factory)


@pytest.fixture
def scenario(scenario_built, tmp_path):
    """The scenario after its first 2020 and 2021 runs, the test's own copy."""
    return _copy_of(scenario_built, tmp_path)


def correct_z120(inbox: Path) -> None:
    """Z120's corrected 2021 file: the trade in 亿元 and 94 high-tech firms, received a day after the first."""
    _write_file(inbox / "2021" / "Z120 更正.csv", "Z120", 2021, "945", "亿元", 94,
                (inbox / "2021" / "Z120.csv").stat().st_mtime + 86400)


def national_page(s: dict, year: int):
    """The national report of ``year`` rendered from the warehouse's datasets, parsed."""
    from etdz.history import all_rankings
    from etdz.reports import ReportInputs
    from etdz.reports.inputs import prepare
    from etdz.reports.national import render
    from tests.reports.reports_synth import parse_html

    store = s["store"]
    names = ("rankings", "category_scores", "indicator_scores", "indicator_bounds", "downgrade_watchlist",
             "upgrade_candidates", "submission_log", "submission_issues", "measures", "ranking_changes")
    frames = {n: store.read(n, year).to_pandas() for n in names}
    inp = ReportInputs(data_year=year, catalogue=catalogue_for_year(s["catalogues"], year),
                       history=all_rankings(store, year), **frames)
    return parse_html(render(prepare(inp), "2026-03-05 00:00 UTC"))


FLIPS = {  # what Z120's correction flipped, zone by zone (read off the scenario above)
    "Z120": ["entered_top30", "entered_top100", "entered_region_top10", "no_longer_summoned"],  # 120th → 27th
    "Z030": ["left_top30"],            # 30th → 31st
    "Z070": ["left_region_top10"],     # the west's 10th → 11th
    "Z100": ["left_top100"],           # 100th → 101st
    "Z117": ["summoned"],              # 117th → 118th: the national bottom 3
    "Z118": ["entered_watchlist"],     # the west's bottom 2 in 2020 and now in 2021
}


def test_a_correction_lists_what_it_flipped_in_the_dataset_and_the_report(scenario):
    s = scenario
    assert s["first"].empty
    before = s["store"].read("rankings", 2021).to_pandas().set_index("zone_code")
    assert before.at["Z120", "national_rank"] == 120 and before.at["Z120", "summoned"]
    assert before.at["Z100", "top100"] and not before.at["Z117", "summoned"]
    assert not before.at["Z118", "downgrade_candidate"] and before.at["Z119", "downgrade_candidate"]

    correct_z120(s["inbox"])
    changes = run_year(s, 2021, "2026-03-05").set_index("zone_code")
    after = s["store"].read("rankings", 2021).to_pandas().set_index("zone_code")
    # the scorer's own columns say what the dataset claims
    assert after.at["Z120", "national_rank"] == 27 and not after.at["Z120", "summoned"]
    assert not after.at["Z100", "top100"] and after.at["Z117", "summoned"] and after.at["Z118", "downgrade_candidate"]
    assert after.at["Z070", "regional_rank"] == 11 and after.at["Z030", "national_rank"] == 31

    flips = {z: list(v) for z, v in changes.status_changes.items() if len(v)}
    assert flips == FLIPS
    ui = status_flips(changes.reset_index())  # what the asset shows in the UI
    assert list(ui.zone_code) == ["Z120", "Z030", "Z070", "Z100", "Z117", "Z118"]
    assert ui.status_changes.iloc[0] == "entered_top30, entered_top100, entered_region_top10, no_longer_summoned"
    assert list(changes.at["Z120", "changed_measures"]) == ["hitech_enterprises: 4 → 94", "trade_total: 0.0945 → 945"]
    assert all(len(v) == 0 for z, v in changes.changed_measures.items() if z != "Z120")  # nobody else's figures
    assert (changes.at["Z120", "prev_national_rank"], changes.at["Z120", "national_rank"]) == (120, 27)
    assert (changes.at["Z120", "prev_regional_rank"], changes.at["Z120", "regional_rank"]) == (60, 1)
    assert (changes.at["Z117", "prev_national_rank"], changes.at["Z117", "national_rank"]) == (117, 118)
    # Z027…Z119 fell a place; Z002…Z026 kept theirs, their totals moved with the trade's lower bound (0.0945 → 20)
    assert set(changes.index) == {f"Z{i:03d}" for i in range(2, 121)}

    page = national_page(s, 2021)
    status = {r["attrs"]["data-zone"]: r["cells"] for r in page.tables["changes-status"] if "data-zone" in r["attrs"]}
    assert [r["attrs"]["data-status"] for r in page.tables["changes-status"] if "data-zone" in r["attrs"]] == [
        " ".join(FLIPS[z]) for z in ("Z120", "Z030", "Z070", "Z100", "Z117", "Z118")]  # in national-rank order now
    assert status["Z120"][3] == "120 → 27" and status["Z120"][4] == "60 → 1"
    assert "进入全国前30" in status["Z120"][2] and "移出约谈名单" in status["Z120"][2]
    assert "跌出全国前100" in status["Z100"][2] and status["Z100"][3] == "100 → 101"
    assert "列入约谈名单" in status["Z117"][2] and status["Z117"][3] == "117 → 118"
    assert "列入降级预警" in status["Z118"][2] and "跌出区域前10" in status["Z070"][2]
    own = {r["attrs"]["data-zone"]: r["cells"] for r in page.tables["changes-figures"] if "data-zone" in r["attrs"]}
    assert list(own) == ["Z120"]
    assert "trade_total：0.0945 → 945 亿元" in own["Z120"][4] and "hitech_enterprises：4 → 94 家" in own["Z120"][4]
    assert "Z120 更正.csv：新收到 new → 受理 accepted" in own["Z120"][5]
    # every other zone (119 rows − 6 flipped − Z120) in one line, with its count
    assert page.ids["changes-others"].startswith("另有 113 个经开区仅因其他经开区的修订而变化")
    assert "88 个名次变动（最多 1 位），25 个名次未变" in page.ids["changes-others"]  # Z027…Z119 but 5; Z002…Z026

    # a re-run on the same inputs leaves the dataset as it was, byte for byte
    path = Path(s["store"].path("ranking_changes", 2021))
    data = path.read_bytes()
    run_year(s, 2021, "2026-03-09")
    assert path.read_bytes() == data


def test_a_baseline_written_before_statuses_were_kept_claims_no_flips(scenario):
    """A year whose last run was written by the previous version (its baseline: rankings' score and rank and
    the files, no statuses, no measures) still compares: rows by score and rank, status_changes and
    changed_measures null (nothing claimed), and the report says it cannot tell."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from etdz.changes import BASELINE

    s = scenario
    current = s["store"].read(BASELINE, 2021)
    old_schema = pa.schema([(n, current.schema.field(n).type) for n in (
        "kind", "zone_code", "name_zh", "total_score", "national_rank", "data_year", "file_name", "sha256", "status")])
    meta = current.schema.metadata
    old = current.filter(pc.not_equal(current["kind"], "measure")).select(old_schema.names).cast(old_schema)
    old = old.replace_schema_metadata({b"digest": meta[b"digest"], b"run_at": meta[b"run_at"]})  # no b"kept"
    s["store"].write(BASELINE, 2021, old)

    correct_z120(s["inbox"])
    changes = run_year(s, 2021, "2026-03-05").set_index("zone_code")
    assert set(changes.index) == {f"Z{i:03d}" for i in range(2, 121)}  # the same zones moved
    assert changes.status_changes.isna().all() and changes.changed_measures.isna().all()
    assert changes.prev_regional_rank.isna().all() and (changes.at["Z120", "regional_rank"] == 1)
    assert {f["file_name"] for f in changes.at["Z120", "changed_files"]} == {"Z120.csv", "Z120 更正.csv"}
    page = national_page(s, 2021)
    assert "changes-status" not in page.tables and "no entry or exit is claimed" in page.ids["changes-status-unknown"]
    own = [r["attrs"]["data-zone"] for r in page.tables["changes-figures"] if "data-zone" in r["attrs"]]
    assert own == ["Z120"] and "did not keep the zones' figures" in page.ids["changes-measures-unknown"]

    # this run's baseline keeps them: the next correction lists its flips again
    fixed = s["inbox"] / "2021" / "Z120 再更正.csv"
    _write_file(fixed, "Z120", 2021, "20", "亿元", 2, (s["inbox"] / "2021" / "Z120 更正.csv").stat().st_mtime + 60)
    again = run_year(s, 2021, "2026-03-06").set_index("zone_code")
    assert "left_top30" in again.at["Z120", "status_changes"]
    assert list(again.at["Z120", "changed_measures"]) == ["hitech_enterprises: 94 → 2", "trade_total: 945 → 20"]


def test_every_status_both_ways_from_the_rankings_columns():
    """Each status is read from its column (top100, summoned, downgrade_candidate; national_rank ≤ 30,
    regional_rank ≤ 10): A enters all five, B leaves them, C is new (on no list before), D's status is unknown."""
    from etdz.changes import STATUS_CHANGES, list_statuses, status_changes

    def ranks(rows):
        return pd.DataFrame(rows, columns=["zone_code", "national_rank", "regional_rank", "top100", "summoned",
                                           "downgrade_candidate"])

    before = ranks([("A", 140, 40, False, True, False), ("B", 5, 2, True, False, True),
                    ("D", 50, 9, None, False, False)])
    after = ranks([("A", 4, 1, True, False, True), ("B", 150, 45, False, True, False),
                   ("C", 20, 3, True, False, False), ("D", 50, 9, True, False, False)])
    flips = status_changes(list_statuses(before), list_statuses(after))
    assert flips == {"A": ["entered_top30", "entered_top100", "entered_region_top10", "no_longer_summoned",
                           "entered_watchlist"],
                     "B": ["left_top30", "left_top100", "left_region_top10", "summoned", "left_watchlist"],
                     "C": ["entered_top30", "entered_top100", "entered_region_top10"]}
    assert sorted(set(flips["A"]) | set(flips["B"])) == sorted(STATUS_CHANGES)
    # the top-100 status is the column's, not national_rank ≤ 100: a moved boundary shows here
    after.loc[after.zone_code == "B", "top100"] = True
    assert "left_top100" not in status_changes(list_statuses(before), list_statuses(after))["B"]
    assert status_changes(None, list_statuses(after)) is None  # not kept: nothing claimed
    assert list_statuses(before.drop(columns="summoned")) is None


def test_measure_changes_read_and_round_trip():
    from etdz.changes import changed_measures, format_number, measure_change, parse_measure_change

    for x in (2900.0, 0.0945, 1234.5, 0.1 + 0.2, 1e-7, 123456789012.25, 277200.0, -3.0, 1e20):
        text = format_number(x)
        assert float(text) == x and "e" not in text and "," not in text
    assert format_number(2900.0) == "2900" and format_number(None) == "—"
    assert measure_change("gdp", 0.0945, None) == "gdp: 0.0945 → —"
    assert parse_measure_change("gdp: 0.0945 → —") == ("gdp", 0.0945, None)
    before = pd.DataFrame({"zone_code": ["A", "A", "A", "B"], "measure_code": ["gdp", "tax", "old", "gdp"],
                           "value": [1.0, 2.0, 3.0, 4.0]})
    after = pd.DataFrame({"zone_code": ["A", "A", "A", "B"], "measure_code": ["gdp", "tax", "new", "gdp"],
                          "value": [1.0, 2.5, 7.0, 4.0]})
    assert changed_measures(before, after) == {"A": ["new: — → 7", "old: 3 → —", "tax: 2 → 2.5"]}


def test_the_top_30_and_region_top_10_hold_ranks_30_and_10_and_not_31_and_11():
    r = pd.DataFrame({"zone_code": ["a", "b", "c", "d"], "national_rank": [30, 31, 1, 2],
                      "regional_rank": [1, 2, 10, 11], "top100": [True] * 4, "summoned": [False] * 4,
                      "downgrade_candidate": [False] * 4})
    s = list_statuses(r)
    assert s.top30.tolist() == [True, False, True, True]
    assert s.region_top10.tolist() == [True, True, True, False]
