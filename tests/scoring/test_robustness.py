"""Rank robustness (docs/contract/03-scoring.md §3.9) against a plain loop over the samples, written here from the
text."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etdz.catalogue import CatalogueError, Robustness
from etdz.scoring import robustness as robustness_module
from etdz.scoring.downgrade import bottom_flags
from etdz.scoring.robustness import draw, rank_robustness, robustness_inputs
from tests.scoring.conftest import make_catalogue, make_registry, run

YEAR = 2022
INDICATORS = [
    {"code": "A1", "category": "A", "direction": "higher", "kind": "value", "measure": "x"},
    {"code": "A2", "category": "A", "direction": "lower", "kind": "ratio", "numerator": "y", "denominator": "x",
     "weight": 2},
    {"code": "A3", "category": "A", "direction": "higher", "kind": "growth", "measure": "x"},
    {"code": "B1", "category": "B", "direction": "higher", "kind": "value", "measure": "y", "weight": 0.5},
    {"code": "B2", "category": "B", "direction": "lower", "kind": "growth", "measure": "y"},
    {"code": "C1", "category": "C", "direction": "higher", "kind": "value", "measure": "z"},
]
CATEGORIES = [{"code": "A", "weight": 0.5}, {"code": "B", "weight": 0.3}, {"code": "C", "weight": 0.2}]
DOWNGRADE = {"rule": "regional_bottom", "bottom_n": 5, "window": 3, "times": 2}
OPTIONS = {"winsorise_options": [[0.05, 0.95], None], "no_base_options": ["median", "zero"]}


def cohort(n_zones: int = 160, seed: int = 7):
    """A cohort with outliers, missing values, zones without a file, no_base and zero-base growth, ties."""
    rng = np.random.default_rng(seed)
    zones = [f"Z{i:03d}" for i in range(n_zones)]
    regions = {z: ("east", "central", "west")[i % 3] for i, z in enumerate(zones)}
    registry = make_registry([(z, regions[z], f"P{i % 7}") for i, z in enumerate(zones)])

    def figure():
        if rng.random() < 0.05:
            return None  # left empty: the indicator is missing
        return float(rng.lognormal(3, 1.2)) if rng.random() < 0.95 else float(rng.choice([0.0, 5000.0]))

    current = {z: {"x": figure(), "y": figure(), "z": figure()} for z in zones}
    previous = {z: {"x": figure(), "y": figure(), "z": figure()} for z in zones if rng.random() < 0.75}
    previous[zones[0]]["x"] = 0.0  # growth from a zero base: +inf
    accepted = [z for z in zones if rng.random() > 0.04]
    return registry, regions, current, previous, accepted


def score(catalogue, data):
    registry, _, current, previous, accepted = data
    return run(catalogue, registry, YEAR, current, previous, accepted=accepted)


def reference(data, seed: int, samples: int, weights: float, category_weights: float | None = None,
              downgrade: dict = DOWNGRADE, history: dict[int, pd.DataFrame] | None = None) -> pd.DataFrame:
    """§3.9 as a plain loop over the samples; the variants come from the nominal scorer run with each option.

    ``history``: rankings of earlier years on record (zone_code, region, national_rank, regional_rank), for
    step 5's ``p_candidate`` under ``downgrade``'s rule, counted here from the text of §3.6 and §3.9 alone.
    """
    _, regions, *_ = data
    codes = [i["code"] for i in INDICATORS]
    variants = {}
    for a, option in enumerate(OPTIONS["winsorise_options"]):
        scored = score(make_catalogue(INDICATORS, CATEGORIES, winsorise=option), data)
        wide = scored.indicator_scores.pivot(index="zone_code", columns="indicator_code", values=["score", "status"])
        s, status = wide["score"][codes].astype(float), wide["status"][codes]
        assert (status == "no_base").any().any()  # the no_base options must matter
        for b, no_base in enumerate(OPTIONS["no_base_options"]):
            variants[a, b] = s.where(status != "no_base", 0.0) if no_base == "zero" else s
    zones = list(variants[0, 0].index)
    region = pd.Series(regions)[zones]
    region_size = region.map(region.value_counts())

    c = weights if category_weights is None else category_weights
    rng = np.random.default_rng(seed)
    f = rng.uniform(1 - weights, 1 + weights, size=(samples, len(INDICATORS)))
    g = rng.uniform(1 - c, 1 + c, size=(samples, len(CATEGORIES)))
    a = rng.integers(0, len(OPTIONS["winsorise_options"]), size=samples)
    b = rng.integers(0, len(OPTIONS["no_base_options"]), size=samples)

    # step 5: the earlier years of the window as on record, each zone's bottom-n years among them
    n_bottom, national_rule = downgrade["bottom_n"], downgrade["rule"] == "national_consecutive"
    window, times = (2, 2) if national_rule else (downgrade["window"], downgrade["times"])
    earlier = dict.fromkeys(zones, 0)
    for t in range(YEAR - window + 1, YEAR):
        past = (history or {}).get(t)
        if past is None:
            continue  # not on record
        for _, row in past.iterrows():
            if row.zone_code not in earlier:
                continue  # not in Y's cohort
            if national_rule:
                was_bottom = row.national_rank >= len(past) - n_bottom + 1
            else:
                was_bottom = row.regional_rank >= (past.region == row.region).sum() - n_bottom + 1
            earlier[row.zone_code] += int(was_bottom)
    n_zones = len(zones)

    ranks = {z: [] for z in zones}
    top, bottom, national_bottom, candidate = (dict.fromkeys(zones, 0) for _ in range(4))
    for n in range(samples):
        s = variants[a[n], b[n]]
        w = {ind["code"]: ind.get("weight", 1) * f[n, i] for i, ind in enumerate(INDICATORS)}
        cat_w = [k["weight"] * g[n, j] for j, k in enumerate(CATEGORIES)]
        total = pd.Series(0.0, index=zones)
        for j, k in enumerate(CATEGORIES):
            members = [ind["code"] for ind in INDICATORS if ind["category"] == k["code"]]
            category = sum(w[c] * s[c] for c in members) / sum(w[c] for c in members)
            total += cat_w[j] / sum(cat_w) * category
        rounded = pd.Series(np.round(total.to_numpy(), 6), index=zones)
        national = rounded.rank(method="min", ascending=False).astype(int)
        regional = rounded.groupby(region).rank(method="min", ascending=False).astype(int)
        for z in zones:
            ranks[z].append(national[z])
            top[z] += national[z] <= 100
            in_region_bottom = regional[z] >= region_size[z] - n_bottom + 1
            in_national_bottom = national[z] >= n_zones - n_bottom + 1
            bottom[z] += in_region_bottom
            national_bottom[z] += in_national_bottom
            if national_rule:
                candidate[z] += earlier[z] >= 1 and in_national_bottom  # bottom in Y−1 on record and in this sample
            else:
                candidate[z] += earlier[z] + int(in_region_bottom) >= times

    def inverted_cdf(values, q):  # the smallest rank r with (share of samples <= r) >= q
        return sorted(values)[max(math.ceil(q * samples), 1) - 1]

    return pd.DataFrame([{"zone_code": z, "rank_median": inverted_cdf(ranks[z], 0.5),
                          "rank_p05": inverted_cdf(ranks[z], 0.05), "rank_p95": inverted_cdf(ranks[z], 0.95),
                          "p_top100": top[z] / samples, "p_region_bottom": bottom[z] / samples,
                          "p_national_bottom": national_bottom[z] / samples, "p_candidate": candidate[z] / samples}
                         for z in zones])


def robustness(data, section: dict | None, downgrade=DOWNGRADE, winsorise=(0.05, 0.95), history=None,
               **kw) -> pd.DataFrame:
    catalogue = make_catalogue(INDICATORS, CATEGORIES, winsorise=winsorise, downgrade=downgrade, robustness=section)
    scored = score(catalogue, data)
    return rank_robustness(robustness_inputs(YEAR, catalogue, scored.indicator_scores, scored.rankings, history),
                           **kw)


@pytest.fixture(scope="module")
def data():
    return cohort()


COMPARED = ("rank_median", "rank_p05", "rank_p95", "p_top100", "p_region_bottom", "p_national_bottom", "p_candidate")


def assert_same(want: pd.DataFrame, got: pd.DataFrame) -> pd.DataFrame:
    merged = want.merge(got, on="zone_code", suffixes=("_want", ""), validate="one_to_one")
    assert len(merged) == len(want) == len(got)
    for col in COMPARED:
        assert (merged[f"{col}_want"] == merged[col]).all(), merged.loc[merged[f"{col}_want"] != merged[col]]
    return merged


@pytest.mark.parametrize("seed, weights, category_weights", [(1, 0.25, None), (2021, 0.25, None), (3, 0.25, 0.0),
                                                             (4, 0.1, 0.4)])
def test_matches_a_plain_loop_over_the_samples(data, seed, weights, category_weights):
    section = {"samples": 200, "seed": seed, "weights": weights, **OPTIONS}
    if category_weights is not None:
        section["category_weights"] = category_weights
    got = robustness(data, section)
    want = reference(data, seed, samples=200, weights=weights, category_weights=category_weights)
    assert_same(want, got)
    assert len(got) == 160
    # the variants really spread the ranks, and the top-100 line is crossed both ways
    assert (got.rank_p95 > got.rank_p05).mean() > 0.5
    assert ((got.p_top100 > 0) & (got.p_top100 < 1)).any()
    assert ((got.p_region_bottom > 0) & (got.p_region_bottom < 1)).any()
    assert (got.samples == 200).all() and (got.seed == seed).all() and (got.method_version == "T1").all()


# ---------------------------------------------------------------- p_candidate (§3.9 step 5)

def past_rankings(data, years, seed: int = 11) -> dict[int, pd.DataFrame]:
    """Earlier years "on record": Y's nominal totals plus noise, ranked by hand (competition ranks, nationally
    and within each region), so zones near the bottom now tend to have been near it before. One zone of Y is
    missing from them (it joined in Y) and one zone ranked then has left the cohort since."""
    nominal = score(make_catalogue(INDICATORS, CATEGORIES, winsorise=(0.05, 0.95)), data).rankings
    rng = np.random.default_rng(seed)
    out = {}
    for t in years:
        r = nominal[["zone_code", "region", "total_score"]].iloc[1:].copy()  # Z000 joined in Y
        r = pd.concat([r, pd.DataFrame([{"zone_code": "GONE", "region": "west", "total_score": 0.0}])])
        r["total_score"] = r.total_score + rng.normal(0, 4, len(r))
        r["national_rank"] = r.total_score.rank(method="min", ascending=False).astype(int)
        r["regional_rank"] = r.groupby("region").total_score.rank(method="min", ascending=False).astype(int)
        out[t] = r.assign(method_version="T1").reset_index(drop=True)
    return out


NATIONAL = {"rule": "national_consecutive", "bottom_n": 10}  # (5 would fall inside the tie of the zones without a file)


@pytest.mark.parametrize("downgrade, on_record", [
    (DOWNGRADE, [YEAR - 2, YEAR - 1]),        # both earlier years of the window on record
    (DOWNGRADE, [YEAR - 2]),                  # Y−1 never run
    (DOWNGRADE, []),                          # nothing on record: only Y counts, twice is impossible
    ({"rule": "regional_bottom", "bottom_n": 8, "window": 3, "times": 1}, []),  # once is enough
    (NATIONAL, [YEAR - 1]),
    (NATIONAL, [YEAR - 2]),                   # outside national_consecutive's window: does not count
    (NATIONAL, []),
])
def test_p_candidate_matches_a_plain_loop(data, downgrade, on_record):
    history = past_rankings(data, on_record)
    section = {"samples": 150, "seed": 8, "weights": 0.25, **OPTIONS}
    got = robustness(data, section, downgrade=downgrade, history=history)
    want = reference(data, 8, samples=150, weights=0.25, downgrade=downgrade, history=history)
    assert_same(want, got)
    p = got.p_candidate
    counted = [t for t in on_record if t == YEAR - 1 or downgrade["rule"] == "regional_bottom"]
    if counted or downgrade.get("times") == 1:
        assert ((p > 0) & (p < 1)).any(), "the sampled year decides some zones' candidacy"
    else:  # no earlier year in the window on record: no zone can be in the bottom twice
        assert (p == 0).all()


def test_p_candidate_is_the_nominal_watchlist_when_nothing_varies(data):
    """With every spread 0 and one option, every sample is the nominal ranking: p_candidate is 1 exactly
    for the scorer's watch-list (same history) and 0 for every other zone."""
    history = past_rankings(data, [YEAR - 2, YEAR - 1])
    registry, _, current, previous, accepted = data
    for downgrade in (DOWNGRADE, NATIONAL):
        section = {"samples": 30, "seed": 1, "weights": 0, "category_weights": 0,
                   "winsorise_options": [[0.05, 0.95]], "no_base_options": ["median"]}
        catalogue = make_catalogue(INDICATORS, CATEGORIES, winsorise=(0.05, 0.95), downgrade=downgrade,
                                   robustness=section)
        scored = run(catalogue, registry, YEAR, current, previous, history=history, accepted=accepted)
        got = rank_robustness(robustness_inputs(YEAR, catalogue, scored.indicator_scores, scored.rankings, history))
        listed = set(scored.downgrade_watchlist.zone_code)
        assert listed, "the history puts some zones on the watch-list"
        assert (got.p_candidate == got.zone_code.isin(listed).astype(float)).all()


