"""Better than the national / regional average (docs/contract/03-scoring.md §3.5)."""

from __future__ import annotations

import numpy as np

from etdz.scoring.indicators import OK


def better_than_mean(values: np.ndarray, status: np.ndarray, direction: str,
                     mask: np.ndarray | None = None) -> np.ndarray:
    """``ok`` zones whose value beats mean(F) in the indicator's direction, F over ``mask`` (default all)."""
    mask = np.ones(values.shape, dtype=bool) if mask is None else mask
    ok = status == OK
    f = values[ok & mask & np.isfinite(values)]
    if f.size == 0:
        return np.zeros(values.shape, dtype=bool)
    m = f.mean()
    with np.errstate(invalid="ignore"):
        better = values > m if direction == "higher" else values < m
    return ok & better


def better_than_regional_mean(values: np.ndarray, status: np.ndarray, direction: str,
                              region: np.ndarray) -> np.ndarray:
    """The same against the mean of each zone's own region."""
    out = np.zeros(len(values), dtype=bool)
    for r in np.unique(region):
        mask = region == r
        out |= better_than_mean(values, status, direction, mask) & mask
    return out
