"""The national report: the year at a glance (docs/contract/04-outputs.md §4.2)."""

from __future__ import annotations

import pandas as pd

from etdz.escape import markdown_table
from etdz.reports import changes_section, charts, method_annex
from etdz.reports.inputs import YearView, _opt_int, _records
from etdz.reports.robustness import depends, not_varied, pct, varied
from etdz.reports.templating import REGION_LABELS, environment, is_missing, region_colour, region_label
from etdz.scoring.downgrade import in_bottom as rule_in_bottom
from etdz.scoring.ranks import TOP100, in_top100

MOVERS = 10


def _zone_brief(v: YearView, code: str) -> dict:
    z = v.zone_by_code.get(code)
    if z is None:
        return {"zone_code": code, "name_zh": code, "province": "", "region": ""}
    return z


def context(v: YearView, generated: str) -> dict:
    cat = v.catalogue
    inp = v.inputs
    zones = v.zones

    # zones per region and submission status
    status_rows = []
    for r in v.regions:
        zr = [z for z in zones if z["region"] == r]
        acc = sum(z["submission_status"] == "accepted" for z in zr)
        status_rows.append({"region": r, "label": region_label(r), "colour": region_colour(r), "n": len(zr),
                            "accepted": acc, "no_valid": len(zr) - acc,
                            "provinces": len({z["province"] for z in zr})})
    totals = {"n": len(zones), "accepted": sum(s["accepted"] for s in status_rows),
              "no_valid": sum(s["no_valid"] for s in status_rows)}
    status_chart = charts.hbar_counts([
        {"label": s["label"], "colour": s["colour"],
         "parts": [{"n": s["accepted"], "cls": "accepted", "title": "accepted"},
                   {"n": s["no_valid"], "cls": "no_valid", "title": "no valid submission"}]}
        for s in status_rows])

    def with_cats(z):
        cs = v.cat_scores.get(z["zone_code"], {})
        return {**z, "cats": [cs.get(k["code"], (None, None))[0] for k in v.categories]}

    top30 = [with_cats(z) for z in zones if z["national_rank"] is not None and z["national_rank"] <= 30]
    region_top = []
    for r in v.regions:
        zr = sorted((z for z in zones if z["region"] == r and z["regional_rank"] is not None),
                    key=lambda z: (z["regional_rank"], z["zone_code"]))
        region_top.append({"region": r, "label": region_label(r), "colour": region_colour(r),
                           "zones": [z for z in zr if z["regional_rank"] <= 10]})

    # single-item top 10s: ranks from rankings, values from measures, units from the catalogue
    meas = inp.measures
    top_lists = []
    for m in cat.top_lists:
        col = f"rank_{m}"
        measure = cat.measures.get(m)
        if measure is None or not zones or col not in zones[0]:
            continue
        vals = {}
        if len(meas):
            sel = meas[meas.measure_code == m]
            vals = dict(zip(sel.zone_code, sel.value))
        rows = sorted((z for z in zones if z.get(col) is not None and z[col] <= 10),
                      key=lambda z: (z[col], z["zone_code"]))
        top_lists.append({"code": m, "name_zh": measure.name_zh, "name_en": measure.name_en, "unit": measure.unit,
                          "integer": measure.integer,
                          "rows": [{**z, "rank": z[col], "value": vals.get(z["zone_code"])} for z in rows]})

    dist = charts.distribution([
        {"key": r, "label": region_label(r), "colour": region_colour(r),
         "values": [z["total_score"] for z in zones if z["region"] == r], "n": v.n_region.get(r, 0)}
        for r in v.regions])
    region_stats = []
    for r in dist["rows"]:
        vals = [z["total_score"] for z in zones if z["region"] == r["key"] and z["total_score"] is not None]
        region_stats.append({"region": r["key"], "label": r["label"], "colour": r["colour"], "n": len(vals),
                             "mean": sum(vals) / len(vals) if vals else None, "median": r.get("median"),
                             "max": max(vals) if vals else None, "min": min(vals) if vals else None,
                             "cats": [v.cat_avg_reg.get(r["key"], {}).get(k["code"]) for k in v.categories]})

    # A zone with no valid submission scores 0 everywhere: its fall is no performance drop, nor is its rise the
    # year after; both are listed apart from the movers.
    prev_status = {code: r["submission_status"] for code, rows in v.history_by_zone.items() for r in rows
                   if r["data_year"] == v.data_year - 1 and "submission_status" in r}
    movers = [z for z in zones if z["rank_change"] is not None]
    fell = [z for z in movers if z["submission_status"] != "accepted" and z["rank_change"] < 0]
    back = [z for z in movers if z["submission_status"] == "accepted" and z["rank_change"] > 0
            and prev_status.get(z["zone_code"], "accepted") != "accepted"]
    apart = {z["zone_code"] for z in fell + back}
    performed = [z for z in movers if z["submission_status"] == "accepted" and z["zone_code"] not in apart]
    up = sorted((z for z in performed if z["rank_change"] > 0),
                key=lambda z: (-z["rank_change"], z["national_rank"]))[:MOVERS]
    down = sorted((z for z in performed if z["rank_change"] < 0),
                  key=lambda z: (z["rank_change"], z["national_rank"]))[:MOVERS]
    no_submission_moves = sorted([{**z, "back": False} for z in fell] + [{**z, "back": True} for z in back],
                                 key=lambda z: (-abs(z["rank_change"]), z["national_rank"]))
    method_changed = any(z["method_changed"] for z in zones)

    watch = sorted(v.watch_by_zone.values(),
                   key=lambda w: (v.regions.index(w["region"]) if w["region"] in v.regions else 99,
                                  w["region_candidate_rank"] or 0, w["zone_code"]))
    watch = [{**w, "zone": _zone_brief(v, w["zone_code"]), "p_candidate": watch_p_candidate(v, w["zone_code"])}
             for w in watch]
    summoned = [z for z in zones if z["summoned"]]
    summoned.sort(key=lambda z: (z["national_rank"], z["zone_code"]))
    upgrades = sorted(_records(inp.upgrade_candidates),
                      key=lambda u: (_opt_int(u.get("candidate_rank")) or 1 << 30, str(u.get("zone_code"))))
    for u in upgrades:
        u["candidate_rank"] = _opt_int(u.get("candidate_rank"))
        u["equivalent_national_rank"] = _opt_int(u.get("equivalent_national_rank"))

    # data quality
    log = inp.submission_log
    file_counts = log.status.value_counts().to_dict() if len(log) else {}
    problem_files = []
    if len(log):
        late = log["late"].fillna(False).astype(bool) if "late" in log else pd.Series(False, index=log.index)
        sel = log[log.status.isin(["rejected", "superseded"]) | late].sort_values(
            ["status", "zone_code", "file_name"], na_position="last")
        for r in _records(sel):
            r["late"] = bool(r.get("late")) if not is_missing(r.get("late")) else False
            r["zone_code"] = None if is_missing(r.get("zone_code")) else str(r["zone_code"])
            r["zone"] = v.zone_by_code.get(r["zone_code"]) if r["zone_code"] else None
            at = r.get("received_at")
            r["received"] = "" if is_missing(at) else pd.Timestamp(at).strftime("%Y-%m-%d %H:%M")
            problem_files.append(r)
    iss = inp.submission_issues
    issue_counts = []
    if len(iss):
        g = (iss.assign(check=iss["check"].fillna("?"), severity=iss["severity"].fillna("?"))
             .groupby(["severity", "check"], sort=False)
             .agg(n=("file_name", "size"), files=("sha256", "nunique")).reset_index())
        g["sev_order"] = g.severity.map({"error": 0, "warning": 1}).fillna(2)
        g = g.sort_values(["sev_order", "n", "check"], ascending=[True, False, True])
        issue_counts = _records(g)
    ind = inp.indicator_scores
    imputed = []
    if len(ind):
        imp = ind[ind.imputed.fillna(False).astype(bool)]
        missing = ind[ind.status == "missing"]
        mi = missing.groupby("indicator_code").size().to_dict()
        ii = imp.groupby("indicator_code").size().to_dict()
        for m in v.indicators:
            if ii.get(m.code) or mi.get(m.code):
                imputed.append({"code": m.code, "name_zh": m.name_zh, "imputed": int(ii.get(m.code, 0)),
                                "missing": int(mi.get(m.code, 0))})
    no_valid = [z for z in zones if z["submission_status"] != "accepted"]

    categories = v.categories
    return {
        "changes": changes_section.context(v), "robust": _robustness(v),
        "data_year": v.data_year, "method": cat, "generated": generated, "categories": categories,
        "zones_n": len(zones), "status_rows": status_rows, "status_totals": totals, "status_chart": status_chart,
        "top30": top30, "region_top": region_top, "top_lists": top_lists, "dist": dist,
        "region_stats": region_stats, "total_avg": v.total_avg_nat,
        "cat_avg": [v.cat_avg_nat.get(k["code"]) for k in categories], "up": up, "down": down,
        "no_submission_moves": no_submission_moves, "late_n": sum(f["late"] for f in problem_files),
        "method_changed": method_changed, "watch": watch, "downgrade": cat.downgrade, "summoned": summoned,
        "summons_n": cat.summons_bottom_n, "upgrades": upgrades, "file_counts": file_counts,
        "problem_files": problem_files, "issue_counts": issue_counts, "imputed": imputed, "no_valid": no_valid,
        "provisional": v.provisional, "n_indicators": len(v.indicators), "regions": v.regions,
        "results": v.results, "queries": v.queries,
        "REGION_LABELS": REGION_LABELS, "top_zone": zones[0] if zones else None,
        "n_history": len(v.history_years), "demo": v.demo,
        # the scorer's own top-100 flag (rankings.top100), in national-rank order
        "top100": [z for z in zones if z["top100"]], "top_n": TOP100,
        "annex": method_annex.annex(cat, v.indicators, sum(i["imputed"] for i in imputed),
                                    sum(i["missing"] for i in imputed)),
        "links": {"cards": "zones/", "workbook": "rankings.xlsx", "validation": "validation.html"},
        "cards_index": _cards_index(v),
    }


