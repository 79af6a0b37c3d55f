"""Levers by measure (03-scoring.md §3.8): what raising one measure a zone reports does to its total.

One measure feeds several indicators (trade feeds the trade total, its growth, the share of the host city's
trade and — as the denominator — the high-tech share of trade), so "where the next points are" is answered
per *measure*, by re-scoring the zone alone through the scorer's own steps:

* indicator values and statuses: :func:`etdz.scoring.indicators.indicator_columns` (the rules of
  ``indicator_values``, on arrays: the zone's Y and Y−1 measures, its accepted submissions);
* clip, scale and impute on the year's bounds, held fixed: :func:`etdz.scoring.scores.score_on_bounds` (the
  function the upgrade candidates of §3.7 are scored with; every other zone is held fixed because the bounds
  L, U and the ``no_base`` median are those of the published ``indicator_bounds``);
* categories and total: :func:`etdz.scoring.aggregate.category_scores`, :func:`~etdz.scoring.aggregate.total_score`.

Nothing here re-implements a formula of the method: every total is the scorer's. What this module adds is
where to look. For a measure ``m`` with value ``x``:

* ``δ = max(1% of x, one unit)``; one unit is 1 in the measure's canonical unit of the catalogue (1 亿元 for
  trade, 1 万美元 for foreign investment, 1 家 for a count of enterprises, 1 万人 for the population …);
* ``Δ_m = (T(x + δ) − T(x)) / δ`` points of total per canonical unit. ``Δ_m > 0``: a lever; ``Δ_m < 0``: the
  rise *lowers* the total (the indicators whose score falls are named); ``Δ_m = 0``: no points (every
  indicator it feeds at its bound, imputed or missing);
* the headroom: how far ``m`` can rise before none of the indicators it feeds gains any more, each such
  indicator then at its bound (``U`` for ``higher``, ``L`` for ``lower``);
* the rise that alone closes a gap of ``G`` points, when it lies within the headroom.

Where the bounds are crossed follows from the indicators' definitions (02-inputs.md §2.3): a value, a growth
rate and a ratio's numerator move linearly with ``m``, a ratio whose denominator is ``m`` moves as
``c / (m + r)``. So between two such crossings every indicator ``m`` feeds is either clipped (constant) or
in range, and the total is exactly ``A + B·r + C / (x + r)`` (``C = 0`` when ``m`` is no denominator). The
crossings come from two evaluations of the real indicator values (at ``x`` and ``x + δ``); the rise that
closes a gap is solved on that form from three totals the scorer computes inside the interval, and checked
with one more — a root that does not check out is replaced by the end of its interval, a rise that surely
closes the gap. A card chunk's zones go through four calls of the scorer's functions together
(:meth:`ZoneScorer.evaluate_raised`: a row with one measure raised scores again only the indicators that measure
feeds, every other indicator's score is the zone's as it is); what follows from their results (crossings, headroom,
the intervals solved) is computed on arrays of every lever at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue, Indicator
from etdz.scoring.aggregate import category_scores, category_weights, indicator_weights, total_score
from etdz.scoring.indicators import OK, indicator_columns
from etdz.scoring.scores import Bounds, score_on_bounds

#: The step is at least this many canonical units of the measure ("one unit of the measure", §3.8)
ONE_UNIT = 1.0
#: and at least this share of its value
STEP_SHARE = 0.01
#: A change of the total smaller than this (points) is no change: float noise of the re-scoring
POINTS_EPS = 1e-9
#: When a gaining indicator never reaches its bound (a ratio falling towards a bound of 0), the rises looked
#: at stop at this multiple of max(x, δ): a thousandfold rise is no advice
FAR = 1000.0


def bounds_from_table(catalogue: Catalogue, table: pd.DataFrame) -> list[Bounds]:
    """The year's ``indicator_bounds`` dataset as the scorer's :class:`Bounds`, in catalogue order.

    Raises ValueError naming the indicator when the dataset lacks one of the catalogue's indicators (the
    dataset and the catalogue are not of the same run).
    """
    rows = {r["indicator_code"]: r for r in table.to_dict("records")}

    def opt(x) -> float | None:
        return None if x is None or (isinstance(x, float) and math.isnan(x)) or pd.isna(x) else float(x)

    out = []
    for ind in catalogue.indicators:
        r = rows.get(ind.code)
        if r is None:
            raise ValueError(f"indicator_bounds has no row for indicator {ind.code} of catalogue "
                             f"{catalogue.version}: re-run the scoring of the year")
        out.append(Bounds(opt(r.get("lower")), opt(r.get("upper")), opt(r.get("mean")),
                          opt(r.get("imputed_score")) or 0.0, int(opt(r.get("n_finite")) or 0)))
    return out


@dataclass(frozen=True)
class ZoneMeasures:
    """What the scorer read for one zone: its canonical values of Y and Y−1 and whether it had an accepted file."""

    current: Mapping[str, float]
    previous: Mapping[str, float]
    accepted: bool
    prev_accepted: bool


@dataclass
class Evaluation:
    """The scorer's results for rows of measures of one zone: values, statuses, scores (rows × indicators), totals."""

    values: np.ndarray
    status: np.ndarray
    scores: np.ndarray
    totals: np.ndarray


