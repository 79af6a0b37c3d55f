"""The downgrade window's one home (etdz/scoring/downgrade.py) and the years every caller derives from it."""

from __future__ import annotations

import numpy as np

from etdz.catalogue import Downgrade
from etdz.scoring.downgrade import enters_watchlist, history_years, rule_window, window_years, years_back
from tests.scoring.conftest import make_catalogue

REGIONAL3 = Downgrade("regional_bottom", 1, 3, 2)
REGIONAL1 = Downgrade("regional_bottom", 1, 1, 1)
NATIONAL = Downgrade("national_consecutive", 2, 2, 2)
VALUE = {"code": "V", "category": "A", "direction": "higher", "kind": "value", "measure": "x"}


def test_the_window_is_y_minus_window_plus_one_to_y():
    assert window_years(2021, REGIONAL3) == [2019, 2020, 2021]
    assert window_years(2021, NATIONAL) == [2020, 2021] and rule_window(NATIONAL) == (2, 2)
    assert window_years(2021, REGIONAL1) == [2021]


def test_the_scoring_reads_the_window_s_earlier_years_and_the_previous_year():
    assert history_years(2021, REGIONAL3) == [2019, 2020]
    assert history_years(2021, NATIONAL) == [2020]
    assert history_years(2021, REGIONAL1) == [2020]  # the previous rank still needs Y−1
    assert history_years(2021, None) == [2020]


def test_the_rankings_asset_spans_the_widest_window_of_any_catalogue():
    cats = [make_catalogue([VALUE]),
            make_catalogue([VALUE], downgrade={"rule": "regional_bottom", "bottom_n": 1, "window": 4, "times": 2}),
            make_catalogue([VALUE], downgrade={"rule": "national_consecutive", "bottom_n": 2})]
    assert years_back(cats) == 3 and years_back(cats[:1]) == 1 and years_back([]) == 1
    assert years_back(cats[2:]) == 1


def test_a_zone_enters_the_watchlist_at_exactly_times_bottom_years():
    # REGIONAL3 needs 2 bottom years in 3: one earlier + bottom now enters, one earlier alone or none + now do not
    earlier, now = np.array([1, 1, 0, 2, 2]), np.array([1, 0, 1, 0, 1])
    assert enters_watchlist(earlier, now, REGIONAL3).tolist() == [True, False, False, True, True]
    # national_consecutive: bottom in Y−1 and in Y, both needed
    assert enters_watchlist(np.array([1, 1, 0]), np.array([1, 0, 1]), NATIONAL).tolist() == [True, False, False]
    assert bool(enters_watchlist(0, 1, REGIONAL1)) and not bool(enters_watchlist(0, 0, REGIONAL1))
