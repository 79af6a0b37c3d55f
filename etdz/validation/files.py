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
        out.append(issue(f, p.check, f"{where(f)}：{p.message}", column=p.column, value=p.value, expected=p.expected))
    if read.problems:
        return out
    for name in read.extra_columns:
        out.append(issue(f, "file.extra_column", f"{where(f, column=name)}不是规定的列，已忽略（规定的列：{', '.join(REQUIRED_COLUMNS)}, note）",
                          column=name, expected=", ".join(REQUIRED_COLUMNS) + ", note"))
    if not read.has_values:
        # a blank template (every value empty) is not a submission: rejected, so it never replaces a real file
        out.append(issue(f, "file.no_values", f"{where(f, column='value')}全部为空：文件没有报送任何数值（{read.n_rows} 行都没有数值），"
                                               f"不是一份报送，通常是未填写的空白模板。请填写数值后重新报送；本园区已接收的文件不会被它取代",
                          column="value", value="", expected="至少一个指标的数值"))

    # zone: one non-empty code, the same in every row (formula cells are reported as row.formula)
    zones: dict[str, list[int]] = {}
    for rec in read.rows:
        v = rec.get("zone_code")
        if isinstance(v, Formula):
            continue
        zones.setdefault(cell_text(v), []).append(rec[ROW_KEY])
    named = [z for z in zones if z]
    if len(zones) > 1:
        found = "；".join(f"「{z or '（空）'}」第 {'、'.join(map(str, rows[:5]))}{'…' if len(rows) > 5 else ''} 行"
                         for z, rows in list(zones.items())[:10])
        if len(zones) > 10:
            found += f"；… 共 {len(zones)} 个不同的值"
        out.append(issue(f, "file.several_zones", f"{where(f, column='zone_code')}含有多个不同的园区代码：{found}。一个文件只能是一个园区的报送，请每个园区单独报送一个文件，且每行都填写园区代码",
                          column="zone_code", value=names_text([z or "(空)" for z in zones], sep=", "),
                          expected="所有行为同一个园区代码"))
    elif not named:
        if zones:
            out.append(issue(f, "file.missing_zone", f"{where(f, column='zone_code')}为空：请在每一行填写本园区在名录中的代码",
                              column="zone_code", value="", expected="名录中的园区代码"))
    else:
        zone = named[0]
        f.zone_code = zone
        reg = (lookup if lookup is not None else registry_lookup(registry)).get(zone)
        if reg is None:
            out.append(issue(f, "file.unknown_zone", f"{where(f, column='zone_code')}的园区代码「{zone}」不在园区名录中{suggest(zone, registry['zone_code'])}，请使用名录中的代码",
                              column="zone_code", value=zone, expected="名录中的园区代码（区分大小写）"))
        elif f.expected_year and not _is_due(reg, f.expected_year):
            r = reg
            span = f"{'' if pd.isna(r['first_data_year']) else int(r['first_data_year'])}–{'' if pd.isna(r['exit_data_year']) else int(r['exit_data_year'])}"
            out.append(issue(f, "file.zone_not_due", f"{where(f)}：园区「{zone}」（{r['name_zh']}）不参加 {f.expected_year} 年度的考核（考核年度 {span}），文件已接收但不计分",
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
            bad.setdefault(cell_text(v), []).append(rec[ROW_KEY])
    if bad:
        found = "；".join(f"「{y or '（空）'}」第 {'、'.join(map(str, rows[:5]))}{'…' if len(rows) > 5 else ''} 行"
                         for y, rows in list(bad.items())[:10])
        if len(bad) > 10:
            found += f"；… 共 {len(bad)} 个不同的值"
        out.append(issue(f, "file.year_mismatch", f"{where(f, column='data_year')}应为 {f.expected_year}（文件所在的年度文件夹），但发现 {found}。请确认报送的是 {f.expected_year} 年的数据，并在每一行填写 {f.expected_year}",
                          column="data_year", value=names_text([y or "(空)" for y in bad], sep=", "),
                          expected=str(f.expected_year)))
    return out



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
                          f"{where(new)}取代了本园区较早的文件「{prev.file_name}」，但没有报送其中已有数值的 {len(gone)} 个指标："
                          f"{names_text(named)}。这些指标将按缺失处理；如是遗漏，请报送包含全部指标的文件（已接收）",
                          column="measure_code", value=names_text(gone, sep=", "),
                          expected=f"与「{prev.file_name}」相同的指标"))
    return out
