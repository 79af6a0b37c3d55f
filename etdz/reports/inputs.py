"""What the reports read, and the lookups computed once per year.

:class:`ReportInputs` is the entry point's argument (the year's datasets, as DataFrames with the columns
of :mod:`etdz.schemas`). :func:`prepare` turns it into a :class:`YearView`: every per-zone lookup built in
one pass (grouped once, never filtered per zone), so 230 cards render from dictionaries.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue, Indicator, indicator_unit
from etdz.deadlines import default_deadline
from etdz.queries import LABELS, NO_PORTAL, QueryStatus, query_status, results_label
from etdz.rejections import beijing_time, first_errors, notice_key, notice_names
from etdz.reports.templating import REGION_ORDER, is_missing
from etdz.scoring.downgrade import bottom_flags
from etdz.scoring.levers import bounds_from_table
from etdz.scoring.scores import Bounds
from etdz.submission_log import accepted_zones


@dataclass
class ReportInputs:
    data_year: int
    catalogue: Catalogue                  # the year's methodology catalogue
    rankings: pd.DataFrame                # rankings of Y (etdz.schemas.rankings_schema)
    category_scores: pd.DataFrame
    indicator_scores: pd.DataFrame
    indicator_bounds: pd.DataFrame
    downgrade_watchlist: pd.DataFrame     # bottom_years is a list column
    upgrade_candidates: pd.DataFrame
    submission_log: pd.DataFrame
    submission_issues: pd.DataFrame
    measures: pd.DataFrame                # accepted measure values (canonical units) of Y
    history: pd.DataFrame                 # rankings of all years on record up to Y, plus an int column data_year
    ranking_changes: pd.DataFrame | None = None    # what the last correction changed (None: not computed)
    rank_robustness: pd.DataFrame | None = None    # §3.9 rank intervals (None: not computed for the year)
    # What the scorer read of Y−1 for the growth indicators (etdz.history.previous_submissions): its accepted
    # measures (zone_code, measure_code, value) and the zones with an accepted file. The cards' levers by measure
    # (§3.8) re-score a zone with them; None: Y−1 had no submissions.
    prev_measures: pd.DataFrame | None = None
    prev_accepted: set[str] | frozenset[str] | None = None
    demo: bool = False            # a demo deployment (Settings.demo): every page and sheet says its data are invented
    deadline: date | None = None  # the data year's submission deadline (etdz.deadlines), for the no-valid-file cards
    # the year's review queries (portal.queries.year_queries; docs/contract/06-portal.md §6.3); None: no portal database
    queries: list[dict] | None = None


def indicator_is_integer(ind: Indicator, catalogue: Catalogue) -> bool:
    return ind.kind == "value" and catalogue.measures[ind.measure].integer


@dataclass
class IndicatorMeta:
    code: str
    name_zh: str
    name_en: str | None
    category: str
    direction: str
    kind: str
    weight: float
    eff_weight: float          # W_k * w_i / sum_{j in k} w_j: points of total per point of score / 100
    unit: str
    integer: bool
    lower: float = float("nan")
    upper: float = float("nan")
    mean: float = float("nan")


def _opt_int(x):
    return None if is_missing(x) else int(x)


def _opt_float(x):
    return None if is_missing(x) else float(x)


@dataclass
class YearView:
    """One year, precomputed for rendering."""

    data_year: int
    catalogue: Catalogue
    inputs: ReportInputs
    zones: list[dict]                                  # rankings rows, by national rank
    zone_by_code: dict[str, dict]
    indicators: list[IndicatorMeta]
    indicator_by_code: dict[str, IndicatorMeta]
    categories: list[dict]                             # code, name_zh, name_en, weight, n_indicators
    regions: list[str]
    n_total: int
    n_region: dict[str, int]
    n_province: dict[str, int]
    totals_desc: np.ndarray                            # totals, descending (for §3.8 targets)
    cat_scores: dict[str, dict[str, tuple[float, int | None]]]   # zone -> category -> (score, rank)
    cat_avg_nat: dict[str, float]
    cat_avg_reg: dict[str, dict[str, float]]           # region -> category -> mean
    total_avg_nat: float
    total_avg_reg: dict[str, float]
    ind_rows: Mapping[str, list[dict]]                 # zone -> indicator rows in catalogue order (ZoneRows)
    history_by_zone: Mapping[str, list[dict]]          # zone -> rows of every year, by year (ZoneRows)
    history_years: list[int]
    history_counts: dict[int, dict]                    # year -> {"N": n, "region": {...}, "province": {...}}
    bottom_years: dict[str, list[int]]                 # zone -> years it was in the downgrade-rule bottom
    watch_by_zone: dict[str, dict]
    provisional: bool
    robust_by_zone: dict[str, dict] | None             # zone -> its rank_robustness row (None: not computed)
    region_bottom_now: set[str]                        # zones in their region's bottom n this year (§3.6)
    # what the scorer read, for the levers by measure (§3.8, etdz.reports.targets.card_levers)
    measures_by_zone: Mapping[str, dict[str, float]]   # zone -> measure -> Y's canonical value (ZoneMeasureValues)
    prev_measures_by_zone: Mapping[str, dict[str, float]]  # the same for Y−1
    accepted: set[str]                                # zones with an accepted file in Y (submission_log)
    prev_accepted: set[str]                           # and in Y−1
    bounds: list[Bounds] | None                        # the year's indicator_bounds, catalogue order
    bounds_problem: str | None                         # why ``bounds`` is None
    demo: bool = False                                 # ReportInputs.demo
    deadline: date | None = None                       # the year's submission deadline (Asia/Shanghai, inclusive)
    # zone -> its rejected files of Y, in log order: file_name, received (Beijing time), late, errors, first_error
    # (the first error in words) and notice (its rejection notice's name, etdz.rejections)
    rejected_by_zone: dict[str, list[dict]] | None = None
    unattributed_rejected: int = 0                     # rejected files of Y whose zone could not be told (no card)
    queries: QueryStatus = NO_PORTAL                   # the year's review queries by state (etdz.queries)
    results: str = "final"                             # final / under_review / provisional (etdz.queries.results_label)
    results_text: str = "正式 final"                   # its words, with the query counts when there is a portal


def _records(df: pd.DataFrame) -> list[dict]:
    return df.to_dict("records") if len(df) else []


def prepare(inp: ReportInputs) -> YearView:
    cat = inp.catalogue
    Y = int(inp.data_year)
    rk = inp.rankings.sort_values(["national_rank", "zone_code"], kind="stable")
    zones = _records(rk)
    for z in zones:
        for c in ("national_rank", "regional_rank", "provincial_rank", "prev_national_rank", "rank_change",
                  "indicators_better_than_avg", "indicators_better_than_regional_avg", "indicators_total",
                  *[f"rank_{m}" for m in cat.top_lists]):
            if c in z:
                z[c] = _opt_int(z[c])
        z["total_score"] = _opt_float(z["total_score"])
        for c in ("downgrade_candidate", "summoned", "top100", "method_changed"):
            z[c] = bool(z.get(c)) if not is_missing(z.get(c)) else False
    zone_by_code = {z["zone_code"]: z for z in zones}
    present = [r for r in REGION_ORDER if r in set(rk.region)]
    regions = present + sorted(set(map(str, rk.region)) - set(REGION_ORDER))

    # indicators: metadata, bounds, effective weights
    bounds = {r["indicator_code"]: r for r in _records(inp.indicator_bounds)}
    metas: list[IndicatorMeta] = []
    categories = []
    for k in cat.categories:
        inds = cat.indicators_of(k.code)
        wsum = sum(float(i.weight) for i in inds)
        categories.append({"code": k.code, "name_zh": k.name_zh, "name_en": k.name_en, "weight": float(k.weight),
                           "n_indicators": len(inds)})
        for i in inds:
            b = bounds.get(i.code, {})
            metas.append(IndicatorMeta(
                code=i.code, name_zh=i.name_zh or i.code, name_en=i.name_en, category=i.category,
                direction=i.direction, kind=i.kind, weight=float(i.weight),
                eff_weight=float(k.weight) * float(i.weight) / wsum, unit=indicator_unit(i, cat),
                integer=indicator_is_integer(i, cat),
                lower=_nan(b.get("lower")), upper=_nan(b.get("upper")), mean=_nan(b.get("mean"))))
    meta_by_code = {m.code: m for m in metas}

    # category scores: one pivot, averages by region
    cs = inp.category_scores
    cat_scores: dict[str, dict] = {}
    for zc, kc, s, r in zip(cs.zone_code, cs.category_code, cs.score, cs.national_rank):
        cat_scores.setdefault(zc, {})[kc] = (_opt_float(s), _opt_int(r))
    cs_r = cs.merge(rk[["zone_code", "region"]], on="zone_code", how="inner")
    cat_avg_nat = cs_r.groupby("category_code")["score"].mean().to_dict()
    cat_avg_reg: dict[str, dict] = {}
    for (reg, kc), v in cs_r.groupby(["region", "category_code"])["score"].mean().items():
        cat_avg_reg.setdefault(reg, {})[kc] = float(v)
    total_avg_nat = float(rk.total_score.mean()) if len(rk) else float("nan")
    total_avg_reg = {r: float(v) for r, v in rk.groupby("region")["total_score"].mean().items()}

    # indicator rows grouped by zone, in catalogue order: built for a zone when its card asks (ZoneRows)
    order = {m.code: n for n, m in enumerate(metas)}
    ind = inp.indicator_scores
    ind_rows = ZoneRows(ind, ["zone_code", "indicator_code", "category_code", "value", "status", "score", "imputed",
                              "better_than_national_avg", "better_than_regional_avg"],
                        sort_by="indicator_code", order=order,
                        flags=("imputed", "better_than_national_avg", "better_than_regional_avg"),
                        reals=("value", "score"))

    # history: every year on record (Y included even if the caller's history lacks it)
    hist = inp.history
    if hist is None or len(hist) == 0:
        hist = rk.assign(data_year=Y)
    elif Y not in set(hist.data_year.astype(int)):
        hist = pd.concat([hist, rk.assign(data_year=Y)], ignore_index=True)
    hist = hist[hist.data_year.astype(int) <= Y]
    hist = hist.assign(data_year=hist.data_year.astype(int))
    counts: dict[int, dict] = {}
    for y, g in hist.groupby("data_year"):
        counts[int(y)] = {"N": len(g), "region": g.region.value_counts().to_dict(),
                          "province": g.province.value_counts().to_dict()}
    hcols = ["zone_code", "data_year", "national_rank", "regional_rank", "provincial_rank", "total_score",
             "region", "province", "method_version", "submission_status"]
    history_by_zone = ZoneRows(hist, [c for c in hcols if c in hist.columns],
                               sort_by="data_year", ints=("national_rank", "regional_rank", "provincial_rank"))

    # bottom-n years of the downgrade rule (docs/contract/03-scoring.md §3.6), from the ranks on record: the scorer's
    # rule
    bottom: dict[str, list[int]] = {}
    d = cat.downgrade
    region_bottom_now: set[str] = set()
    if d is not None:
        for y, g in hist.groupby("data_year", sort=True):
            flags = bottom_flags(g.reset_index(drop=True), d.bottom_n, d.rule).to_numpy(dtype=bool)
            for zc in g.zone_code.to_numpy()[flags]:
                bottom.setdefault(zc, []).append(int(y))
        region_bottom_now = set(rk.zone_code.to_numpy()[bottom_flags(rk.reset_index(drop=True), d.bottom_n,
                                                                     "regional_bottom").to_numpy(dtype=bool)])

    watch = {}
    for r in _records(inp.downgrade_watchlist):
        by = r.get("bottom_years")
        absent = by is None or (not hasattr(by, "__len__") and is_missing(by))
        r["bottom_years"] = [] if absent else [int(v) for v in by]
        r["region_candidate_rank"] = _opt_int(r.get("region_candidate_rank"))
        watch[r["zone_code"]] = r

    provisional = bool((rk.results_status == "provisional").any()) if len(rk) else False
    robust = None
    if inp.rank_robustness is not None:
        robust = {}
        for r in _records(inp.rank_robustness):
            robust[r["zone_code"]] = {
                **{c: _opt_int(r.get(c)) for c in ("rank_nominal", "rank_median", "rank_p05", "rank_p95", "samples",
                                                   "seed")},
                **{c: _opt_float(r.get(c)) for c in ("p_top100", "p_region_bottom", "p_candidate",
                                                     "p_national_bottom")}}
    totals = np.sort(rk.total_score.to_numpy(dtype=float))[::-1]
    try:
        lever_bounds, bounds_problem = bounds_from_table(cat, inp.indicator_bounds), None
    except ValueError as exc:
        lever_bounds, bounds_problem = None, str(exc)
    queries = query_status(inp.queries)
    label = results_label("provisional" if provisional else "final", queries)
    return YearView(
        data_year=Y, catalogue=cat, inputs=inp, zones=zones, zone_by_code=zone_by_code, indicators=metas,
        indicator_by_code=meta_by_code, categories=categories, regions=regions, n_total=len(zones),
        n_region={str(k): int(v) for k, v in rk.region.value_counts().items()},
        n_province={str(k): int(v) for k, v in rk.province.value_counts().items()},
        totals_desc=totals, cat_scores=cat_scores, cat_avg_nat={k: float(v) for k, v in cat_avg_nat.items()},
        cat_avg_reg=cat_avg_reg, total_avg_nat=total_avg_nat, total_avg_reg=total_avg_reg, ind_rows=ind_rows,
        history_by_zone=history_by_zone, history_years=sorted(counts), history_counts=counts,
        bottom_years=bottom, watch_by_zone=watch, provisional=provisional, robust_by_zone=robust,
        region_bottom_now=region_bottom_now, measures_by_zone=ZoneMeasureValues(inp.measures),
        prev_measures_by_zone=ZoneMeasureValues(inp.prev_measures), accepted=accepted_zones(inp.submission_log),
        prev_accepted=set(inp.prev_accepted or ()), bounds=lever_bounds, bounds_problem=bounds_problem,
        demo=bool(inp.demo), deadline=inp.deadline or default_deadline(Y),
        rejected_by_zone=_rejected_by_zone(inp, set(zone_by_code)),
        unattributed_rejected=_unattributed(inp.submission_log, set(zone_by_code)),
        queries=queries, results=label,
        results_text=" ".join(LABELS[label]) + (f" — {queries.describe()}" if queries.known else ""))


def _unattributed(log: pd.DataFrame | None, ranked: set[str]) -> int:
    """Rejected files whose zone code is missing or no ranked zone's: a card cannot say they were its own."""
    if log is None or len(log) == 0:
        return 0
    rejected = log[log["status"] == "rejected"]
    return int(sum(is_missing(z) or z not in ranked for z in rejected["zone_code"]))


