"""03-scoring.md §3.8 on a hand-computed tiny case."""

from __future__ import annotations

import math

import pytest

from etdz.reports.inputs import IndicatorMeta
from etdz.reports.targets import gap_to_rank, next_points, target_rank, zone_target


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


def test_target_rank_rule():
    assert target_rank(1) is None
    assert target_rank(2) == 1
    assert target_rank(100) == 99
    assert target_rank(101) == 100
    assert target_rank(230) == 100


def test_points_per_unit_headroom_and_gap_hand_computed():
    assert T_Z == pytest.approx(52.75)
    totals = [90.0, 70.0, 60.0, T_Z]           # z is 4th: target K = 3, T(3rd) = 60
    t = zone_target({"national_rank": 4, "total_score": T_Z}, totals, ROWS, METAS)
    assert t.rank == 3 and t.total_at_rank == 60.0
    assert t.gap == pytest.approx(7.25)
    codes = [p.code for p in t.points]
    assert codes == ["A2", "A1"]                # by points per unit; B1 (U = L) gives nothing
    a2, a1 = t.points
    assert a2.points_per_unit == pytest.approx(0.45 * 100 / 10)       # 4.5 points per unit less
    assert a2.headroom_units == pytest.approx(18 - 10)                # 8 units before the lower bound
    assert a2.headroom_points == pytest.approx(0.45 * 80)             # 36
    assert a2.units_to_close == pytest.approx(7.25 / 4.5)
    assert a1.points_per_unit == pytest.approx(0.15 * 100 / 200)      # 0.075 per unit more
    assert a1.headroom_units == pytest.approx(200 - 50)
    assert a1.headroom_points == pytest.approx(0.15 * 75)             # 11.25
    assert a1.units_to_close == pytest.approx(7.25 / 0.075)
    assert t.reachable_alone == 2
    assert t.headroom_total == pytest.approx(36 + 11.25)


def test_below_100_targets_rank_100_and_not_enough_headroom():
    totals = sorted([100.0 - i * 0.6 for i in range(150)], reverse=True)
    z_total = totals[119]                       # ranked 120th: 20 places of 0.6 below the 100th
    t = zone_target({"national_rank": 120, "total_score": z_total}, totals, ROWS, METAS)
    assert t.rank == 100
    assert t.gap == pytest.approx(gap_to_rank(z_total, totals, 100)) == pytest.approx(12.0)
    a2, a1 = t.points
    assert a2.units_to_close == pytest.approx(12 / 4.5)
    assert a1.units_to_close is None            # only 11.25 points left in A1: not enough alone
    assert t.reachable_alone == 1


def test_first_place_has_no_gap_missing_and_at_bound():
    t = zone_target({"national_rank": 1, "total_score": 99.0}, [99.0, 50.0], ROWS, METAS)
    assert t.rank is None and t.gap is None
    rows = [{"indicator_code": "A1", "value": math.nan, "score": 0.0, "status": "missing"},
            {"indicator_code": "A2", "value": 10.0, "score": 100.0, "status": "ok"},  # at its bound
            {"indicator_code": "B1", "value": math.inf, "score": 100.0, "status": "ok"}]
    pts = next_points(rows, METAS, gap=5.0)
    assert [p.code for p in pts] == ["A1"]
    assert pts[0].headroom_units == pytest.approx(200.0)   # reporting it opens the whole range
    assert pts[0].headroom_points == pytest.approx(15.0)
