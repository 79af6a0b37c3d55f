"""Step 6 — competition ranks ("1224") on values rounded to 6 decimals (docs/contract/03-scoring.md §3.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd

DECIMALS = 6
# The lists a rank puts a zone on: the top 100 (§3.4, the rankings' ``top100`` column, :func:`in_top100`), the
# national top 30 (national_rank ≤ TOP30) and its region's top 10 (regional_rank ≤ REGION_TOP10), as the national
# report shows them and as ``ranking_changes.status_changes`` compares them.
TOP100 = 100
TOP30 = 30
REGION_TOP10 = 10
#: the national top lists a zone's card shows the way into, widest first (etdz.reports.targets.top_tier)
TOP_TIERS = (TOP100, 50, TOP30)


def in_top100(national_rank):
    """§3.4's top 100: ``national_rank <= 100`` (a number, an array or a Series, element-wise)."""
    return national_rank <= TOP100


def competition_rank(values: pd.Series, groups: pd.Series | None = None, ascending: bool = False) -> pd.Series:
    """1 + the number of members of the same group with a strictly better rounded value.

    Descending by default (a greater score is better); NaN values are unranked (<NA>).
    """
    rounded = pd.Series(np.round(values.to_numpy(dtype="float64"), DECIMALS), index=values.index)
    if groups is None:
        r = rounded.rank(method="min", ascending=ascending, na_option="keep")
    else:
        r = rounded.groupby(groups.to_numpy(), sort=False).rank(method="min", ascending=ascending, na_option="keep")
    return r.astype("Int32")


def competition_ranks(values: np.ndarray) -> np.ndarray:
    """Competition ranks, descending, along the last axis of an array of already rounded, finite values.

    The array form of :func:`competition_rank` for many rankings at once (one per row: the samples of
    §3.9): sort each row, number the positions, let tied values share the first position of their run.
    """
    order = np.argsort(-values, axis=-1)  # ties share a rank, so any order of them will do
    ordered = np.take_along_axis(values, order, axis=-1)
    position = np.broadcast_to(np.arange(1, values.shape[-1] + 1, dtype="int32"), values.shape)
    starts = np.ones(values.shape, dtype=bool)
    starts[..., 1:] = ordered[..., 1:] != ordered[..., :-1]
    ranked = np.maximum.accumulate(np.where(starts, position, 0), axis=-1)
    ranks = np.empty(values.shape, dtype="int32")
    np.put_along_axis(ranks, order, ranked, axis=-1)
    return ranks