def _rejected_by_zone(inp: ReportInputs, ranked: set[str]) -> dict[str, list[dict]]:
    """The rejected files of the year's ranked zones, with what a card says of each (``YearView.rejected_by_zone``).

    Notice names are :func:`etdz.rejections.notice_names`' — the ones the ingestion wrote; the registry codes it
    vouches for are the ranked zones and the upgrade candidates (every code a notice can carry here)."""
    log = inp.submission_log
    if log is None or len(log) == 0:
        return {}
    known = ranked | set(map(str, inp.upgrade_candidates.zone_code)) if len(inp.upgrade_candidates) else ranked
    names = notice_names(log, known)
    first = first_errors(inp.submission_issues)
    late = log["late"] if "late" in log else pd.Series(False, index=log.index)
    out: dict[str, list[dict]] = {}
    rejected = log["status"] == "rejected"
    for file_name, sha, zone, at, errors, is_late in zip(
            log.file_name[rejected], log.sha256[rejected], log.zone_code[rejected], log.received_at[rejected],
            log.errors[rejected], late[rejected]):
        if is_missing(zone) or zone not in ranked:
            continue
        key = (str(file_name), notice_key(file_name, sha))
        out.setdefault(zone, []).append({
            "file_name": str(file_name), "received": beijing_time(at), "late": bool(is_late) if not is_missing(
                is_late) else False, "errors": 0 if is_missing(errors) else int(errors),
            "first_error": first.get(key, ""), "notice": names.get(key)})
    return out


