"""Validation of a year's submissions (02-inputs.md §2.1): file-level checks in pandas,
row-level checks by ONE Great Expectations 1.x suite derived from the catalogue.

How it works
------------
1. File-level checks (plain Python, per file): what reading found (format, size,
   encoding, zip bomb, empty, columns) and the file's identity (one zone, in the
   registry, due or not; every row's ``data_year`` equal to the folder's year).
2. Every data row of every structurally readable file of the year goes into ONE long
   frame (``file_idx``, ``row`` = the Excel row number, the header being row 1), plus
   one synthetic row per required measure a file does not list. The catalogue is
   joined onto it *as columns*: each row carries its measure's ``hard_min``,
   ``hard_max``, ``soft_min``, ``soft_max`` (±inf when unbounded), the whole-number gap
   for ``integer`` measures, the value of its ``not_above`` measure in the same file,
   and the ratio to the zone's previous accepted value with the
   ``soft_max_yoy_factor`` band.
3. A suite of column / column-pair expectations (:func:`build_suite`) — the measure
   codes and (measure, unit) pairs of the catalogue as value sets, the bounds as
   column pairs — runs once on that frame with an ephemeral GX context. Every failing
   row index is mapped back to its file, row and submission column and becomes an
   issue with a stable check code and a Chinese message (:data:`CHECKS`).

A new catalogue therefore brings its own checks without code: its codes, units and
bounds are the data of the suite.
"""

from __future__ import annotations

import difflib
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue
from etdz.memory import release_memory
from etdz.numbers import NORMALISATIONS_ZH, NUMBER_REGEX, format_number, parse_value, whole_gap
from etdz.reading import EXTRA_KEY, REQUIRED_COLUMNS, ROW_KEY, Formula, ReadResult
from etdz.schemas import SUBMISSION_ISSUES

ISSUE_COLUMNS = list(SUBMISSION_ISSUES.names)
WHOLE_TOLERANCE = 1e-9
UNIT_KEY_SEP = "\u241f"  # SYMBOL FOR UNIT SEPARATOR: joins measure and unit into the key GX checks


# --------------------------------------------------------------------------- the check codes


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
    Check("file.not_csv_xlsx", "error", "file", "files_readable", "不是 CSV/XLSX 文件", "The file's extension is neither .csv nor .xlsx (case-insensitive)."),
    Check("file.too_large", "error", "file", "files_readable", "文件过大", "The file is over the size limit (default 20 MB); it is archived but never read."),
    Check("file.encoding", "error", "file", "files_readable", "编码无法识别", "A CSV that is neither UTF-8 (with or without BOM) nor GB18030/GBK, UTF-16, or binary content (NUL bytes)."),
    Check("file.unreadable", "error", "file", "files_readable", "文件无法读取", "Not a valid XLSX (e.g. a renamed .xls), or a CSV with broken quoting."),
    Check("file.zip_bomb", "error", "file", "files_readable", "疑似压缩炸弹", "The XLSX archive's declared uncompressed size or compression ratio is over the guard's limits."),
    Check("file.empty", "error", "file", "files_readable", "空文件", "No bytes, only blank lines, or an empty first worksheet."),
    Check("file.no_data", "error", "file", "files_readable", "只有表头", "A header row and no data row."),
    Check("file.no_values", "error", "file", "files_readable", "没有任何数值", "Data rows, but not one of them has anything in `value` (a blank template): not a submission; it never replaces an accepted file."),
    Check("file.too_many_rows", "error", "file", "files_readable", "数据行过多", "More non-blank data rows than the limit derived from the catalogue (its number of measures × ETDZ_MAX_ROWS_PER_MEASURE); the rest of the file is never parsed."),
    Check("file.temporary_name", "error", "file", "files_readable", "临时文件", "A temporary name of Excel or an upload tool (~$x.xlsx, .~lock.x#, *.part, *.tmp, *.crdownload): archived and logged, never read."),
    Check("file.not_regular", "error", "file", "files_readable", "不是普通文件", "A symbolic link, FIFO, socket or device in the inbox: listed, never opened (nor its target), nothing archived."),
    Check("file.vanished", "error", "file", "files_readable", "文件已消失", "The file was listed but was gone when it was read (deleted or renamed meanwhile); nothing archived."),
    Check("file.changed", "error", "file", "files_readable", "读取时文件被改动", "The file's size or modification time differ from the listing (replaced, e.g. by a temporary file and a rename, or still being written); nothing archived: the next run reads it."),
    Check("file.cannot_open", "error", "file", "files_readable", "文件无法打开", "The operating system refused to open or read the file (permission denied, I/O error); nothing archived."),
    # required_columns
    Check("file.missing_columns", "error", "file", "required_columns", "缺少必需的列", "One of zone_code, data_year, measure_code, value, unit is not in row 1 (another delimiter or a title row above the header lands here)."),
    Check("file.duplicate_column", "error", "file", "required_columns", "列名重复", "Two columns have the same name (case-insensitive, spaces stripped)."),
    Check("file.extra_column", "warning", "file", "required_columns", "未知的列", "A column that is none of the six known ones and holds data; it is ignored."),
    # zone_and_year
    Check("file.missing_zone", "error", "file", "zone_and_year", "缺少园区代码", "No row has a zone_code."),
    Check("file.several_zones", "error", "file", "zone_and_year", "一个文件含多个园区", "Rows name different zone_code values (an empty cell counts as a different value)."),
    Check("file.unknown_zone", "error", "file", "zone_and_year", "园区代码不在名录中", "The zone_code is not in the registry (exact, case-sensitive match)."),
    Check("file.zone_not_due", "warning", "file", "zone_and_year", "园区本年度不参加考核", "A national zone outside its first/exit data years: accepted, not scored."),
    Check("file.year_mismatch", "error", "file", "zone_and_year", "数据年份不符", "A row's data_year is empty, not a whole number, or not the year of the inbox folder."),
    Check("file.no_catalogue", "error", "file", "zone_and_year", "没有适用的考核办法", "`etdz validate` only: no catalogue applies to the file's data year."),
    # valid_values
    Check("row.invalid_value", "error", "row", "valid_values", "数值无效", "The value is not a number in the syntax of §2.1 (after the accepted normalisations)."),
    Check("row.formula", "error", "row", "valid_values", "单元格是公式", "An XLSX cell of a required column holds a formula: formulas are never evaluated."),
    Check("row.field_count", "error", "row", "valid_values", "字段数多于表头", "A CSV row has non-empty fields beyond the header's columns (often an unquoted thousands separator)."),
    Check("row.number_normalised", "warning", "row", "valid_values", "数值格式已规范化", "Full-width characters, thousands separators, surrounding spaces or a trailing % were normalised."),
    # known_measures_and_units
    Check("row.unknown_measure", "error", "row", "known_measures_and_units", "指标代码未知", "measure_code is not a measure of the year's catalogue (case-sensitive), or is empty."),
    Check("row.unknown_unit", "error", "row", "known_measures_and_units", "计量单位未知", "The unit is not one of the measure's accepted units (checked when a value is given)."),
    Check("row.no_exchange_rate", "error", "row", "known_measures_and_units", "没有该年度的汇率", "The unit is a currency unit (02-inputs.md §2.3) and the catalogue has no rate of that currency for the file's data year."),
    Check("row.duplicate_measure", "error", "row", "known_measures_and_units", "指标重复", "A measure appears more than once in the file (every occurrence is listed)."),
    # hard_bounds / integers
    Check("row.hard_bounds", "error", "row", "hard_bounds", "数值超出允许范围", "After unit conversion, the value is below hard_min or above hard_max."),
    Check("row.not_integer", "error", "row", "integers", "应为整数", "An integer measure whose converted value is not whole (relative tolerance 1e-9)."),
    # required_measures
    Check("row.required_missing", "warning", "row", "required_measures", "必填指标为空", "A measure an indicator uses is listed with an empty value."),
    Check("file.required_absent", "warning", "file", "required_measures", "缺少必填指标", "A measure an indicator uses is not listed in the file at all."),
    Check("file.measures_dropped", "warning", "file", "required_measures", "比被取代的文件少报指标", "The zone's chosen file supersedes an accepted file (the latest one before it) that reported values for measures this one leaves empty or does not list; the measures are named."),
    # plausibility
    Check("row.soft_range", "warning", "row", "plausibility", "数值超出合理范围", "After conversion, the value is outside [soft_min, soft_max]."),
    Check("row.not_above", "warning", "row", "plausibility", "数值大于上级数值", "The value is greater than the value of its not_above measure in the same file."),
    Check("row.yoy_change", "warning", "row", "plausibility", "与上年相比变化过大", "value / previous > soft_max_yoy_factor or < 1/factor, against the zone's previous accepted value (skipped when that is 0 or absent)."),
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
    "plausibility": "合理性（软性范围、同比、上级数值）",
}


