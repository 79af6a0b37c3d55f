"""Every target a zone cares about, and where its next points are (docs/contract/03-scoring.md §3.8 applied to each).

The targets of a zone with national rank r and regional rank q:

* ``next``: the next rank up, r − 1 (none for 1st place);
* ``top``: the top 100 for zones below it, else the top 50, else the top 30 (none inside the top 30);
* ``region_top10``: the 10th place of its region, when it is below it;
* ``leave_bottom``: for a zone in the bottom n of the downgrade rule (§3.6: its region's bottom n, or the
  national one under ``national_consecutive``), the lowest total outside the bottom n.

A zone outside the bottom n gets instead its *margin* above that danger line: the points it can lose
and still stay above every zone now in the bottom n. Which zones are in the bottom n is decided by
``etdz.scoring.downgrade.bottom_flags`` (one home for the rule), passed in as a set.

For a target at position K of a group (the nation or the region), the gap is ``T(K-th zone) − T(z)``,
the K-th zone being the one in position K when the group's totals are sorted in descending order (with
ties, a zone tied in position K counts: its total is what z must reach).

For every indicator i of category k, one unit of improvement (one more for ``higher``, one less for
``lower``) is worth ``W_k · w_i / Σ_{j∈k} w_j · 100 / (U − L)`` points of total as long as the value stays
within [L, U] (the year's bounds, held fixed). The headroom is what is left before the bound:
``(100 − s) / 100 · (U − L)`` units, worth ``W_k · w_i / Σ w_j · (100 − s)`` points (a missing indicator
scores 0, so reporting it opens the whole range). An indicator with U = L (or no finite bounds) gives no
points, and neither does one whose score is imputed (``no_base``: its score is the cohort's median
whatever the value). The indicators are listed by points per unit, largest first; ``units_to_close``
says how many units alone would close the gap, when the headroom allows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from etdz.reports.inputs import IndicatorMeta

TOP_TIERS = (100, 50, 30)
REGION_TOP = 10


def next_rank_up(national_rank: int | None) -> int | None:
    """r − 1; None for 1st place (or no rank)."""
    if national_rank is None or national_rank <= 1:
        return None
    return national_rank - 1


def top_tier(national_rank: int | None) -> int | None:
    """The next top list to enter: 100 below it, else 50, else 30; None inside the top 30."""
    if national_rank is None:
        return None
    return next((k for k in TOP_TIERS if national_rank > k), None)


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


def next_points(rows: list[dict], metas: dict[str, IndicatorMeta]) -> list[NextPoint]:
    """The indicators where one unit of improvement moves the total, most first, with their headroom.

    ``rows``: the zone's indicator_scores rows; ``metas``: indicator metadata with bounds and effective
    weights (``W_k · w_i / Σ_{j∈k} w_j``). Imputed (``no_base``) indicators and U = L give no points.
    """
    out = []
    for r in rows:
        m = metas.get(r["indicator_code"])
        if m is None or r["status"] == "no_base" or r.get("imputed"):
            continue  # an imputed score does not follow the value: no place to gain points
        lo, hi = m.lower, m.upper
        if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
            continue  # U = L (or no finite bounds): every zone scores 100 or the same, no points to gain
        ppu = m.eff_weight * 100.0 / (hi - lo)
        score = r["score"] if math.isfinite(r["score"]) else 0.0
        headroom_points = m.eff_weight * max(0.0, 100.0 - score)
        if headroom_points <= 1e-12:
            continue
        out.append(NextPoint(code=m.code, name_zh=m.name_zh, category=m.category, direction=m.direction,
                             unit=m.unit, value=r["value"], status=r["status"], score=score,
                             points_per_unit=ppu, headroom_units=headroom_points / ppu,
                             headroom_points=headroom_points))
    out.sort(key=lambda p: (-p.points_per_unit, -p.headroom_points, p.code))
    return out


@dataclass
class Target:
    kind: str                  # next | top | region_top10 | leave_bottom
    rank: int                  # K: the position to reach in its group
    group: str                 # "national" or "regional"
    total_at_rank: float
    gap: float
    units_to_close: dict[str, float | None] = field(default_factory=dict)  # indicator -> units alone (None: not enough)
    reachable_alone: int = 0   # indicators whose headroom alone closes the gap
    best: list[NextPoint] = field(default_factory=list)  # the first indicators (points per unit) that close it alone


def target(kind: str, group: str, k: int, total: float, totals_desc, points: list[NextPoint],
           best: int = 3) -> Target:
    """The gap to position ``k`` of a group and, for each indicator, the units that alone close it."""
    totals_desc = np.asarray(totals_desc, dtype=float)
    t_k = float(totals_desc[min(k, len(totals_desc)) - 1])
    gap = t_k - float(total)
    units = {p.code: (gap / p.points_per_unit if p.headroom_points >= gap else None) if gap > 0 else 0.0
             for p in points}
    closing = [p for p in points if units[p.code] is not None]
    return Target(kind, k, group, t_k, gap, units, len(closing), closing[:best])


@dataclass
class DangerLine:
    """The downgrade danger line of §3.6 from where the zone stands."""

    group: str                 # "regional" or "national"
    bottom_n: int
    in_bottom: bool
    margin: float | None       # outside the bottom n: points it can lose and stay above it
    top_of_bottom_rank: int | None   # the best rank inside the bottom n of its group
    places_above: int | None   # outside: places between it and that rank


@dataclass
class ZoneTargets:
    targets: list[Target]
    points: list[NextPoint]    # every indicator with points to gain, by points per unit
    headroom_total: float
    largest: list[NextPoint]   # the indicators with the most points left (whatever their unit)
    danger: DangerLine | None


class TargetGroups:
    """The year's groups as :func:`zone_targets` reads them — each region's zones and totals, the bottom n of the
    downgrade rule's groups — each computed on first use and then shared by every card, instead of a pass over
    every zone for each card (quadratic in the zones). Build it from the ``rankings`` and ``bottom`` of the calls.
    """

    def __init__(self, rankings: list[dict], bottom: set[str]):
        self.rankings, self.bottom = rankings, bottom
        self._cache: dict = {}

    def once(self, key: tuple, compute):
        """``compute()`` the first time ``key`` is asked for, the kept value afterwards (nothing kept if it raises)."""
        try:
            return self._cache[key]
        except KeyError:
            value = self._cache[key] = compute()
            return value

    def region(self, name) -> list[dict]:
        """The zones of region ``name``, in the order of ``rankings``."""
        return self.once(("region", name), lambda: [g for g in self.rankings if g.get("region") == name])


def _totals_desc(group: list[dict]) -> np.ndarray:
    return np.sort(np.asarray([g["total_score"] for g in group], dtype=float))[::-1]


def zone_targets(zone: dict, totals_desc, rankings: list[dict], bottom: set[str], rule: str | None,
                 bottom_n: int | None, rows: list[dict], metas: dict[str, IndicatorMeta],
                 limit: int = 8, groups: TargetGroups | None = None) -> ZoneTargets:
    """Every target of one zone (see the module docstring).

    ``totals_desc``: the national totals, descending; ``rankings``: every zone's rankings row (zone_code,
    region, total_score, national_rank, regional_rank); ``bottom``: the zones in the bottom n this year
    (``bottom_flags``); ``rule`` / ``bottom_n``: the catalogue's downgrade rule (None: no danger line);
    ``groups``: a :class:`TargetGroups` of the same ``rankings`` and ``bottom``, shared by the year's zones.
    When the top list to enter is the next rank up (rank 101), it is listed once, as the top list.
    """
    if groups is None:
        groups = TargetGroups(rankings, bottom)
    points = next_points(rows, metas)
    total, r = zone["total_score"], zone.get("national_rank")
    out = []
    up, top = next_rank_up(r), top_tier(r)
    if up is not None and up != top:
        out.append(target("next", "national", up, total, totals_desc, points))
    if top is not None:
        out.append(target("top", "national", top, total, totals_desc, points))
    name = zone.get("region")
    region = groups.region(name)
    q = zone.get("regional_rank")
    if q is not None and q > REGION_TOP and len(region) >= REGION_TOP:
        reg_totals = groups.once(("region_totals", name), lambda: _totals_desc(region))
        out.append(target("region_top10", "regional", REGION_TOP, total, reg_totals, points))
    danger = None
    if rule is not None and bottom_n:
        regional = rule == "regional_bottom"
        key = ("region", name) if regional else ("nation",)
        group = region if regional else rankings
        rank_key = "regional_rank" if regional else "national_rank"
        inside = groups.once((*key, "inside"), lambda: [g for g in group if g["zone_code"] in bottom])
        outside = groups.once((*key, "outside"), lambda: [g for g in group if g["zone_code"] not in bottom])
        in_bottom = zone["zone_code"] in bottom
        top_rank = groups.once((*key, "top_rank", rank_key),
                               lambda: min((g[rank_key] for g in inside if g[rank_key] is not None), default=None))
        margin = places = None
        if in_bottom and outside:
            def leave() -> tuple[int, np.ndarray]:
                lowest_out = min(g["total_score"] for g in outside)
                return 1 + sum(g["total_score"] > lowest_out for g in group), _totals_desc(group)

            k, group_totals = groups.once((*key, "leave"), leave)
            out.append(target("leave_bottom", "regional" if regional else "national", k, total, group_totals, points))
        elif not in_bottom and inside:
            margin = float(total - groups.once((*key, "highest_inside"),
                                               lambda: max(g["total_score"] for g in inside)))
            own = zone.get(rank_key)
            places = None if own is None or top_rank is None else top_rank - own
        danger = DangerLine("regional" if regional else "national", bottom_n, in_bottom, margin, top_rank, places)
    largest = sorted(points, key=lambda p: (-p.headroom_points, p.code))[:3]
    return ZoneTargets(out, points[:limit], sum(p.headroom_points for p in points), largest, danger)
