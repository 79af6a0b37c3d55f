"""Step 7 — the downgrade watch-list (docs/contract/03-scoring.md §3.6) and the summons flag."""

from __future__ import annotations

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue, Downgrade
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


def rule_window(d: Downgrade) -> tuple[int, int]:
    """``(window, times)`` of the rule: ``regional_bottom`` its own; ``national_consecutive`` looks at Y−1 and Y
    and needs both (bottom n in two consecutive years)."""
    return (d.window, d.times) if d.rule == "regional_bottom" else (2, 2)


def window_years(data_year: int, d: Downgrade) -> list[int]:
    """The data years the rule looks at for ``data_year``: ``Y−window+1 … Y`` (Y−1 and Y for
    ``national_consecutive``)."""
    window, _ = rule_window(d)
    return list(range(data_year - window + 1, data_year + 1))


def history_years(data_year: int, d: Downgrade | None) -> list[int]:
    """The earlier data years whose rankings the scoring of ``data_year`` reads: the rule's window before Y
    (:func:`window_years`) and Y−1 for the previous rank (§3.4), oldest first."""
    first = window_years(data_year, d)[0] if d is not None else data_year
    return list(range(min(first, data_year - 1), data_year))


def years_back(catalogues: list[Catalogue]) -> int:
    """How many earlier years (at least 1) the scoring of a year reads rankings of, under any of the
    catalogues: what the ``rankings`` asset's dependency on its own earlier partitions spans."""
    return max([len(history_years(0, c.downgrade)) for c in catalogues] + [1])


def earlier_bottom_counts(data_year: int, d: Downgrade, history: dict[int, pd.DataFrame]) -> pd.Series:
    """Per zone, in how many of the window's earlier years (before ``data_year``) on record it was in the
    bottom n (of its region, or nationally, by the rule), each year judged on its own rankings."""
    counts: dict[str, int] = {}
    for t in window_years(data_year, d)[:-1]:
        r = history.get(t)
        if r is None or len(r) == 0:
            continue
        flags = bottom_flags(r.reset_index(drop=True), d.bottom_n, d.rule).to_numpy(dtype=bool)
        for zone in r["zone_code"].to_numpy()[flags]:
            counts[zone] = counts.get(zone, 0) + 1
    return pd.Series(counts, dtype="int64")


def enters_watchlist(earlier: ArrayOrSeries, bottom_now: ArrayOrSeries, d: Downgrade) -> ArrayOrSeries:
    """§3.6's candidate test: (bottom-n years earlier in the window) + (1 if in the bottom n in Y) ≥ times
    (element-wise; under ``national_consecutive``, bottom n in Y−1 and in Y)."""
    _, times = rule_window(d)
    return earlier + bottom_now >= times


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
    frames = []
    for t in window_years(data_year, d):
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
    earlier = bottoms[bottoms.year < data_year].groupby("zone_code")["year"].size()
    now = bottoms[bottoms.year == data_year].groupby("zone_code")["year"].size()
    zones = earlier.index.union(now.index)
    chosen = zones[enters_watchlist(earlier.reindex(zones, fill_value=0).to_numpy(),
                                    now.reindex(zones, fill_value=0).to_numpy(), d)]
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

