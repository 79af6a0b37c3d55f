"""Step 3 — normalisation (docs/contract/03-scoring.md §3.2 step 3): direction-aware min–max scaling to 0–100."""

from __future__ import annotations

import numpy as np


def min_max(clipped: np.ndarray, lower: float | None, upper: float | None, direction: str) -> np.ndarray:
    """Scale values clipped to [L, U] to 0–100 in the indicator's direction.

    ``higher``: ``100 (c − L) / (U − L)``; ``lower``: ``100 (U − c) / (U − L)``.
    Without bounds (F empty) or with U = L every value scores 100.
    """
    if lower is None or upper is None or not upper > lower:
        return np.full(clipped.shape, 100.0)
    gap = (clipped - lower) if direction == "higher" else (upper - clipped)
    with np.errstate(over="ignore", invalid="ignore"):
        s = 100.0 * gap / (upper - lower)  # the contract's formula, in its order (bit for bit)
        if not np.isfinite(s).all():
            # 100 · gap overflows for values near the largest double (a ratio over a denominator of
            # 1e-308): divide first there, which is the same number in exact arithmetic
            s = np.where(np.isfinite(s), s, np.clip(gap / (upper - lower), 0.0, 1.0) * 100.0)
    return s
