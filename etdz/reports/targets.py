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

Where the next points are is answered **by measure** (§3.8), not by indicator: one measure feeds several
indicators and raising it can lower one of them (trade lowers the high-tech share of trade). Every measure the
zone reported is raised alone and the zone re-scored through the real scorer on the year's fixed bounds
(:mod:`etdz.scoring.levers`); :func:`card_levers` does it for a chunk of cards at once and :func:`with_levers`
puts each zone's levers on its targets: for every target, each lever's rise that alone closes the gap within
its headroom (None: not enough), and the first levers (most points per unit) that do. Measures whose rise
lowers the total are kept apart, named with the indicators that fall, and never offered.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from etdz.reports.inputs import YearView
from etdz.scoring.levers import Lever, ZoneLevers, ZoneMeasures, ZoneScorer, rises_to_close, zone_levers
from etdz.scoring.ranks import REGION_TOP10, TOP_TIERS


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
class Target:
    kind: str                  # next | top | region_top10 | leave_bottom
    rank: int                  # K: the position to reach in its group
    group: str                 # "national" or "regional"
    total_at_rank: float
    gap: float
    rises: dict[str, float | None] = field(default_factory=dict)  # measure -> rise closing it alone (None: too little)
    reachable_alone: int = 0   # levers whose rise alone closes the gap within their headroom
    best: list[Lever] = field(default_factory=list)  # the first levers (points per unit) that close it alone


def target(kind: str, group: str, k: int, total: float, totals_desc) -> Target:
    """The gap to position ``k`` of a group (its levers come with :func:`with_levers`)."""
    totals_desc = np.asarray(totals_desc, dtype=float)
    t_k = float(totals_desc[min(k, len(totals_desc)) - 1])
    return Target(kind, k, group, t_k, t_k - float(total))


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
    danger: DangerLine | None
    levers: list[Lever] = field(default_factory=list)     # Δ > 0, most points per unit first
    lowering: list[Lever] = field(default_factory=list)   # a rise lowers the total: named, never offered
    no_points: list[Lever] = field(default_factory=list)  # a rise changes nothing (bounds, imputed, missing)
    levers_shown: int = 0      # how many of ``levers`` the card's table lists
    unavailable: str | None = None   # why there are no levers (no accepted file, re-scored total differs)


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
                 bottom_n: int | None, groups: TargetGroups | None = None) -> ZoneTargets:
    """Every target of one zone (see the module docstring).

    ``totals_desc``: the national totals, descending; ``rankings``: every zone's rankings row (zone_code,
    region, total_score, national_rank, regional_rank); ``bottom``: the zones in the bottom n this year
    (``bottom_flags``); ``rule`` / ``bottom_n``: the catalogue's downgrade rule (None: no danger line);
    ``groups``: a :class:`TargetGroups` of the same ``rankings`` and ``bottom``, shared by the year's zones.
    When the top list to enter is the next rank up (rank 101), it is listed once, as the top list. The gaps
    only: :func:`with_levers` adds the measures that close them.
    """
    if groups is None:
        groups = TargetGroups(rankings, bottom)
    total, r = zone["total_score"], zone.get("national_rank")
    out = []
    up, top = next_rank_up(r), top_tier(r)
    if up is not None and up != top:
        out.append(target("next", "national", up, total, totals_desc))
    if top is not None:
        out.append(target("top", "national", top, total, totals_desc))
    name = zone.get("region")
    region = groups.region(name)
    q = zone.get("regional_rank")
    if q is not None and q > REGION_TOP10 and len(region) >= REGION_TOP10:
        reg_totals = groups.once(("region_totals", name), lambda: _totals_desc(region))
        out.append(target("region_top10", "regional", REGION_TOP10, total, reg_totals))
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
            out.append(target("leave_bottom", "regional" if regional else "national", k, total, group_totals))
        elif not in_bottom and inside:
            margin = float(total - groups.once((*key, "highest_inside"),
                                               lambda: max(g["total_score"] for g in inside)))
            own = zone.get(rank_key)
            places = None if own is None or top_rank is None else top_rank - own
        danger = DangerLine("regional" if regional else "national", bottom_n, in_bottom, margin, top_rank, places)
    return ZoneTargets(out, danger)


NO_FILE = "本区无有效报送，无可提高的填报数据 No accepted file: no reported figures to raise."
#: A re-scored total further than this from the published one means the card's inputs are not the scorer's
TOTAL_TOLERANCE = 1e-6


def with_levers(t: ZoneTargets, levers: ZoneLevers | None, rises: list[dict[str, float | None]] | None,
                unavailable: str | None = None, limit: int = 8, best: int = 3) -> ZoneTargets:
    """``t`` with the zone's levers (:func:`etdz.scoring.levers.zone_levers`) and, on each of its targets (in
    order), each lever's rise that alone closes the gap (``rises``, from :func:`rises_to_close`)."""
    t.unavailable = unavailable if levers is None else None
    if levers is None:
        return t
    t.levers, t.lowering, t.no_points = levers.levers, levers.lowering, levers.no_points
    t.levers_shown = min(limit, len(levers.levers))
    for tg, rs in zip(t.targets, rises or [{} for _ in t.targets]):
        tg.rises = rs
        closing = [lv for lv in levers.levers if rs.get(lv.measure) is not None]
        tg.reachable_alone, tg.best = len(closing), closing[:best]
    return t


def zone_measures(v: YearView, code: str) -> ZoneMeasures:
    """What the scorer read for zone ``code`` (its Y and Y−1 canonical values, its accepted files)."""
    return ZoneMeasures(v.measures_by_zone.get(code, {}), v.prev_measures_by_zone.get(code, {}),
                        code in v.accepted, code in v.prev_accepted)


def card_levers(v: YearView, zones: list[dict], targets: list[ZoneTargets]) -> list[ZoneTargets]:
    """Every zone's targets with its levers, the zones re-scored together (four calls of the scorer for all).

    A zone without an accepted file has no measures to raise; a zone whose re-scored total is not its published
    one (the card was given other inputs than the scorer read) gets no levers, with the reason, rather than
    advice computed on other figures.
    """
    if v.bounds is None:
        return [with_levers(t, None, None, v.bounds_problem) for t in targets]
    picked = [n for n, z in enumerate(zones) if z["zone_code"] in v.accepted]
    scorer = ZoneScorer(v.catalogue, v.bounds, [zone_measures(v, zones[n]["zone_code"]) for n in picked])
    levers = zone_levers(scorer)
    rises = rises_to_close(scorer, levers, [[tg.gap for tg in targets[n].targets] for n in picked])
    out = list(targets)
    for n in set(range(len(zones))) - set(picked):
        out[n] = with_levers(targets[n], None, None, NO_FILE)
    for n, zl, rs in zip(picked, levers, rises):
        published = zones[n]["total_score"]
        if published is None or not abs(zl.total - published) <= TOTAL_TOLERANCE:
            out[n] = with_levers(targets[n], None, None,
                                 f"重算总分 {zl.total:.6f} 与发布总分 {published} 不一致，不给出建议 "
                                 f"the re-scored total {zl.total:.6f} differs from the published {published}: "
                                 "no advice on other figures")
        else:
            out[n] = with_levers(targets[n], zl, rs)
    return out
