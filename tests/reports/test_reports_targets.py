"""docs/contract/03-scoring.md §3.8 on a hand-computed tiny case."""

from __future__ import annotations

import math

import pytest

from etdz.reports.inputs import IndicatorMeta
from etdz.reports.targets import gap_to_rank, next_points, next_rank_up, top_tier, zone_targets


def meta(code, cat, eff, direction, lo, hi, unit="u"):
    return IndicatorMeta(code=code, name_zh=code, name_en=None, category=cat, direction=direction, kind="value",
                         weight=1.0, eff_weight=eff, unit=unit, integer=False, lower=lo, upper=hi, mean=float("nan"))


# Category A (W=0.6): A1 weight 1 higher, bounds [0, 200]; A2 weight 3 lower, bounds [10, 20].
# Category B (W=0.4): B1 weight 1, U = L = 5 (gives nothing).
METAS = {
    "A1": meta("A1", "A", 0.6 * 1 / 4, "higher", 0.0, 200.0),
    "A2": meta("A2", "A", 0.6 * 3 / 4, "lower", 10.0, 20.0),
    "B1": meta("B1", "B", 0.4, "higher", 5.0, 5.0),
}
# zone z: A1 = 50 (score 25), A2 = 18 (score 20), B1 scores 100
ROWS = [
    {"indicator_code": "A1", "value": 50.0, "score": 25.0, "status": "ok"},
    {"indicator_code": "A2", "value": 18.0, "score": 20.0, "status": "ok"},
    {"indicator_code": "B1", "value": 5.0, "score": 100.0, "status": "ok"},
]
T_Z = 0.6 * (1 * 25 + 3 * 20) / 4 + 0.4 * 100  # 52.75


def test_target_rank_rules():
    assert next_rank_up(1) is None and next_rank_up(2) == 1 and next_rank_up(230) == 229
    assert [top_tier(r) for r in (1, 30, 31, 50, 51, 100, 101, 230)] == [None, None, 30, 30, 50, 50, 100, 100]


def zone(rank, total, code="Z", region="east", regional_rank=None):
    return {"zone_code": code, "national_rank": rank, "total_score": total, "region": region,
            "regional_rank": regional_rank if regional_rank is not None else rank}


def test_points_per_unit_headroom_and_gap_hand_computed():
    assert T_Z == pytest.approx(52.75)
    totals = [90.0, 70.0, 60.0, T_Z]           # z is 4th: next rank up K = 3, T(3rd) = 60; top 30 already
    t = zone_targets(zone(4, T_Z), totals, [], set(), None, None, ROWS, METAS)
    assert [x.kind for x in t.targets] == ["next"]
    nxt = t.targets[0]
    assert nxt.rank == 3 and nxt.total_at_rank == 60.0
    assert nxt.gap == pytest.approx(7.25)
    assert [p.code for p in t.points] == ["A2", "A1"]   # by points per unit; B1 (U = L) gives nothing
    a2, a1 = t.points
    assert a2.points_per_unit == pytest.approx(0.45 * 100 / 10)       # 4.5 points per unit less
    assert a2.headroom_units == pytest.approx(18 - 10)                # 8 units before the lower bound
    assert a2.headroom_points == pytest.approx(0.45 * 80)             # 36
    assert nxt.units_to_close["A2"] == pytest.approx(7.25 / 4.5)
    assert a1.points_per_unit == pytest.approx(0.15 * 100 / 200)      # 0.075 per unit more
    assert a1.headroom_units == pytest.approx(200 - 50)
    assert a1.headroom_points == pytest.approx(0.15 * 75)             # 11.25
    assert nxt.units_to_close["A1"] == pytest.approx(7.25 / 0.075)
    assert nxt.reachable_alone == 2 and [p.code for p in nxt.best] == ["A2", "A1"]
    assert t.headroom_total == pytest.approx(36 + 11.25)


def test_below_100_targets_the_next_rank_and_rank_100_and_not_enough_headroom():
    totals = sorted([100.0 - i * 0.6 for i in range(150)], reverse=True)
    z_total = totals[119]                       # ranked 120th: 20 places of 0.6 below the 100th
    t = zone_targets(zone(120, z_total), totals, [], set(), None, None, ROWS, METAS)
    assert [(x.kind, x.rank) for x in t.targets] == [("next", 119), ("top", 100)]
    top = t.targets[1]
    assert top.gap == pytest.approx(gap_to_rank(z_total, totals, 100)) == pytest.approx(12.0)
    assert top.units_to_close["A2"] == pytest.approx(12 / 4.5)
    assert top.units_to_close["A1"] is None     # only 11.25 points left in A1: not enough alone
    assert top.reachable_alone == 1
    # in the top 100 the next list is the top 50; at 101 the next rank up is the top 100 itself (listed once)
    assert [(x.kind, x.rank) for x in zone_targets(zone(80, totals[79]), totals, [], set(), None, None, ROWS,
                                                   METAS).targets] == [("next", 79), ("top", 50)]
    assert [(x.kind, x.rank) for x in zone_targets(zone(101, totals[100]), totals, [], set(), None, None, ROWS,
                                                   METAS).targets] == [("top", 100)]