def test_without_a_downgrade_section_p_candidate_is_null(data):
    got = robustness(data, {"samples": 20, **OPTIONS}, downgrade=None, history=past_rankings(data, [YEAR - 1]))
    assert got.p_candidate.isna().all() and got.p_national_bottom.isna().all() and got.p_region_bottom.isna().all()


# ---------------------------------------------------------------- the draws (§3.9 step 2)

def test_draws_are_made_in_order_and_category_weights_0_keeps_the_stream_aligned():
    fixed = Robustness(samples=50, weights=0.25, category_weights=0.0, winsorise_options=((0.05, 0.95), None),
                       no_base_options=("median", "zero"))
    varied = Robustness(samples=50, weights=0.25, category_weights=0.4, winsorise_options=((0.05, 0.95), None),
                        no_base_options=("median", "zero"))
    a, b = draw(fixed, 2021, 6, 3), draw(varied, 2021, 6, 3)
    assert (a.category_factors == 1).all()  # c = 0: all ones ...
    assert not (b.category_factors == 1).all()
    # ... but drawn all the same: f, a and b are the very numbers of the varied draws
    assert (a.indicator_factors == b.indicator_factors).all()
    assert (a.winsorise_choice == b.winsorise_choice).all() and (a.no_base_choice == b.no_base_choice).all()
    rng = np.random.default_rng(2021)  # the contract's order, by hand
    f = rng.uniform(0.75, 1.25, size=(50, 6))
    g = rng.uniform(0.6, 1.4, size=(50, 3))
    wins, nob = rng.integers(0, 2, size=50), rng.integers(0, 2, size=50)
    assert (b.indicator_factors == f).all() and (b.category_factors == g).all()
    assert (b.winsorise_choice == wins).all() and (b.no_base_choice == nob).all()
    # category_weights absent: = weights
    default = draw(Robustness(samples=50, weights=0.25, winsorise_options=((0.05, 0.95), None),
                              no_base_options=("median", "zero")), 2021, 6, 3)
    rng = np.random.default_rng(2021)
    rng.uniform(0.75, 1.25, size=(50, 6))
    assert (default.category_factors == rng.uniform(0.75, 1.25, size=(50, 3))).all()


