"""The ranking workbook for officials (rankings.xlsx): national sheet, one per region, the downgrade
watch-list (with each candidate's ``p_candidate``, 03-scoring.md §3.9 step 5), upgrade candidates.

Every sheet has a frozen header (and frozen rank + name columns), an autofilter, widths fitted to the
content, and numbers stored as numbers (scores with two decimals shown, full precision kept).

Written by XlsxWriter in its ``constant_memory`` mode: each row goes to a temporary file as soon as the next
one starts, so a 23,000-zone year never holds its ~1,000,000 cells (openpyxl's write-only mode streams too,
but builds a cell object and an XML element per cell: about 4x the time). Widths are measured while the
rows stream and set at the end (XlsxWriter writes the ``<cols>`` element when the sheet is closed).

Untrusted text (zone names, provinces, codes) never becomes a formula: every text cell goes through
:func:`etdz.escape.spreadsheet_text` (a leading apostrophe before ``=``, ``+``, ``-``, ``@``, their
full-width forms, a tab or CR, also after leading whitespace; bidi controls removed), always written with
``write_string`` (the workbook's ``strings_to_formulas`` / ``_urls`` / ``_numbers`` are off as well); numbers
stay numbers.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path
from typing import IO

import xlsxwriter

from etdz.commit import atomic_write
from etdz.escape import spreadsheet_text as neutralise
from etdz.reports import fictitious
from etdz.reports.inputs import YearView, _opt_int, _records
from etdz.reports.templating import REGION_ZH, is_missing
from etdz.reports.units import display_unit, shown_value

HEADER_STYLE = {"bold": True, "font_color": "#FFFFFF", "bg_color": "#1F2933", "pattern": 1,
                "valign": "vcenter", "text_wrap": True}
SCORE_FMT = "0.00"
INT_FMT = "0"
SHARE_FMT = "0%"  # a share of samples, stored as the fraction the dataset holds
AMOUNT_FMT = "#,##0.00##"  # an amount in its display unit (FDI in 亿美元: small values keep their digits)
BANNER_STYLE = {"bold": True, "font_color": "#FFFFFF", "bg_color": "#9F1239", "pattern": 1, "valign": "vcenter"}
TOP100_SHEET = "前100 Top 100"
REGION_SHEETS = {"east": "东部 East", "central": "中部 Central", "west": "西部 West"}
# XlsxWriter's default font: a column of width w (characters) is 7 * w pixels, stored as exactly w
_PX_PER_CHAR = 7
# what XlsxWriter (in constant_memory mode) takes for a rich string it built itself and writes unescaped
_RICH_LOOKALIKE = re.compile(r"\A<r>.*</r>\Z", re.S)


def _width(value) -> int:
    s = str(value)
    if s.isascii():  # digits and Latin text: one column a character (the loop below is the slow part)
        return len(s)
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in s)


class _Book:
    """An XlsxWriter workbook streaming into ``fh``, with the formats its sheets share."""

    def __init__(self, fh: IO[bytes]) -> None:
        self.wb = xlsxwriter.Workbook(fh, {"constant_memory": True, "strings_to_formulas": False,
                                           "strings_to_urls": False, "strings_to_numbers": False})
        self.header = self.wb.add_format(HEADER_STYLE)
        self.formats = {kind: self.wb.add_format({"num_format": f})
                        for kind, f in (("score", SCORE_FMT), ("int", INT_FMT), ("share", SHARE_FMT),
                                        ("amount", AMOUNT_FMT))}
        self.banner_format = self.wb.add_format(BANNER_STYLE)
        self.banner: str | None = None  # the demo's mark (etdz.reports.fictitious) on every sheet's first row

    def sheet(self, title: str):
        return self.wb.add_worksheet(_sheet_title(title))

    def close(self) -> None:
        self.wb.close()


def _sheet_title(title: str) -> str:
    """A title Excel accepts: at most 31 characters, none of ``[]:*?/\\``, no apostrophe at either end."""
    return re.sub(r"[\[\]:*?/\\]", "", title)[:31].strip("'") or "Sheet"


def _write_text(ws, row: int, col: int, text: str, fmt=None) -> None:
    """One text cell, always a string. A text that looks like XlsxWriter's own rich-string XML (``<r>…</r>``)
    would be copied into the sheet unescaped in constant_memory mode (XML injection: a forged cell, a
    formula); it is written as a rich string of plain runs instead, which XlsxWriter escapes: same text."""
    if _RICH_LOOKALIKE.match(text):
        ws.write_rich_string(row, col, text[:1], text[1:2], text[2:], *(() if fmt is None else (fmt,)))
    else:
        ws.write_string(row, col, text, fmt)


def _write_value(ws, row: int, col: int, value, fmt=None) -> None:
    """A cell of the About sheet or a table: text through :func:`_write_text`, numbers as numbers."""
    if value is None:
        return
    if isinstance(value, str):
        _write_text(ws, row, col, value, fmt)
    else:
        ws.write_number(row, col, value, fmt)


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


def _write_sheet(book: _Book, title: str, columns, rows) -> None:
    """Stream one sheet: the demo's banner when it is one, a styled header, then one row a zone; each row leaves
    memory once the next starts. Header (and rank + name columns) frozen, autofilter on the header."""
    ws = book.sheet(title)
    top = 0
    if book.banner:  # a first row of its own, so the table below keeps its header and filter
        ws.merge_range(0, 0, 0, max(len(columns) - 1, 1), book.banner, book.banner_format)
        top = 1
    header = [neutralise(h) for h, _, _ in columns]
    widths = [_width(h) for h in header]
    for j, h in enumerate(header):
        _write_text(ws, top, j, h, book.header)
    kinds = [(j, key, kind, book.formats.get(kind)) for j, (_, key, kind) in enumerate(columns)]
    i = top
    for i, r in enumerate(rows, start=top + 1):
        for j, key, kind, fmt in kinds:
            x = r.get(key)
            if is_missing(x):
                continue
            if kind == "int":
                x = int(x)
                ws.write_number(i, j, x, fmt)
                w = len(str(x))
            elif kind in ("score", "share", "amount"):
                x = float(x)
                ws.write_number(i, j, x, fmt)
                w = len(f"{x:.2f}")
            else:
                x = ("是" if bool(x) else "否") if kind == "bool" else neutralise(x)  # nothing we write is a formula
                _write_text(ws, i, j, x)
                w = _width(x)
            if w > widths[j]:
                widths[j] = w
    for j, w in enumerate(widths):
        ws.set_column_pixels(j, j, min(max(w + 2, 8), 44) * _PX_PER_CHAR)
    ws.freeze_panes(top + 1, 2)
    if i > top:
        ws.autofilter(top, 0, i, len(columns) - 1)


def build(v: YearView, fh: IO[bytes]) -> None:
    """Write the year's workbook into the binary file ``fh``, sheet by sheet."""
    book = _Book(fh)
    book.banner = fictitious.BANNER if v.demo else None
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
    _write_sheet(book, "全国 National", columns, rows)
    by_region: dict[str, list[dict]] = {region: [] for region in v.regions}
    for r in rows:  # one pass over the zones for all the regional sheets
        by_region.setdefault(r["region"], []).append(r)
    for region in v.regions:
        title = REGION_SHEETS.get(region, neutralise(region)[:31])
        zr = sorted(by_region[region],
                    key=lambda r: (r["regional_rank"] if r["regional_rank"] is not None else 1 << 30, r["zone_code"]))
        cols = [columns[5]] + [c for c in columns if c[1] != "regional_rank"]
        _write_sheet(book, title, cols, zr)
    up_cols = [("候选名次 Candidate rank", "candidate_rank", "int"), ("开发区 Zone", "name_zh", "text"),
               ("代码 Code", "zone_code", "text"), ("省份 Province", "province", "text"),
               ("区域 Region", "region_zh", "text"), ("总分 Total", "total_score", "score"),
               ("相当于全国名次 Equivalent national rank", "equivalent_national_rank", "int")]
    ups = []
    for u in _records(v.inputs.upgrade_candidates):
        u["region_zh"] = REGION_ZH.get(u.get("region"), u.get("region"))
        ups.append(u)
    ups.sort(key=lambda u: (_opt_int(u.get("candidate_rank")) or 1 << 30, str(u.get("zone_code"))))
    _write_sheet(book, "晋升候选 Upgrade", up_cols, ups)
    top_cols = [c for c in columns if c[1] in ("national_rank", "name_zh", "zone_code", "province", "region_zh",
                                                "regional_rank", "total_score", "prev_national_rank", "rank_change")]
    _write_sheet(book, TOP100_SHEET, top_cols, [r for r in rows if r["top100"]])  # the scorer's flag (rankings)
    if v.catalogue.downgrade is not None:
        _write_sheet(book, "降级预警 Watch-list", *_watchlist_sheet(v))
    about = book.sheet("说明 About")
    about.set_column_pixels(0, 0, 26 * _PX_PER_CHAR)
    about.set_column_pixels(1, 1, 90 * _PX_PER_CHAR)
    cat = v.catalogue
    lines = [(fictitious.BANNER, fictitious.EXPLANATION_ZH + " " + fictitious.EXPLANATION_EN)] if v.demo else []
    for i, line in enumerate(lines + [
        ("数据年度 Data year", v.data_year), ("考核年度 Assessment year", v.data_year + 1),
        ("考核办法 Method", neutralise(cat.name_zh)), ("版本 Version", neutralise(cat.version)),
        ("结果状态 Results", v.results_text),  # final only when no review query is open (etdz/queries.py)
        ("说明 Note", "计分方法为本项目对已公布办法的解读（二级权重与标准化公式为假设）。"
                      "The scoring method is this project's reading of the published one."),
        ("文本单元格 Text cells", "以 = + - @ 开头的文本前加 ' 以防被当作公式。"
                                 "Text starting with = + - @ is prefixed with ' so it is never a formula."),
    ]):
        for j, x in enumerate(line):
            _write_value(about, i, j, x)
    book.close()


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
    """Write ``rankings.xlsx`` atomically, in one pass: the streamed sheets are zipped straight into the
    file being written (no second copy of the workbook in memory)."""
    return atomic_write(path, lambda fh: build(v, fh))
