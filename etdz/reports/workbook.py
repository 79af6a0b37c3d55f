"""The ranking workbook for officials (rankings.xlsx): national sheet, one per region, the downgrade
watch-list (with each candidate's ``p_candidate``, 03-scoring.md §3.9 step 5), upgrade candidates.

Every sheet has a frozen header (and frozen rank + name columns), an autofilter, widths fitted to the
content, and numbers stored as numbers (scores with two decimals shown, full precision kept).

Untrusted text (zone names, provinces, codes) never becomes a formula: every text cell goes through
:func:`etdz.escape.spreadsheet_text` (a leading apostrophe before ``=``, ``+``, ``-``, ``@``, their
full-width forms, a tab or CR, also after leading whitespace; bidi controls removed), always as a string
cell; numbers stay numbers.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from etdz.commit import atomic_write
from etdz.escape import spreadsheet_text as neutralise
from etdz.reports import fictitious
from etdz.reports.inputs import YearView, _opt_int, _records
from etdz.reports.templating import REGION_ZH, is_missing
from etdz.reports.units import display_unit, shown_value

HEADER_FILL = PatternFill("solid", fgColor="1F2933")
HEADER_FONT = Font(bold=True, color="FFFFFF")
SCORE_FMT = "0.00"
INT_FMT = "0"
SHARE_FMT = "0%"  # a share of samples, stored as the fraction the dataset holds
AMOUNT_FMT = "#,##0.00##"  # an amount in its display unit (FDI in 亿美元: small values keep their digits)
BANNER_FILL, BANNER_FONT = PatternFill("solid", fgColor="9F1239"), Font(bold=True, color="FFFFFF")
TOP100_SHEET = "前100 Top 100"
REGION_SHEETS = {"east": "东部 East", "central": "中部 Central", "west": "西部 West"}


def _width(value) -> int:
    s = str(value)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


def _ranking_columns(v: YearView) -> list[tuple[str, str, str]]:
    """(header, key, kind) with kind in int/score/text/bool."""
    cols = [("全国名次 National rank", "national_rank", "int"), ("经开区 Zone", "name_zh", "text"),
            ("代码 Code", "zone_code", "text"), ("省份 Province", "province", "text"),
            ("区域 Region", "region_zh", "text"), ("区域名次 Regional rank", "regional_rank", "int"),
            ("省内名次 Provincial rank", "provincial_rank", "int"), ("总分 Total", "total_score", "score")]
    cols += [(f"{k['name_zh']} {k['name_en'] or k['code']}", f"cat:{k['code']}", "score") for k in v.categories]
    cols += [("上年名次 Previous rank", "prev_national_rank", "int"), ("名次变化 Rank change", "rank_change", "int"),
             ("优于全国平均 Better than avg", "indicators_better_than_avg", "int"),
             ("指标数 Indicators", "indicators_total", "int")]
    for m in v.catalogue.top_lists:
        meas = v.catalogue.measures.get(m)
        cols.append((f"{meas.name_zh if meas else m} 名次", f"rank_{m}", "int"))
        if meas is not None:  # the figure itself, in the unit the ministry publishes it in (etdz.reports.units)
            cols.append((f"{meas.name_zh} ({display_unit(meas.unit).unit})", f"value:{m}", "amount"))
    cols += [("降级预警 Watch-list", "downgrade_candidate", "bool")]
    if _has_p_candidate(v):
        cols += [(P_CANDIDATE_HEADER, "p_candidate", "share")]
    cols += [("约谈 Summoned", "summoned", "bool"),
             ("报送状态 Submission", "submission_status", "text"), ("结果状态 Results", "results_status", "text")]
    return cols


P_CANDIDATE_HEADER = "列入预警的组合占比 p_candidate"


def _has_p_candidate(v: YearView) -> bool:
    """Whether the year's rank robustness gives a ``p_candidate`` (a downgrade rule and rows written with it)."""
    return v.catalogue.downgrade is not None and any(
        r.get("p_candidate") is not None for r in (v.robust_by_zone or {}).values())