def test_nominal_rank_is_the_rankings_rank_and_blocks_do_not_change_the_result(data):
    section = {"samples": 60, "seed": 5, **OPTIONS}
    whole = robustness(data, section)
    in_blocks = robustness(data, section, block_bytes=8 * 160 * 7)  # 7 samples per block
    pd.testing.assert_frame_equal(whole, in_blocks)
    scored = score(make_catalogue(INDICATORS, CATEGORIES, winsorise=(0.05, 0.95)), data)
    nominal = scored.rankings.set_index("zone_code").national_rank.astype(int)
    assert (whole.set_index("zone_code").rank_nominal == nominal.reindex(whole.zone_code)).all()
    assert whole.rank_nominal.is_monotonic_increasing  # listed in nominal order


@pytest.mark.parametrize("threads", [1, 2, 5])
def test_the_blocks_give_the_same_result_on_any_number_of_threads(data, threads, monkeypatch):
    # the blocks run on every core (threads): the ranks, quantiles and every count must not depend on it
    section = {"samples": 60, "seed": 5, **OPTIONS}
    monkeypatch.setattr(robustness_module, "cores", lambda: 1)
    one = robustness(data, section, block_bytes=8 * 160 * 7)
    monkeypatch.setattr(robustness_module, "cores", lambda: threads)
    many = robustness(data, section, block_bytes=8 * 160 * 7 * threads)  # the same 7 samples a block
    pd.testing.assert_frame_equal(one, many)
    assert one.p_candidate.notna().all() and (one.p_region_bottom > 0).any()


