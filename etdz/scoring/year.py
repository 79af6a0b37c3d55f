"""Scoring one data year end to end (docs/contract/03-scoring.md), as plain pandas/numpy; nothing here imports Dagster.

The method's steps, one module each (as in the JRC's COINr), called here in order:

| step | module | contract |
|---|---|---|
| indicator values and statuses | :mod:`.indicators` | §3.1 |
| treat: bounds L, U and clipping | :mod:`.treat` | §3.2 steps 1–2 |
| normalise: direction-aware min–max | :mod:`.normalise` | §3.2 step 3 |
| impute: missing 0, no_base median | :mod:`.impute` | §3.2 steps 4–5 |
| (the three above, per indicator) | :mod:`.scores` | §3.2 |
| better than the averages | :mod:`.averages` | §3.5 |
| aggregate: categories, total | :mod:`.aggregate` | §3.3 |
| rank | :mod:`.ranks` | §3.4 |
| downgrade watch-list, summons | :mod:`.downgrade` | §3.6 |
| upgrade candidates | :mod:`.upgrade` | §3.7 |
| rank robustness (its own asset) | :mod:`.robustness` | §3.9 |

This module assembles the year's datasets from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue
from etdz.registry import due_zones
from etdz.scoring.aggregate import category_scores, category_weights, indicator_weights, total_score
from etdz.scoring.averages import better_than_mean, better_than_regional_mean
from etdz.scoring.downgrade import summoned, watchlist
from etdz.scoring.indicators import indicator_values, measure_matrix
from etdz.scoring.ranks import competition_rank, in_top100
from etdz.scoring.scores import Bounds, score_matrix
from etdz.scoring.upgrade import upgrade_candidates


@dataclass
class YearInputs:
    """Everything the scoring of year Y reads."""

    data_year: int
    catalogue: Catalogue
    registry: pd.DataFrame
    measures: pd.DataFrame  # long: zone_code, measure_code, value — Y's chosen accepted submissions
    accepted: set[str]  # zones with an accepted submission in Y
    prev_measures: pd.DataFrame | None = None  # the same for Y−1 (None: no submissions)
    prev_accepted: set[str] = field(default_factory=set)
    history: dict[int, pd.DataFrame] = field(default_factory=dict)  # rankings of earlier years that exist


@dataclass
class ScoredYear:
    """The year's datasets (docs/contract/04-outputs.md §4.1), as DataFrames."""

    indicator_scores: pd.DataFrame
    indicator_bounds: pd.DataFrame
    category_scores: pd.DataFrame
    rankings: pd.DataFrame
    downgrade_watchlist: pd.DataFrame
    upgrade_candidates: pd.DataFrame


def score_year(inp: YearInputs) -> ScoredYear:
    """Score, rank and list the cohort of ``inp.data_year`` and its upgrade candidates."""
    catalogue = inp.catalogue
    cohort = due_zones(inp.registry, inp.data_year).sort_values("zone_code", kind="stable").reset_index(drop=True)
    zones = cohort.zone_code.tolist()
    measure_codes = list(catalogue.measures)
    current = measure_matrix(inp.measures, zones, measure_codes)
    values, status = indicator_values(catalogue, zones, current, inp.accepted,
                                      measure_matrix(inp.prev_measures, zones, measure_codes), inp.prev_accepted)
    value_matrix, status_matrix = values.to_numpy(dtype="float64"), status.to_numpy()

    scores, imputed, bounds = score_matrix(value_matrix, status_matrix, catalogue, catalogue.winsorise)
    categories = list(category_scores(scores, catalogue, indicator_weights(catalogue)))
    total = total_score(categories, category_weights(catalogue))
    region = cohort.region.to_numpy()
    better_national = np.column_stack([better_than_mean(value_matrix[:, n], status_matrix[:, n], ind.direction)
                                       for n, ind in enumerate(catalogue.indicators)])
    better_regional = np.column_stack([
        better_than_regional_mean(value_matrix[:, n], status_matrix[:, n], ind.direction, region)
        for n, ind in enumerate(catalogue.indicators)])

    rankings = _rankings(inp, cohort, total, better_national, better_regional, current)
    wl = watchlist(inp.data_year, catalogue, rankings, inp.history)
    rankings["downgrade_candidate"] = rankings.zone_code.isin(wl.zone_code)
    rankings = rankings.sort_values(["national_rank", "zone_code"], kind="stable").reset_index(drop=True)

    upgrade = upgrade_candidates(catalogue, inp.registry, inp.measures, inp.accepted, inp.prev_measures,
                                 inp.prev_accepted, bounds, total)
    return ScoredYear(
        _indicator_scores(catalogue, zones, value_matrix, status_matrix, scores, imputed, better_national,
                          better_regional),
        _indicator_bounds(catalogue, bounds), _category_scores(catalogue, zones, categories), rankings, wl, upgrade)