def test_first_place_has_no_target_missing_and_at_bound():
    t = zone_targets(zone(1, 99.0), [99.0, 50.0], [], set(), None, None, ROWS, METAS)
    assert t.targets == []
    rows = [{"indicator_code": "A1", "value": math.nan, "score": 0.0, "status": "missing"},
            {"indicator_code": "A2", "value": 10.0, "score": 100.0, "status": "ok"},  # at its bound
            {"indicator_code": "B1", "value": math.inf, "score": 100.0, "status": "ok"}]
    pts = next_points(rows, METAS)
    assert [p.code for p in pts] == ["A1"]
    assert pts[0].headroom_units == pytest.approx(200.0)   # reporting it opens the whole range
    assert pts[0].headroom_points == pytest.approx(15.0)


def test_an_imputed_indicator_is_no_place_to_gain_points():
    rows = [{**ROWS[0], "status": "no_base", "imputed": True, "value": math.nan, "score": 40.0}, ROWS[1], ROWS[2]]
    assert [p.code for p in next_points(rows, METAS)] == ["A2"]


REGION = [  # east: 12 zones, totals 80, 78, …, 58; the bottom 2 of the region are the last two
    {"zone_code": f"E{i}", "region": "east", "total_score": 80.0 - 2 * i, "national_rank": i + 1,
     "regional_rank": i + 1} for i in range(12)]
BOTTOM = {"E10", "E11"}                         # as bottom_flags gives for bottom_n = 2


def test_region_top10_and_the_danger_line():
    totals = [z["total_score"] for z in REGION]
    e11 = REGION[11]
    t = zone_targets(e11, totals, REGION, BOTTOM, "regional_bottom", 2, ROWS, METAS)
    kinds = {x.kind: x for x in t.targets}
    assert kinds["region_top10"].rank == 10 and kinds["region_top10"].gap == pytest.approx(62.0 - 58.0)
    leave = kinds["leave_bottom"]                # draw level with E9, the lowest zone outside the bottom 2
    assert leave.total_at_rank == 62.0 and leave.gap == pytest.approx(4.0) and leave.rank == 10
    assert t.danger.in_bottom and t.danger.margin is None and t.danger.top_of_bottom_rank == 11
    e7 = REGION[7]                               # 66 points, 3 places above rank 11 (60 points)
    t = zone_targets(e7, totals, REGION, BOTTOM, "regional_bottom", 2, ROWS, METAS)
    assert "leave_bottom" not in {x.kind for x in t.targets}
    assert t.danger.margin == pytest.approx(66.0 - 60.0) and t.danger.places_above == 3
    assert zone_targets(e7, totals, REGION, BOTTOM, None, None, ROWS, METAS).danger is None


@pytest.mark.parametrize("data_year", [2019, 2022])  # national_consecutive, regional_bottom
def test_targets_from_the_shared_groups_are_those_of_each_zone_alone(data_year):
    from reports_synth import make_year

    from etdz.reports import prepare
    from etdz.reports.cards import target_groups

    v = prepare(make_year(data_year=data_year, per_region={"east": 14, "central": 9, "west": 7}, years=3).inputs())
    shared = target_groups(v)
    d = v.catalogue.downgrade
    for z in v.zones:
        rows = v.ind_rows.get(z["zone_code"], [])
        alone = zone_targets(z, v.totals_desc, v.zones, shared.bottom, d.rule, d.bottom_n, rows, v.indicator_by_code)
        assert zone_targets(z, v.totals_desc, v.zones, shared.bottom, d.rule, d.bottom_n, rows, v.indicator_by_code,
                            groups=shared) == alone
    assert any(t.kind == "leave_bottom" for z in v.zones for t in zone_targets(
        z, v.totals_desc, v.zones, shared.bottom, d.rule, d.bottom_n, v.ind_rows.get(z["zone_code"], []),
        v.indicator_by_code, groups=shared).targets)
