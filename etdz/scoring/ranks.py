"""Competition ranks ("1224") on values rounded to 6 decimals (03-scoring.md §3.4)."""

from __future__ import annotations

import numpy as np
import pandas as pd

DECIMALS = 6


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