def _p_candidate(v: YearView, code: str) -> float | None:
    r = (v.robust_by_zone or {}).get(code)
    return None if r is None else r.get("p_candidate")


def _write_sheet(ws, columns, rows, banner: str | None = None) -> None:
    """Stream one sheet. Write-only worksheets go to disk row by row (a 23,000-zone workbook would
    otherwise hold millions of cell objects), so widths, panes and the filter are set before any row.
    ``banner``: the demo's mark (etdz.reports.fictitious) in a first row of its own, above the header."""
    header = [neutralise(h) for h, _, _ in columns]
    widths = [_width(h) for h in header]
    table = []
    for r in rows:
        out = []
        for i, (_, key, kind) in enumerate(columns):
            x = r.get(key)
            if is_missing(x):
                out.append(None)
                continue
            if kind == "int":
                x = int(x)
            elif kind in ("score", "share", "amount"):
                x = float(x)
            elif kind == "bool":
                x = "是" if bool(x) else "否"
            else:
                x = neutralise(x)  # nothing we write may be a formula
            out.append(x)
            widths[i] = max(widths[i], _width(f"{x:.2f}" if kind in ("score", "share", "amount") else x))
        table.append(out)
    for i in range(1, len(columns) + 1):
        ws.column_dimensions[get_column_letter(i)].width = min(max(widths[i - 1] + 2, 8), 44)
    top = 1 if banner else 0
    ws.freeze_panes = f"C{top + 2}"
    if rows:
        ws.auto_filter.ref = f"A{top + 1}:{get_column_letter(len(columns))}{len(rows) + top + 1}"
    if banner:
        cell = WriteOnlyCell(ws, value=banner)
        cell.font, cell.fill = BANNER_FONT, BANNER_FILL
        ws.append([cell])
    head = []
    for h in header:
        cell = WriteOnlyCell(ws, value=h)
        cell.font, cell.fill = HEADER_FONT, HEADER_FILL
        cell.alignment = Alignment(vertical="center", wrap_text=True)
        head.append(cell)
    ws.append(head)
    formats = [{"score": SCORE_FMT, "int": INT_FMT, "share": SHARE_FMT, "amount": AMOUNT_FMT}.get(kind)
               for _, _, kind in columns]
    for out in table:
        row = []
        for x, fmt in zip(out, formats):
            if fmt is not None and x is not None:
                cell = WriteOnlyCell(ws, value=x)
                cell.number_format = fmt
                row.append(cell)
            else:
                row.append(x)
        ws.append(row)


