"""The ``etdz validate`` report: files checked against the catalogue of their own data year, touching nothing."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

import pandas as pd

from etdz.catalogue import Catalogue, MethodologyError, catalogue_for_year
from etdz.escape import plain_text
from etdz.ingestion.opening import load_file
from etdz.numbers import parse_value
from etdz.reading import DEFAULT_MAX_BYTES, DEFAULT_ROWS_PER_MEASURE, Formula, ReadResult
from etdz.validation import SubmissionFile, conversion_note, file_checks, issue, issues_frame, validate_submissions


def _file_year(read: ReadResult) -> int | None:
    years = set()
    for rec in read.rows:
        v = rec.get("data_year")
        p = parse_value(None if isinstance(v, Formula) else v)
        if p.ok and float(p.value).is_integer():  # type: ignore[arg-type]
            years.add(int(p.value))  # type: ignore[arg-type]
    return years.pop() if len(years) == 1 else None


def validate_files(paths: list[str | Path], catalogues: list[Catalogue], registry: pd.DataFrame,
                   max_bytes: int = DEFAULT_MAX_BYTES,
                   max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE) -> tuple[str, int]:
    """Check files against the catalogue of their own data year, touching nothing.

    Returns (a Chinese report listing every problem with its check code, exit status:
    1 if any file would be rejected, else 0)."""
    groups: dict[tuple[str, int], list[SubmissionFile]] = defaultdict(list)
    alone: list[tuple[SubmissionFile, list[dict]]] = []
    order: list[SubmissionFile] = []
    by_version: dict[str, Catalogue] = {}
    # the catalogue is known only once the file is read: the limit of the largest one
    max_rows = max_rows_per_measure * max((len(c.measures) for c in catalogues), default=1)
    for i, raw in enumerate(paths):
        path = Path(raw)
        if not path.exists() and not path.is_symlink():  # a link, FIFO, folder … is load_file's: file.not_regular
            f = SubmissionFile(i, path.name, "", 0, ReadResult(), 0)
            order.append(f)
            alone.append((f, [issue(f, "file.unreadable", f"文件「{path}」不存在或不是文件", value=str(path))]))
            continue
        folder_year = int(path.parent.name) if re.fullmatch(r"\d{4}", path.parent.name) else None
        f = load_file(path, i, folder_year or 0, None, max_bytes, max_rows=max_rows)
        order.append(f)
        if f.read.problems:  # nothing else can be checked in a file that could not be read
            alone.append((f, file_checks(f, registry)))
            continue
        year = _file_year(f.read) or folder_year
        f.expected_year = folder_year or year or 0
        # Every problem in one pass: a file whose year is unknown, or has no catalogue, is still checked (zone,
        # rows) against the nearest catalogue, beside the year problem, so one correction round fixes everything.
        if year is None:
            # expected_year 0: the file checks skip the year and due checks (reported here instead)
            alone.append((f, [issue(f, "file.year_mismatch",
                                     f"文件「{f.file_name}」「data_year」列没有一个统一、有效的年份，无法确定适用的考核办法"
                                     f"（其余问题按最新的考核办法检查）；请在每一行填写数据年份",
                                     column="data_year", expected="四位年份，如 2022")]))
            catalogue = max(catalogues, key=lambda c: c.year_from)
        else:
            try:
                catalogue = catalogue_for_year(catalogues, year)
            except MethodologyError as exc:
                alone.append((f, [issue(f, "file.no_catalogue",
                                         f"文件「{f.file_name}」：{exc}（其余问题按年份最接近的考核办法检查）",
                                         column="data_year", value=str(year), expected="有考核办法适用的数据年份")]))
                catalogue = min(catalogues, key=lambda c: min(abs(year - c.year_from), abs(year - (c.year_to or year))))
        by_version[catalogue.version] = catalogue
        groups[(catalogue.version, year or 0)].append(f)
    all_issues: list[dict] = []
    for _, iss in alone:
        all_issues.extend(iss)
    versions: dict[int, str] = {}
    conversions: dict[int, list[str]] = defaultdict(list)  # rows in a currency unit, shown with their computation
    for (version, year), fs in groups.items():
        issues, _, long = validate_submissions(fs, by_version[version], registry, year)
        all_issues.extend(issues.to_dict("records"))
        for f in fs:
            versions[f.idx] = f"{version}"
        if len(long):
            for r in long.loc[long["rate"].notna()].itertuples(index=False):
                note = conversion_note(by_version[version], r.measure_code, r.unit_checked, year, r.reported)
                conversions[r.file_idx].append(f"第 {r.row} 行 {r.measure_code}：{note}")
    frame = issues_frame(all_issues)
    lines: list[str] = []
    rejected = 0
    sev_zh = {"error": "错误", "warning": "警告"}
    by_file = {key: g for key, g in frame.groupby(["file_name", "sha256"], sort=False)}  # linear in the files
    empty = frame.iloc[0:0]
    for f in order:
        mine = by_file.get((f.file_name, f.sha256), empty)
        errors = int((mine["severity"] == "error").sum())
        warnings = int((mine["severity"] == "warning").sum())
        rejected += errors > 0
        verdict = (f"将被拒收（{errors} 个错误，{warnings} 个警告）" if errors else
                   f"可以接收（{warnings} 个警告）" if warnings else "可以接收，没有发现问题")
        lines.append(f"== {paths[f.idx]}")
        info = []
        if f.zone_code:
            info.append(f"园区 {f.zone_code}")
        if f.idx in versions:
            info.append(f"数据年份 {f.expected_year or '无法确定'}，考核办法 {versions[f.idx]}")
        details = f"；{'，'.join(info)}" if info else ""
        lines.append(f"   {verdict}{details}  [{'REJECTED' if errors else 'OK'}]")
        lines.extend(f"   [换算] {c}" for c in conversions.get(f.idx, []))
        for r in mine.itertuples(index=False):
            where = f"第 {r.row} 行" if not pd.isna(r.row) else "文件"
            col = f"，列 {r.column}" if isinstance(r.column, str) and r.column else ""
            lines.append(f"   [{sev_zh.get(r.severity, r.severity)}] {r.check}（{where}{col}）：{r.message}")
    lines.append(f"合计：{len(order)} 个文件，{rejected} 个将被拒收，{len(order) - rejected} 个可以接收。")
    return "\n".join(map(plain_text, lines)) + "\n", 1 if rejected else 0  # file names must not drive the terminal
