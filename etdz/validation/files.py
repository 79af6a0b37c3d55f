"""File-level checks (plain Python, per file): what reading found (format, size, encoding, zip bomb, empty,
columns) and the file's identity (one zone, in the registry, due or not; every row's ``data_year`` equal to the
folder's year); and the ``file.measures_dropped`` warning of a file that supersedes another.

:func:`read_deferred` reads the year's pending CSVs in one batch and keeps in it only the files whose identity
is already settled by their rows (one zone, the folder's year in every row): the others are read on their own,
so every file with something to report is reported by the same code as ever."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue
from etdz.cells import cell_text
from etdz.numbers import parse_value
from etdz.reading import REQUIRED_COLUMNS, ROW_KEY, CsvBatch, Formula, ReadResult, read_csv_batch, read_csv_bytes
from etdz.registry import may_submit
from etdz.validation.checks import issue, names_text, suggest, where


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



def read_deferred(files: list[SubmissionFile]) -> None:
    """Read the files whose parse was deferred (``read.pending``, :func:`etdz.reading.read_submission` with
    ``defer=True``): one :func:`etdz.reading.read_csv_batch` for all of them; a file with a line of another width,
    a blank row or no value (:attr:`~etdz.reading.CsvBatch.readable`), not exactly one non-empty zone code, or a
    row whose ``data_year`` is not its ``expected_year`` is read on its own (:func:`etdz.reading.read_csv_bytes`),
    as is every file if the batch parse fails. A file kept in the batch gets a :class:`~etdz.reading.ReadResult`
    without row dicts (its rows are the batch's, its zone in ``zone``). Never raises for a file's content."""
    waiting = [f for f in files if f.read.pending is not None]
    if not waiting:
        return
    pendings = [f.read.pending for f in waiting]
    zones: list[str | None] = [None] * len(waiting)
    try:
        batch = read_csv_batch(pendings)  # type: ignore[arg-type]
        zones = _batch_zones(batch, len(waiting))
        keep = batch.readable & np.array([z is not None for z in zones]) & _batch_years_ok(batch, waiting)
        batch = batch.narrow(keep, ["measure_code", "value", "unit"])  # what the long frame needs
    except Exception:  # noqa: BLE001 - the batch only saves time: if it fails, every file is read on its own
        keep = np.zeros(len(waiting), dtype=bool)
    for i, (f, p) in enumerate(zip(waiting, pendings)):
        if keep[i]:
            f.read = ReadResult(file_format="csv", encoding=p.encoding, header=p.header,  # type: ignore[union-attr]
                                raw_header=p.raw_header, row_count=p.lines, batch=batch, batch_pos=i,  # type: ignore[union-attr]
                                zone=zones[i])
        else:
            f.read = read_csv_bytes(p.data, p.max_rows)  # type: ignore[union-attr]


def _runs(batch: CsvBatch) -> np.ndarray:
    """The first row of each file of ``batch`` (its rows are contiguous, every file has one)."""
    return np.flatnonzero(np.r_[True, batch.owner[1:] != batch.owner[:-1]])


def _batch_zones(batch: CsvBatch, n: int) -> list[str | None]:
    """Per file of ``batch``, the zone code when every row names the same non-empty one (:func:`cell_text`, as
    :func:`_zone_issues` reads it), else None. Each distinct cell is trimmed once."""
    zones: list[str | None] = [None] * n
    if not len(batch.owner):
        return zones
    cells = batch.table["zone_code"].combine_chunks().dictionary_encode()
    codes, names = pd.factorize(pd.Series([cell_text(v) for v in cells.dictionary.to_pylist()], dtype=object))
    zone = codes[cells.indices.to_numpy(zero_copy_only=False)]
    starts = _runs(batch)
    low, high = np.minimum.reduceat(zone, starts), np.maximum.reduceat(zone, starts)
    for pos, lo, hi in zip(batch.owner[starts].tolist(), low.tolist(), high.tolist()):
        if lo == hi and names[lo] != "":
            zones[pos] = names[lo]
    return zones


def _batch_years_ok(batch: CsvBatch, files: list[SubmissionFile]) -> np.ndarray:
    """Per file of ``batch`` (``files`` in batch order): every row's ``data_year`` is its ``expected_year``
    (:func:`_year_value`, once per distinct cell)."""
    ok = np.ones(len(files), dtype=bool)
    if not len(batch.owner):
        return ok
    cells = batch.table["data_year"].combine_chunks().dictionary_encode()
    years = np.array([np.nan if (y := _year_value(v)) is None else y for v in cells.dictionary.to_pylist()],
                     dtype="float64")  # NaN (not a number) equals no year
    expected = np.array([f.expected_year for f in files], dtype="float64")
    good = years[cells.indices.to_numpy(zero_copy_only=False)] == expected[batch.owner]
    ok[np.unique(batch.owner[~good])] = False
    return ok


def _year_text(v: object) -> str:
    """A registry year for a message; empty when the registry leaves it open."""
    return "" if pd.isna(v) else str(int(v))


def registry_lookup(registry: pd.DataFrame) -> dict[str, dict]:
    """``zone_code`` → its registry row (the first one), built once per batch: one dict lookup per file
    instead of a scan of the registry per file (quadratic at 23,000 zones)."""
    cols = list(registry.columns)
    # by column, not ``to_dict("records")``, which boxes value by value (5× slower at 23,000 zones); a missing
    # integer (<NA>) is None, as to_dict gives it
    values = [[None if v is pd.NA else v for v in registry[c].tolist()] for c in cols]
    out: dict[str, dict] = {}
    for rec in (dict(zip(cols, r)) for r in zip(*values)):
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


def zone_cells(f: SubmissionFile) -> dict[str, list[int]]:
    """The zone codes the file's ``zone_code`` cells hold (trimmed; "" for an empty cell), each with the rows that
    hold it; formula cells are not counted (they are row.formula). A file read in a batch names one zone."""
    zones: dict[str, list[int]] = {}
    if f.read.zone is not None:  # read in a batch: every row names this zone (see read_deferred)
        zones[f.read.zone] = []
    for rec in f.read.rows:
        v = rec.get("zone_code")
        if isinstance(v, Formula):
            continue
        zones.setdefault(cell_text(v), []).append(rec[ROW_KEY])
    return zones


def _zone_issues(f: SubmissionFile, registry: pd.DataFrame, lookup: dict[str, dict] | None) -> list[dict]:
    """One non-empty zone code, the same in every row, in the registry and due this year (formula cells are
    reported as row.formula). Sets ``f.zone_code`` when the file names one zone."""
    zones = zone_cells(f)
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
    if f.expected_year and not may_submit(reg, f.expected_year):
        span = f"{_year_text(reg['first_data_year'])}–{_year_text(reg['exit_data_year'])}"
        return [issue(f, "file.zone_not_due",
                      f"{where(f)}：园区「{zone}」（{reg['name_zh']}）不参加 {f.expected_year} 年度的考核"
                      f"（考核年度 {span}），文件已接收但不计分",
                      column="zone_code", value=zone, expected=f"考核年度 {span}")]
    return []


def _year_value(v: object) -> float | None:
    """The year a ``data_year`` cell names (its number), None when it is not a number."""
    p = parse_value(v)
    return p.value if p.ok else None


def _year_issues(f: SubmissionFile) -> list[dict]:
    """Every row's ``data_year`` is the folder's year (a file read in a batch has no row dicts: every row has it,
    or :func:`read_deferred` would have read it on its own)."""
    bad: dict[str, list[int]] = {}
    seen: dict[tuple, bool] = {}  # every row repeats the year: parse each distinct cell once
    for rec in f.read.rows:
        v = rec.get("data_year")
        if isinstance(v, Formula):
            continue
        key = (type(v), v)
        good = seen.get(key)
        if good is None:
            good = seen[key] = _year_value(v) == f.expected_year
        if not good:
            bad.setdefault(cell_text(v), []).append(rec[ROW_KEY])
    if not bad:
        return []
    years = [_year_value(text) for text in bad]
    if all(y is not None and float(y).is_integer() for y in years):
        # another year's figures: rewriting every row's year would pass them off as this year's (and replace the
        # zone's accepted file with them); they belong to their own year
        advice = (f"另一年度的数据请作为那一年度的报送提交（不要改动年份），{f.expected_year} 年度请报送 "
                  f"{f.expected_year} 年的数字")
    else:  # an empty or unreadable year: the figures are this year's, the year is miswritten
        advice = f"请确认报送的是 {f.expected_year} 年的数据，并在每一行填写 {f.expected_year}"
    return [issue(f, "file.year_mismatch",
                  f"{where(f, column='data_year')}应为 {f.expected_year}（文件所在的年度文件夹），"
                  f"但发现 {_values_found(bad)}。{advice}",
                  column="data_year", value=names_text([y or "(空)" for y in bad], sep=", "),
                  expected=str(f.expected_year))]


def reported_measures(long: pd.DataFrame) -> dict[int, set[str]]:
    """Per file (``file_idx``) of a long frame, the measures it reports a value for."""
    if long.empty:
        return {}
    rows = long.loc[long["origin"].eq("row") & long["value"].notna(), ["file_idx", "measure_code"]]
    reported: dict[int, set[str]] = {}
    for fi, code in zip(rows["file_idx"].tolist(), rows["measure_code"].tolist()):
        reported.setdefault(int(fi), set()).add(code)
    return reported


def measures_dropped_issue(new: SubmissionFile, prev: SubmissionFile, reported_new: set[str],
                           reported_prev: set[str], catalogue: Catalogue) -> dict | None:
    """The ``file.measures_dropped`` warning of a zone's chosen file ``new`` that supersedes the accepted file
    ``prev`` (the latest before it): the measures ``prev`` reported a value for and ``new`` has none for, in
    catalogue order; None when there are none. The run (:func:`dropped_measures_issues`) and the warm check
    (:mod:`etdz.checking`) both word it here."""
    order = {code: i for i, code in enumerate(catalogue.measures)}
    gone = sorted(reported_prev - reported_new, key=lambda c: (order.get(c, 1 << 30), c))  # in catalogue order
    if not gone:
        return None
    named = [f"{c}（{catalogue.measures[c].name_zh}）" if c in catalogue.measures else c for c in gone]
    return issue(new, "file.measures_dropped",
                 f"{where(new)}取代了本园区较早的文件「{prev.file_name}」，"
                 f"但没有报送其中已有数值的 {len(gone)} 个指标：{names_text(named)}。"
                 f"这些指标将按缺失处理；如是遗漏，请报送包含全部指标的文件（已接收）",
                 column="measure_code", value=names_text(gone, sep=", "),
                 expected=f"与「{prev.file_name}」相同的指标")


def dropped_measures_issues(files: list[SubmissionFile], log: pd.DataFrame, long: pd.DataFrame,
                            catalogue: Catalogue) -> list[dict]:
    """``file.measures_dropped`` warnings: a zone's chosen file that supersedes accepted files and has no value for
    measures the latest of them reported (docs/contract/02-inputs.md §2.1 "Several files for one zone and year").

    ``log``: the decided submission log (:func:`etdz.ingestion.decide`); ``long``: the long frame of the year."""
    if log.empty or not log["status"].eq("superseded").any():
        return []
    reported = reported_measures(long)
    by_name = {f.file_name: f for f in files}
    out: list[dict] = []
    # only a zone with a superseded file can have dropped a measure: the others are not looked at one by one
    replaced = log.loc[log["status"].eq("superseded") & log["zone_code"].notna(), "zone_code"].unique()
    for _zone, g in log.loc[log["zone_code"].isin(replaced)].groupby("zone_code", sort=True):
        chosen = [by_name[n] for n in g.loc[g["status"] == "accepted", "file_name"]]
        older = [by_name[n] for n in g.loc[g["status"] == "superseded", "file_name"]]
        if len(chosen) != 1 or not older:
            continue
        new, prev = chosen[0], max(older, key=lambda f: (f.mtime_ns, f.file_name))  # the file it replaces
        found = measures_dropped_issue(new, prev, reported.get(new.idx, set()), reported.get(prev.idx, set()),
                                       catalogue)
        if found is not None:
            out.append(found)
    return out
