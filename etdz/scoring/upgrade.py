"""Step 8 — upgrade candidates (docs/contract/03-scoring.md §3.7): provincial zones scored on the national bounds."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue
from etdz.registry import provincial_zones
from etdz.scoring.aggregate import category_scores, category_weights, indicator_weights, total_score
from etdz.scoring.indicators import indicator_values, measure_matrix
from etdz.scoring.ranks import DECIMALS, competition_rank
from etdz.scoring.scores import Bounds, score_on_bounds

COLUMNS = ["zone_code", "name_zh", "province", "region", "total_score", "candidate_rank", "equivalent_national_rank",
           "method_version"]


def upgrade_candidates(catalogue: Catalogue, registry: pd.DataFrame, measures: pd.DataFrame, accepted: set[str],
                       prev_measures: pd.DataFrame | None, prev_accepted: set[str], bounds: list[Bounds],
                       national_total: np.ndarray) -> pd.DataFrame:
    """Provincial zones with an accepted submission, scored on the national ``bounds`` (catalogue order).

    Their values are clipped and scaled with the cohort's L and U and take its imputed score, then
    aggregated with the catalogue's weights; ``candidate_rank`` ranks them among themselves and
    ``equivalent_national_rank`` is 1 + the number of national zones (``national_total``) with a
    strictly greater total, both on totals rounded to 6 decimals.
    """
    prov = provincial_zones(registry)
    prov = prov[prov.zone_code.isin(list(accepted))].sort_values("zone_code", kind="stable").reset_index(drop=True)
    if prov.empty:
        return pd.DataFrame(columns=COLUMNS)
    zones = prov.zone_code.tolist()
    codes = list(catalogue.measures)
    values, status = indicator_values(catalogue, zones, measure_matrix(measures, zones, codes), accepted,
                                      measure_matrix(prev_measures, zones, codes), prev_accepted)
    scores = np.column_stack([
        score_on_bounds(values[ind.code].to_numpy(dtype="float64"), status[ind.code].to_numpy(), ind.direction, b)
        for ind, b in zip(catalogue.indicators, bounds)])
    totals = total_score(category_scores(scores, catalogue, indicator_weights(catalogue)), category_weights(catalogue))
    out = prov[["zone_code", "name_zh", "province", "region"]].copy()
    out["total_score"] = totals
    out["candidate_rank"] = competition_rank(out.total_score)
    national = np.sort(np.round(np.asarray(national_total, dtype="float64"), DECIMALS))
    candidates = np.round(out.total_score.to_numpy(dtype="float64"), DECIMALS)
    out["equivalent_national_rank"] = 1 + len(national) - np.searchsorted(national, candidates, side="right")
    out["method_version"] = catalogue.version
    return out.sort_values(["candidate_rank", "zone_code"], kind="stable").reset_index(drop=True)[COLUMNS]