# --------------------------------------------------------------------------- inputs and outputs


@dataclass
class SubmissionFile:
    """One file of the year, as read (the reading never fails: problems are in ``read.problems``)."""

    idx: int
    file_name: str
    sha256: str
    size: int
    read: ReadResult
    expected_year: int  # the folder's year; 0 when unknown (``etdz validate``: year and due checks are skipped)
    received_at: pd.Timestamp | None = None
    mtime_ns: int = 0
    archive_path: str | None = None
    zone_code: str | None = None  # set by the file checks when the file names one zone


@dataclass
class ExpectationOutcome:
    """One expectation of the suite and what it found."""

    check: str
    severity: str
    family: str
    expectation_type: str
    columns: tuple[str, ...]
    success: bool
    element_count: int
    unexpected_count: int


@dataclass
class ValidationReport:
    """The GX run of one year: per expectation, and the failing rows mapped to file / row / column."""

    data_year: int
    method_version: str
    suite_name: str = ""
    expectations: list[ExpectationOutcome] = field(default_factory=list)
    failures: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=ISSUE_COLUMNS))
    files_checked: int = 0
    rows_checked: int = 0
    duration_s: float = 0.0
    gx_version: str = ""
    suite: dict = field(default_factory=dict)  # the suite as JSON (for the page and metadata)

    @property
    def success(self) -> bool:
        return all(e.success for e in self.expectations)

    def outcome(self, check: str) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if e.check == check]


# --------------------------------------------------------------------------- GX, imported lazily once

_GX: Any = None


def gx_module():
    """great_expectations, imported on first use (3–4 s), once per process."""
    global _GX
    if _GX is None:
        import great_expectations as gx  # noqa: PLC0415

        _GX = gx
    return _GX


def _ephemeral_context():
    gx = gx_module()
    from great_expectations.data_context.types.base import (  # noqa: PLC0415
        DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig)

    config = DataContextConfig(
        analytics_enabled=False,
        progress_bars=ProgressBarsConfig(globally=False),
        store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
    )
    return gx.get_context(mode="ephemeral", project_config=config)


# --------------------------------------------------------------------------- helpers


