"""The ``etdz validate`` report: files checked as the run would check them (:class:`etdz.checking.Checker`),
touching nothing, worded for the terminal."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.escape import plain_text
from etdz.inbox_state import display_name
from etdz.reading import DEFAULT_MAX_BYTES, DEFAULT_ROWS_PER_MEASURE

if TYPE_CHECKING:
    from etdz.checking import Checker


def validate_files(paths: list[str | Path], catalogues: list[Catalogue] | None = None,
                   registry: pd.DataFrame | None = None, max_bytes: int = DEFAULT_MAX_BYTES,
                   max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE,
                   checker: Checker | None = None) -> tuple[str, int]:
    """Check files as the run would, touching nothing, and word the result for the terminal.

    The check is :class:`etdz.checking.Checker`'s (the portal's too): ``checker``, e.g. one made from the
    settings so that the year-on-year band and ``file.measures_dropped`` read the configured warehouse and
    inbox (``etdz validate``); else one on ``catalogues`` and ``registry`` alone, without those two checks.

    Returns (a Chinese report listing every problem with its check code, exit status:
    1 if any file would be rejected, else 0)."""
    from etdz.checking import Checker  # noqa: PLC0415 - etdz.checking reads Y−1 through etdz.history → ingestion

    if checker is None:
        if catalogues is None or registry is None:
            raise ValueError("validate_files needs a checker, or catalogues and a registry")
        checker = Checker(catalogues=catalogues, registry=registry, max_bytes=max_bytes,
                          max_rows_per_measure=max_rows_per_measure)
    results = checker.check_files(paths)
    lines: list[str] = []
    rejected = 0
    sev_zh = {"error": "错误", "warning": "警告"}
    for path, res in zip(paths, results):
        mine = res.issues
        errors, warnings = res.errors, res.warnings
        rejected += errors > 0
        verdict = (f"将被拒收（{errors} 个错误，{warnings} 个警告）" if errors else
                   f"可以接收（{warnings} 个警告）" if warnings else "可以接收，没有发现问题")
        lines.append(f"== {display_name(str(path))}")  # a name that is not UTF-8 shown escaped
        info = []
        if res.zone_code:
            info.append(f"园区 {res.zone_code}")
        if res.method_version:
            info.append(f"数据年份 {res.data_year or '无法确定'}，考核办法 {res.method_version}")
        if res.supersedes:
            info.append(f"将取代收件箱中的「{res.supersedes}」")
        details = f"；{'，'.join(info)}" if info else ""
        lines.append(f"   {verdict}{details}  [{'REJECTED' if errors else 'OK'}]")
        lines.extend(f"   [换算] {c}" for c in res.conversions)
        for r in mine.itertuples(index=False):
            where = f"第 {r.row} 行" if not pd.isna(r.row) else "文件"
            col = f"，列 {r.column}" if isinstance(r.column, str) and r.column else ""
            lines.append(f"   [{sev_zh.get(r.severity, r.severity)}] {r.check}（{where}{col}）：{r.message}")
    lines.append(f"合计：{len(results)} 个文件，{rejected} 个将被拒收，{len(results) - rejected} 个可以接收。")
    return "\n".join(map(plain_text, lines)) + "\n", 1 if rejected else 0  # file names must not drive the terminal