def build(v: YearView) -> Workbook:
    wb = Workbook(write_only=True)
    banner = fictitious.BANNER if v.demo else None
    columns = _ranking_columns(v)
    units = {m: v.catalogue.measures[m].unit for m in v.catalogue.top_lists if m in v.catalogue.measures}
    rows = []
    for z in v.zones:
        r = dict(z)
        r["region_zh"] = REGION_ZH.get(z["region"], z["region"])
        figures = v.measures_by_zone.get(z["zone_code"], {})
        for m, unit in units.items():
            r[f"value:{m}"] = shown_value(figures.get(m), unit)
        for k, (s, _) in v.cat_scores.get(z["zone_code"], {}).items():
            r[f"cat:{k}"] = s
        r["p_candidate"] = _p_candidate(v, z["zone_code"])
        rows.append(r)
    _write_sheet(wb.create_sheet("全国 National"), columns, rows, banner)
    by_region: dict[str, list[dict]] = {region: [] for region in v.regions}
    for r in rows:  # one pass over the zones for all the regional sheets
        by_region.setdefault(r["region"], []).append(r)
    for region in v.regions:
        title = REGION_SHEETS.get(region, neutralise(region)[:31])
        zr = sorted(by_region[region],
                    key=lambda r: (r["regional_rank"] if r["regional_rank"] is not None else 1 << 30, r["zone_code"]))
        cols = [columns[5]] + [c for c in columns if c[1] != "regional_rank"]
        _write_sheet(wb.create_sheet(title), cols, zr, banner)
    up_cols = [("候选名次 Candidate rank", "candidate_rank", "int"), ("开发区 Zone", "name_zh", "text"),
               ("代码 Code", "zone_code", "text"), ("省份 Province", "province", "text"),
               ("区域 Region", "region_zh", "text"), ("总分 Total", "total_score", "score"),
               ("相当于全国名次 Equivalent national rank", "equivalent_national_rank", "int")]
    ups = []
    for u in _records(v.inputs.upgrade_candidates):
        u["region_zh"] = REGION_ZH.get(u.get("region"), u.get("region"))
        ups.append(u)
    ups.sort(key=lambda u: (_opt_int(u.get("candidate_rank")) or 1 << 30, str(u.get("zone_code"))))
    _write_sheet(wb.create_sheet("晋升候选 Upgrade"), up_cols, ups, banner)
    top_cols = [c for c in columns if c[1] in ("national_rank", "name_zh", "zone_code", "province", "region_zh",
                                                "regional_rank", "total_score", "prev_national_rank", "rank_change")]
    _write_sheet(wb.create_sheet(TOP100_SHEET), top_cols, [r for r in rows if r["top100"]], banner)  # rankings' flag
    if v.catalogue.downgrade is not None:
        _write_sheet(wb.create_sheet("降级预警 Watch-list"), *_watchlist_sheet(v), banner)
    about = wb.create_sheet("说明 About")
    about.column_dimensions["A"].width = 26
    about.column_dimensions["B"].width = 90
    cat = v.catalogue
    lines = [(fictitious.BANNER, f"{fictitious.EXPLANATION_ZH} {fictitious.EXPLANATION_EN}")] if v.demo else []
    for line in lines + [
        ("数据年度 Data year", v.data_year), ("考核年度 Assessment year", v.data_year + 1),
        ("考核办法 Method", neutralise(cat.name_zh)), ("版本 Version", neutralise(cat.version)),
        ("结果状态 Results", v.results_text),  # final only when no review query is open (etdz/queries.py)
        ("说明 Note", "计分方法为本项目对已公布办法的解读（二级权重与标准化公式为假设）。"
                      "The scoring method is this project's reading of the published one."),
        ("文本单元格 Text cells", "以 = + - @ 开头的文本前加 ' 以防被当作公式。"
                                 "Text starting with = + - @ is prefixed with ' so it is never a formula."),
    ]:
        about.append(list(line))
    return wb


def _watchlist_sheet(v: YearView) -> tuple[list[tuple[str, str, str]], list[dict]]:
    """The watch-list's columns and rows (region, then region candidate rank), ``p_candidate`` beside each
    candidate when the year's robustness has it."""
    cols = [("区域 Region", "region_zh", "text"), ("区域序号 Region candidate rank", "region_candidate_rank", "int"),
            ("经开区 Zone", "name_zh", "text"), ("代码 Code", "zone_code", "text"),
            ("省份 Province", "province", "text"), ("后n名年份 Bottom years", "bottom_years_text", "text"),
            ("两次均分 Mean score", "mean_score", "score"), ("全国名次 National rank", "national_rank", "int")]
    if _has_p_candidate(v):
        cols.append((P_CANDIDATE_HEADER, "p_candidate", "share"))
    rows = []
    for w in v.watch_by_zone.values():
        z = v.zone_by_code.get(w["zone_code"], {})
        rows.append({**w, "name_zh": z.get("name_zh", w.get("name_zh")), "province": z.get("province"),
                     "region_zh": REGION_ZH.get(w["region"], w["region"]), "national_rank": z.get("national_rank"),
                     "bottom_years_text": ", ".join(map(str, w["bottom_years"])),
                     "p_candidate": _p_candidate(v, w["zone_code"])})
    order = {r: i for i, r in enumerate(v.regions)}
    rows.sort(key=lambda w: (order.get(w["region"], 99), w["region_candidate_rank"] or 0, w["zone_code"]))
    return cols, rows


def write(v: YearView, path: Path) -> Path:
    """Write ``rankings.xlsx`` atomically, in one pass: the write-only workbook is zipped straight into the
    file being written (no second copy of the workbook in memory)."""
    return atomic_write(path, build(v).save)
