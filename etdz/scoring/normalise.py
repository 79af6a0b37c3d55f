"""Step 2 — bounds, clipping, direction-aware min–max scaling and imputation (03-scoring.md §3.2)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from etdz.scoring.indicators import MISSING, NO_BASE, OK


@dataclass(frozen=True)
class Bounds:
    """One indicator's normalisation facts for a year: L, U (None when F is empty), mean(F), imputed median."""

    lower: float | None
    upper: float | None
    mean: float | None
    imputed_score: float
    n_finite: int


def bounds_of(values: np.ndarray, status: np.ndarray, winsorise: tuple[float, float] | None) -> tuple[float | None, float | None, float | None, int]:
    """L, U and mean over F = the finite values of the ``ok`` zones."""
    f = values[(status == OK) & np.isfinite(values)]
    if f.size == 0:
        return None, None, None, 0
    if winsorise is None:
        lo, hi = float(f.min()), float(f.max())
    else:
        lo, hi = (float(q) for q in np.quantile(f, list(winsorise)))  # linear interpolation, numpy's default
    return lo, hi, float(f.mean()), int(f.size)


def scale(values: np.ndarray, lower: float | None, upper: float | None, direction: str) -> np.ndarray:
    """Clip to [L, U] and scale to 0–100 in the indicator's direction (±inf clip to the bounds).

    With no bounds (F empty) every value scores 100; with U = L every value scores 100.
    """
    if lower is None or upper is None or not upper > lower:
        return np.full(values.shape, 100.0)
    c = np.minimum(np.maximum(values, lower), upper)
    gap = (c - lower) if direction == "higher" else (upper - c)
    with np.errstate(over="ignore", invalid="ignore"):
        s = 100.0 * gap / (upper - lower)  # the contract's formula, in its order (bit for bit)
        if not np.isfinite(s).all():
            # 100 · gap overflows for values near the largest double (a ratio over a denominator of
            # 1e-308): divide first there, which is the same number in exact arithmetic
            s = np.where(np.isfinite(s), s, np.clip(gap / (upper - lower), 0.0, 1.0) * 100.0)
    return s


NO_BASE_OPTIONS = ("median", "zero")


def score_indicator(values: np.ndarray, status: np.ndarray, direction: str, winsorise: tuple[float, float] | None,
                    no_base: str = "median") -> tuple[np.ndarray, np.ndarray, Bounds]:
    """Scores of one indicator over the cohort: (scores, imputed flags, bounds).

    ``no_base`` zones take the median of the ``ok`` scores (§3.2 step 5) or, as a robustness variant
    (§3.9), 0; the bounds record the value they took.
    """
    lower, upper, mean, n = bounds_of(values, status, winsorise)
    ok = status == OK
    scores = np.zeros(values.shape, dtype="float64")  # missing = 0
    if ok.any():
        scores[ok] = scale(values[ok], lower, upper, direction)
        median = float(np.median(scores[ok]))
    else:
        median = 0.0
    imputed = status == NO_BASE
    if no_base not in NO_BASE_OPTIONS:
        raise ValueError(f"no_base option must be one of {NO_BASE_OPTIONS}, found {no_base!r}")
    imputed_value = median if no_base == "median" else 0.0
    scores[imputed] = imputed_value
    assert not ((status != OK) & (status != NO_BASE) & (status != MISSING)).any()
    return scores, imputed, Bounds(lower, upper, mean, imputed_value, n)


def better_than_mean(values: np.ndarray, status: np.ndarray, direction: str, mask: np.ndarray | None = None) -> np.ndarray:
    """§3.5: ``ok`` zones whose value beats mean(F) in the indicator's direction, F over ``mask`` (default all)."""
    mask = np.ones(values.shape, dtype=bool) if mask is None else mask
    ok = status == OK
    f = values[ok & mask & np.isfinite(values)]
    if f.size == 0:
        return np.zeros(values.shape, dtype=bool)
    m = f.mean()
    with np.errstate(invalid="ignore"):
        better = values > m if direction == "higher" else values < m
    return ok & better