def _indicator_scores(catalogue: Catalogue, zones: list[str], values: np.ndarray, status: np.ndarray,
                      scores: np.ndarray, imputed: np.ndarray, better_national: np.ndarray,
                      better_regional: np.ndarray) -> pd.DataFrame:
    """One row per zone × indicator, zones in code order, indicators in catalogue order."""
    codes = [i.code for i in catalogue.indicators]
    out = pd.DataFrame({"zone_code": np.repeat(zones, len(codes)), "indicator_code": np.tile(codes, len(zones))})
    out["category_code"] = out.indicator_code.map({i.code: i.category for i in catalogue.indicators})
    out["value"] = values.reshape(-1)
    out["status"] = status.reshape(-1)
    out["score"] = scores.reshape(-1)
    out["imputed"] = imputed.reshape(-1)
    out["better_than_national_avg"] = better_national.reshape(-1)
    out["better_than_regional_avg"] = better_regional.reshape(-1)
    out["method_version"] = catalogue.version
    return out


def _indicator_bounds(catalogue: Catalogue, bounds: list[Bounds]) -> pd.DataFrame:
    """One row per indicator: everything needed to re-derive its scores."""
    return pd.DataFrame([{
        "indicator_code": i.code, "method_version": catalogue.version, "category_code": i.category,
        "direction": i.direction, "weight": i.weight, "lower": b.lower, "upper": b.upper, "mean": b.mean,
        "imputed_score": b.imputed_score, "n_finite": b.n_finite,
    } for i, b in zip(catalogue.indicators, bounds)])


def _category_scores(catalogue: Catalogue, zones: list[str], categories: list[np.ndarray]) -> pd.DataFrame:
    """One row per zone × category with the category's national rank."""
    codes = [k.code for k in catalogue.categories]
    out = pd.DataFrame({"zone_code": np.repeat(zones, len(codes)), "category_code": np.tile(codes, len(zones)),
                        "score": np.column_stack(categories).reshape(-1) if zones else np.empty(0)})
    out["national_rank"] = competition_rank(out["score"], out["category_code"])
    out["method_version"] = catalogue.version
    return out


def _rankings(inp: YearInputs, cohort: pd.DataFrame, total: np.ndarray, better_national: np.ndarray,
              better_regional: np.ndarray, current: pd.DataFrame) -> pd.DataFrame:
    """The rankings of §3.4 (the watch-list flag is added by the caller)."""
    catalogue = inp.catalogue
    r = cohort[["zone_code", "name_zh", "province", "region"]].copy()
    r["assessment_year"] = inp.data_year + 1
    r["total_score"] = total
    r["national_rank"] = competition_rank(r.total_score)
    r["regional_rank"] = competition_rank(r.total_score, r.region)
    r["provincial_rank"] = competition_rank(r.total_score, r.province)
    prev = inp.history.get(inp.data_year - 1)
    if prev is not None and len(prev):
        prev_rank = dict(zip(prev.zone_code, prev.national_rank))
        r["prev_national_rank"] = pd.array([prev_rank.get(z) for z in r.zone_code], dtype="Int32")
        versions = set(prev.method_version.dropna())
        r["method_changed"] = bool(versions and versions != {catalogue.version})
    else:
        r["prev_national_rank"] = pd.array([None] * len(r), dtype="Int32")
        r["method_changed"] = False
    r["rank_change"] = (r.prev_national_rank - r.national_rank).astype("Int32")
    r["top100"] = in_top100(r.national_rank)
    r["indicators_better_than_avg"] = better_national.sum(axis=1).astype("int32")
    r["indicators_better_than_regional_avg"] = better_regional.sum(axis=1).astype("int32")
    r["indicators_total"] = len(catalogue.indicators)
    r["submission_status"] = np.where(r.zone_code.isin(list(inp.accepted)), "accepted", "no_valid_submission")
    r["summoned"] = summoned(r, catalogue.summons_bottom_n)
    r["results_status"] = "provisional" if (r.submission_status != "accepted").any() else "final"
    r["method_version"] = catalogue.version
    for m in catalogue.top_lists:
        r[f"rank_{m}"] = competition_rank(current[m].reset_index(drop=True).set_axis(r.index))
    return r
