"""Indicator scores s(z,i) of docs/contract/03-scoring.md §3.2: the steps treat → normalise → impute,
applied in one place.

Every caller gets its scores here: the nominal scoring of the cohort (:func:`score_matrix`), the
upgrade candidates on the national cohort's bounds (:func:`score_on_bounds`, §3.7) and the robustness
variants (§3.9, :func:`score_matrix` with other options).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from etdz.catalogue import Catalogue
from etdz.scoring.impute import impute, imputed_score
from etdz.scoring.indicators import MISSING, NO_BASE, OK
from etdz.scoring.normalise import min_max
from etdz.scoring.treat import clip, treatment_bounds


@dataclass(frozen=True)
class Bounds:
    """One indicator's normalisation facts for a year: L, U (None when F is empty), mean(F), imputed score, |F|."""

    lower: float | None
    upper: float | None
    mean: float | None
    imputed_score: float
    n_finite: int


def _scaled(values: np.ndarray, status: np.ndarray, direction: str, lower: float | None,
            upper: float | None) -> np.ndarray:
    """The ``ok`` zones' values clipped and scaled; every other zone 0 until imputed."""
    ok = status == OK
    out = np.zeros(values.shape, dtype="float64")
    out[ok] = min_max(clip(values[ok], lower, upper), lower, upper, direction)
    return out


def score_indicator(values: np.ndarray, status: np.ndarray, direction: str, winsorise: tuple[float, float] | None,
                    no_base: str = "median") -> tuple[np.ndarray, np.ndarray, Bounds]:
    """Scores of one indicator over the cohort: (scores, imputed flags, bounds).

    ``no_base`` is the imputation option: the median of §3.2 step 5, or ``zero`` (a §3.9 variant).
    """
    if ((status != OK) & (status != NO_BASE) & (status != MISSING)).any():
        raise ValueError(f"unknown indicator status among {sorted(set(status))}")
    lower, upper, mean, n = treatment_bounds(values, status, winsorise)
    scaled = _scaled(values, status, direction, lower, upper)
    value = imputed_score(scaled, status, no_base)
    scores, imputed = impute(scaled, status, value)
    return scores, imputed, Bounds(lower, upper, mean, value, n)


def score_on_bounds(values: np.ndarray, status: np.ndarray, direction: str, bounds: Bounds) -> np.ndarray:
    """Scores against another cohort's bounds and imputed score, not recomputed (§3.7, upgrade candidates)."""
    scaled = _scaled(values, status, direction, bounds.lower, bounds.upper)
    return impute(scaled, status, bounds.imputed_score)[0]


def score_matrix(values: np.ndarray, status: np.ndarray, catalogue: Catalogue, winsorise: tuple[float, float] | None,
                 no_base: str = "median") -> tuple[np.ndarray, np.ndarray, list[Bounds]]:
    """Score a zones × indicators matrix (catalogue order): (scores, imputed flags, bounds per indicator)."""
    scores = np.empty(values.shape, dtype="float64")
    imputed = np.empty(values.shape, dtype=bool)
    bounds = []
    for n, ind in enumerate(catalogue.indicators):
        scores[:, n], imputed[:, n], b = score_indicator(values[:, n], status[:, n], ind.direction, winsorise, no_base)
        bounds.append(b)
    return scores, imputed, bounds
