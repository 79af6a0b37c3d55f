"""Step 2 — outlier treatment (docs/contract/03-scoring.md §3.2 steps 1–2): the bounds L and U, and clipping to them."""

from __future__ import annotations

import numpy as np

from etdz.scoring.indicators import OK


def treatment_bounds(values: np.ndarray, status: np.ndarray,
                     winsorise: tuple[float, float] | None) -> tuple[float | None, float | None, float | None, int]:
    """L, U, mean(F) and |F| over F = the finite values of the ``ok`` zones (None, None, None, 0 when F is empty).

    With ``winsorise = (a, b)``: the a- and b-quantiles of F, linearly interpolated (numpy's default);
    with None: min(F) and max(F).
    """
    f = values[(status == OK) & np.isfinite(values)]
    if f.size == 0:
        return None, None, None, 0
    if winsorise is None:
        lo, hi = float(f.min()), float(f.max())
    else:
        lo, hi = (float(q) for q in np.quantile(f, list(winsorise)))
    return lo, hi, float(f.mean()), int(f.size)


def clip(values: np.ndarray, lower: float | None, upper: float | None) -> np.ndarray:
    """``min(max(v, L), U)``, so ``+inf`` → U and ``−inf`` → L; unchanged without bounds (F empty)."""
    if lower is None or upper is None:
        return values
    return np.minimum(np.maximum(values, lower), upper)