def test_seed_defaults_to_the_data_year_and_p_region_bottom_needs_a_downgrade_rule(data):
    by_default = robustness(data, {"samples": 40, **OPTIONS})
    explicit = robustness(data, {"samples": 40, "seed": YEAR, **OPTIONS})
    assert (by_default.seed == YEAR).all()
    pd.testing.assert_frame_equal(by_default, explicit)
    assert robustness(data, {"samples": 40, **OPTIONS}, downgrade=None).p_region_bottom.isna().all()


def test_an_explicit_seed_argument_overrides_the_catalogue(data):
    a = robustness(data, {"samples": 40, "seed": 3, **OPTIONS})
    b = robustness(data, {"samples": 40, "seed": 4, **OPTIONS})
    c = robustness(data, {"samples": 40, "seed": 4, **OPTIONS}, seed=3)
    assert not a.equals(b)
    pd.testing.assert_frame_equal(a, c)


# ---------------------------------------------------------------- with no uncertainty, the interval is the rank

value = st.one_of(st.none(), st.floats(min_value=0, max_value=1e6, allow_nan=False), st.sampled_from([0.0, 1.0, 5.0]))


@st.composite
def small_years(draw):
    n = draw(st.integers(min_value=1, max_value=15))
    zones = [f"z{i:02d}" for i in range(n)]
    regions = {z: draw(st.sampled_from(["east", "central", "west"])) for z in zones}
    registry = make_registry([(z, regions[z], "P") for z in zones])
    figures = st.fixed_dictionaries({"x": value, "y": value, "z": value})
    current = {z: draw(figures) for z in zones}
    previous = {z: draw(figures) for z in zones if draw(st.booleans())}
    accepted = [z for z in zones if draw(st.integers(0, 9)) > 0]
    winsorise = draw(st.sampled_from([None, (0.05, 0.95), (0.1, 0.9)]))
    category_weights = draw(st.sampled_from([(0.5, 0.3, 0.2), (0.25, 0.25, 0.5), (0.7, 0.2, 0.1)]))
    return (registry, regions, current, previous, accepted), winsorise, category_weights


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(small_years(), st.integers(min_value=0, max_value=2**32))
def test_with_fixed_weights_and_one_option_every_interval_is_the_nominal_rank(case, seed):
    data, winsorise, category_weights = case
    categories = [dict(k, weight=w) for k, w in zip(CATEGORIES, category_weights)]
    own = list(winsorise) if winsorise else None
    catalogue = make_catalogue(INDICATORS, categories, winsorise=winsorise, downgrade=DOWNGRADE,
                               robustness={"samples": 25, "seed": seed, "weights": 0,
                                           "winsorise_options": [own], "no_base_options": ["median"]})
    scored = score(catalogue, data)
    got = rank_robustness(robustness_inputs(YEAR, catalogue, scored.indicator_scores, scored.rankings))
    for col in ("rank_median", "rank_p05", "rank_p95"):
        assert (got[col] == got.rank_nominal).all(), got
    nominal = scored.rankings.assign(bottom=bottom_flags(scored.rankings, DOWNGRADE["bottom_n"], "regional_bottom"))
    expected = nominal.set_index("zone_code").bottom.astype(float).reindex(got.zone_code).to_numpy()
    assert (got.p_region_bottom.to_numpy() == expected).all()
    assert (got.p_top100 == (got.rank_nominal <= 100).astype(float)).all()


