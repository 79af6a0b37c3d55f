"""Distance to a target rank and where the next points are (03-scoring.md §3.8).

For a zone z with national rank r among N zones:

* target K: 100 when r > 100, else r − 1 (the next rank up); a zone ranked 1st has no target;
* gap = T(K-th zone) − T(z), where the K-th zone is the one in position K when the totals are sorted in
  descending order (with ties, a zone tied in position K counts: its total is what z must reach);
* for every indicator i of category k: one unit of improvement (one unit more for ``higher``, one unit
  less for ``lower``) is worth ``W_k · w_i / Σ_{j∈k} w_j · 100 / (U − L)`` points of total, as long as the
  value stays within [L, U] (the year's bounds, held fixed). The headroom is what is left before the
  bound: ``(100 − s) / 100 · (U − L)`` units, worth ``W_k · w_i / Σ w_j · (100 − s)`` points (for an ``ok``
  value that is ``U − c`` for ``higher`` and ``c − L`` for ``lower``; a missing indicator scores 0, so
  reporting it opens the whole range). An indicator with U = L (or no finite bounds) gives no points.

The indicators are listed by points per unit, largest first (as §3.8 asks), among those with headroom
left; ``units_to_close`` says how many units alone would close the gap, when the headroom allows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from etdz.reports.inputs import IndicatorMeta


def target_rank(national_rank: int | None, top: int = 100) -> int | None:
    """The default target: ``top`` for zones ranked below it, else the next rank up; None for 1st place."""
    if national_rank is None or national_rank <= 1:
        return None
    return top if national_rank > top else national_rank - 1


def gap_to_rank(total: float, totals_desc, k: int) -> float:
    """T(K-th zone) − T(z): the points the zone needs to draw level with the zone in position K."""
    totals_desc = np.asarray(totals_desc, dtype=float)
    k = max(1, min(int(k), len(totals_desc)))
    return float(totals_desc[k - 1] - total)


@dataclass
class NextPoint:
    code: str
    name_zh: str
    category: str
    direction: str
    unit: str
    value: float
    status: str
    score: float
    points_per_unit: float     # points of total per unit of improvement
    headroom_units: float      # units left before the bound
    headroom_points: float     # points of total left in this indicator
    units_to_close: float | None   # units that alone close the gap (None: the headroom is not enough)

    @property
    def closes_gap(self) -> bool:
        return self.units_to_close is not None


def next_points(rows: list[dict], metas: dict[str, IndicatorMeta], gap: float | None,
                limit: int | None = None) -> list[NextPoint]:
    """The indicators where one unit of improvement moves the total most, with their headroom.

    ``rows``: the zone's indicator_scores rows; ``metas``: indicator metadata with bounds and effective
    weights (``W_k · w_i / Σ_{j∈k} w_j``); ``gap``: the points to close (None for no target).
    """
    out = []
    for r in rows:
        m = metas.get(r["indicator_code"])
        if m is None:
            continue
        lo, hi = m.lower, m.upper
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            continue  # U = L (or no finite bounds): every zone scores 100 or the same, no points to gain
        ppu = m.eff_weight * 100.0 / (hi - lo)
        score = r["score"] if math.isfinite(r["score"]) else 0.0
        headroom_points = m.eff_weight * max(0.0, 100.0 - score)
        if headroom_points <= 1e-12:
            continue
        headroom_units = headroom_points / ppu
        units_to_close = None
        if gap is not None and gap > 0 and headroom_points >= gap:
            units_to_close = gap / ppu
        out.append(NextPoint(code=m.code, name_zh=m.name_zh, category=m.category, direction=m.direction,
                             unit=m.unit, value=r["value"], status=r["status"], score=score,
                             points_per_unit=ppu, headroom_units=headroom_units, headroom_points=headroom_points,
                             units_to_close=units_to_close))
    out.sort(key=lambda p: (-p.points_per_unit, -p.headroom_points, p.code))
    return out[:limit] if limit else out


@dataclass
class Target:
    rank: int | None           # K (None for 1st place)
    total_at_rank: float | None
    gap: float | None
    points: list[NextPoint]
    reachable_alone: int       # indicators whose headroom alone closes the gap
    headroom_total: float      # points left over all indicators
    largest: list[NextPoint] = None  # the indicators with the most points left (whatever their unit)


def zone_target(zone: dict, totals_desc, rows: list[dict], metas: dict[str, IndicatorMeta],
                top: int = 100, limit: int = 8) -> Target:
    k = target_rank(zone.get("national_rank"), top)
    all_points = next_points(rows, metas, None)
    largest = sorted(all_points, key=lambda p: (-p.headroom_points, p.code))[:3]
    if k is None:
        return Target(None, None, None, all_points[:limit], 0, sum(p.headroom_points for p in all_points), largest)
    t_k = float(np.asarray(totals_desc, dtype=float)[min(k, len(totals_desc)) - 1])
    gap = t_k - float(zone["total_score"])
    pts = next_points(rows, metas, gap)
    return Target(k, t_k, gap, pts[:limit], sum(p.closes_gap for p in pts), sum(p.headroom_points for p in pts),
                  largest)
