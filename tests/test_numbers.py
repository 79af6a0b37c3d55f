"""The number syntax of docs/contract/02-inputs.md §2.1."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from etdz.numbers import INVALID_MARK, NUMBER_REGEX, format_number, parse_value, whole_gap
from etdz.validation.suite import WHOLE_TOLERANCE


@pytest.mark.parametrize("raw, value", [
    ("-3", -3.0), ("12.5", 12.5), ("2e-06", 2e-06), ("+7", 7.0), ("0", 0.0), (".5", 0.5), ("5.", 5.0), ("1E3", 1000.0),
])
def test_usual_syntax_is_accepted_without_warning(raw, value):
    p = parse_value(raw)
    assert p.ok and p.value == value and p.normalised == ()


@pytest.mark.parametrize("raw, value, kinds", [
    ("１２３．５", 123.5, {"fullwidth"}),
    ("－３", -3.0, {"fullwidth"}),
    ("\u22123", -3.0, {"fullwidth"}),
    ("1,234.5", 1234.5, {"thousands"}),
    ("1,234,567", 1234567.0, {"thousands"}),
    ("１，２３４", 1234.0, {"fullwidth", "thousands"}),
    ("  12 ", 12.0, {"spaces"}),
    ("\u300012\u3000", 12.0, {"spaces"}),
    ("\u00a012", 12.0, {"spaces"}),
])
def test_normalised_with_a_warning(raw, value, kinds):
    p = parse_value(raw)
    assert p.ok and p.value == value
    assert set(p.normalised) == kinds


def test_percent_only_where_the_canonical_unit_is_percent():
    assert parse_value("12%", percent_ok=True).value == 12.0
    assert "percent" in parse_value("12%", percent_ok=True).normalised
    assert parse_value("１２％", percent_ok=True).value == 12.0
    bad = parse_value("12%", percent_ok=False)
    assert bad.value is None and bad.error and "%" in bad.error


@pytest.mark.parametrize("raw", [
    "约300", "N/A", "—", "1.2.3", "inf", "-inf", "nan", "NaN", "1_000", "0x10", "1,2", "12,34.5", "1e400", "3万",
    "12 34", "--3", "1e", "e5", "+", ".", "1,234,", "TRUE",
])
def test_invalid_values(raw):
    p = parse_value(raw)
    assert p.value is None and p.error
    assert p.text.startswith(INVALID_MARK)
    assert not re.match(NUMBER_REGEX, p.text)


@pytest.mark.parametrize("raw", [None, "", "   ", "\u3000", float("nan")])
def test_empty_means_not_reported(raw):
    p = parse_value(raw)
    assert p.empty and p.value is None and p.error is None


def test_spreadsheet_cells():
    assert parse_value(2022.0).value == 2022.0
    assert parse_value(35).value == 35.0
    assert parse_value(1e-06).text == "1e-06"
    assert parse_value(True).error
    import datetime as dt
    assert parse_value(dt.datetime(2022, 1, 1)).error
    assert parse_value(float("inf")).error


def test_whole_ness_relative_tolerance():
    assert all(whole_gap(v) <= WHOLE_TOLERANCE for v in (12.0, 1.2 * 10000, 3 + 1e-12, 0.0))
    assert all(whole_gap(v) > WHOLE_TOLERANCE for v in (2.5, 1e-10, 100.001))
    assert whole_gap(0.0) == 0.0 and whole_gap(2.5) == pytest.approx(0.2)
    assert math.isnan(whole_gap(math.inf))  # an overflowed conversion has no gap (round(inf) used to raise)


_HALVES = st.sampled_from([0.5, 1.5, 2.5, -2.5, -0.0, 2.0**53 + 2])


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False) | _HALVES, min_size=1, max_size=20))
def test_whole_gap_of_an_array_is_the_gap_of_each_value_with_pythons_round(values):
    def one(v: float) -> float:  # the definition, with Python's round (half to even)
        r = round(v)
        denom = max(abs(v), abs(r))
        return 0.0 if denom == 0 else abs(v - r) / denom

    assert whole_gap(np.array(values)).tolist() == [one(v) for v in values]
    assert [whole_gap(v) for v in values] == [one(v) for v in values]


def test_format_number():
    assert format_number(2800.0) == "2800" and format_number(0.25) == "0.25" and format_number(None) == ""


@given(st.floats(allow_nan=False, allow_infinity=False, min_value=-1e300, max_value=1e300))
def test_any_float_written_plainly_parses_back(x):
    p = parse_value(repr(x))
    assert p.ok and p.value == x and p.normalised == ()


@given(st.integers(min_value=1000, max_value=10**15))
def test_thousands_grouping_round_trips(n):
    p = parse_value(f"{n:,}")
    assert p.value == float(n) and "thousands" in p.normalised


@given(st.text(max_size=12))
def test_parser_never_raises_and_is_consistent(s):
    p = parse_value(s)
    if p.value is not None:
        assert math.isfinite(p.value) and re.match(NUMBER_REGEX, p.text)
    elif p.text is not None:
        assert p.error and not re.match(NUMBER_REGEX, p.text)