# -------------------------------------------------------- the catalogue section (docs/contract/02-inputs.md §2.3)

def test_an_absent_section_or_key_takes_the_defaults():
    assert make_catalogue(INDICATORS, CATEGORIES, winsorise=(0.1, 0.9)).robustness == Robustness(
        samples=1000, seed=None, weights=0.25, winsorise_options=((0.1, 0.9),), no_base_options=("median",))
    assert make_catalogue(INDICATORS, CATEGORIES).robustness.winsorise_options == (None,)
    partial = make_catalogue(INDICATORS, CATEGORIES, winsorise=(0.05, 0.95), robustness={"samples": 10, "weights": 0})
    assert partial.robustness == Robustness(10, None, 0.0, ((0.05, 0.95),), ("median",))
    full = make_catalogue(INDICATORS, CATEGORIES, robustness={"seed": 9, **OPTIONS})
    assert full.robustness.winsorise_options == ((0.05, 0.95), None)
    assert full.robustness.no_base_options == ("median", "zero") and full.robustness.seed == 9
    assert full.robustness.category_weights is None and full.robustness.category_spread == 0.25  # = weights
    fixed = make_catalogue(INDICATORS, CATEGORIES, robustness={"weights": 0.1, "category_weights": 0})
    assert fixed.robustness.category_weights == 0 and fixed.robustness.category_spread == 0