def _text(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer():
            return str(int(v))
    return str(v).strip(" \t\r\n\u00a0\u3000")


def _range_text(lo: float | None, hi: float | None, unit: str) -> str:
    if lo is not None and hi is not None:
        return f"{format_number(lo)} ～ {format_number(hi)} {unit}"
    if lo is not None:
        return f"≥ {format_number(lo)} {unit}"
    if hi is not None:
        return f"≤ {format_number(hi)} {unit}"
    return "不限"


def _units_text(catalogue: Catalogue, measure: str, data_year: int) -> str:
    return "、".join(catalogue.units_for_year(measure, data_year))


def _suggest(value: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    exact = [c for c in choices if c.lower() == value.lower()]
    close = exact or difflib.get_close_matches(value, choices, n=1, cutoff=0.75)
    return f"（是否为「{close[0]}」？）" if close else ""


def _issue(f: SubmissionFile, check: str, message: str, *, row: int | None = None, column: str | None = None,
           value: str | None = None, expected: str | None = None, severity: str | None = None,
           scope: str | None = None) -> dict:
    c = CHECKS[check]
    return {
        "file_name": f.file_name, "sha256": f.sha256, "zone_code": f.zone_code,
        "severity": severity or c.severity, "scope": scope or c.scope, "check": check,
        "row": row, "column": column, "value": value, "expected": expected, "message": message,
    }


def rows_text(rows: list[int], shown: int = 5) -> str:
    """Row numbers for a message, bounded: the first ``shown``, then how many more ("2、3、4、5、6 及另外 995 行")."""
    head = "、".join(map(str, rows[:shown]))
    return head if len(rows) <= shown else f"{head} 及另外 {len(rows) - shown} 行"


def names_text(names: list[str], shown: int = 10, sep: str = "、") -> str:
    """Names for a message or a ``value`` cell, bounded like :func:`rows_text`."""
    head = sep.join(names[:shown])
    return head if len(names) <= shown else f"{head}{sep}… 及另外 {len(names) - shown} 个"


def _where(f: SubmissionFile, row: int | None = None, column: str | None = None) -> str:
    s = f"文件「{f.file_name}」"
    if row is not None:
        s += f"第 {row} 行"
    if column:
        s += f"「{column}」列"
    return s


# --------------------------------------------------------------------------- file-level checks


def _is_due(reg_row: pd.Series, data_year: int) -> bool:
    if reg_row["tier"] != "national":
        return True
    first, exit_ = reg_row["first_data_year"], reg_row["exit_data_year"]
    return (not pd.isna(first) and int(first) <= data_year) and (pd.isna(exit_) or int(exit_) >= data_year)


def registry_lookup(registry: pd.DataFrame) -> dict[str, dict]:
    """``zone_code`` → its registry row (the first one), built once per batch: one dict lookup per file
    instead of a scan of the registry per file (quadratic at 23,000 zones)."""
    out: dict[str, dict] = {}
    for rec in registry.to_dict("records"):
        out.setdefault(rec["zone_code"], rec)
    return out


def file_checks(f: SubmissionFile, registry: pd.DataFrame, lookup: dict[str, dict] | None = None) -> list[dict]:
    """The file-level problems of one file (reading, columns, zone, year). Sets ``f.zone_code``.

    ``lookup``: :func:`registry_lookup` of ``registry`` when checking many files."""
    read = f.read
    out: list[dict] = []
    for p in read.problems:
        out.append(_issue(f, p.check, f"{_where(f)}：{p.message}", column=p.column, value=p.value, expected=p.expected))
    if read.problems:
        return out
    for name in read.extra_columns:
        out.append(_issue(f, "file.extra_column", f"{_where(f, column=name)}不是规定的列，已忽略（规定的列：{', '.join(REQUIRED_COLUMNS)}, note）",
                          column=name, expected=", ".join(REQUIRED_COLUMNS) + ", note"))
    if not read.has_values:
        # a blank template (every value empty) is not a submission: rejected, so it never replaces a real file
        out.append(_issue(f, "file.no_values", f"{_where(f, column='value')}全部为空：文件没有报送任何数值（{read.n_rows} 行都没有数值），"
                                               f"不是一份报送，通常是未填写的空白模板。请填写数值后重新报送；本园区已接收的文件不会被它取代",
                          column="value", value="", expected="至少一个指标的数值"))

    # zone: one non-empty code, the same in every row (formula cells are reported as row.formula)
    zones: dict[str, list[int]] = {}
    for rec in read.rows:
        v = rec.get("zone_code")
        if isinstance(v, Formula):
            continue
        zones.setdefault(_text(v), []).append(rec[ROW_KEY])
    named = [z for z in zones if z]
    if len(zones) > 1:
        found = "；".join(f"「{z or '（空）'}」第 {'、'.join(map(str, rows[:5]))}{'…' if len(rows) > 5 else ''} 行"
                         for z, rows in list(zones.items())[:10])
        if len(zones) > 10:
            found += f"；… 共 {len(zones)} 个不同的值"
        out.append(_issue(f, "file.several_zones", f"{_where(f, column='zone_code')}含有多个不同的园区代码：{found}。一个文件只能是一个园区的报送，请每个园区单独报送一个文件，且每行都填写园区代码",
                          column="zone_code", value=names_text([z or "(空)" for z in zones], sep=", "),
                          expected="所有行为同一个园区代码"))
    elif not named:
        if zones:
            out.append(_issue(f, "file.missing_zone", f"{_where(f, column='zone_code')}为空：请在每一行填写本园区在名录中的代码",
                              column="zone_code", value="", expected="名录中的园区代码"))
    else:
        zone = named[0]
        f.zone_code = zone
        reg = (lookup if lookup is not None else registry_lookup(registry)).get(zone)
        if reg is None:
            out.append(_issue(f, "file.unknown_zone", f"{_where(f, column='zone_code')}的园区代码「{zone}」不在园区名录中{_suggest(zone, registry['zone_code'])}，请使用名录中的代码",
                              column="zone_code", value=zone, expected="名录中的园区代码（区分大小写）"))
        elif f.expected_year and not _is_due(reg, f.expected_year):
            r = reg
            span = f"{'' if pd.isna(r['first_data_year']) else int(r['first_data_year'])}–{'' if pd.isna(r['exit_data_year']) else int(r['exit_data_year'])}"
            out.append(_issue(f, "file.zone_not_due", f"{_where(f)}：园区「{zone}」（{r['name_zh']}）不参加 {f.expected_year} 年度的考核（考核年度 {span}），文件已接收但不计分",
                              column="zone_code", value=zone, expected=f"考核年度 {span}"))

    # year: every row's data_year is the folder's year
    if not f.expected_year:
        return out  # unknown (etdz validate): the caller reports the year problem
    bad: dict[str, list[int]] = {}
    seen: dict[tuple, bool] = {}  # every row repeats the year: parse each distinct cell once
    for rec in read.rows:
        v = rec.get("data_year")
        if isinstance(v, Formula):
            continue
        key = (type(v), v)
        good = seen.get(key)
        if good is None:
            p = parse_value(v)
            good = seen[key] = bool(p.ok and p.value == f.expected_year)
        if not good:
            bad.setdefault(_text(v), []).append(rec[ROW_KEY])
    if bad:
        found = "；".join(f"「{y or '（空）'}」第 {'、'.join(map(str, rows[:5]))}{'…' if len(rows) > 5 else ''} 行"
                         for y, rows in list(bad.items())[:10])
        if len(bad) > 10:
            found += f"；… 共 {len(bad)} 个不同的值"
        out.append(_issue(f, "file.year_mismatch", f"{_where(f, column='data_year')}应为 {f.expected_year}（文件所在的年度文件夹），但发现 {found}。请确认报送的是 {f.expected_year} 年的数据，并在每一行填写 {f.expected_year}",
                          column="data_year", value=names_text([y or "(空)" for y in bad], sep=", "),
                          expected=str(f.expected_year)))
    return out


# --------------------------------------------------------------------------- the long frame


def _measure_table(catalogue: Catalogue) -> pd.DataFrame:
    inf = math.inf
    rows = []
    required = set(catalogue.required_measures)
    for code, m in catalogue.measures.items():
        rows.append({
            "measure_code": code, "canonical_unit": m.unit,
            "hard_min": -inf if m.hard_min is None else m.hard_min, "hard_max": inf if m.hard_max is None else m.hard_max,
            "soft_min": -inf if m.soft_min is None else m.soft_min, "soft_max": inf if m.soft_max is None else m.soft_max,
            "is_integer": m.integer, "yoy_factor": np.nan if m.soft_max_yoy_factor is None else m.soft_max_yoy_factor,
            "not_above": m.not_above, "is_required": code in required,
        })
    return pd.DataFrame(rows).set_index("measure_code")


def build_long_frame(files: list[SubmissionFile], catalogue: Catalogue,
                     previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per data row of every file without file-level reading problems (plus one synthetic row
    per absent required measure), with the catalogue's rules joined on as columns."""
    cols = ["file_idx", "row", "origin", "measure_code", "unit", "value_raw", "unit_raw", "value_text", "normalised",
            "reported", "formula_col", "overflow", "unit_checked"]
    # one list per column, not one dict per row: a dict per row of 23,000 files was ~0.9 GB at the peak
    data: dict[str, list] = {c: [] for c in cols}
    add = [data[c].append for c in cols]

    def append(*values) -> None:
        for a, v in zip(add, values):
            a(v)

    measures = catalogue.measures
    required = catalogue.required_measures
    for f in files:
        if f.read.problems or not f.read.has_values:
            continue  # nothing to check row by row (a blank template is one file error, not 30 warnings)
        listed: set[str] = set()
        for rec in f.read.rows:
            formula_col = next((c for c in REQUIRED_COLUMNS if isinstance(rec.get(c), Formula)), None)
            m_raw = rec.get("measure_code")
            measure = None if isinstance(m_raw, Formula) else _text(m_raw)
            unit_raw = rec.get("unit")
            unit = None if isinstance(unit_raw, Formula) else _text(unit_raw)
            v = rec.get("value")
            known = measure in measures
            if isinstance(v, Formula):
                reported, normalised = np.nan, None
                value_text = None
            else:
                p = parse_value(v, percent_ok=known and measures[measure].unit == "%")
                value_text = p.text
                reported = np.nan if p.value is None else p.value
                normalised = "、".join(NORMALISATIONS_ZH[n] for n in p.normalised) or None
            if measure:
                listed.add(measure)
            extra = rec.get(EXTRA_KEY)
            append(f.idx, rec[ROW_KEY], "row", measure, unit,
                   _text(v) if not isinstance(v, Formula) else str(v),  # value_raw
                   _text(unit_raw) if not isinstance(unit_raw, Formula) else str(unit_raw),  # unit_raw
                   value_text, normalised, reported, formula_col,
                   None if not extra else ", ".join(extra),  # overflow
                   # unit_checked: every row of a known measure names an accepted unit (02-inputs.md: "An unknown
                   # unit is an error"), even when its value is left empty
                   unit if (known and formula_col is None) else None)
        for code in required:
            if code not in listed:
                append(f.idx, None, "absent", code, None, None, None, None, None, np.nan, None, None, None)
    df = pd.DataFrame(data, columns=cols)
    del data, add
    df["file_idx"] = df["file_idx"].astype("int64")
    df["row"] = df["row"].astype("Int64")
    df["reported"] = df["reported"].astype("float64")
    for c in ("origin", "measure_code", "unit", "value_raw", "unit_raw", "value_text", "normalised", "formula_col",
              "overflow", "unit_checked"):
        df[c] = df[c].astype("str")  # pandas 3 string dtype; None stays missing
    zone_of = {f.idx: f.zone_code for f in files}
    df["zone_code"] = df["file_idx"].map(zone_of).astype("str")

    mt = _measure_table(catalogue)
    known = df["measure_code"].isin(mt.index)
    j = mt.reindex(df["measure_code"].where(known))
    j.index = df.index
    factors = {(code, u): fac for code, m in measures.items() for u, fac in m.accepted_units.items()}
    df["factor"] = [factors.get((m, u), np.nan) for m, u in zip(df["measure_code"].tolist(), df["unit_checked"].tolist())]
    df["value"] = df["reported"] * df["factor"]
    df["unit_key"] = (df["measure_code"] + UNIT_KEY_SEP + df["unit_checked"]).astype("str")
    _convert_currencies(df, files, catalogue)
    for c in ("hard_min", "hard_max", "soft_min", "soft_max"):
        df[c] = j[c].astype("float64").where(known)
    df["canonical_unit"] = j["canonical_unit"].astype("str")
    is_int = j["is_integer"].fillna(False).astype(bool) & known
    gap = np.full(len(df), np.nan)
    check = (is_int & df["value"].notna()).to_numpy()
    gap[check] = [whole_gap(x) for x in df["value"].to_numpy()[check].tolist()]  # only the integer measures' rows
    df["whole_gap"] = gap
    df["dup_measure"] = df["measure_code"].where(df["origin"].eq("row") & df["measure_code"].fillna("").ne(""))

    # not_above: the value of that measure in the same file
    # (left joins, not Python dicts of 800,000 tuple keys: faster and ~0.3 GB less at 23,000 files)
    vals = (df.loc[df["origin"].eq("row") & df["value"].notna(), ["file_idx", "measure_code", "value"]]
            .drop_duplicates(["file_idx", "measure_code"]).rename(columns={"measure_code": "not_above_code",
                                                                           "value": "not_above_value"}))
    targets = j["not_above"].where(known)
    df["not_above_code"] = targets.astype("str")
    found = df[["file_idx", "not_above_code"]].merge(vals, how="left", on=["file_idx", "not_above_code"],
                                                     validate="many_to_one")["not_above_value"].to_numpy("float64")
    df["not_above_value"] = np.where(df["not_above_code"].notna().to_numpy(), found, np.nan)

    # year on year against the zone's previous accepted value: value/previous outside [1/f, f] (a negative
    # ratio is below 1/f); skipped when the previous value is 0 (no ratio) or absent
    df["previous"] = np.nan
    if previous is not None and len(previous):
        prev = (previous[["zone_code", "measure_code", "value"]].dropna()
                .drop_duplicates(["zone_code", "measure_code"], keep="last")
                .astype({"zone_code": "str", "measure_code": "str", "value": "float64"})
                .rename(columns={"value": "previous"}))
        found = df[["zone_code", "measure_code"]].merge(prev, how="left", on=["zone_code", "measure_code"],
                                                        validate="many_to_one")["previous"].to_numpy("float64")
        keyed = (df["zone_code"].notna() & df["measure_code"].notna()).to_numpy()
        df["previous"] = np.where(keyed, found, np.nan)
    factor = j["yoy_factor"].astype("float64").where(known)
    applies = factor.notna() & df["previous"].notna() & (df["previous"] != 0) & df["value"].notna()
    df["yoy_ratio"] = (df["value"] / df["previous"]).where(applies)
    df["yoy_low"] = (1.0 / factor).where(applies)
    df["yoy_high"] = factor.where(applies)

    # required measures: missing only when the value is truly empty or the row is absent
    req = j["is_required"].fillna(False).astype(bool) & known
    df["required_filled"] = np.where(req & df["value_text"].isna() & df["formula_col"].isna(), np.nan, 1.0)
    return df


def _convert_currencies(df: pd.DataFrame, files: list[SubmissionFile], catalogue: Catalogue) -> None:
    """Rows in a currency unit (02-inputs.md §2.3): converted at the rate of the file's data year (``rate``,
    ``value``); without a rate for that year, ``no_rate`` holds the currency (``row.no_exchange_rate``).
    Rows in a plain unit keep ``value = reported × factor`` and a null ``rate``."""
    df["rate"] = np.nan
    df["no_rate"] = pd.Series(None, index=df.index, dtype="str")
    keys = [f"{code}{UNIT_KEY_SEP}{u}" for code, m in catalogue.measures.items() for u in m.currency_units]
    hit = df["unit_key"].isin(keys).to_numpy() if keys else np.zeros(len(df), dtype=bool)
    if not hit.any():
        return
    year_of = {f.idx: f.expected_year for f in files}
    rows = df.loc[hit, ["file_idx", "measure_code", "unit_checked", "reported"]]
    factor, rate, value, missing = [], [], [], []
    for fi, code, unit, x in zip(rows["file_idx"].tolist(), rows["measure_code"].tolist(),
                                 rows["unit_checked"].tolist(), rows["reported"].tolist()):
        conv = catalogue.conversion(code, unit, year_of[fi])
        if conv is None:
            factor.append(np.nan), rate.append(np.nan), value.append(np.nan)
            missing.append(catalogue.measures[code].currency_units[unit].currency)
        else:
            factor.append(conv.factor), rate.append(conv.rate), value.append(conv.apply(x))
            missing.append(None)
    df.loc[hit, "factor"] = factor
    df.loc[hit, "rate"] = rate
    df.loc[hit, "value"] = value
    df.loc[hit, "no_rate"] = missing


def conversion_note(catalogue: Catalogue, measure: str, unit: str, data_year: int, reported: float) -> str:
    """How a reported value in a currency unit became canonical, for messages: ``24.7 亿美元 × 6.4515 =
    159.35 亿元，按 2021 年 USD 年平均汇率，来源：…``; empty for a plain unit or a year without a rate."""
    m = catalogue.measures.get(measure)
    conv = catalogue.conversion(measure, unit, data_year) if m else None
    if conv is None or conv.rate is None or catalogue.exchange_rates is None or math.isnan(reported):
        return ""
    currency = m.currency_units[unit].currency  # type: ignore[union-attr]
    return (f"{conv.explain(reported, unit, m.unit)}，按 {data_year} 年 {currency} 年平均汇率，"  # type: ignore[union-attr]
            f"来源：{catalogue.exchange_rates.source}")


# --------------------------------------------------------------------------- the suite


def build_suite(catalogue: Catalogue, name: str):
    """The expectation suite of a catalogue, for the long frame of :func:`build_long_frame`.

    The catalogue is in it as data: its measure codes, its (measure, accepted unit)
    pairs; the per-measure bounds travel as columns of the frame."""
    gx = gx_module()
    E = gx.expectations
    pairs = sorted((code, u) for code, m in catalogue.measures.items() for u in m.units)

    def meta(check: str, column: str) -> dict:
        c = CHECKS[check]
        return {"check": check, "severity": c.severity, "family": c.family, "column": column}

    either = "either_value_is_missing"
    exps = [
        E.ExpectColumnValuesToBeInSet(column="measure_code", value_set=sorted(catalogue.measures),
                                      meta=meta("row.unknown_measure", "measure_code")),
        # (measure, unit) pairs as one key column: the pair-set metric of GX iterates rows in Python
        E.ExpectColumnValuesToBeInSet(column="unit_key", value_set=[f"{m}{UNIT_KEY_SEP}{u}" for m, u in pairs],
                                      meta=meta("row.unknown_unit", "unit")),
        E.ExpectColumnValuesToBeNull(column="no_rate", meta=meta("row.no_exchange_rate", "unit")),
        E.ExpectColumnValuesToMatchRegex(column="value_text", regex=NUMBER_REGEX, meta=meta("row.invalid_value", "value")),
        E.ExpectColumnValuesToBeNull(column="formula_col", meta=meta("row.formula", "value")),
        E.ExpectColumnValuesToBeNull(column="overflow", meta=meta("row.field_count", "value")),
        E.ExpectColumnValuesToBeNull(column="normalised", meta=meta("row.number_normalised", "value")),
        E.ExpectCompoundColumnsToBeUnique(column_list=["file_idx", "dup_measure"], ignore_row_if="any_value_is_missing",
                                          meta=meta("row.duplicate_measure", "measure_code")),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="value", column_B="hard_min", or_equal=True, ignore_row_if=either,
                                                  meta=meta("row.hard_bounds", "value") | {"bound": "hard_min"}),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="hard_max", column_B="value", or_equal=True, ignore_row_if=either,
                                                  meta=meta("row.hard_bounds", "value") | {"bound": "hard_max"}),
        E.ExpectColumnValuesToBeBetween(column="whole_gap", min_value=0, max_value=WHOLE_TOLERANCE,
                                        meta=meta("row.not_integer", "value")),
        E.ExpectColumnValuesToNotBeNull(column="required_filled", meta=meta("row.required_missing", "value")),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="value", column_B="soft_min", or_equal=True, ignore_row_if=either,
                                                  meta=meta("row.soft_range", "value") | {"bound": "soft_min"}),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="soft_max", column_B="value", or_equal=True, ignore_row_if=either,
                                                  meta=meta("row.soft_range", "value") | {"bound": "soft_max"}),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="not_above_value", column_B="value", or_equal=True,
                                                  ignore_row_if=either, meta=meta("row.not_above", "value")),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="yoy_ratio", column_B="yoy_low", or_equal=True, ignore_row_if=either,
                                                  meta=meta("row.yoy_change", "value") | {"bound": "low"}),
        E.ExpectColumnPairValuesAToBeGreaterThanB(column_A="yoy_high", column_B="yoy_ratio", or_equal=True, ignore_row_if=either,
                                                  meta=meta("row.yoy_change", "value") | {"bound": "high"}),
    ]
    suite = gx.ExpectationSuite(name=name, meta={"catalogue_version": catalogue.version, "catalogue_sha256": catalogue.sha256})
    for n, e in enumerate(exps):
        e.meta["order"] = n
        suite.add_expectation(e)
    return suite