class _ByZone(Mapping):
    """zone -> what a card reads of one long frame, built for the zone when asked: the frame's columns kept as
    compact arrays (text as codes into its distinct values) with each zone's row numbers, instead of a Python
    object per row and value for every zone of the year (at 23,000 zones, most of the reports step's memory).
    A zone's rows keep the frame's order. Read-only."""

    def __init__(self, df: pd.DataFrame | None, cols: list[str]):
        self._cols: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
        self._rows: dict[str, np.ndarray] = {}
        if df is None or len(df) == 0:
            return
        for c in cols:
            s = df[c]
            if isinstance(s.dtype, np.dtype) and s.dtype.kind in "fiub":
                self._cols[c] = (s.to_numpy(), None)
            else:  # text and nullable columns: codes into the distinct values, a missing value one of them
                codes, uniques = pd.factorize(s, use_na_sentinel=False)
                self._cols[c] = (codes, np.asarray(list(uniques), dtype=object))
        codes, zones = self._cols["zone_code"]
        by = np.argsort(codes, kind="stable")
        for rows in np.split(by, np.flatnonzero(np.diff(codes[by])) + 1):
            zone = zones[codes[rows[0]]] if len(rows) else None
            if not is_missing(zone):
                self._rows[zone] = rows

    def _column(self, c: str, rows: np.ndarray) -> list:
        values, uniques = self._cols[c]
        return values[rows].tolist() if uniques is None else uniques[values[rows]].tolist()

    def __iter__(self):
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __contains__(self, code) -> bool:
        return code in self._rows


