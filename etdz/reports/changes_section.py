"""The national report's "修订影响 / what a correction changed" section, read from ``ranking_changes``.

What a reader of the section must learn first is what decides a zone's fate, so it is in three parts:

1. **the status changes**: every zone that entered or left a list (top 30, top 100, its region's top 10,
   the summons list, the watch-list), with its national and regional rank before and now — never capped;
2. **the zones whose own figures changed**: each changed measure old → new as the dataset has it (canonical
   unit, the shortest decimals that read back to the same value), the files whose status changed;
3. **one line** for the zones that only moved because others did: how many, how many changed rank, the
   largest rank and score moves (the dataset lists them all).

Everything comes from the dataset as written (etdz/changes.py); a dataset written before
``status_changes`` / ``changed_measures`` existed, or against a baseline that did not keep them, has them
null, and the section says so instead of claiming "no change". Templates: ``_changes.html.j2``.
"""

from __future__ import annotations

import pandas as pd

from etdz.changes import STATUS_CHANGES, format_number, parse_measure_change
from etdz.reports.inputs import YearView, _opt_int, _records
from etdz.reports.templating import is_missing

FIGURES_SHOWN = 40  # rows of the "own figures changed" table; the dataset has them all

# status code -> (Chinese, English, pill class: good news or bad news for the zone)
STATUS_LABELS = {
    "entered_top30": ("进入全国前30", "entered the top 30", "ok"),
    "left_top30": ("跌出全国前30", "left the top 30", "bad"),
    "entered_top100": ("进入全国前100", "entered the top 100", "ok"),
    "left_top100": ("跌出全国前100", "left the top 100", "bad"),
    "entered_region_top10": ("进入区域前10", "entered its region's top 10", "ok"),
    "left_region_top10": ("跌出区域前10", "left its region's top 10", "bad"),
    "summoned": ("列入约谈名单", "now on the summons list", "bad"),
    "no_longer_summoned": ("移出约谈名单", "off the summons list", "ok"),
    "entered_watchlist": ("列入降级预警", "now on the downgrade watch-list", "bad"),
    "left_watchlist": ("移出降级预警", "off the downgrade watch-list", "ok"),
}
assert set(STATUS_LABELS) == set(STATUS_CHANGES)

FILE_STATUS = {"accepted": "受理 accepted", "rejected": "退回 rejected", "superseded": "被替换 superseded"}


def _status(status: str | None, absent: str) -> str:
    """A file status in words; ``absent`` when the file had none (new since) or has none (gone since)."""
    return FILE_STATUS.get(status, status) if status else absent


def _list_or_none(x) -> list | None:
    """A list cell as a Python list; None for a null cell (not known) or a missing column."""
    if x is None or (not hasattr(x, "__len__") and is_missing(x)):
        return None
    return list(x)


def _zone_brief(v: YearView, code: str) -> dict:
    z = v.zone_by_code.get(code)
    return z if z is not None else {"zone_code": code, "name_zh": code, "province": "", "region": ""}


def context(v: YearView) -> dict | None:
    """The section's context; None when ``ranking_changes`` was not computed for the year."""
    df = v.inputs.ranking_changes
    if df is None:
        return None
    measures = v.catalogue.measures
    rows = []
    for r in _records(df):
        prev_rank, rank = _opt_int(r.get("prev_national_rank")), _opt_int(r.get("national_rank"))
        files = _list_or_none(r.get("changed_files")) or []
        figures = _list_or_none(r.get("changed_measures"))
        statuses = _list_or_none(r.get("status_changes"))
        changed = []
        for text in figures or []:
            code, old, new = parse_measure_change(text)
            m = measures.get(code)
            changed.append({"code": code, "name_zh": m.name_zh if m else code, "unit": m.unit if m else "",
                            "old": format_number(old), "new": format_number(new)})
        rows.append({
            "zone": _zone_brief(v, r["zone_code"]), "zone_code": r["zone_code"],
            "prev_total": None if is_missing(r.get("prev_total_score")) else float(r["prev_total_score"]),
            "total": None if is_missing(r.get("total_score")) else float(r["total_score"]),
            "prev_rank": prev_rank, "rank": rank,
            "prev_regional_rank": _opt_int(r.get("prev_regional_rank")),
            "regional_rank": _opt_int(r.get("regional_rank")),
            "rank_change": None if prev_rank is None or rank is None else prev_rank - rank,
            "statuses": None if statuses is None else [
                {"code": s, "zh": STATUS_LABELS[s][0], "en": STATUS_LABELS[s][1], "cls": STATUS_LABELS[s][2]}
                for s in statuses if s in STATUS_LABELS],
            "measures_known": figures is not None, "measures": changed,
            "files": [{"year": int(f["data_year"]), "name": f["file_name"],
                       "before": _status(f.get("previous_status"), "新收到 new"),
                       "after": _status(f.get("status"), "已移除 gone")} for f in files]})

    def move(c):  # the largest rank moves first; a zone new to the cohort before them
        return (-abs(c["rank_change"]) if c["rank_change"] is not None else -1 << 30, c["rank"] or 1 << 30,
                c["zone_code"])

    flipped = sorted((c for c in rows if c["statuses"]), key=lambda c: (c["rank"] or 1 << 30, c["zone_code"]))
    own = sorted((c for c in rows if c["measures"] or c["files"]), key=move)
    shown = {c["zone_code"] for c in flipped} | {c["zone_code"] for c in own}
    others = [c for c in rows if c["zone_code"] not in shown]
    rank_moves = [abs(c["rank_change"]) for c in others if c["rank_change"]]
    score_moves = [abs(c["total"] - c["prev_total"]) for c in others
                   if c["total"] is not None and c["prev_total"] is not None]
    at = df.previous_run_at.dropna() if "previous_run_at" in df else pd.Series(dtype=object)
    return {
        "n": len(rows), "previous_run_at": pd.Timestamp(at.iloc[0]).strftime("%Y-%m-%d %H:%M UTC") if len(at) else None,
        # a dataset written before the columns existed, or against a baseline that did not keep them: not known
        "statuses_known": any(c["statuses"] is not None for c in rows) or not rows,
        "measures_known": any(c["measures_known"] for c in rows) or not rows,
        "flipped": flipped, "own": own[:FIGURES_SHOWN], "own_more": max(0, len(own) - FIGURES_SHOWN),
        "n_own": len(own),
        "others": {"n": len(others), "n_rank": len(rank_moves), "max_rank": max(rank_moves, default=None),
                   "max_score": max(score_moves, default=None)},
    }
