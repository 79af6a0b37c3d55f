"""Hand-computed cases, one per rule of docs/contract/03-scoring.md (names say which)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tests.scoring.conftest import make_catalogue, make_registry, run

VALUE = {"code": "V", "category": "A", "direction": "higher", "kind": "value", "measure": "x"}
LOWER = {"code": "L", "category": "A", "direction": "lower", "kind": "value", "measure": "x"}
GROWTH = {"code": "G", "category": "A", "direction": "higher", "kind": "growth", "measure": "x"}
RATIO = {"code": "R", "category": "A", "direction": "higher", "kind": "ratio", "numerator": "x", "denominator": "d",
         "scale": 100}
EAST3 = make_registry([("a", "east", "P"), ("b", "east", "P"), ("c", "east", "Q")])


def scores_of(result, code):
    s = result.indicator_scores
    return dict(zip(s[s.indicator_code == code].zone_code, s[s.indicator_code == code].score))


def status_of(result, code):
    s = result.indicator_scores
    return dict(zip(s[s.indicator_code == code].zone_code, s[s.indicator_code == code].status))


def test_min_max_scaling_higher_and_lower():
    cat = make_catalogue([VALUE, LOWER])
    r = run(cat, EAST3, 2020, {"a": {"x": 10}, "b": {"x": 20}, "c": {"x": 40}})
    assert scores_of(r, "V") == pytest.approx({"a": 0.0, "b": 100 / 3, "c": 100.0})
    assert scores_of(r, "L") == pytest.approx({"a": 100.0, "b": 200 / 3, "c": 0.0})


def test_winsorised_bounds_use_linear_quantiles_and_clip():
    reg = make_registry([(z, "east", "P") for z in "abcde"])
    cat = make_catalogue([VALUE], winsorise=(0.25, 0.75))
    r = run(cat, reg, 2020, {z: {"x": v} for z, v in zip("abcde", [0, 10, 20, 30, 1000])})
    b = r.indicator_bounds.iloc[0]
    assert (b.lower, b.upper) == (10.0, 30.0)  # linear interpolation on [0,10,20,30,1000]
    assert scores_of(r, "V") == pytest.approx({"a": 0, "b": 0, "c": 50, "d": 100, "e": 100})
    assert b["mean"] == pytest.approx(212.0)


def test_ties_get_competition_ranks_1224():
    reg = make_registry([(z, "east", "P") for z in "abcd"])
    cat = make_catalogue([VALUE])
    r = run(cat, reg, 2020, {"a": {"x": 30}, "b": {"x": 20}, "c": {"x": 20}, "d": {"x": 10}})
    ranks = dict(zip(r.rankings.zone_code, r.rankings.national_rank))
    assert ranks == {"a": 1, "b": 2, "c": 2, "d": 4}


def test_ties_compare_scores_rounded_to_6_decimals():
    reg = make_registry([(z, "east", "P") for z in "abc"])
    cat = make_catalogue([VALUE])
    # b and c differ by 1e-9 of a score point: equal after rounding to 6 decimals
    r = run(cat, reg, 2020, {"a": {"x": 0}, "b": {"x": 50.0}, "c": {"x": 50.0 + 1e-9}, })
    ranks = dict(zip(r.rankings.zone_code, r.rankings.national_rank))
    assert ranks["b"] == ranks["c"] == 1 and ranks["a"] == 3


def test_growth_from_zero_base_is_plus_inf_and_scores_the_upper_bound():
    reg = make_registry([(z, "east", "P") for z in "abcd"])
    cat = make_catalogue([GROWTH])
    prev = {"a": {"x": 0}, "b": {"x": 100}, "c": {"x": 100}, "d": {"x": 0}}
    cur = {"a": {"x": 3303}, "b": {"x": 110}, "c": {"x": 150}, "d": {"x": 0}}
    r = run(cat, reg, 2021, cur, prev)
    s = r.indicator_scores.set_index("zone_code")
    assert s.loc["a", "value"] == math.inf and s.loc["a", "status"] == "ok"
    assert s.loc["d", "value"] == 0.0  # 0 → 0 is no change
    assert s.loc["b", "value"] == pytest.approx(10.0)
    # F = {10, 50, 0}: L = 0, U = 50; +inf clips to U
    assert scores_of(r, "G") == pytest.approx({"a": 100.0, "b": 20.0, "c": 100.0, "d": 0.0})


def test_growth_to_negative_from_zero_base_is_minus_inf():
    reg = make_registry([(z, "east", "P") for z in "abc"])
    cat = make_catalogue([GROWTH], measures=[{"code": "x", "unit": "u"}])
    r = run(cat, reg, 2021, {"a": {"x": -5}, "b": {"x": 10}, "c": {"x": 30}},
            {"a": {"x": 0}, "b": {"x": 5}, "c": {"x": 10}})
    s = r.indicator_scores.set_index("zone_code")
    assert s.loc["a", "value"] == -math.inf and s.loc["a", "score"] == 0.0
    assert bool(s.loc["a", "better_than_national_avg"]) is False


def test_growth_uses_absolute_value_of_negative_base():
    reg = make_registry([("a", "east", "P")])
    r = run(make_catalogue([GROWTH]), reg, 2021, {"a": {"x": -50}}, {"a": {"x": -100}})
    assert r.indicator_scores.value.iloc[0] == pytest.approx(50.0)


def test_zero_or_missing_denominator_makes_ratio_missing_scoring_zero():
    cat = make_catalogue([RATIO])
    r = run(cat, EAST3, 2020, {"a": {"x": 5, "d": 0}, "b": {"x": 5, "d": None}, "c": {"x": 5, "d": 10}})
    assert status_of(r, "R") == {"a": "missing", "b": "missing", "c": "ok"}
    assert scores_of(r, "R") == {"a": 0.0, "b": 0.0, "c": 100.0}
    assert r.indicator_scores.set_index("zone_code").loc["c", "value"] == pytest.approx(50.0)


def test_no_base_takes_the_median_of_ok_scores_and_is_flagged_imputed():
    reg = make_registry([(z, "east", "P") for z in "abcd"])
    cat = make_catalogue([GROWTH])
    prev = {"a": {"x": 100}, "b": {"x": 100}, "c": {"x": 100}}  # d has no previous submission
    cur = {"a": {"x": 100}, "b": {"x": 150}, "c": {"x": 300}, "d": {"x": 500}}
    r = run(cat, reg, 2021, cur, prev)
    s = r.indicator_scores.set_index("zone_code")
    assert s.loc["d", "status"] == "no_base" and bool(s.loc["d", "imputed"])
    assert math.isnan(s.loc["d", "value"])
    # ok scores: 0, 25, 100 → median 25
    assert s.loc["d", "score"] == pytest.approx(25.0)
    assert r.indicator_bounds.imputed_score.iloc[0] == pytest.approx(25.0)
    assert not s.loc[["a", "b", "c"], "imputed"].any()


def test_no_base_when_measure_empty_last_year_but_missing_takes_precedence():
    reg = make_registry([(z, "east", "P") for z in "abc"])
    cat = make_catalogue([GROWTH])
    prev = {"a": {"x": None}, "b": {"x": None}, "c": {"x": 10}}
    cur = {"a": {"x": 5}, "b": {"x": None}, "c": {"x": 20}}
    r = run(cat, reg, 2021, cur, prev)
    assert status_of(r, "G") == {"a": "no_base", "b": "missing", "c": "ok"}


def test_upper_equals_lower_scores_100():
    cat = make_catalogue([VALUE])
    r = run(cat, EAST3, 2020, {"a": {"x": 7}, "b": {"x": 7}, "c": {"x": None}})
    assert scores_of(r, "V") == {"a": 100.0, "b": 100.0, "c": 0.0}


def test_no_finite_value_every_ok_zone_scores_100_and_bounds_are_null():
    cat = make_catalogue([GROWTH])
    r = run(cat, EAST3, 2021, {"a": {"x": 5}, "b": {"x": 6}, "c": {"x": None}},
            {"a": {"x": 0}, "b": {"x": 0}, "c": {"x": 1}})
    assert scores_of(r, "G") == {"a": 100.0, "b": 100.0, "c": 0.0}
    b = r.indicator_bounds.iloc[0]
    assert b.lower is None or math.isnan(b.lower)
    assert not r.indicator_scores.better_than_national_avg.any()  # F empty: nobody is better


def test_no_ok_zone_imputes_zero():
    cat = make_catalogue([GROWTH])
    r = run(cat, EAST3, 2021, {"a": {"x": 5}, "b": {"x": 6}, "c": {"x": 7}})  # nobody has a base
    assert scores_of(r, "G") == {"a": 0.0, "b": 0.0, "c": 0.0}
    assert set(status_of(r, "G").values()) == {"no_base"}


def test_category_and_total_are_weighted_means():
    cats = [{"code": "A", "weight": 0.6}, {"code": "B", "weight": 0.4}]
    inds = [dict(VALUE, code="V1", weight=2), dict(VALUE, code="V2", measure="y", weight=1),
            dict(VALUE, code="V3", category="B", measure="z")]
    cat = make_catalogue(inds, categories=cats)
    r = run(cat, make_registry([("a", "east", "P"), ("b", "east", "P")]), 2020,
            {"a": {"x": 1, "y": 0, "z": 0}, "b": {"x": 0, "y": 1, "z": 1}})
    cs = r.category_scores.set_index(["zone_code", "category_code"]).score
    assert cs[("a", "A")] == pytest.approx(200 / 3) and cs[("b", "A")] == pytest.approx(100 / 3)
    tot = dict(zip(r.rankings.zone_code, r.rankings.total_score))
    assert tot == pytest.approx({"a": 0.6 * 200 / 3, "b": 0.6 * 100 / 3 + 0.4 * 100})


def test_due_zone_without_submission_is_ranked_with_zeros_and_results_are_provisional():
    cat = make_catalogue([VALUE])
    r = run(cat, EAST3, 2020, {"a": {"x": 1}, "b": {"x": 2}})
    rk = r.rankings.set_index("zone_code")
    assert rk.loc["c", "submission_status"] == "no_valid_submission" and rk.loc["c", "total_score"] == 0
    assert set(r.rankings.results_status) == {"provisional"}
    assert set(status_of(r, "V").items()) >= {("c", "missing")}


def test_regional_and_provincial_ranks_group_by_registry_fields():
    reg = make_registry([("a", "east", "P"), ("b", "west", "P"), ("c", "west", "Q"), ("d", "east", "Q")])
    r = run(make_catalogue([VALUE]), reg, 2020, {z: {"x": v} for z, v in zip("abcd", [4, 3, 2, 1])})
    rk = r.rankings.set_index("zone_code")
    assert rk.regional_rank.to_dict() == {"a": 1, "b": 1, "c": 2, "d": 2}
    assert rk.provincial_rank.to_dict() == {"a": 1, "b": 2, "c": 1, "d": 2}


def test_zone_entering_late_and_zone_leaving_follow_the_registry():
    reg = make_registry([("a", "east", "P"), ("b", "east", "P", "national", 2021),
                         ("c", "east", "P", "national", 2000, 2020)])
    cat = make_catalogue([VALUE])
    r20 = run(cat, reg, 2020, {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 3}})
    r21 = run(cat, reg, 2021, {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 3}}, history={2020: r20.rankings})
    assert set(r20.rankings.zone_code) == {"a", "c"}
    assert set(r21.rankings.zone_code) == {"a", "b"}
    rk = r21.rankings.set_index("zone_code")
    assert rk.loc["a", "prev_national_rank"] == 2 and rk.loc["a", "rank_change"] == 0
    assert rk.loc["b", "prev_national_rank"] is None or str(rk.loc["b", "prev_national_rank"]) == "<NA>"


def test_method_switch_between_two_years_sets_method_changed():
    reg = make_registry([("a", "east", "P"), ("b", "east", "P")])
    old = make_catalogue([VALUE], version="OLD", years=(2019, 2020))
    new = make_catalogue([LOWER], version="NEW", years=(2021, None))
    r20 = run(old, reg, 2020, {"a": {"x": 1}, "b": {"x": 2}})
    r21 = run(new, reg, 2021, {"a": {"x": 1}, "b": {"x": 2}}, history={2020: r20.rankings})
    r21b = run(new, reg, 2021, {"a": {"x": 1}, "b": {"x": 2}})
    assert set(r20.rankings.method_changed) == {False}
    assert set(r21.rankings.method_changed) == {True}
    assert set(r21b.rankings.method_changed) == {False}  # Y−1 not scored at all
    rk = r21.rankings.set_index("zone_code")
    assert rk.loc["a", "rank_change"] == 1 and rk.loc["b", "rank_change"] == -1


def test_better_than_average_national_and_regional_counts():
    reg = make_registry([("a", "east", "P"), ("b", "east", "P"), ("c", "west", "Q"), ("d", "west", "Q")])
    cat = make_catalogue([VALUE, LOWER])
    r = run(cat, reg, 2020, {"a": {"x": 10}, "b": {"x": 20}, "c": {"x": 1}, "d": {"x": 3}})
    s = r.indicator_scores.set_index(["zone_code", "indicator_code"])
    # national mean 8.5: a, b better on V; c, d better on L
    assert s.better_than_national_avg.to_dict() == {("a", "V"): True, ("a", "L"): False, ("b", "V"): True,
                                                  ("b", "L"): False, ("c", "V"): False, ("c", "L"): True,
                                                  ("d", "V"): False, ("d", "L"): True}
    # regional means: east 15, west 2
    assert s.better_than_regional_avg[("b", "V")] and s.better_than_regional_avg[("a", "L")]
    assert s.better_than_regional_avg[("d", "V")] and s.better_than_regional_avg[("c", "L")]
    rk = r.rankings.set_index("zone_code")
    assert rk.indicators_better_than_avg.to_dict() == {"a": 1, "b": 1, "c": 1, "d": 1}
    assert (rk.indicators_total == 2).all()


def test_single_item_top_lists_rank_raw_values_and_skip_missing():
    cat = make_catalogue([VALUE], top_lists=["x"])
    r = run(cat, EAST3, 2020, {"a": {"x": 5}, "b": {"x": 9}, "c": {"x": None}})
    rk = r.rankings.set_index("zone_code").rank_x
    assert rk["b"] == 1 and rk["a"] == 2 and str(rk["c"]) == "<NA>"


def test_summons_flags_the_national_bottom_n():
    reg = make_registry([(z, "east", "P") for z in "abcde"])
    r = run(make_catalogue([VALUE], summons=2), reg, 2020, {z: {"x": v} for z, v in zip("abcde", [5, 4, 3, 2, 1])})
    summoned = r.rankings.set_index("zone_code").summoned.to_dict()
    assert summoned == {"a": False, "b": False, "c": False, "d": True, "e": True}


def _history_run(cat, reg, values_by_year):
    history, out = {}, {}
    for y, vals in values_by_year.items():
        out[y] = run(cat, reg, y, vals, history=dict(history))
        history[y] = out[y].rankings
    return out


def test_downgrade_regional_bottom_twice_in_window():
    reg = make_registry([(z, "east", "P") for z in "abcd"] + [(z, "west", "Q") for z in "wxyz"])
    cat = make_catalogue([VALUE], downgrade={"rule": "regional_bottom", "bottom_n": 1, "window": 3, "times": 2})
    east = {"a": 4, "b": 3, "c": 2, "d": 1}
    west = {"w": 4, "x": 3, "y": 2, "z": 1}
    y19 = {**{k: {"x": v} for k, v in east.items()}, **{k: {"x": v} for k, v in west.items()}}
    y20 = {**y19, "d": {"x": 10}, "c": {"x": 0.5}}  # d escapes, c bottom
    y21 = {**y19, "d": {"x": 0.1}, "z": {"x": 10}}  # d bottom again (2019, 2021); z bottom only in 2019/2020
    out = _history_run(cat, reg, {2019: y19, 2020: y20, 2021: y21})
    wl = out[2021].downgrade_watchlist.set_index("zone_code")
    assert set(wl.index) == {"d", "z"}
    assert list(wl.loc["d", "bottom_years"]) == [2019, 2021]
    assert list(wl.loc["z", "bottom_years"]) == [2019, 2020]
    assert (wl.region_candidate_rank == 1).all()
    rk21 = out[2021].rankings.set_index("zone_code")
    assert rk21.loc["d", "downgrade_candidate"] and not rk21.loc["c", "downgrade_candidate"]
    # mean over the two most recent bottom years
    tot = {y: dict(zip(out[y].rankings.zone_code, out[y].rankings.total_score)) for y in out}
    assert wl.loc["d", "mean_score"] == pytest.approx((tot[2019]["d"] + tot[2021]["d"]) / 2)


def test_downgrade_regional_candidates_ranked_by_mean_score_ascending_within_region():
    reg = make_registry([(z, "east", "P") for z in "abcde"])
    cat = make_catalogue([VALUE], downgrade={"rule": "regional_bottom", "bottom_n": 2, "window": 2, "times": 2})
    vals = {"a": {"x": 100}, "b": {"x": 90}, "c": {"x": 80}, "d": {"x": 20}, "e": {"x": 10}}
    out = _history_run(cat, reg, {2020: vals, 2021: vals})
    wl = out[2021].downgrade_watchlist.set_index("zone_code")
    assert wl.region_candidate_rank.to_dict() == {"e": 1, "d": 2}


def test_downgrade_national_consecutive_needs_both_years():
    reg = make_registry([(z, "east" if z < "d" else "west", "P") for z in "abcdef"])
    cat = make_catalogue([VALUE], downgrade={"rule": "national_consecutive", "bottom_n": 2})
    y20 = {z: {"x": v} for z, v in zip("abcdef", [6, 5, 4, 3, 2, 1])}
    y21 = {**y20, "e": {"x": 10}, "c": {"x": 0}}
    out = _history_run(cat, reg, {2019: y20, 2020: y20, 2021: y21})
    wl = out[2021].downgrade_watchlist.set_index("zone_code")
    assert set(wl.index) == {"f"}  # e escaped in 2021; c only in 2021
    assert list(wl.loc["f", "bottom_years"]) == [2020, 2021]


def test_no_downgrade_section_gives_an_empty_watchlist():
    r = run(make_catalogue([VALUE]), EAST3, 2020, {"a": {"x": 1}, "b": {"x": 2}, "c": {"x": 3}})
    assert len(r.downgrade_watchlist) == 0 and not r.rankings.downgrade_candidate.any()


def test_upgrade_candidates_beyond_the_cohort_bounds_are_clipped_to_them():
    reg = make_registry([("a", "east", "P"), ("b", "east", "P"), ("c", "east", "P"),
                         ("p", "east", "P", "provincial"), ("q", "west", "Q", "provincial"),
                         ("s", "west", "Q", "provincial")])
    cat = make_catalogue([VALUE, GROWTH])
    prev = {"a": {"x": 10}, "b": {"x": 10}, "c": {"x": 10}, "p": {"x": 10}}
    cur = {"a": {"x": 10}, "b": {"x": 20}, "c": {"x": 30}, "p": {"x": 1000}, "q": {"x": -5}}  # s did not submit
    r = run(cat, reg, 2021, cur, prev)
    up = r.upgrade_candidates.set_index("zone_code")
    assert set(up.index) == {"p", "q"}
    # p: value clipped to U=30 → 100; growth 9900% clipped to U=200 → 100
    assert up.loc["p", "total_score"] == pytest.approx(100.0)
    assert up.loc["p", "equivalent_national_rank"] == 1 and up.loc["p", "candidate_rank"] == 1
    # q: value clipped to L=10 → 0; growth no_base → cohort median (50)
    med = r.indicator_bounds.set_index("indicator_code").loc["G", "imputed_score"]
    assert up.loc["q", "total_score"] == pytest.approx(med / 2)
    nat = np.round(r.rankings.total_score.to_numpy(), 6)
    assert up.loc["q", "equivalent_national_rank"] == 1 + int((nat > round(med / 2, 6)).sum())
    assert "p" not in set(r.rankings.zone_code)


def test_scaling_near_the_largest_double_stays_within_0_100():
    """A ratio over a subnormal denominator (~9e307) must not overflow 100·(c − L) to inf (found by hypothesis)."""
    cat = make_catalogue([dict(RATIO, scale=1)])
    r = run(cat, EAST3, 2020, {"a": {"x": 1.0, "d": 1.1125369292536007e-308}, "b": {"x": 0.0, "d": 1.0},
                               "c": {"x": None, "d": 1.0}})
    assert scores_of(r, "R") == pytest.approx({"a": 100.0, "b": 0.0, "c": 0.0})


def test_top100_holds_rank_100_and_not_rank_101():
    # 102 zones with distinct scores, ranks 1…102; then two zones tied at 100th: both in the top 100
    zones = [f"z{i:03d}" for i in range(102)]
    reg = make_registry([(z, "east", "P") for z in zones])
    cat = make_catalogue([VALUE])
    r = run(cat, reg, 2020, {z: {"x": 1000 - i} for i, z in enumerate(zones)})
    top = dict(zip(r.rankings.national_rank.astype(int), r.rankings.top100))
    assert top[99] and top[100] and not top[101] and not top[102]
    tied = {z: {"x": 1000 - min(i, 99)} for i, z in enumerate(zones)}  # z099, z100, z101 share rank 100
    rk = run(cat, reg, 2020, tied).rankings.set_index("zone_code")
    assert (rk.loc[["z099", "z100", "z101"], "national_rank"] == 100).all() and rk.top100.sum() == 102


def test_downgrade_window_starts_at_its_first_year_and_not_before():
    # window 3 in 2021 is 2019…2021: a bottom year in 2019 counts, one in 2018 does not
    reg = make_registry([(z, "east", "P") for z in "abcd"])
    cat = make_catalogue([VALUE], downgrade={"rule": "regional_bottom", "bottom_n": 1, "window": 3, "times": 2})
    def bottom(zone):  # the year's values with ``zone`` last in the region
        return {z: {"x": 1 if z == zone else 5 + i} for i, z in enumerate("abcd")}

    out = _history_run(cat, reg, {2018: bottom("d"), 2019: bottom("a"), 2020: bottom("b"), 2021: bottom("d")})
    assert set(out[2021].downgrade_watchlist.zone_code) == set()  # d: 2018 and 2021 — 2018 is outside
    out = _history_run(cat, reg, {2018: bottom("a"), 2019: bottom("d"), 2020: bottom("b"), 2021: bottom("d")})
    assert set(out[2021].downgrade_watchlist.zone_code) == {"d"}  # d: 2019 (the window's first year) and 2021


def test_ranks_compare_scores_rounded_to_6_decimals_not_5():
    from etdz.scoring.ranks import competition_rank

    # 10.0000049 → 10.000005 ahead of 10.0000041 and 10.00000449 (both 10.000004, tied); at 5 decimals all
    # three would be 10.00000 and tied first
    s = pd.Series([10.0000041, 10.0000049, 9.0, 10.00000449])
    assert competition_rank(s).tolist() == [2, 1, 4, 2]