def suite_columns(suite) -> list[str]:
    """The columns the suite's expectations read, in a stable order."""
    cols: list[str] = []
    for e in suite.expectations:
        for attr in ("column", "column_A", "column_B"):
            c = getattr(e, attr, None)
            if c and c not in cols:
                cols.append(c)
        for c in getattr(e, "column_list", None) or []:
            if c not in cols:
                cols.append(c)
    return cols


def run_suite(df: pd.DataFrame, catalogue: Catalogue, name: str):
    """Run the catalogue's suite on the long frame in one batch; returns (suite, validation result)."""
    ctx = _ephemeral_context()
    suite = ctx.suites.add(build_suite(catalogue, name))
    batch_def = ctx.data_sources.add_pandas("submissions").add_dataframe_asset("rows").add_batch_definition_whole_dataframe("year")
    # only the columns the expectations read (the index maps failures back): GX copies what it is given
    used = [c for c in suite_columns(suite) if c in df.columns]  # a missing column: GX reports it
    batch = batch_def.get_batch(batch_parameters={"dataframe": df[used]})
    result = batch.validate(suite, result_format={"result_format": "COMPLETE", "include_unexpected_rows": False,
                                                  "return_unexpected_index_query": False})
    for r in result.results:
        info = r.exception_info or {}
        # either {raised_exception, exception_message} or {metric id: {raised_exception, ...}, ...}
        found = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
        raised = [x for x in found if x.get("raised_exception")]
        if raised or "element_count" not in (r.result or {}):
            msg = raised[0].get("exception_message") if raised else "no result"
            raise RuntimeError(f"Great Expectations failed on {r.expectation_config.type}: {msg}")
    return suite, result