def _cards_index(v: YearView) -> list[dict]:
    """Every ranked zone, by region and province (provinces in the order of their best zone), for the index of cards:
    each zone's card is one click from the national report."""
    out = []
    for r in v.regions:
        provinces: dict[str, list[dict]] = {}
        for z in v.zones:  # national-rank order
            if z["region"] == r:
                provinces.setdefault(z["province"], []).append(z)
        out.append({"region": r, "label": region_label(r),
                    "provinces": [{"name": p, "zones": zs} for p, zs in provinces.items()]})
    return out


def _robustness(v: YearView) -> dict | None:
    """Every zone's nominal rank against its 90% interval and median, what was varied (from the year's
    settings), and the zones whose top-100, bottom-n or watch-list status depends on the unpublished choices
    (etdz.reports.robustness). None: not computed for the year.

    The bottom n is the rule's: the region's under ``regional_bottom``, the nation's (``p_national_bottom``)
    under ``national_consecutive``.
    """
    if v.robust_by_zone is None:
        return None
    cat = v.catalogue
    d = cat.downgrade
    national_rule = d is not None and d.rule == "national_consecutive"
    rows, depending, candidates = [], [], []
    for z in v.zones:
        r = v.robust_by_zone.get(z["zone_code"])
        if r is None or r["rank_p05"] is None:
            continue
        nominal = r["rank_nominal"] if r["rank_nominal"] is not None else z["national_rank"]
        if national_rule:
            in_bottom, p_bottom = bool(rule_in_bottom(nominal, v.n_total, d.bottom_n)), r.get("p_national_bottom")
        else:
            in_bottom, p_bottom = z["zone_code"] in v.region_bottom_now, r["p_region_bottom"] if d else None
        on_watch = z["zone_code"] in v.watch_by_zone
        p_cand = r.get("p_candidate") if d is not None else None
        top_dep, bottom_dep = depends(in_top100(nominal), r["p_top100"]), depends(in_bottom, p_bottom)
        cand_dep = depends(on_watch, p_cand)
        row = {"zone_code": z["zone_code"], "name_zh": z["name_zh"], "colour": region_colour(z["region"]),
               "nominal": nominal, "median": r["rank_median"], "p05": r["rank_p05"], "p95": r["rank_p95"],
               "flag": top_dep or bottom_dep or cand_dep}
        rows.append(row)
        if top_dep or bottom_dep:
            depending.append({**row, "zone": z, "p_top100": pct(r["p_top100"]), "p_region_bottom": pct(p_bottom),
                              "top_dep": top_dep, "bottom_dep": bottom_dep, "in_top100": in_top100(nominal),
                              "in_bottom": in_bottom})
        if cand_dep:
            candidates.append({**row, "zone": z, "on_watch": on_watch, "p": p_cand, "p_candidate": pct(p_cand)})
    candidates.sort(key=lambda c: (-c["p"], c["nominal"], c["zone_code"]))
    first = next(iter(v.robust_by_zone.values()), None)
    widths = sorted(r["p95"] - r["p05"] for r in rows)
    has_candidate = d is not None and any(r.get("p_candidate") is not None for r in v.robust_by_zone.values())
    return {"chart": charts.rank_intervals(rows, v.n_total) if rows else None, "depending": depending,
            "candidates": candidates, "has_candidate": has_candidate,
            "samples": first["samples"] if first else None, "seed": first["seed"] if first else None,
            "bottom_n": d.bottom_n if d else None, "national_rule": national_rule, "n": len(rows),
            "median_width": widths[len(widths) // 2] if widths else None,
            "what": varied(cat.robustness, cat), "not_varied": not_varied(cat)}


def watch_p_candidate(v: YearView, code: str) -> str | None:
    """``p_candidate`` of a watch-list zone as a share, None when the year's robustness has no such figure."""
    r = (v.robust_by_zone or {}).get(code)
    return None if r is None or r.get("p_candidate") is None else pct(r["p_candidate"])


def render(v: YearView, generated: str) -> str:
    return environment().get_template("national.html.j2").render(context(v, generated))


def top30_markdown(v: YearView) -> str:
    """A markdown table of the top 30 (rank, name, province, region, total, categories) for Dagster metadata."""
    categories = v.categories
    head = ["#", "区 Zone", "省 Province", "区域 Region", "总分 Total"] + [k["name_zh"] for k in categories]
    rows = [[z["national_rank"], z["name_zh"], z["province"], region_label(z["region"]), z["total_score"]]
            + [v.cat_scores.get(z["zone_code"], {}).get(k["code"], (None,))[0] for k in categories]
            for z in v.zones if z["national_rank"] is not None and z["national_rank"] <= 30]
    return markdown_table(head, rows, align=["right"] + ["left"] * 3 + ["right"] * (1 + len(categories)), missing="—")
