"""File-level checks (plain Python, per file): what reading found (format, size, encoding, zip bomb, empty,
columns) and the file's identity (one zone, in the registry, due or not; every row's ``data_year`` equal to the
folder's year); and the ``file.measures_dropped`` warning of a file that supersedes another."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.numbers import parse_value
from etdz.reading import REQUIRED_COLUMNS, ROW_KEY, Formula, ReadResult
from etdz.validation.checks import cell_text, issue, names_text, suggest, where


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



def _is_due(reg_row: pd.Series, data_year: int) -> bool:
    if reg_row["tier"] != "national":
        return True
    first, exit_ = reg_row["first_data_year"], reg_row["exit_data_year"]
    return (not pd.isna(first) and int(first) <= data_year) and (pd.isna(exit_) or int(exit_) >= data_year)


def _year_text(v: object) -> str:
    """A registry year for a message; empty when the registry leaves it open."""
    return "" if pd.isna(v) else str(int(v))


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
    out = [issue(f, p.check, f"{where(f)}：{p.message}", column=p.column, value=p.value, expected=p.expected)
           for p in read.problems]
    if read.problems:
        return out
    out += _content_issues(f)
    out += _zone_issues(f, registry, lookup)
    if f.expected_year:  # unknown (etdz validate): the caller reports the year problem
        out += _year_issues(f)
    return out


def _values_found(rows_by_value: dict[str, list[int]]) -> str:
    """The distinct values of a column and where they are, bounded: 10 values, 5 rows each."""
    found = "；".join(f"「{v or '（空）'}」第 {'、'.join(map(str, rows[:5]))}{'…' if len(rows) > 5 else ''} 行"
                     for v, rows in list(rows_by_value.items())[:10])
    if len(rows_by_value) > 10:
        found += f"；… 共 {len(rows_by_value)} 个不同的值"
    return found


def _content_issues(f: SubmissionFile) -> list[dict]:
    """Columns that are not the template's, and a file without a single value."""
    read = f.read
    out = [issue(f, "file.extra_column",
                 f"{where(f, column=name)}不是规定的列，已忽略（规定的列：{', '.join(REQUIRED_COLUMNS)}, note）",
                 column=name, expected=", ".join(REQUIRED_COLUMNS) + ", note")
           for name in read.extra_columns]
    if not read.has_values:
        # a blank template (every value empty) is not a submission: rejected, so it never replaces a real file
        out.append(issue(f, "file.no_values",
                         f"{where(f, column='value')}全部为空：文件没有报送任何数值（{read.n_rows} 行都没有数值），"
                         f"不是一份报送，通常是未填写的空白模板。"
                         f"请填写数值后重新报送；本园区已接收的文件不会被它取代",
                         column="value", value="", expected="至少一个指标的数值"))
    return out


def _zone_issues(f: SubmissionFile, registry: pd.DataFrame, lookup: dict[str, dict] | None) -> list[dict]:
    """One non-empty zone code, the same in every row, in the registry and due this year (formula cells are
    reported as row.formula). Sets ``f.zone_code`` when the file names one zone."""
    zones: dict[str, list[int]] = {}
    for rec in f.read.rows:
        v = rec.get("zone_code")
        if isinstance(v, Formula):
            continue
        zones.setdefault(cell_text(v), []).append(rec[ROW_KEY])
    named = [z for z in zones if z]
    if len(zones) > 1:
        return [issue(f, "file.several_zones",
                      f"{where(f, column='zone_code')}含有多个不同的园区代码：{_values_found(zones)}。"
                      f"一个文件只能是一个园区的报送，请每个园区单独报送一个文件，且每行都填写园区代码",
                      column="zone_code", value=names_text([z or "(空)" for z in zones], sep=", "),
                      expected="所有行为同一个园区代码")]
    if not named:
        if not zones:
            return []
        return [issue(f, "file.missing_zone", f"{where(f, column='zone_code')}为空：请在每一行填写本园区在名录中的代码",
                      column="zone_code", value="", expected="名录中的园区代码")]
    zone = named[0]
    f.zone_code = zone
    reg = (lookup if lookup is not None else registry_lookup(registry)).get(zone)
    if reg is None:
        return [issue(f, "file.unknown_zone",
                      f"{where(f, column='zone_code')}的园区代码「{zone}」不在园区名录中"
                      f"{suggest(zone, registry['zone_code'])}，请使用名录中的代码",
                      column="zone_code", value=zone, expected="名录中的园区代码（区分大小写）")]
    if f.expected_year and not _is_due(reg, f.expected_year):
        span = f"{_year_text(reg['first_data_year'])}–{_year_text(reg['exit_data_year'])}"
        return [issue(f, "file.zone_not_due",
                      f"{where(f)}：园区「{zone}」（{reg['name_zh']}）不参加 {f.expected_year} 年度的考核"
                      f"（考核年度 {span}），文件已接收但不计分",
                      column="zone_code", value=zone, expected=f"考核年度 {span}")]
    return []


def _year_issues(f: SubmissionFile) -> list[dict]:
    """Every row's ``data_year`` is the folder's year."""
    bad: dict[str, list[int]] = {}
    seen: dict[tuple, bool] = {}  # every row repeats the year: parse each distinct cell once
    for rec in f.read.rows:
        v = rec.get("data_year")
        if isinstance(v, Formula):
            continue
        key = (type(v), v)
        good = seen.get(key)
        if good is None:
            p = parse_value(v)
            good = seen[key] = bool(p.ok and p.value == f.expected_year)
        if not good:
            bad.setdefault(cell_text(v), []).append(rec[ROW_KEY])
    if not bad:
        return []
    return [issue(f, "file.year_mismatch",
                  f"{where(f, column='data_year')}应为 {f.expected_year}（文件所在的年度文件夹），"
                  f"但发现 {_values_found(bad)}。"
                  f"请确认报送的是 {f.expected_year} 年的数据，并在每一行填写 {f.expected_year}",
                  column="data_year", value=names_text([y or "(空)" for y in bad], sep=", "),
                  expected=str(f.expected_year))]


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
    for _zone, g in log.loc[log["zone_code"].notna()].groupby("zone_code", sort=True):
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
        out.append(issue(new, "file.measures_dropped",
                         f"{where(new)}取代了本园区较早的文件「{prev.file_name}」，"
                         f"但没有报送其中已有数值的 {len(gone)} 个指标：{names_text(named)}。"
                         f"这些指标将按缺失处理；如是遗漏，请报送包含全部指标的文件（已接收）",
                         column="measure_code", value=names_text(gone, sep=", "),
                         expected=f"与「{prev.file_name}」相同的指标"))
    return out