# --------------------------------------------------------------------------- failing rows -> issues


def _row_issue(f: SubmissionFile, r: pd.Series, check: str, bound: str | None, catalogue: Catalogue,
               dup_rows: dict) -> dict:
    row = None if pd.isna(r["row"]) else int(r["row"])
    code = r["measure_code"] if isinstance(r["measure_code"], str) else ""
    m = catalogue.measures.get(code)
    mname = f"{code}（{m.name_zh}）" if m else code
    value_raw = r["value_raw"] if isinstance(r["value_raw"], str) else ""
    unit_raw = r["unit_raw"] if isinstance(r["unit_raw"], str) else ""
    conv = "" if pd.isna(r["value"]) else format_number(float(r["value"]))
    conv_txt = f"（折算为 {conv} {m.unit}）" if m and r["unit_checked"] != m.unit and conv else ""
    rate_txt = ""  # a currency unit: the conversion step by step, in every message about the value
    if m and conv and not pd.isna(r["rate"]):
        conv_txt = rate_txt = f"（{conversion_note(catalogue, code, r['unit_checked'], f.expected_year, float(r['reported']))}）"
    w = _where(f, row, "value")
    if check == "row.unknown_measure":
        col = "measure_code"
        if code == "":
            msg = f"{_where(f, row, col)}为空：请填写本年度考核办法中的指标代码"
        else:
            msg = f"{_where(f, row, col)}的指标代码「{code}」不在本年度考核办法（{catalogue.version}）中{_suggest(code, catalogue.measures)}；请改用模板中的指标代码，或删除该行"
        return _issue(f, check, msg, row=row, column=col, value=code, expected="本年度考核办法的指标代码（区分大小写）")
    if check == "row.unknown_unit":
        units = _units_text(catalogue, code, f.expected_year)
        msg = f"{_where(f, row, 'unit')}的计量单位「{unit_raw or '（空）'}」不适用于指标 {mname}；可接受的单位：{units}"
        return _issue(f, check, msg, row=row, column="unit", value=unit_raw, expected=units)
    if check == "row.no_exchange_rate":
        units = _units_text(catalogue, code, f.expected_year)
        currency = r["no_rate"]
        msg = (f"{_where(f, row, 'unit')}的计量单位「{unit_raw}」是外币单位（{currency}），但考核办法 {catalogue.version}"
               f"（{Path(catalogue.path).name}）没有 {f.expected_year} 年的 {currency} 年平均汇率，指标 {mname} 无法折算为 "
               f"{m.unit}；请改用 {units} 填报，或由考核办法的维护者在 exchange_rates 中补充 {f.expected_year} 年的汇率")
        return _issue(f, check, msg, row=row, column="unit", value=unit_raw,
                      expected=f"{f.expected_year} 年有汇率的单位：{units}")
    if check == "row.invalid_value":
        reason = parse_value(value_raw, percent_ok=bool(m and m.unit == "%")).error or "不是数值"
        msg = f"{w}的数值「{value_raw}」无效（{reason}），指标 {mname}。请只填写阿拉伯数字（可带小数点和负号），不要填写文字、区间或说明；不报送请留空"
        return _issue(f, check, msg, row=row, column="value", value=value_raw, expected="数值，如 -3、12.5、2e-06")
    if check == "row.formula":
        col = r["formula_col"]
        msg = f"{_where(f, row, col)}是公式（{value_raw if col == 'value' else ''}），系统不计算公式；请把该单元格改为数值本身（复制后“选择性粘贴—数值”）"
        return _issue(f, check, msg, row=row, column=col, value=value_raw if col == "value" else None, expected="数值或文本，不能是公式")
    if check == "row.field_count":
        msg = f"{_where(f, row)}的字段数多于表头（多出：{r['overflow']}）；常见原因是数值中的千位分隔逗号没有加引号。请去掉数值中的逗号后重新保存"
        return _issue(f, check, msg, row=row, column=None, value=r["overflow"], expected="每行字段数不超过表头列数")
    if check == "row.number_normalised":
        msg = f"{w}的数值「{value_raw}」已按 {r['normalised']} 规范化为 {r['value_text']}，请核对"
        return _issue(f, check, msg, row=row, column="value", value=value_raw, expected=r["value_text"])
    if check == "row.duplicate_measure":
        others = rows_text(dup_rows.get((r["file_idx"], code), []))  # bounded: the issue list stays linear
        msg = f"{_where(f, row, 'measure_code')}：指标 {mname} 在文件中出现了不止一次（第 {others} 行）；每个指标只能填写一行，请删除重复的行"
        return _issue(f, check, msg, row=row, column="measure_code", value=code, expected="每个指标只出现一次")
    if check == "row.hard_bounds":
        rng = _range_text(m.hard_min, m.hard_max, m.unit)
        side = "低于下限" if bound == "hard_min" else "高于上限"
        msg = f"{w}：指标 {mname} 的数值 {value_raw} {unit_raw}{conv_txt}{side}，允许范围 {rng}；请核对数值和单位"
        return _issue(f, check, msg, row=row, column="value", value=value_raw, expected=rng)
    if check == "row.not_integer":
        msg = f"{w}：指标 {mname} 是计数，应为整数，但数值为 {value_raw} {unit_raw}{conv_txt}；请填写整数"
        return _issue(f, check, msg, row=row, column="value", value=value_raw, expected=f"整数（{m.unit}）")
    if check == "row.required_missing":
        if r["origin"] == "absent":
            msg = f"{_where(f)}：缺少必填指标 {mname}（考核指标要用到它），该指标将按缺失处理、得 0 分；如有数据请补报"
            return _issue(f, "file.required_absent", msg, column="measure_code", value=None, expected=code)
        msg = f"{w}：必填指标 {mname} 的数值为空，该指标将按缺失处理、得 0 分；如有数据请补报"
        return _issue(f, check, msg, row=row, column="value", value="", expected=f"数值（{m.unit}）")
    if check == "row.soft_range":
        rng = _range_text(m.soft_min, m.soft_max, m.unit)
        msg = f"{w}：指标 {mname} 的数值 {value_raw} {unit_raw}{conv_txt}超出通常范围 {rng}，请核对数值和单位（已接收）"
        return _issue(f, check, msg, row=row, column="value", value=value_raw, expected=rng)
    if check == "row.not_above":
        tcode = r["not_above_code"]
        tm = catalogue.measures[tcode]
        msg = (f"{w}：指标 {mname} 的数值 {conv} {m.unit}{rate_txt} 大于 {tcode}（{tm.name_zh}）的数值 "
               f"{format_number(float(r['not_above_value']))} {tm.unit}，通常不应超过；请核对（已接收）")
        return _issue(f, check, msg, row=row, column="value", value=value_raw, expected=f"≤ {tcode}（{format_number(float(r['not_above_value']))} {tm.unit}）")
    if check == "row.yoy_change":
        fac = format_number(m.soft_max_yoy_factor)
        msg = (f"{w}：指标 {mname} 的数值 {conv} {m.unit}{rate_txt} 与上年已接收的 {format_number(float(r['previous']))} {m.unit} 相比"
               f"变化超过 {fac} 倍（比值 {float(r['yoy_ratio']):.3g}），请核对数值和单位（已接收）")
        return _issue(f, check, msg, row=row, column="value", value=value_raw,
                      expected=f"上年的 1/{fac} ～ {fac} 倍")
    raise KeyError(check)


