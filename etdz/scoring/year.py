"""Scoring one data year end to end (03-scoring.md), as plain pandas/numpy.

The steps follow the composite-indicator pipeline (as in the JRC's COINr):
data → indicator values (:mod:`.indicators`) → bounds, clipping, scaling and
imputation (:mod:`.normalise`) → weighted aggregation → ranks (:mod:`.ranks`) →
downgrade watch-list (:mod:`.downgrade`) → upgrade candidates against the national
bounds. Nothing here imports Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue
from etdz.registry import due_zones, provincial_zones
from etdz.scoring.aggregate import category_scores, category_weights, indicator_weights, total_score
from etdz.scoring.downgrade import summoned, watchlist
from etdz.scoring.indicators import OK, indicator_values, measure_matrix
from etdz.scoring.normalise import Bounds, better_than_mean, scale, score_indicator
from etdz.scoring.ranks import competition_rank


@dataclass
class YearInputs:
    """Everything the scoring of year Y reads."""

    data_year: int
    catalogue: Catalogue
    registry: pd.DataFrame
    measures: pd.DataFrame  # long: zone_code, measure_code, value — Y's chosen accepted submissions
    submitted: set[str]  # zones with an accepted submission in Y
    prev_measures: pd.DataFrame | None = None  # the same for Y−1 (None: no submissions)
    prev_submitted: set[str] = field(default_factory=set)
    history: dict[int, pd.DataFrame] = field(default_factory=dict)  # rankings of earlier years that exist


@dataclass
class ScoredYear:
    indicator_scores: pd.DataFrame
    indicator_bounds: pd.DataFrame
    category_scores: pd.DataFrame
    rankings: pd.DataFrame
    downgrade_watchlist: pd.DataFrame
    upgrade_candidates: pd.DataFrame


def _aggregate(catalogue: Catalogue, scores: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """Category scores S(z,k) and totals T(z) with the catalogue's weights (§3.3)."""
    matrix = scores[[i.code for i in catalogue.indicators]].to_numpy(dtype="float64")
    cats = list(category_scores(matrix, catalogue, indicator_weights(catalogue)))
    cat = pd.DataFrame({k.code: s for k, s in zip(catalogue.categories, cats)}, index=scores.index)
    total = pd.Series(total_score(cats, category_weights(catalogue)), index=scores.index, dtype="float64")
    return cat, total


def score_year(inp: YearInputs) -> ScoredYear:
    """Score, rank and list the cohort of ``inp.data_year`` and its upgrade candidates."""
    cat_ = inp.catalogue
    cohort = due_zones(inp.registry, inp.data_year).sort_values("zone_code", kind="stable").reset_index(drop=True)
    zones = cohort.zone_code.tolist()
    codes = list(cat_.measures)
    cur = measure_matrix(inp.measures, zones, codes)
    prev = measure_matrix(inp.prev_measures, zones, codes)
    values, status = indicator_values(cat_, zones, cur, inp.submitted, prev, inp.prev_submitted)

    region = cohort.region.to_numpy()
    scores = pd.DataFrame(index=values.index, dtype="float64")
    imputed = pd.DataFrame(index=values.index, dtype=bool)
    better_nat = pd.DataFrame(index=values.index, dtype=bool)
    better_reg = pd.DataFrame(index=values.index, dtype=bool)
    bounds: dict[str, Bounds] = {}
    for ind in cat_.indicators:
        v, st = values[ind.code].to_numpy(dtype="float64"), status[ind.code].to_numpy()
        s, imp, b = score_indicator(v, st, ind.direction, cat_.winsorise)
        scores[ind.code], imputed[ind.code], bounds[ind.code] = s, imp, b
        better_nat[ind.code] = better_than_mean(v, st, ind.direction)
        reg = np.zeros(len(v), dtype=bool)
        for r in np.unique(region):
            mask = region == r
            reg |= better_than_mean(v, st, ind.direction, mask) & mask
        better_reg[ind.code] = reg

    cat_scores, total = _aggregate(cat_, scores)
    ind_cat = {i.code: i.category for i in cat_.indicators}

    indicator_scores = pd.DataFrame({
        "zone_code": np.repeat(zones, len(cat_.indicators)),
        "indicator_code": np.tile([i.code for i in cat_.indicators], len(zones)),
    })
    indicator_scores["category_code"] = indicator_scores.indicator_code.map(ind_cat)
    indicator_scores["value"] = values.to_numpy().reshape(-1)
    indicator_scores["status"] = status.to_numpy().reshape(-1)
    indicator_scores["score"] = scores.to_numpy().reshape(-1)
    indicator_scores["imputed"] = imputed.to_numpy().reshape(-1)
    indicator_scores["better_than_national_avg"] = better_nat.to_numpy().reshape(-1)
    indicator_scores["better_than_regional_avg"] = better_reg.to_numpy().reshape(-1)
    indicator_scores["method_version"] = cat_.version

    indicator_bounds = pd.DataFrame([{
        "indicator_code": i.code, "method_version": cat_.version, "category_code": i.category,
        "direction": i.direction, "weight": i.weight, "lower": bounds[i.code].lower, "upper": bounds[i.code].upper,
        "mean": bounds[i.code].mean, "imputed_score": bounds[i.code].imputed_score, "n_finite": bounds[i.code].n_finite,
    } for i in cat_.indicators])

    category_scores = cat_scores.stack().rename("score").reset_index().rename(columns={"level_1": "category_code"})
    category_scores.columns = ["zone_code", "category_code", "score"]
    category_scores["national_rank"] = competition_rank(category_scores["score"], category_scores["category_code"])
    category_scores["method_version"] = cat_.version

    rankings = _rankings(inp, cohort, total, better_nat, better_reg, cur)
    wl = watchlist(inp.data_year, cat_, rankings, inp.history)
    rankings["downgrade_candidate"] = rankings.zone_code.isin(wl.zone_code)
    rankings = rankings.sort_values(["national_rank", "zone_code"], kind="stable").reset_index(drop=True)

    upgrade = _upgrade(inp, bounds, total)
    return ScoredYear(indicator_scores, indicator_bounds, category_scores, rankings, wl, upgrade)


