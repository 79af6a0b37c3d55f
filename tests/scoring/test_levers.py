"""Levers by measure (03-scoring.md §3.8) on a small readable cohort scored by the real scorer.

Catalogue: category A (W = 0.6) holds A1 = trade (value), A2 = hitech / trade × 100 (ratio: raising trade
lowers it) and A3 = growth of trade (weight 2); category B (W = 0.4) holds B1 = jobs (value, one measure,
one indicator) and B2 = land (value, lower is better). No winsorising: L = min, U = max of the cohort.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from etdz.scoring.levers import ZoneMeasures, ZoneScorer, bounds_from_table, rises_to_close, step_for, zone_levers
from tests.scoring.conftest import make_catalogue, make_registry, run

IND = [
    {"code": "A1", "category": "A", "direction": "higher", "kind": "value", "measure": "trade"},
    {"code": "A2", "category": "A", "direction": "higher", "kind": "ratio", "numerator": "hitech",
     "denominator": "trade", "scale": 100},
    {"code": "A3", "category": "A", "direction": "higher", "kind": "growth", "measure": "trade", "weight": 2},
    {"code": "B1", "category": "B", "direction": "higher", "kind": "value", "measure": "jobs"},
    {"code": "B2", "category": "B", "direction": "lower", "kind": "value", "measure": "land"},
]
CATS = [{"code": "A", "weight": 0.6}, {"code": "B", "weight": 0.4}]
MEASURES = [{"code": "trade", "unit": "亿元", "name_zh": "进出口总额"},
            {"code": "hitech", "unit": "亿元", "name_zh": "高新技术产品进出口额"},
            {"code": "jobs", "unit": "人", "name_zh": "城镇新增就业人数", "integer": True},
            {"code": "land", "unit": "平方公里", "name_zh": "已建成区面积"}]
CAT = make_catalogue(IND, categories=CATS, measures=MEASURES)
REG = make_registry([(z, "east", "P") for z in "abcde"])
CURRENT = {  # e is new: no 2021 file, so its growth A3 is no_base (imputed)
    "a": {"trade": 100.0, "hitech": 20.0, "jobs": 1000, "land": 10.0},
    "b": {"trade": 200.0, "hitech": 80.0, "jobs": 3000, "land": 20.0},
    "c": {"trade": 400.0, "hitech": 100.0, "jobs": 5000, "land": 30.0},  # the largest trade: A1 at U
    "d": {"trade": 300.0, "hitech": 150.0, "jobs": 9000, "land": 40.0},  # the most jobs: B1 at U
    "e": {"trade": 250.0, "hitech": 70.0, "jobs": 4000, "land": 15.0},
}
PREVIOUS = {z: {"trade": v["trade"] / g} for z, v in CURRENT.items() if z != "e"
            for g in [{"a": 1.10, "b": 1.25, "c": 1.05, "d": 1.40}[z]]}
RESULT = run(CAT, REG, 2022, CURRENT, PREVIOUS)
BOUNDS = bounds_from_table(CAT, RESULT.indicator_bounds)
LU = {i.code: (b.lower, b.upper) for i, b in zip(CAT.indicators, BOUNDS)}
TOTAL = dict(zip(RESULT.rankings.zone_code, RESULT.rankings.total_score))
SCORE = {(z, i): s for z, i, s in zip(RESULT.indicator_scores.zone_code, RESULT.indicator_scores.indicator_code,
                                      RESULT.indicator_scores.score)}


def scorer(*zones: str) -> ZoneScorer:
    return ZoneScorer(CAT, BOUNDS, [ZoneMeasures(CURRENT[z], PREVIOUS.get(z, {}), True, z in PREVIOUS)
                                    for z in zones])


def levers_of(zone: str):
    return zone_levers(scorer(zone))[0]


def by_measure(zl):
    return {lv.measure: lv for lv in zl.levers + zl.lowering + zl.no_points}


def test_the_re_scored_total_is_the_published_one():
    s = scorer(*"abcde")
    for z, zl in zip("abcde", zone_levers(s)):
        assert zl.total == pytest.approx(TOTAL[z], abs=1e-12)


def test_one_measure_indicator_matches_the_cross_check_of_3_8():
    # jobs feeds B1 only: Δ = W_B · w_B1 / Σ_{j∈B} w_j · 100 / (U − L) inside the bounds
    lo, hi = LU["B1"]
    assert (lo, hi) == (1000.0, 9000.0)
    for z in "bce":  # strictly inside the bounds, and x + δ still inside
        jobs = levers_of(z).levers
        lv = next(x for x in jobs if x.measure == "jobs")
        assert lv.step == pytest.approx(max(0.01 * CURRENT[z]["jobs"], 1.0))
        assert lv.points_per_unit == pytest.approx(0.4 * 1 / 2 * 100 / (hi - lo), rel=1e-9)
        assert lv.headroom == pytest.approx(hi - CURRENT[z]["jobs"])           # B1 reaches U there
        assert lv.points_left == pytest.approx(0.4 * 1 / 2 * (100 - SCORE[(z, "B1")]), rel=1e-9)
        assert lv.gains == ("B1",) and lv.falls == ()


def test_the_step_is_one_percent_or_one_unit():
    assert step_for(250.0) == 2.5 and step_for(30.0) == 1.0 and step_for(0.0) == 1.0


def test_raising_trade_lowers_the_total_when_the_trade_total_is_at_its_bound():
    # c has the largest trade (A1 at U); with its trade quadrupled since 2021 it has the largest growth too (A3 at
    # U): raising its trade gains nothing and lowers A2 (hitech / trade falls)
    prev = {**PREVIOUS, "c": {"trade": 100.0}}
    res = run(CAT, REG, 2022, CURRENT, prev)
    bounds = bounds_from_table(CAT, res.indicator_bounds)
    s = ZoneScorer(CAT, bounds, [ZoneMeasures(CURRENT["c"], prev["c"], True, True)])
    zl = zone_levers(s)[0]
    lv = by_measure(zl)["trade"]
    assert lv in zl.lowering and lv not in zl.levers
    assert lv.falls == ("A2",) and lv.gains == ()
    # the hand-computed fall of A2: hitech / (trade + δ) × 100 on its fixed bounds, weight 1 of 4 in A (W = 0.6)
    lo, hi = (b for b in (bounds[1].lower, bounds[1].upper))
    x, h, d = 400.0, 100.0, 4.0
    assert lo < h / (x + d) * 100 <= h / x * 100 < hi
    expected = 0.6 * 1 / 4 * 100 * (h / (x + d) * 100 - h / x * 100) / (hi - lo) / d
    assert lv.points_per_unit == pytest.approx(expected, rel=1e-9) and lv.points_per_unit < 0
    # never offered: no rise of it closes any gap
    assert "trade" not in rises_to_close(s, [zl], [[1.0, 3.0]])[0][0]


def test_headroom_at_a_bound_gives_no_points():
    zl = levers_of("d")  # d has the most jobs: B1 at U, jobs gives nothing
    lv = by_measure(zl)["jobs"]
    assert lv in zl.no_points and lv.headroom == 0.0 and lv.points_left == 0.0
    # land is "lower is better" and d's is the largest: B2 already at its worst bound, a rise costs nothing more
    assert by_measure(zl)["land"] in zl.no_points
    # b's land is inside the bounds: its rise only lowers B2 — named, never offered
    b = levers_of("b")
    land = by_measure(b)["land"]
    assert land in b.lowering and land.falls == ("B2",) and land not in b.levers


def test_headroom_is_where_the_last_gaining_indicator_reaches_its_bound():
    # a's trade feeds A1 (to U = 400) and A3 (growth, to its U); headroom = the later of the two
    zl = levers_of("a")
    lv = by_measure(zl)["trade"]
    lo1, hi1 = LU["A1"]
    lo3, hi3 = LU["A3"]
    p = PREVIOUS["a"]["trade"]
    to_a1 = hi1 - 100.0
    to_a3 = p * (1 + hi3 / 100) - 100.0
    assert lv.headroom == pytest.approx(max(to_a1, to_a3), rel=1e-9)
    s = scorer("a")
    ev = s.evaluate(*s.raised([(0, s.position["trade"], r) for r in (0.99 * lv.headroom, lv.headroom,
                                                                     1.5 * lv.headroom)]))
    gained = ev.scores[:, [0, 2]]  # A1 and A3: both at U from the headroom on, not before
    assert gained[1].tolist() == [100.0, 100.0] and gained[2].tolist() == [100.0, 100.0]
    assert gained[0].min() < 100.0


def test_a_no_base_indicator_gives_no_points():
    zl = levers_of("e")  # e has no 2021 file: A3 (growth of trade) is imputed whatever its trade
    lv = by_measure(zl)["trade"]
    assert "A3" not in lv.gains + lv.falls
    s = scorer("e")
    ev = s.evaluate(*s.raised([(0, s.position["trade"], 0.0), (0, s.position["trade"], 50.0)]))
    assert ev.scores[0, 2] == ev.scores[1, 2] == BOUNDS[2].imputed_score
    # so its points per unit are A1's and A2's alone
    lo1, hi1 = LU["A1"]
    lo2, hi2 = LU["A2"]
    x, h, d = 250.0, 70.0, 2.5
    a1 = 0.6 / 4 * 100 * d / (hi1 - lo1)
    a2 = 0.6 / 4 * 100 * (h / (x + d) * 100 - h / x * 100) / (hi2 - lo2)
    assert lv.points_per_unit == pytest.approx((a1 + a2) / d, rel=1e-9)


def test_the_rise_that_closes_a_gap_is_the_smallest_and_checks_out_with_the_scorer():
    s = scorer(*"abe")
    zls = zone_levers(s)
    gaps = [[0.5, 2.0, 1e6] for _ in zls]
    rises = rises_to_close(s, zls, gaps)
    checked = 0
    for z, (zl, rs) in enumerate(zip(zls, rises)):
        assert zl.levers == sorted(zl.levers, key=lambda lv: -lv.points_per_unit)
        for g, gap in enumerate(gaps[z]):
            for lv in zl.levers:
                r = rs[g][lv.measure]
                if gap > lv.points_left + 1e-9:
                    assert r is None  # not enough alone
                    continue
                assert r is not None and 0 < r <= (lv.headroom if math.isfinite(lv.headroom) else r)
                ev = s.evaluate(*s.raised([(z, s.position[lv.measure], r), (z, s.position[lv.measure], 0.999 * r)]))
                gain = ev.totals - zl.total
                assert gain[0] >= gap - 1e-6 and gain[1] < gap
                checked += 1
    assert checked >= 4


def test_a_zone_without_a_file_and_a_measure_left_empty():
    s = ZoneScorer(CAT, BOUNDS, [ZoneMeasures({"trade": 120.0, "jobs": 2000}, {}, True, False)])
    zl = zone_levers(s)[0]
    assert set(by_measure(zl)) == {"trade", "jobs"}  # only what it reported is raised
    assert np.isfinite(zl.total)


def test_the_levers_score_with_the_scorers_indicator_rules_on_arrays():
    import pandas as pd

    from etdz.scoring import indicators

    # indicator_columns is indicator_values without its frames: same values and statuses, column by column,
    # with a missing measure, a zero denominator, a zone without a file and zones without a Y-1 file
    zones = ["a", "b", "c", "d", "e"]
    current = pd.DataFrame(CURRENT).T.reindex(index=zones, columns=list(CAT.measures)).astype("float64")
    current.loc["b", "hitech"] = np.nan
    current.loc["c", "trade"] = 0.0
    previous = pd.DataFrame(PREVIOUS).T.reindex(index=zones, columns=list(CAT.measures)).astype("float64")
    accepted, prev_accepted = {"a", "b", "c", "e"}, {"a", "b", "c"}
    values, status = indicators.indicator_values(CAT, zones, current, accepted, previous, prev_accepted)
    columns = indicators.indicator_columns(CAT, lambda c: current[c].to_numpy(dtype="float64"),
                                           lambda c: previous[c].to_numpy(dtype="float64"),
                                           np.isin(zones, list(accepted)), np.isin(zones, list(prev_accepted)))
    for ind, (v, st) in zip(CAT.indicators, columns):
        np.testing.assert_array_equal(v, values[ind.code].to_numpy(dtype="float64"))
        assert st.tolist() == status[ind.code].tolist()
    assert {s for col in status.columns for s in status[col]} == {"ok", "missing", "no_base"}