def validate_rows(files: list[SubmissionFile], catalogue: Catalogue, data_year: int,
                  previous: pd.DataFrame | None = None) -> tuple[list[dict], ValidationReport, pd.DataFrame]:
    """Run the suite on all files at once; returns (row issues, report, long frame)."""
    t0 = time.perf_counter()
    df = build_long_frame(files, catalogue, previous)
    for f in files:
        f.read.release_rows()  # everything later reads the long frame
    release_memory()
    report = ValidationReport(data_year=data_year, method_version=catalogue.version,
                              suite_name=f"etdz_submissions_{data_year}_{catalogue.version}")
    report.files_checked = int(df["file_idx"].nunique()) if len(df) else 0
    report.rows_checked = int(df["origin"].eq("row").sum()) if len(df) else 0
    issues: list[dict] = []
    if len(df) == 0:
        report.duration_s = time.perf_counter() - t0
        return issues, report, df
    suite, result = run_suite(df, catalogue, report.suite_name)
    release_memory()  # GX's temporaries
    report.gx_version = gx_module().__version__
    try:
        report.suite = suite.to_json_dict()
    except Exception:  # noqa: BLE001 - the JSON form is for display only
        report.suite = {}
    by_idx = {f.idx: f for f in files}
    dups = df.loc[df["dup_measure"].notna()]
    dups = dups.loc[dups.duplicated(["file_idx", "dup_measure"], keep=False)]
    dup_rows: dict = {}
    for fi, mc, rw in zip(dups["file_idx"].tolist(), dups["dup_measure"].tolist(), dups["row"].tolist()):
        dup_rows.setdefault((fi, mc), []).append(int(rw))
    results = sorted(result.results, key=lambda r: (r.expectation_config.meta or {}).get("order", 0))
    for res in results:
        cfg = res.expectation_config
        meta = cfg.meta or {}
        check = meta["check"]
        idx = list(res.result.get("unexpected_index_list") or [])
        kw = cfg.kwargs
        cols = tuple(str(kw[k]) for k in ("column", "column_A", "column_B") if k in kw) or tuple(kw.get("column_list", ()))
        report.expectations.append(ExpectationOutcome(
            check=check, severity=meta["severity"], family=meta["family"], expectation_type=cfg.type, columns=cols,
            success=bool(res.success), element_count=int(res.result.get("element_count") or 0),
            unexpected_count=int(res.result.get("unexpected_count") or 0)))
        for i in idx:
            r = df.loc[i]
            issues.append(_row_issue(by_idx[int(r["file_idx"])], r, check, meta.get("bound"), catalogue, dup_rows))
    report.failures = pd.DataFrame(issues, columns=ISSUE_COLUMNS)
    report.duration_s = time.perf_counter() - t0
    return issues, report, df