class ZoneRows(_ByZone):
    """zone -> its rows of a frame as dicts of ``cols`` (``YearView.ind_rows``, ``history_by_zone``), each value
    as a card reads it: ``flags`` bools (missing: False), ``reals`` floats (missing: NaN), ``ints`` ints or None;
    a zone's rows sorted (stably) by ``order[row[sort_by]]`` (last when not in ``order``), or by ``row[sort_by]``
    without an ``order``."""

    def __init__(self, df: pd.DataFrame | None, cols: list[str], *, sort_by: str, order: dict | None = None,
                 flags=(), reals=(), ints=()):
        super().__init__(df, cols)
        self._names, self._flags, self._reals, self._ints = cols, flags, reals, ints
        self._sort_by, self._order = sort_by, order

    def __getitem__(self, code) -> list[dict]:
        rows = self._rows[code]
        out = [dict(zip(self._names, r)) for r in zip(*(self._column(c, rows) for c in self._names))]
        for d in out:
            for c in self._flags:
                d[c] = False if is_missing(d[c]) else bool(d[c])
            for c in self._reals:
                d[c] = _nan(d[c])
            for c in self._ints:
                d[c] = _opt_int(d[c])
        key, order = self._sort_by, self._order
        out.sort(key=(lambda d: d[key]) if order is None else (lambda d: order.get(d[key], 1 << 30)))
        return out


class ZoneMeasureValues(_ByZone):
    """zone -> measure -> canonical value of a long ``measures`` frame (``YearView.measures_by_zone``); missing
    values left out, the last row of a pair wins, as in the scorer's pivot (etdz.scoring.indicators.measure_matrix)."""

    def __init__(self, measures: pd.DataFrame | None):
        super().__init__(measures, ["zone_code", "measure_code", "value"])

    def __getitem__(self, code) -> dict[str, float]:
        rows = self._rows[code]
        out: dict[str, float] = {}
        for m, x in zip(self._column("measure_code", rows), self._column("value", rows)):
            if not is_missing(x):
                out[m] = float(x)
        return out


def _nan(x) -> float:
    return float("nan") if is_missing(x) else float(x)
