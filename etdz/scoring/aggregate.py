"""Step 5 — weighted arithmetic aggregation (docs/contract/03-scoring.md §3.3): category scores and the total.

One function per formula, used by the nominal scoring, the upgrade candidates and the
robustness samples (§3.9), which pass a block of sampled weights instead of one weight
vector: every array then gains a sample axis, and the arithmetic stays the same.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from etdz.catalogue import Catalogue


def indicator_weights(catalogue: Catalogue) -> np.ndarray:
    """The indicators' weights ``w_i``, in catalogue order."""
    return np.array([i.weight for i in catalogue.indicators], dtype="float64")


def category_weights(catalogue: Catalogue) -> np.ndarray:
    """The categories' weights ``W_k``, in catalogue order."""
    return np.array([k.weight for k in catalogue.categories], dtype="float64")


def category_members(catalogue: Catalogue) -> list[np.ndarray]:
    """For each category (catalogue order), the positions of its indicators in the catalogue's indicator order."""
    codes = [i.category for i in catalogue.indicators]
    return [np.array([n for n, c in enumerate(codes) if c == k.code]) for k in catalogue.categories]


def category_scores(scores: np.ndarray, catalogue: Catalogue, weights: np.ndarray) -> Iterator[np.ndarray]:
    """``S(z,k) = Σ w_i s(z,i) / Σ w_i`` for each category k in catalogue order.

    ``scores`` is zones × indicators (catalogue order); ``weights`` the indicator weights, either one
    vector (I,) — each category then yields (zones,) — or one row per sample (samples, I), yielding
    (zones, samples). A generator, so a caller that only needs the total holds one category at a time.
    """
    for members in category_members(catalogue):
        w = weights[..., members]
        yield scores[:, members] @ w.T / w.sum(axis=-1)


def total_score(categories: Iterable[np.ndarray], weights: np.ndarray) -> np.ndarray:
    """``T(z) = Σ W_k S(z,k)``, summed in catalogue order; ``weights`` (K,) or one row per sample (samples, K)."""
    total: np.ndarray | int = 0
    for k, s in enumerate(categories):
        total = total + weights[..., k] * s
    return np.asarray(total, dtype="float64")
