"""The method's steps one by one (treat, normalise, impute, aggregate, rank, bottom n), as every caller uses them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etdz.scoring.aggregate import category_scores, category_weights, indicator_weights, total_score
from etdz.scoring.downgrade import bottom_flags, in_bottom
from etdz.scoring.impute import impute, imputed_score
from etdz.scoring.normalise import min_max
from etdz.scoring.ranks import competition_rank, competition_ranks
from etdz.scoring.scores import score_indicator, score_on_bounds
from etdz.scoring.treat import clip, treatment_bounds
from tests.scoring.conftest import make_catalogue

OK, MISSING, NO_BASE = "ok", "missing", "no_base"


def test_treat_takes_bounds_over_finite_ok_values_and_clips_infinities_to_them():
    values = np.array([0.0, 10.0, 20.0, 1000.0, math.inf, np.nan, 5.0])
    status = np.array([OK, OK, OK, OK, OK, NO_BASE, MISSING], dtype=object)
    assert treatment_bounds(values, status, None) == (0.0, 1000.0, 257.5, 4)
    lower, upper, _, _ = treatment_bounds(values, status, (0.25, 0.75))
    assert (lower, upper) == (7.5, 265.0)  # linear interpolation over F = {0, 10, 20, 1000}
    assert clip(np.array([-math.inf, 8.0, math.inf]), lower, upper).tolist() == [7.5, 8.0, 265.0]
    empty = np.array([math.inf, np.nan])
    assert treatment_bounds(empty, np.array([OK, MISSING], dtype=object), None) == (None, None, None, 0)


def test_normalise_follows_the_direction_and_scores_100_without_spread():
    clipped = np.array([0.0, 25.0, 100.0])
    assert min_max(clipped, 0.0, 100.0, "higher").tolist() == [0.0, 25.0, 100.0]
    assert min_max(clipped, 0.0, 100.0, "lower").tolist() == [100.0, 75.0, 0.0]
    assert min_max(clipped, 5.0, 5.0, "higher").tolist() == [100.0] * 3  # U = L
    assert min_max(clipped, None, None, "lower").tolist() == [100.0] * 3  # F empty


def test_impute_gives_missing_zero_and_no_base_the_median_or_zero():
    scores = np.array([10.0, 20.0, 90.0, np.nan, np.nan])
    status = np.array([OK, OK, OK, MISSING, NO_BASE], dtype=object)
    assert imputed_score(scores, status) == 20.0
    assert imputed_score(scores, status, "zero") == 0.0
    assert imputed_score(scores, np.array([MISSING] * 4 + [NO_BASE], dtype=object)) == 0.0  # no ok zone
    out, flags = impute(scores, status, 20.0)
    assert out.tolist() == [10.0, 20.0, 90.0, 0.0, 20.0] and flags.tolist() == [False] * 4 + [True]
    with pytest.raises(ValueError, match="no_base option"):
        imputed_score(scores, status, "mean")


def test_upgrade_scores_reuse_the_cohort_bounds_and_imputed_score():
    values = np.array([0.0, 50.0, 100.0, np.nan])
    status = np.array([OK, OK, OK, NO_BASE], dtype=object)
    scores, imputed, bounds = score_indicator(values, status, "higher", None)
    assert scores.tolist() == [0.0, 50.0, 100.0, 50.0] and imputed.tolist() == [False, False, False, True]
    # a candidate beyond the cohort's U is clipped to it; its no_base takes the cohort's median, not its own
    candidates = score_on_bounds(np.array([200.0, 25.0, np.nan, np.nan]),
                                 np.array([OK, OK, NO_BASE, MISSING], dtype=object), "higher", bounds)
    assert candidates.tolist() == [100.0, 25.0, 50.0, 0.0]
    zero = score_indicator(values, status, "higher", None, no_base="zero")
    assert zero[0].tolist() == [0.0, 50.0, 100.0, 0.0] and zero[2].imputed_score == 0.0


def test_aggregate_takes_one_weight_vector_or_one_row_per_sample():
    catalogue = make_catalogue(
        [{"code": "A1", "category": "A", "direction": "higher", "kind": "value", "measure": "x"},
         {"code": "B1", "category": "B", "direction": "higher", "kind": "value", "measure": "y", "weight": 3},
         {"code": "A2", "category": "A", "direction": "higher", "kind": "value", "measure": "y", "weight": 3}],
        categories=[{"code": "A", "weight": 0.75}, {"code": "B", "weight": 0.25}])
    scores = np.array([[100.0, 40.0, 0.0], [0.0, 80.0, 100.0]])  # indicators in catalogue order A1, B1, A2
    a, b = category_scores(scores, catalogue, indicator_weights(catalogue))
    assert a.tolist() == [25.0, 75.0] and b.tolist() == [40.0, 80.0]
    assert total_score([a, b], category_weights(catalogue)).tolist() == [28.75, 76.25]
    # two samples: the nominal weights, then A1 weighted 3 instead of 1 and the categories 50/50
    w = np.array([[1.0, 3.0, 3.0], [3.0, 3.0, 3.0]])
    cw = np.array([[0.75, 0.25], [0.5, 0.5]])
    sampled = total_score(category_scores(scores, catalogue, w), cw)
    assert sampled.shape == (2, 2)  # zones × samples
    assert sampled[:, 0].tolist() == [28.75, 76.25] and sampled[:, 1].tolist() == [45.0, 65.0]


@settings(max_examples=80, deadline=None, derandomize=True)
@given(st.lists(st.lists(st.sampled_from([0.0, 1.5, 2.0, 33.333333, 33.3333334, 100.0]), min_size=1, max_size=12),
                min_size=1, max_size=5).filter(lambda rows: len({len(r) for r in rows}) == 1))
def test_array_ranks_are_the_competition_ranks_of_every_row(rows):
    values = np.round(np.array(rows), 6)
    got = competition_ranks(values)
    for row, ranks in zip(values, got):
        assert ranks.tolist() == competition_rank(pd.Series(row)).tolist()


def test_bottom_n_rule_is_one_function_for_frames_and_arrays():
    rankings = pd.DataFrame({"zone_code": list("abcdef"), "region": list("eeeeww"),
                             "regional_rank": [1, 2, 3, 3, 1, 2], "national_rank": [1, 2, 4, 4, 3, 6]})
    assert bottom_flags(rankings, 2, "regional_bottom").tolist() == [False, False, True, True, True, True]
    assert bottom_flags(rankings, 2, "national_consecutive").tolist() == [False] * 5 + [True]
    assert in_bottom(np.array([[1, 3], [4, 2]]), 4, 2).tolist() == [[False, True], [True, False]]
