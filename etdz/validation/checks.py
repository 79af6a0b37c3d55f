"""The check codes of validation (docs/contract/02-inputs.md §2.1) and how an issue is worded: the code list
with severity, scope and rule family, the issue record, the bounded lists and locations messages are built from, and the
sorted issues frame."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.numbers import format_number
from etdz.reading import DEFAULT_MAX_BYTES
from etdz.schemas import SUBMISSION_ISSUES

if TYPE_CHECKING:
    from etdz.validation.files import SubmissionFile

ISSUE_COLUMNS = list(SUBMISSION_ISSUES.names)

@dataclass(frozen=True)
class Check:
    code: str
    severity: str  # error | warning
    scope: str  # file | row
    family: str  # the asset check that reports it
    title_zh: str
    meaning: str


_CHECK_LIST = [
    # files_readable
    Check("file.not_csv_xlsx", "error", "file", "files_readable", "不是 CSV/XLSX 文件",
          "The file's extension is neither .csv nor .xlsx (case-insensitive)."),
    Check("file.too_large", "error", "file", "files_readable", "文件过大",
          f"The file is over the size limit (default {DEFAULT_MAX_BYTES // 2**20} MB); it is archived but never read."),
    Check("file.encoding", "error", "file", "files_readable", "编码无法识别",
          "A CSV that is neither UTF-8 (with or without BOM) nor GB18030/GBK, UTF-16, or binary content (NUL bytes)."),
    Check("file.unreadable", "error", "file", "files_readable", "文件无法读取",
          "Not a valid XLSX (e.g. a renamed .xls), or a CSV with broken quoting."),
    Check("file.zip_bomb", "error", "file", "files_readable", "疑似压缩炸弹",
          "The XLSX archive's declared uncompressed size or compression ratio is over the guard's limits."),
    Check("file.empty", "error", "file", "files_readable", "空文件",
          "No bytes, only blank lines, or an empty first worksheet."),
    Check("file.no_data", "error", "file", "files_readable", "只有表头", "A header row and no data row."),
    Check("file.no_values", "error", "file", "files_readable", "没有任何数值",
          "Data rows, but not one of them has anything in `value` (a blank template): not a submission; it never "
          "replaces an accepted file."),
    Check("file.too_many_rows", "error", "file", "files_readable", "数据行过多",
          "More non-blank data rows than the limit derived from the catalogue (its number of measures × "
          "ETDZ_MAX_ROWS_PER_MEASURE); the rest of the file is never parsed."),
    Check("file.too_wide", "error", "file", "files_readable", "列数过多",
          "Data (or a header name) beyond column 256: the file is not read further (a submission has six columns; a "
          "cell in column XFD made readers build rows 16,384 cells wide)."),
    Check("file.cell_too_long", "error", "file", "files_readable", "单元格内容过长",
          "A cell of more than 32,767 characters (Excel's own limit): the file is not read further."),
    Check("file.temporary_name", "error", "file", "files_readable", "临时文件",
          "A temporary name of Excel or an upload tool (~$x.xlsx, .~lock.x#, *.part, *.tmp, *.crdownload): archived "
          "and logged, never read."),
    Check("file.not_regular", "error", "file", "files_readable", "不是普通文件",
          "A symbolic link, FIFO, socket or device in the inbox: listed, never opened (nor its target), nothing "
          "archived."),
    Check("file.vanished", "error", "file", "files_readable", "文件已消失",
          "The file was listed but was gone when it was read (deleted or renamed meanwhile); nothing archived."),
    Check("file.changed", "error", "file", "files_readable", "读取时文件被改动",
          "The file's size or modification time differ from the listing (replaced, e.g. by a temporary file and a "
          "rename, or still being written); nothing archived: the next run reads it."),
    Check("file.cannot_open", "error", "file", "files_readable", "文件无法打开",
          "The operating system refused to open or read the file (permission denied, I/O error); nothing archived."),
    # required_columns
    Check("file.missing_columns", "error", "file", "required_columns", "缺少必需的列",
          "One of zone_code, data_year, measure_code, value, unit is not in row 1 (another delimiter or a title row "
          "above the header lands here)."),
    Check("file.duplicate_column", "error", "file", "required_columns", "列名重复",
          "Two columns have the same name (case-insensitive, spaces stripped)."),
    Check("file.extra_column", "warning", "file", "required_columns", "未知的列",
          "A column that is none of the six known ones and holds data; it is ignored."),
    # zone_and_year
    Check("file.missing_zone", "error", "file", "zone_and_year", "缺少园区代码", "No row has a zone_code."),
    Check("file.several_zones", "error", "file", "zone_and_year", "一个文件含多个园区",
          "Rows name different zone_code values (an empty cell counts as a different value)."),
    Check("file.unknown_zone", "error", "file", "zone_and_year", "园区代码不在名录中",
          "The zone_code is not in the registry (exact, case-sensitive match)."),
    Check("file.zone_not_due", "warning", "file", "zone_and_year", "园区本年度不参加考核",
          "A national zone outside its first/exit data years: accepted, not scored."),
    Check("file.year_mismatch", "error", "file", "zone_and_year", "数据年份不符",
          "A row's data_year is empty, not a whole number, or not the year of the inbox folder."),
    Check("file.no_catalogue", "error", "file", "zone_and_year", "没有适用的考核办法",
          "`etdz validate` only: no catalogue applies to the file's data year."),
    # valid_values
    Check("row.invalid_value", "error", "row", "valid_values", "数值无效",
          "The value is not a number in the syntax of §2.1 (after the accepted normalisations), or it is one that "
          "its unit's factor or exchange rate takes beyond the range of a double (1e305 万人)."),
    Check("row.formula", "error", "row", "valid_values", "单元格是公式",
          "An XLSX cell of a required column holds a formula: formulas are never evaluated."),
    Check("row.field_count", "error", "row", "valid_values", "字段数多于表头",
          "A CSV row has non-empty fields beyond the header's columns (often an unquoted thousands separator)."),
    Check("row.number_normalised", "warning", "row", "valid_values", "数值格式已规范化",
          "Full-width characters, thousands separators, surrounding spaces or a trailing % were normalised."),
    # known_measures_and_units
    Check("row.unknown_measure", "error", "row", "known_measures_and_units", "指标代码未知",
          "measure_code is not a measure of the year's catalogue (case-sensitive), or is empty."),
    Check("row.unknown_unit", "error", "row", "known_measures_and_units", "计量单位未知",
          "The unit is not one of the measure's accepted units (checked when a value is given)."),
    Check("row.no_exchange_rate", "error", "row", "known_measures_and_units", "没有该年度的汇率",
          "The unit is a currency unit (docs/contract/02-inputs.md §2.3) and the catalogue has no rate of that "
          "currency for the file's data year."),
    Check("row.duplicate_measure", "error", "row", "known_measures_and_units", "指标重复",
          "A measure appears more than once in the file (every occurrence is listed)."),
    # hard_bounds / integers
    Check("row.hard_bounds", "error", "row", "hard_bounds", "数值超出允许范围",
          "After unit conversion, the value is below hard_min or above hard_max."),
    Check("row.not_integer", "error", "row", "integers", "应为整数",
          "An integer measure whose converted value is not whole (relative tolerance 1e-9)."),
    # required_measures
    Check("row.required_missing", "warning", "row", "required_measures", "必填指标为空",
          "A measure an indicator uses is listed with an empty value."),
    Check("file.required_absent", "warning", "file", "required_measures", "缺少必填指标",
          "A measure an indicator uses is not listed in the file at all."),
    Check("file.measures_dropped", "warning", "file", "required_measures", "比被取代的文件少报指标",
          "The zone's chosen file supersedes an accepted file (the latest one before it) that reported values for "
          "measures this one leaves empty or does not list; the measures are named."),
    # plausibility
    Check("row.soft_range", "warning", "row", "plausibility", "数值超出合理范围",
          "After conversion, the value is outside [soft_min, soft_max]."),
    Check("row.not_above", "warning", "row", "plausibility", "数值大于上级数值",
          "The value is greater than the value of its not_above measure in the same file."),
    Check("row.inconsistent", "error", "row", "plausibility", "与一致性规则不符",
          "A consistency rule of the catalogue ({left, op, right, tolerance}, e.g. gdp <= city_gdp with 5 %) is "
          "broken by the row's value against the right measure's value in the same file, both canonical: beyond "
          "the tolerance an error (the file is rejected), within it a warning (accepted). Not checked when either "
          "side is not reported."),
    Check("row.yoy_change", "warning", "row", "plausibility", "与上年相比变化过大",
          "value / previous > soft_max_yoy_factor or < 1/factor, against the zone's previous accepted value (skipped "
          "when that is 0 or absent)."),
]
CHECKS: dict[str, Check] = {c.code: c for c in _CHECK_LIST}
FAMILIES: dict[str, list[str]] = {}
for _c in _CHECK_LIST:
    FAMILIES.setdefault(_c.family, []).append(_c.code)
FAMILY_TITLES = {
    "files_readable": "文件可读（格式、大小、编码、压缩炸弹、空文件）",
    "required_columns": "必需的列",
    "zone_and_year": "园区与年份",
    "valid_values": "数值格式",
    "known_measures_and_units": "指标代码与计量单位",
    "hard_bounds": "数值范围（硬性）",
    "integers": "整数指标",
    "required_measures": "必填指标",
    "plausibility": "合理性（软性范围、同比、上级数值、一致性规则）",
}



# --------------------------------------------------------------------------- wording


def range_text(lo: float | None, hi: float | None, unit: str) -> str:
    if lo is not None and hi is not None:
        return f"{format_number(lo)} ～ {format_number(hi)} {unit}"
    if lo is not None:
        return f"≥ {format_number(lo)} {unit}"
    if hi is not None:
        return f"≤ {format_number(hi)} {unit}"
    return "不限"


def units_text(catalogue: Catalogue, measure: str, data_year: int) -> str:
    return "、".join(catalogue.units_for_year(measure, data_year))


def close_matches(value: str, choices: Iterable[str], n: int = 1, cutoff: float = 0.75) -> list[str]:
    """The ``n`` choices closest to ``value`` (a typo, another case), best first: the one home of "did you mean"
    (a unit or code in a file, a zone code given to ``etdz template``)."""
    choices = list(choices)
    exact = [c for c in choices if c.lower() == value.lower()]
    by_lower: dict[str, str] = {}
    for c in choices:
        by_lower.setdefault(c.lower(), c)
    close = [by_lower[c] for c in difflib.get_close_matches(value.lower(), list(by_lower), n=n, cutoff=cutoff)]
    return list(dict.fromkeys(exact + close))[:n]


def suggest(value: str, choices: Iterable[str]) -> str:
    close = close_matches(value, choices)
    return f"（是否为「{close[0]}」？）" if close else ""


#: an issue's ``value`` (and ``column``, ``expected``) and ``message`` are bounded: a 19 MB cell must not be copied
#: into the issue, the validation page, the notice and the Dagster event log
MAX_VALUE_CHARS = 200
MAX_MESSAGE_CHARS = 1000


def bounded(text, limit: int):
    """``text`` cut to ``limit`` characters, saying how long it was (None stays None)."""
    if not isinstance(text, str) or len(text) <= limit:
        return text
    return f"{text[:limit]}…（已截断，共 {len(text)} 个字符）"


def issue(f: SubmissionFile, check: str, message: str, *, row: int | None = None, column: str | None = None,
           value: str | None = None, expected: str | None = None, severity: str | None = None,
           scope: str | None = None) -> dict:
    c = CHECKS[check]
    return {
        "file_name": f.file_name, "sha256": f.sha256, "zone_code": f.zone_code,
        "severity": severity or c.severity, "scope": scope or c.scope, "check": check,
        "row": row, "column": bounded(column, MAX_VALUE_CHARS), "value": bounded(value, MAX_VALUE_CHARS),
        "expected": bounded(expected, MAX_VALUE_CHARS), "message": bounded(message, MAX_MESSAGE_CHARS),
    }


def rows_text(rows: list[int], shown: int = 5) -> str:
    """Row numbers for a message, bounded: the first ``shown``, then how many more ("2、3、4、5、6 及另外 995 行")."""
    head = "、".join(map(str, rows[:shown]))
    return head if len(rows) <= shown else f"{head} 及另外 {len(rows) - shown} 行"


def names_text(names: list[str], shown: int = 10, sep: str = "、") -> str:
    """Names for a message or a ``value`` cell, bounded like :func:`rows_text`."""
    head = sep.join(names[:shown])
    return head if len(names) <= shown else f"{head}{sep}… 及另外 {len(names) - shown} 个"


def where(f: SubmissionFile, row: int | None = None, column: str | None = None) -> str:
    s = f"文件「{f.file_name}」"
    if row is not None:
        s += f"第 {row} 行"
    if column:
        s += f"「{column}」列"
    return s



def issues_frame(issues: list[dict]) -> pd.DataFrame:
    """The issues as a frame of the ``submission_issues`` columns, sorted: by file, file-level issues first, then
    by row, errors before warnings, then by check code."""
    df = pd.DataFrame(issues, columns=ISSUE_COLUMNS)
    if len(df):
        df["row"] = df["row"].astype("Int64")
        scope_rank = df["scope"].map({"file": 0, "row": 1})
        sev_rank = df["severity"].map({"error": 0, "warning": 1})
        keys = {"_scope_rank": scope_rank, "_row": df["row"].fillna(0), "_severity_rank": sev_rank}
        df = (df.assign(**keys)
                .sort_values(["file_name", "sha256", *keys, "check"], kind="stable")
                .drop(columns=list(keys)).reset_index(drop=True))
    else:
        df["row"] = df["row"].astype("Int64")
    return df