def test_the_shipped_catalogues_vary_what_their_method_left_unpublished():
    """02-inputs.md "Robustness analysis": 2016 published neither weights nor normalisation; 2021 published its
    category weights (fixed) but not the indicator weights or the normalisation."""
    from etdz.catalogue import load_catalogues

    by_version = {c.version: c.robustness for c in load_catalogues()}
    both = {"winsorise_options": ((0.05, 0.95), None), "no_base_options": ("median", "zero")}
    assert by_version["2021"] == Robustness(samples=1000, seed=None, weights=0.25, category_weights=0.0, **both)
    assert by_version["2016"] == Robustness(samples=1000, seed=None, weights=0.25, category_weights=0.25, **both)


@pytest.mark.parametrize("section, entry, rule", [
    ({"sample": 10}, "robustness", "unknown key"),
    ({"samples": 0}, "robustness", "`samples` must be an integer >= 1"),
    ({"samples": 2.5}, "robustness", "`samples` must be an integer >= 1"),
    ({"seed": -1}, "robustness", "`seed` must be an integer >= 0"),
    ({"weights": 1}, "robustness", "`weights` must be >= 0 and < 1"),
    ({"weights": -0.1}, "robustness", "`weights` must be >= 0"),
    ({"category_weights": 1}, "robustness", "`category_weights` must be >= 0 and < 1"),
    ({"category_weights": -0.5}, "robustness", "`category_weights` must be >= 0"),
    ({"category_weights": "fixed"}, "robustness", "`category_weights` must be a finite number"),
    ({"winsorise_options": []}, "robustness.winsorise_options", "non-empty list"),
    ({"winsorise_options": [[0.9, 0.1]]}, "robustness.winsorise_options[1]", "0 <= a <= b <= 1"),
    ({"winsorise_options": [None, [0.05]]}, "robustness.winsorise_options[2]", "two quantiles"),
    ({"no_base_options": ["mean"]}, "robustness.no_base_options", "non-empty list of ['median', 'zero']"),
    ({"no_base_options": "median"}, "robustness.no_base_options", "non-empty list"),
    ([1000], "robustness", "must be a mapping"),
])
def test_a_section_that_breaks_a_rule_is_refused_naming_entry_and_rule(section, entry, rule):
    with pytest.raises(CatalogueError) as exc:
        make_catalogue(INDICATORS, CATEGORIES, robustness=section)
    assert exc.value.entry == entry and rule in exc.value.rule, str(exc.value)
    assert "<inline>" in str(exc.value)  # the file's name
