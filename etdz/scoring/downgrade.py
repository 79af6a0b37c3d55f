"""Step 7 — the downgrade watch-list (docs/contract/03-scoring.md §3.6) and the summons flag."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue
from etdz.scoring.ranks import competition_rank

ArrayOrSeries = np.ndarray | pd.Series
WATCHLIST_COLUMNS = ["zone_code", "name_zh", "region", "bottom_years", "mean_score", "region_candidate_rank", "rule",
                     "method_version"]


def in_bottom(rank: ArrayOrSeries, group_size: int | ArrayOrSeries, bottom_n: int) -> ArrayOrSeries:
    """The bottom-n rule of §3.6: ``rank >= group_size − n + 1`` (arrays or Series, element-wise)."""
    return rank >= (group_size - bottom_n + 1)


def bottom_flags(rankings: pd.DataFrame, bottom_n: int, rule: str) -> pd.Series:
    """Whether each zone of one year's rankings is in the bottom n (of its region, or nationally)."""
    if rule == "regional_bottom":
        n_r = rankings.groupby("region")["zone_code"].transform("size")
        return in_bottom(rankings["regional_rank"].astype("float64"), n_r, bottom_n)
    return in_bottom(rankings["national_rank"].astype("float64"), len(rankings), bottom_n)


def watchlist(data_year: int, catalogue: Catalogue, current: pd.DataFrame,
              history: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Candidates for downgrading in ``data_year``.

    ``current`` is Y's rankings (zone_code, name_zh, region, total_score, national_rank,
    regional_rank); ``history`` maps earlier data years to their rankings (same columns).
    The catalogue of Y sets bottom_n, window and times for every year looked at.
    """
    d = catalogue.downgrade
    if d is None or len(current) == 0:
        return pd.DataFrame(columns=WATCHLIST_COLUMNS)
    window = d.window if d.rule == "regional_bottom" else 2
    years = [t for t in range(data_year - window + 1, data_year + 1)]
    frames = []
    for t in years:
        r = current if t == data_year else history.get(t)
        if r is None or len(r) == 0:
            continue
        flags = bottom_flags(r, d.bottom_n, d.rule)
        frames.append(pd.DataFrame({"zone_code": r["zone_code"].to_numpy(), "year": t,
                                    "bottom": flags.to_numpy(), "total_score": r["total_score"].to_numpy()}))
    if not frames:
        return pd.DataFrame(columns=WATCHLIST_COLUMNS)
    looked = pd.concat(frames, ignore_index=True)
    bottoms = looked[looked.bottom & looked.zone_code.isin(current.zone_code)].sort_values(["zone_code", "year"])
    if d.rule == "regional_bottom":
        counts = bottoms.groupby("zone_code")["year"].size()
        chosen = counts[counts >= d.times].index
    else:  # two consecutive years: bottom in both Y−1 and Y
        ys = bottoms.groupby("zone_code")["year"].agg(set)
        chosen = ys[ys.map(lambda s: {data_year - 1, data_year} <= s)].index
    rows = []
    for zone in chosen:
        b = bottoms[bottoms.zone_code == zone]
        last_two = b.tail(2)  # the two most recent bottom-n years
        rows.append({"zone_code": zone, "bottom_years": [int(y) for y in b.year],
                     "mean_score": float(last_two.total_score.mean())})
    if not rows:
        return pd.DataFrame(columns=WATCHLIST_COLUMNS)
    wl = pd.DataFrame(rows).merge(current[["zone_code", "name_zh", "region"]], on="zone_code", how="left")
    wl["region_candidate_rank"] = competition_rank(wl["mean_score"], wl["region"], ascending=True)
    wl["rule"] = d.rule
    wl["method_version"] = catalogue.version
    wl = wl.sort_values(["region", "region_candidate_rank", "zone_code"], kind="stable").reset_index(drop=True)
    return wl[WATCHLIST_COLUMNS]


def summoned(rankings: pd.DataFrame, summons_bottom_n: int) -> pd.Series:
    """The national bottom ``summons_bottom_n`` (national_rank >= N − n + 1)."""
    n = len(rankings)
    if summons_bottom_n <= 0:
        return pd.Series(False, index=rankings.index)
    return in_bottom(rankings["national_rank"].astype("float64"), n, summons_bottom_n)

