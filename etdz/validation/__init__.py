"""Validation of a year's submissions (docs/contract/02-inputs.md §2.1): file-level checks in pandas,
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
   for ``integer`` measures, the value of its ``not_above`` measure in the same file, the right side of each
   consistency rule whose left side it is (with the limit its tolerance allows),
   and the ratio to the zone's previous accepted value with the
   ``soft_max_yoy_factor`` band.
3. A suite of column / column-pair expectations (:func:`build_suite`) — the measure
   codes and (measure, unit) pairs of the catalogue as value sets, the bounds as
   column pairs — runs once on that frame with an ephemeral GX context. Every failing
   row index is mapped back to its file, row and submission column and becomes an
   issue with a stable check code and a Chinese message (:data:`CHECKS`).

A new catalogue therefore brings its own checks without code: its codes, units and
bounds are the data of the suite.

The modules, in that order: :mod:`~etdz.validation.checks` (the check codes, how an issue is worded, the
issues frame), :mod:`~etdz.validation.files` (step 1), :mod:`~etdz.validation.long_frame` (step 2),
:mod:`~etdz.validation.suite` (step 3's suite and its report) and :mod:`~etdz.validation.row_issues` (step 3's
failing rows → issues). This package composes them (:func:`validate_submissions`) and exports the public names.
"""

from __future__ import annotations

import time

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.memory import release_memory
from etdz.validation.checks import (
    CHECKS,
    FAMILIES,
    FAMILY_TITLES,
    ISSUE_COLUMNS,
    Check,
    issue,
    issues_frame,
    names_text,
    rows_text,
)
from etdz.validation.files import (
    SubmissionFile,
    dropped_measures_issues,
    file_checks,
    measures_dropped_issue,
    read_deferred,
    registry_lookup,
    reported_measures,
    zone_cells,
)
from etdz.validation.long_frame import UNIT_KEY_SEP, Previous, build_long_frame, conversion_note
from etdz.validation.row_issues import row_issue
from etdz.validation.suite import (
    ExpectationOutcome,
    ExpectationResult,
    SuiteRunner,
    ValidationReport,
    build_suite,
    ephemeral_context,
    gx_module,
    run_suite,
)
from etdz.validation.worker import YearSuite, year_runner

__all__ = [
    "CHECKS", "FAMILIES", "FAMILY_TITLES", "ISSUE_COLUMNS", "UNIT_KEY_SEP", "Check", "ExpectationOutcome",
    "ExpectationResult",
    "SubmissionFile", "SuiteRunner", "ValidationReport", "build_long_frame", "build_suite", "conversion_note",
    "dropped_measures_issues", "ephemeral_context", "file_checks", "gx_module", "issue", "issues_frame",
    "measures_dropped_issue", "names_text", "read_deferred", "registry_lookup", "reported_measures", "rows_text",
    "run_suite", "validate_rows", "validate_submissions", "zone_cells",
]


def validate_rows(files: list[SubmissionFile], catalogue: Catalogue, data_year: int,
                  previous: Previous = None,
                  runner: SuiteRunner | YearSuite | None = None, *,
                  release: bool = True) -> tuple[list[dict], ValidationReport, pd.DataFrame]:
    """Run the suite on all files at once; returns (row issues, report, long frame).

    ``runner``: the catalogue's suite already built (:class:`SuiteRunner`, kept by the warm check); else one is
    built for this call (the run: once per year). ``release``: give freed memory back to the operating system
    after the rows and after GX (:func:`etdz.memory.release_memory`) — worth it after a year's rows; the warm
    check of a few files passes False (two full collections cost ~15 ms, a tenth of a check)."""
    t0 = time.perf_counter()
    df = build_long_frame(files, catalogue, previous)
    for f in files:
        f.read.release_rows()  # everything later reads the long frame
    if release:
        release_memory()
    report = ValidationReport(data_year=data_year, method_version=catalogue.version,
                              suite_name=f"etdz_submissions_{data_year}_{catalogue.version}")
    report.rows_checked = int(df["origin"].eq("row").sum()) if len(df) else 0
    issues: list[dict] = []
    if len(df) == 0:
        report.duration_s = time.perf_counter() - t0
        return issues, report, df
    if runner is None:  # the run's: GX in the suite worker's process when a command started one, else here
        runner = year_runner(catalogue, report.suite_name)
    results = runner.results(df)
    if release and not runner.ran_in_worker:
        release_memory()  # GX's temporaries (none here when the suite ran in the worker's process)
    report.gx_version = runner.gx_version
    by_idx = {f.idx: f for f in files}
    dups = df.loc[df["dup_measure"].notna()]
    dups = dups.loc[dups.duplicated(["file_idx", "dup_measure"], keep=False)]
    dup_rows: dict = {}
    for fi, mc, rw in zip(dups["file_idx"].tolist(), dups["dup_measure"].tolist(), dups["row"].tolist()):
        dup_rows.setdefault((fi, mc), []).append(int(rw))
    broken: set[tuple[int, object]] = set()  # (consistency slot, row index) already reported as an error
    for res in results:
        meta = res.meta
        check = meta["check"]
        idx = list(res.unexpected_index_list)
        report.expectations.append(ExpectationOutcome(
            check=check, severity=meta["severity"], family=meta["family"], expectation_type=res.expectation_type,
            columns=res.columns, success=res.success, element_count=res.element_count,
            unexpected_count=res.unexpected_count))
        if check == "row.inconsistent":  # the error of a slot runs first: its rows are not warned about again
            seen = {(meta["slot"], i) for i in idx}
            idx = [i for i in idx if (meta["slot"], i) not in broken]
            broken |= seen
        for i in idx:
            r = df.loc[i]
            issues.append(row_issue(by_idx[int(r["file_idx"])], r, check, meta.get("bound"), catalogue, dup_rows,
                                    meta=meta))
    report.failures = pd.DataFrame(issues, columns=ISSUE_COLUMNS)
    report.duration_s = time.perf_counter() - t0
    return issues, report, df


def validate_submissions(files: list[SubmissionFile], catalogue: Catalogue, registry: pd.DataFrame, data_year: int,
                         previous: Previous = None, runner: SuiteRunner | YearSuite | None = None,
                         lookup: dict[str, dict] | None = None, *,
                         release: bool = True) -> tuple[pd.DataFrame, ValidationReport, pd.DataFrame]:
    """All checks of §2.1 on a year's files but the one that needs the decisions (``file.measures_dropped``):
    returns (issues frame, GX report, long frame). The run passes a year's files; the warm check
    (:mod:`etdz.checking`) one file, with its kept ``runner`` and registry ``lookup`` (and ``release=False``:
    :func:`validate_rows`)."""
    issues: list[dict] = []
    lookup = registry_lookup(registry) if lookup is None else lookup
    for f in files:
        issues.extend(file_checks(f, registry, lookup))
    row_issues, report, df = validate_rows(files, catalogue, data_year, previous, runner, release=release)
    issues.extend(row_issues)
    frame = issues_frame(issues)
    return frame, report, df