def validate_submissions(files: list[SubmissionFile], catalogue: Catalogue, registry: pd.DataFrame, data_year: int,
                         previous: pd.DataFrame | None = None) -> tuple[pd.DataFrame, ValidationReport, pd.DataFrame]:
    """All checks of §2.1 on a year's files: returns (issues frame, GX report, long frame)."""
    issues: list[dict] = []
    lookup = registry_lookup(registry)
    for f in files:
        issues.extend(file_checks(f, registry, lookup))
    row_issues, report, df = validate_rows(files, catalogue, data_year, previous)
    issues.extend(row_issues)
    frame = issues_frame(issues)
    return frame, report, df


def dropped_measures_issues(files: list[SubmissionFile], log: pd.DataFrame, long: pd.DataFrame,
                            catalogue: Catalogue) -> list[dict]:
    """``file.measures_dropped`` warnings: a zone's chosen file that supersedes accepted files and has no value for
    measures the latest of them reported (02-inputs.md §2.1 "Several files for one zone and year").

    ``log``: the decided submission log (:func:`etdz.ingest.decide`); ``long``: the long frame of the year."""
    if log.empty or not log["status"].eq("superseded").any():
        return []
    rows = long.loc[long["origin"].eq("row") & long["value"].notna(), ["file_idx", "measure_code"]]
    reported: dict[int, set[str]] = {}
    for fi, code in zip(rows["file_idx"].tolist(), rows["measure_code"].tolist()):
        reported.setdefault(int(fi), set()).add(code)
    by_name = {f.file_name: f for f in files}
    order = {code: i for i, code in enumerate(catalogue.measures)}
    out: list[dict] = []
    for zone, g in log.loc[log["zone_code"].notna()].groupby("zone_code", sort=True):
        chosen = [by_name[n] for n in g.loc[g["status"] == "accepted", "file_name"]]
        older = [by_name[n] for n in g.loc[g["status"] == "superseded", "file_name"]]
        if len(chosen) != 1 or not older:
            continue
        new, prev = chosen[0], max(older, key=lambda f: (f.mtime_ns, f.file_name))  # the file it replaces
        gone = sorted(reported.get(prev.idx, set()) - reported.get(new.idx, set()),
                      key=lambda c: (order.get(c, 1 << 30), c))  # in catalogue order
        if not gone:
            continue
        named = [f"{c}（{catalogue.measures[c].name_zh}）" if c in catalogue.measures else c for c in gone]
        out.append(_issue(new, "file.measures_dropped",
                          f"{_where(new)}取代了本园区较早的文件「{prev.file_name}」，但没有报送其中已有数值的 {len(gone)} 个指标："
                          f"{names_text(named)}。这些指标将按缺失处理；如是遗漏，请报送包含全部指标的文件（已接收）",
                          column="measure_code", value=names_text(gone, sep=", "),
                          expected=f"与「{prev.file_name}」相同的指标"))
    return out


def issues_frame(issues: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(issues, columns=ISSUE_COLUMNS)
    if len(df):
        df["row"] = df["row"].astype("Int64")
        scope_rank = df["scope"].map({"file": 0, "row": 1})
        sev_rank = df["severity"].map({"error": 0, "warning": 1})
        df = (df.assign(_s=scope_rank, _v=sev_rank, _r=df["row"].fillna(0))
                .sort_values(["file_name", "sha256", "_s", "_r", "_v", "check"], kind="stable")
                .drop(columns=["_s", "_v", "_r"]).reset_index(drop=True))
    else:
        df["row"] = df["row"].astype("Int64")
    return df
