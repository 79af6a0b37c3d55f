"""Step 4 — imputation (docs/contract/03-scoring.md §3.2 steps 4–5): ``missing`` scores 0, ``no_base`` an imputed
score."""

from __future__ import annotations

import numpy as np

from etdz.catalogue import NO_BASE_OPTIONS
from etdz.scoring.indicators import NO_BASE, OK


def imputed_score(scores: np.ndarray, status: np.ndarray, option: str = "median") -> float:
    """The score a ``no_base`` zone takes: the median of the ``ok`` zones' scores (0 if none), or 0 (``zero``)."""
    if option not in NO_BASE_OPTIONS:
        raise ValueError(f"no_base option must be one of {NO_BASE_OPTIONS}, found {option!r}")
    ok = status == OK
    if option == "zero" or not ok.any():
        return 0.0
    return float(np.median(scores[ok]))


def impute(scores: np.ndarray, status: np.ndarray, value: float) -> tuple[np.ndarray, np.ndarray]:
    """Scores with ``missing`` = 0 and ``no_base`` = ``value`` (``ok`` kept), and the imputed flags."""
    imputed = status == NO_BASE
    out = np.where(status == OK, scores, 0.0)
    out[imputed] = value
    return out, imputed