def _rankings(inp: YearInputs, cohort: pd.DataFrame, total: pd.Series, better_nat: pd.DataFrame,
              better_reg: pd.DataFrame, cur: pd.DataFrame) -> pd.DataFrame:
    cat_ = inp.catalogue
    r = cohort[["zone_code", "name_zh", "province", "region"]].copy()
    r["assessment_year"] = inp.data_year + 1
    r["total_score"] = total.to_numpy()
    r["national_rank"] = competition_rank(r.total_score)
    r["regional_rank"] = competition_rank(r.total_score, r.region)
    r["provincial_rank"] = competition_rank(r.total_score, r.province)
    prev = inp.history.get(inp.data_year - 1)
    if prev is not None and len(prev):
        prev_rank = dict(zip(prev.zone_code, prev.national_rank))
        r["prev_national_rank"] = pd.array([prev_rank.get(z) for z in r.zone_code], dtype="Int32")
        versions = set(prev.method_version.dropna())
        r["method_changed"] = bool(versions and versions != {cat_.version})
    else:
        r["prev_national_rank"] = pd.array([None] * len(r), dtype="Int32")
        r["method_changed"] = False
    r["rank_change"] = (r.prev_national_rank - r.national_rank).astype("Int32")
    r["top100"] = r.national_rank <= 100
    r["indicators_better_than_avg"] = better_nat.sum(axis=1).to_numpy().astype("int32")
    r["indicators_better_than_regional_avg"] = better_reg.sum(axis=1).to_numpy().astype("int32")
    r["indicators_total"] = len(cat_.indicators)
    r["submission_status"] = np.where(r.zone_code.isin(list(inp.submitted)), "accepted", "no_valid_submission")
    r["summoned"] = summoned(r, cat_.summons_bottom_n)
    r["results_status"] = "provisional" if (r.submission_status != "accepted").any() else "final"
    r["method_version"] = cat_.version
    for m in cat_.top_lists:
        r[f"rank_{m}"] = competition_rank(cur[m].reset_index(drop=True).set_axis(r.index))
    return r


def _upgrade(inp: YearInputs, bounds: dict[str, Bounds], national_total: pd.Series) -> pd.DataFrame:
    """§3.7: provincial zones with an accepted submission, scored on the national cohort's bounds."""
    cat_ = inp.catalogue
    prov = provincial_zones(inp.registry)
    prov = prov[prov.zone_code.isin(list(inp.submitted))].sort_values("zone_code", kind="stable").reset_index(drop=True)
    cols = ["zone_code", "name_zh", "province", "region", "total_score", "candidate_rank", "equivalent_national_rank",
            "method_version"]
    if prov.empty:
        return pd.DataFrame(columns=cols)
    zones = prov.zone_code.tolist()
    codes = list(cat_.measures)
    values, status = indicator_values(cat_, zones, measure_matrix(inp.measures, zones, codes), inp.submitted,
                                      measure_matrix(inp.prev_measures, zones, codes), inp.prev_submitted)
    scores = pd.DataFrame(index=values.index, dtype="float64")
    for ind in cat_.indicators:
        v, st, b = values[ind.code].to_numpy(dtype="float64"), status[ind.code].to_numpy(), bounds[ind.code]
        s = np.zeros(len(v))
        ok = st == OK
        s[ok] = scale(v[ok], b.lower, b.upper, ind.direction)
        s[st == "no_base"] = b.imputed_score
        scores[ind.code] = s
    _, total = _aggregate(cat_, scores)
    out = prov[["zone_code", "name_zh", "province", "region"]].copy()
    out["total_score"] = total.to_numpy()
    out["candidate_rank"] = competition_rank(out.total_score)
    national = np.sort(np.round(national_total.to_numpy(dtype="float64"), 6))
    candidates = np.round(out.total_score.to_numpy(dtype="float64"), 6)
    # 1 + the number of national zones with a strictly greater rounded total
    out["equivalent_national_rank"] = 1 + len(national) - np.searchsorted(national, candidates, side="right")
    out["method_version"] = cat_.version
    return out.sort_values(["candidate_rank", "zone_code"], kind="stable").reset_index(drop=True)[cols]