class ZoneScorer:
    """Re-scores zones alone, on the year's fixed bounds, for any number of variants of their measures at once.

    Every call of the scorer's functions costs about the same whatever its number of rows (pandas' overhead),
    so the variants of many zones go through one call: ``zones`` are the zones scored together (a card
    chunk), and each row of :meth:`evaluate` names the zone it is a variant of.
    """

    def __init__(self, catalogue: Catalogue, bounds: list[Bounds], zones: list[ZoneMeasures]):
        self.catalogue, self.bounds, self.zones = catalogue, bounds, zones
        self.codes = list(catalogue.measures)
        self.position = {c: j for j, c in enumerate(self.codes)}
        self.base = np.array([[_f(z.current.get(c)) for c in self.codes] for z in zones],
                             dtype="float64").reshape(len(zones), len(self.codes))
        self.prev = np.array([[_f(z.previous.get(c)) for c in self.codes] for z in zones],
                             dtype="float64").reshape(len(zones), len(self.codes))
        self.accepted = np.array([z.accepted for z in zones], dtype=bool)
        self.prev_accepted = np.array([z.prev_accepted for z in zones], dtype=bool)
        self._w, self._W = indicator_weights(catalogue), category_weights(catalogue)
        feeds = measure_indicators(catalogue)
        self.fed = [feeds.get(c, []) for c in self.codes]  # per measure position, the indicators it feeds
        self._as_is: Evaluation | None = None

    def evaluate(self, zone: np.ndarray, rows: np.ndarray) -> Evaluation:
        """Score each row of ``rows`` (variants × measures, catalogue measure order) as zone ``zone[row]``."""
        zone = np.asarray(zone, dtype=int)
        rows = np.asarray(rows, dtype="float64").reshape(len(zone), len(self.codes))
        prev, at = self.prev[zone], self.position
        # the scorer's indicator rules on the arrays themselves: indicator_values' frames would be built (the
        # statuses as text) only to be read back into arrays here
        columns = indicator_columns(self.catalogue, lambda c: rows[:, at[c]], lambda c: prev[:, at[c]],
                                    self.accepted[zone], self.prev_accepted[zone])
        v = np.column_stack([c[0] for c in columns]).reshape(len(zone), len(columns))
        st = np.column_stack([c[1] for c in columns]).reshape(len(zone), len(columns))
        scores = np.column_stack([score_on_bounds(v[:, n], st[:, n], ind.direction, b)
                                  for n, (ind, b) in enumerate(zip(self.catalogue.indicators, self.bounds))])
        totals = total_score(category_scores(scores, self.catalogue, self._w), self._W)
        return Evaluation(v, st, scores, np.asarray(totals, dtype="float64").reshape(-1))

    def evaluate_raised(self, zone: np.ndarray, position: np.ndarray, rise: np.ndarray) -> Evaluation:
        """``evaluate(*raised_arrays(zone, position, rise))``, the same results, scoring again only the indicators
        each row's raised measure feeds: every other indicator of the row has the inputs of the zone as it is, so
        its value, status and score are those (scored once per zone). The totals are computed on the whole rows."""
        zone, position = np.asarray(zone, dtype=int), np.asarray(position, dtype=int)
        rise = np.asarray(rise, dtype="float64")
        if self._as_is is None:
            self._as_is = self.evaluate(np.arange(len(self.zones)), self.base)
        values, status, scores = self._as_is.values[zone], self._as_is.status[zone], self._as_is.scores[zone]
        at_measure = self.position
        for j in np.unique(position).tolist():
            fed = self.fed[j]
            if not fed:
                continue
            at = np.flatnonzero(position == j)
            z = zone[at]
            rows = self.base[z].copy()
            rows[:, j] = self.base[z, j] + rise[at]
            prev = self.prev[z]
            columns = indicator_columns(self.catalogue, lambda c, rows=rows: rows[:, at_measure[c]],
                                        lambda c, prev=prev: prev[:, at_measure[c]], self.accepted[z],
                                        self.prev_accepted[z], only=fed)
            for n, (v, st) in zip(fed, columns):
                values[at, n], status[at, n] = v, st
                scores[at, n] = score_on_bounds(v, st, self.catalogue.indicators[n].direction, self.bounds[n])
        totals = total_score(category_scores(scores, self.catalogue, self._w), self._W)
        return Evaluation(values, status, scores, np.asarray(totals, dtype="float64").reshape(-1))

    def raised(self, triples: list[tuple[int, int, float]]) -> tuple[np.ndarray, np.ndarray]:
        """(zones, rows) for :meth:`evaluate`: for each (zone, measure position, rise) the zone's own measures
        with that one raised; a rise of 0 is the zone as it is."""
        return self.raised_arrays(np.array([t[0] for t in triples], dtype=int),
                                  np.array([t[1] for t in triples], dtype=int),
                                  np.array([t[2] for t in triples], dtype="float64"))

    def raised_arrays(self, zone: np.ndarray, position: np.ndarray, rise: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`raised` with the triples given as three arrays."""
        rows = self.base[zone].copy()
        at = np.arange(len(zone))
        rows[at, position] = self.base[zone, position] + rise
        return zone, rows


@dataclass
class Lever:
    """What raising one measure alone does to the zone's total (§3.8)."""

    measure: str
    name_zh: str
    unit: str                  # the measure's canonical unit: Δ is per one of it
    value: float               # the zone's value now
    step: float                # δ = max(1% of the value, one unit)
    points_per_unit: float     # Δ_m = (T(x + δ) − T(x)) / δ
    headroom: float            # the rise before no indicator it feeds gains (inf: none reaches its bound; 0: at bound)
    points_left: float         # the most points the rise alone adds, within the headroom
    gains: tuple[str, ...]     # indicators whose score rises with it (codes, catalogue order)
    falls: tuple[str, ...]     # indicators whose score falls with it
    fed: tuple[str, ...]       # every indicator it feeds
    _probes: list[float] = field(default_factory=list, repr=False)   # rises looked at, ascending
    _gain_at: list[float] = field(default_factory=list, repr=False)  # T(x + probe) − T(x) at each
    _hyperbolic: bool = field(default=False, repr=False)  # a denominator of an indicator it feeds

    @property
    def unlimited(self) -> bool:
        """No indicator it feeds ever reaches its bound (a ratio falling towards a bound of 0)."""
        return math.isinf(self.headroom)


@dataclass
class ZoneLevers:
    """Every measure the zone reported, sorted out: levers (Δ > 0, most points per unit first), measures whose
    rise lowers the total, and measures that give no points; ``total`` is the re-scored total (= the published)."""

    total: float
    levers: list[Lever]
    lowering: list[Lever]
    no_points: list[Lever]


def measure_indicators(catalogue: Catalogue) -> dict[str, list[int]]:
    """For each measure, the positions (catalogue order) of the indicators it feeds."""
    out: dict[str, list[int]] = {c: [] for c in catalogue.measures}
    for n, ind in enumerate(catalogue.indicators):
        for m in dict.fromkeys(ind.measures_used):
            out.setdefault(m, []).append(n)
    return out


def _f(x) -> float:
    return float("nan") if x is None or pd.isna(x) else float(x)


def step_for(value):
    """δ = max(1% of |value|, one canonical unit), of a value or of an array of them."""
    return np.maximum(STEP_SHARE * np.abs(value), ONE_UNIT)


def _crossings(ind: Indicator, measure: str, b: Bounds, x: np.ndarray, step: np.ndarray, v0: np.ndarray,
               v1: np.ndarray, st1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where indicator ``ind`` (fed by ``measure``; for each lever its value ``v0`` at x and ``v1``, status ``st1``
    at x + δ) crosses its bounds as the measure rises by r > 0: (the crossings r, levers × 2, NaN for none; the
    rise at which it stops gaining, NaN where it does not gain).

    The rise to stop gaining is 0 when it reaches its bound at once (a growth from a zero base) or already is
    there, ``inf`` when it approaches the bound without reaching it."""
    cuts = np.full((len(x), 2), np.nan)
    stop = np.full(len(x), np.nan)
    if b.lower is None or b.upper is None or not b.upper > b.lower:
        return cuts, stop  # U = L scores 100 whatever the value
    if ind.kind == "ratio" and ind.numerator == ind.denominator:
        return cuts, stop  # m / m: constant
    lo, hi = b.lower, b.upper
    good = hi if ind.direction == "higher" else lo
    ok = st1 == OK  # missing stays missing, an imputed score does not follow the value
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if ind.kind == "ratio" and ind.denominator == measure:
            c = v1 * (x + step)  # v(r) = c / (x + r)
            ok &= np.isfinite(v1) & (c != 0)
            for col, level in enumerate((lo, hi)):
                if level != 0:
                    r = c / level - x
                    keep = ok & (c / level > 0) & (r > 0)
                    cuts[keep, col] = r[keep]
            gaining = ok & ((c > 0) == (ind.direction == "lower"))  # v falls as m rises when c > 0
            if good == 0:
                stop[gaining] = math.inf
            else:
                at = c / good - x
                stop[gaining] = np.where(c / good <= 0, math.inf, np.where(at > 0, at, 0.0))[gaining]
            return cuts, stop
        # value, growth, a ratio's numerator: linear in r
        # growth from a zero base: any rise is +inf (clipped to U); constant from then on
        jump = ok & ~np.isfinite(v1) & ((v1 > 0) == (ind.direction == "higher")) & ~(v0 == v1)
        stop[jump] = 0.0
        k = (v1 - v0) / step
        ok &= np.isfinite(v1) & np.isfinite(v0) & (k != 0)
        for col, level in enumerate((lo, hi)):
            r = (level - v0) / k
            keep = ok & (r > 0)
            cuts[keep, col] = r[keep]
        gaining = ok & ((k > 0) == (ind.direction == "higher"))
        at = (good - v0) / k
        stop[gaining] = np.where(at > 0, at, 0.0)[gaining]
    return cuts, stop


def zone_levers(scorer: ZoneScorer) -> list[ZoneLevers]:
    """For each zone of ``scorer``, every measure it reported sorted into levers, lowering measures and no
    points (see the module doc). Two calls of the scorer for all the zones together; what follows from their
    results is computed for all the zones' measures at once, measure by measure."""
    cat, inds, fed_of = scorer.catalogue, scorer.catalogue.indicators, scorer.fed
    n_zones = len(scorer.zones)
    # each zone as it is, then each measure it reported raised by its step (zone by zone, in measure order)
    pz, pj = np.nonzero(np.isfinite(scorer.base) & np.array([bool(f) for f in fed_of], dtype=bool))
    x = scorer.base[pz, pj]
    step = step_for(x)
    counts = np.bincount(pz, minlength=n_zones)
    before = np.cumsum(counts) - counts  # a zone's first lever among all
    base_row = np.arange(n_zones) + before
    row = base_row[pz] + 1 + (np.arange(len(pz)) - before[pz])
    zone, pos, rise = (np.empty(n_zones + len(pz), dtype=int), np.zeros(n_zones + len(pz), dtype=int),
                       np.zeros(n_zones + len(pz)))
    zone[base_row], zone[row], pos[row], rise[row] = np.arange(n_zones), pz, pj, step
    first = scorer.evaluate_raised(zone, pos, rise)
    t0 = first.totals[base_row]
    dt = first.totals[row] - t0[pz]

    # per lever, from the indicators its measure feeds: headroom, crossings, hyperbolic, gains and falls
    headroom = np.zeros(len(pz))
    hyperbolic = np.zeros(len(pz), dtype=bool)
    probes_of = np.empty(len(pz), dtype=object)
    named: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]] | None] = [None] * len(pz)
    for j, fed in enumerate(fed_of):
        mine = np.flatnonzero(pj == j)
        if not len(mine) or not fed:
            continue
        code, r0, r1 = scorer.codes[j], base_row[pz[mine]], row[mine]
        xs, steps = x[mine], step[mine]
        cuts, stops = [], []
        for n in fed:
            c, st = _crossings(inds[n], code, scorer.bounds[n], xs, steps, first.values[r0, n],
                               first.values[r1, n], first.status[r1, n])
            cuts.append(c)
            stops.append(st)
            if inds[n].kind == "ratio" and inds[n].denominator == code:
                hyperbolic[mine] |= ~np.isnan(c).all(axis=1) | ~np.isnan(st)
        stops_m = np.column_stack(stops)
        stopped = ~np.isnan(stops_m)
        room = np.where(stopped.any(axis=1), np.where(stopped, stops_m, -math.inf).max(axis=1), 0.0)
        headroom[mine] = room
        cap = np.where(np.isfinite(room), room, FAR * np.maximum(np.abs(xs), steps))
        # the rises looked at: the crossings below the cap, the cap, the step when below it; ascending, once each
        cand = np.column_stack([*cuts, cap, steps])
        keep = np.column_stack([np.concatenate(cuts, axis=1) < cap[:, None], cap > 0, steps < cap])
        cand = np.sort(np.where(keep, cand, np.nan), axis=1)
        cand[:, 1:][cand[:, 1:] == cand[:, :-1]] = np.nan
        probes_of[mine] = [[r for r in rs if r == r] or [s] for rs, s in zip(cand.tolist(), steps.tolist())]
        diff = first.scores[r1][:, fed] - first.scores[r0][:, fed]
        fed_codes = tuple(inds[n].code for n in fed)
        bits = 1 << np.arange(len(fed))
        names: dict[tuple[int, int], tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {}
        for p, up, down in zip(mine.tolist(), ((diff > POINTS_EPS) @ bits).tolist(),
                               ((diff < -POINTS_EPS) @ bits).tolist()):
            key = (up, down)
            if key not in names:
                names[key] = (tuple(cd for b, cd in zip(bits.tolist(), fed_codes) if up & b),
                              tuple(cd for b, cd in zip(bits.tolist(), fed_codes) if down & b), fed_codes)
            named[p] = names[key]

    out = [ZoneLevers(t, [], [], []) for t in t0.tolist()]
    plans: list[tuple[int, Lever]] = []
    for p, (z, j, xv, sv, d, room, hyp) in enumerate(zip(pz.tolist(), pj.tolist(), x.tolist(), step.tolist(),
                                                         dt.tolist(), headroom.tolist(), hyperbolic.tolist())):
        m = cat.measures[scorer.codes[j]]
        gains, falls, fed_codes = named[p]
        lever = Lever(scorer.codes[j], m.name_zh, m.unit, xv, sv, d / sv, room, max(0.0, d), gains, falls, fed_codes,
                      _hyperbolic=hyp)
        if d > POINTS_EPS:
            lever._probes = probes_of[p]
            plans.append((z, lever))
            out[z].levers.append(lever)
        elif d < -POINTS_EPS:
            out[z].lowering.append(lever)
        else:
            out[z].no_points.append(lever)
    if plans:  # the total at every crossing of every lever of every zone, in one call
        zs = np.repeat([z for z, _ in plans], [len(lv._probes) for _, lv in plans])
        ev = scorer.evaluate_raised(
            zs, np.repeat([scorer.position[lv.measure] for _, lv in plans], [len(lv._probes) for _, lv in plans]),
            np.array([r for _, lv in plans for r in lv._probes], dtype="float64"))
        gained = (ev.totals - t0[zs]).tolist()
        at = 0
        for _, lv in plans:
            lv._gain_at = gained[at: at + len(lv._probes)]
            at += len(lv._probes)
            lv.points_left = max(lv.points_left, max(lv._gain_at))
    for zl in out:
        zl.levers.sort(key=lambda lv: (-lv.points_per_unit, -lv.points_left, lv.measure))
        zl.lowering.sort(key=lambda lv: (lv.points_per_unit, lv.measure))
    return out


def rises_to_close(scorer: ZoneScorer, levers: list[ZoneLevers],
                   gaps: list[list[float]]) -> list[list[dict[str, float | None]]]:
    """For each zone of ``scorer`` and each of its gaps (points), each lever's rise that alone closes the gap
    within its headroom (None: not enough; 0.0 for a gap already closed). The first crossing is solved on
    ``A + B·r + C/(x + r)`` (module doc) from three totals the scorer computes inside the interval, then checked
    by the scorer: two calls for all the zones together, the rest on arrays of every (zone, gap, lever)."""
    if len(gaps) != len(levers):
        raise ValueError(f"rises_to_close: {len(gaps)} lists of gaps for {len(levers)} zones: one per zone")
    flat = [lv for zl in levers for lv in zl.levers]
    per_zone = np.array([len(zl.levers) for zl in levers], dtype=int)
    first_lever = np.cumsum(per_zone) - per_zone
    # every (zone, gap, lever): the gaps in zone order, each with every lever of its zone
    gap_zone = np.repeat(np.arange(len(gaps)), [len(zg) for zg in gaps])
    gap_value = np.array([gap for zg in gaps for gap in zg], dtype="float64")
    combo_gap = np.repeat(np.arange(len(gap_zone)), per_zone[gap_zone])
    combo_start = np.cumsum(per_zone[gap_zone]) - per_zone[gap_zone]
    lever = first_lever[gap_zone[combo_gap]] + np.arange(len(combo_gap)) - combo_start[combo_gap]
    gap, zone = gap_value[combo_gap], gap_zone[combo_gap]
    value = np.zeros(len(combo_gap))  # a gap already closed: 0.0
    none = np.zeros(len(combo_gap), dtype=bool)
    if len(combo_gap):
        # each lever's totals at the rises looked at (padded): the first rise whose gain reaches the gap
        width = max(len(lv._probes) for lv in flat)
        probes = np.full((len(flat), width), np.nan)
        gained = np.full((len(flat), width), -math.inf)
        for n, lv in enumerate(flat):
            probes[n, :len(lv._probes)] = lv._probes
            gained[n, :len(lv._gain_at)] = lv._gain_at
        open_ = gap > 0
        reach = gained[lever] >= (gap - POINTS_EPS)[:, None]
        b = reach.argmax(axis=1)
        none = open_ & ~reach.any(axis=1)
        job = np.flatnonzero(open_ & ~none)
        if len(job):
            jl, jb, jz, jgap = lever[job], b[job], zone[job], gap[job]
            ra = np.where(jb > 0, probes[jl, np.maximum(jb - 1, 0)], 0.0)
            rb = probes[jl, jb]
            x = np.array([lv.value for lv in flat], dtype="float64")[jl]
            hyperbolic = np.array([lv._hyperbolic for lv in flat], dtype=bool)[jl]
            pos = np.array([scorer.position[lv.measure] for lv in flat], dtype=int)[jl]
            total = np.array([zl.total for zl in levers], dtype="float64")
            fracs = np.array([0.25, 0.5, 1.0])  # three totals inside each interval: its quarter, middle and end
            rs = ra[:, None] + fracs[None, :] * (rb - ra)[:, None]
            ev = scorer.evaluate_raised(np.repeat(jz, 3), np.repeat(pos, 3), rs.reshape(-1))
            ts = ev.totals.reshape(-1, 3) - total[jz][:, None]
            roots = _solve(rs, ts, x, jgap, ra, rb, hyperbolic)
            check = scorer.evaluate_raised(jz, pos, roots).totals
            closes = check - total[jz] >= jgap - 1e-7 * np.where(jgap > 1.0, jgap, 1.0)
            value[job] = np.where(closes, roots, rb)  # the end of the interval surely closes it
    out: list[list[dict[str, float | None]]] = [[{} for _ in zg] for zg in gaps]
    gap_index = [g for zg in gaps for g in range(len(zg))]  # each gap's place among its zone's
    for z, g, n, v, missing in zip(zone.tolist(), [gap_index[e] for e in combo_gap.tolist()], lever.tolist(),
                                   value.tolist(), none.tolist()):
        lv = flat[n]
        out[z][g][lv.measure] = None if missing else v
    return out


def _solve(rs: np.ndarray, ts: np.ndarray, x: np.ndarray, gap: np.ndarray, ra: np.ndarray, rb: np.ndarray,
           hyperbolic: np.ndarray) -> np.ndarray:
    """For each interval (rows of ``rs``, ``ts``: three rises and the gains there), the smallest r in [ra, rb]
    with ``A + B·r + C/(x + r) = gap``, the form fitted to its points; ``rb`` when no root lies there (the caller
    checks each root with the scorer anyway)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        curved = hyperbolic & (x + rs.min(axis=1) > 0)
        # linear on the interval: the line through its middle and end
        slope = (ts[:, 2] - ts[:, 1]) / (rs[:, 2] - rs[:, 1])
        qa, qb, qc = np.zeros(len(rs)), slope, ts[:, 2] - slope * rs[:, 2] - gap
        failed = np.zeros(len(rs), dtype=bool)
        at = np.flatnonzero(curved)
        if len(at):
            basis = np.stack([np.ones((len(at), 3)), rs[at], 1.0 / (x[at][:, None] + rs[at])], axis=2)
            abc = np.full((len(at), 3), np.nan)
            try:
                abc[:] = np.linalg.solve(basis, ts[at][:, :, None])[:, :, 0]
            except np.linalg.LinAlgError:  # one singular system among them: each on its own
                for k in range(len(at)):
                    try:
                        abc[k] = np.linalg.solve(basis[k], ts[at[k]])
                    except np.linalg.LinAlgError:
                        failed[at[k]] = True
            a, b, c = abc[:, 0], abc[:, 1], abc[:, 2]
            g, xa = gap[at], x[at]
            # (a − gap)(x + r) + b·r(x + r) + c = 0  →  b r² + (b x + a − gap) r + (a − gap) x + c = 0
            qa[at], qb[at], qc[at] = b, b * xa + a - g, (a - g) * xa + c
        span = np.where(rb > 1.0, rb, 1.0)
        # squared by Python's float power (libm's pow): numpy's square (x * x) may differ from it in the last bit
        span2 = np.array([m ** 2 if m < 1e150 else math.inf for m in span.tolist()])
        flat = (qa == 0) | (np.abs(qa) * span2 < 1e-12 * (np.abs(qb) * span + np.abs(qc)))
        r1 = np.where(flat & (qb != 0), -qc / qb, np.nan)
        r2 = np.full(len(rs), np.nan)
        disc = qb * qb - 4 * qa * qc
        quad = ~flat & (disc >= 0)
        q = -0.5 * (qb + np.copysign(np.sqrt(np.where(quad, disc, 0.0)), qb))  # the stable pair of roots
        r1 = np.where(quad, q / qa, r1)
        r2 = np.where(quad & (q != 0), qc / q, r2)
        tol = 1e-9 * span
        ok1 = np.isfinite(r1) & (ra - tol <= r1) & (r1 <= rb + tol)
        ok2 = np.isfinite(r2) & (ra - tol <= r2) & (r2 <= rb + tol)
        first = np.where(ok1 & ok2, np.where(r2 < r1, r2, r1), np.where(ok1, r1, r2))  # the smaller inside
        first = np.where(ra > first, ra, first)
        first = np.where(rb < first, rb, first)
        return np.where((ok1 | ok2) & ~failed, first, rb)
