"""Ingestion of one data year's inbox (docs/contract/02-inputs.md §2.1): archive, read, validate, decide.

For every entry of ``<inbox>/<Y>/`` (sorted by name; hidden files too; sub-folders are not
submissions and are skipped; a link, FIFO, socket or device is logged as rejected and never
opened; a file that vanished, changed or cannot be opened since the listing is logged as
rejected with nothing archived; see :func:`etdz.ingestion.opening.load_file`):

1. the bytes are hashed and archived (:mod:`etdz.ingestion.archive`) before anything else;
2. the file is read (:mod:`etdz.reading`) and validated with the rest of the year
   (:mod:`etdz.validation`, one GX batch);
3. the submission log is decided (:mod:`etdz.ingestion.deciding`).

Nothing here raises for a bad file: a rejection is a result. Only machinery failures
(an unwritable archive, a GX crash) raise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.deadlines import late_flags
from etdz.inbox_state import InboxEntry, scan_inbox
from etdz.ingestion.archive import archiving
from etdz.ingestion.deciding import MEASURE_COLUMNS, build_measures, decide
from etdz.ingestion.deciding import measure_columns as checked_columns  # the parameter has the name
from etdz.ingestion.opening import load_file
from etdz.reading import DEFAULT_MAX_BYTES, DEFAULT_ROWS_PER_MEASURE
from etdz.submission_log import accepted_zones
from etdz.validation import (
    SubmissionFile,
    ValidationReport,
    dropped_measures_issues,
    issues_frame,
    read_deferred,
    validate_submissions,
)
from etdz.validation.long_frame import Previous
from etdz.validation.worker import prepare as prepare_suites


@dataclass
class YearIngest:
    data_year: int
    method_version: str
    log: pd.DataFrame  # SUBMISSION_LOG columns, one row per file found
    issues: pd.DataFrame  # SUBMISSION_ISSUES columns, one row per problem
    measures: pd.DataFrame  # MEASURES columns: the chosen accepted submission of each zone
    validation: ValidationReport
    files: list[SubmissionFile] = field(default_factory=list, repr=False)

    @property
    def accepted_zones(self) -> set[str]:
        """Zones whose chosen submission is accepted."""
        if self.log.empty:
            return set()
        return accepted_zones(self.log)


def ingest_year(inbox_dir: str | Path, data_year: int, catalogue: Catalogue, registry: pd.DataFrame,
                archive: str | None, previous: Previous | Callable[[], Previous] = None,
                max_bytes: int = DEFAULT_MAX_BYTES, deadlines: Mapping[int, date] | None = None,
                max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE, batch_read: bool = True,
                listing: list[InboxEntry] | None = None,
                measure_columns: Sequence[str] = tuple(MEASURE_COLUMNS)) -> YearIngest:
    """Archive, read, validate and decide every file of ``<inbox>/<data_year>``.

    ``archive=None``: nothing is archived (``etdz validate``; a never-run previous year
    read for growth only). ``previous``: the MEASURES frame of Y-1's accepted
    submissions, for the ``soft_max_yoy_factor`` warnings, or a function returning it, called once this year's
    files are read and Great Expectations is imported, before the rows are framed and checked (Y−1 read in
    another process meanwhile: :func:`etdz.history.previous_submissions_ahead`).
    ``deadlines``: configured deadlines per data year (``ETDZ_DEADLINES``), else the default of
    :mod:`etdz.deadlines`. A file may hold at most ``max_rows_per_measure`` × the catalogue's number of measures
    non-blank data rows (``file.too_many_rows``: the rest is never parsed). ``batch_read``: the year's
    well-formed CSVs are parsed in one pass (:func:`etdz.validation.read_deferred`), the other files one by one;
    False reads every file on its own (same results, slower: the reference the batch is tested against).
    ``listing``: the folder as the caller has just listed it (:func:`etdz.inbox_state.scan_inbox`), so that one
    step lists a folder once; else it is listed here. ``measure_columns``: the columns of ``measures`` to build (all
    by default; a read for growth only takes three)."""
    data_year = int(data_year)
    measure_columns = checked_columns(measure_columns)  # a wrong name fails before any file is read
    max_rows = max_rows_per_measure * len(catalogue.measures)
    paths = scan_inbox(inbox_dir) if listing is None else listing
    with archiving(archive, data_year) as archiver:  # all archived and flushed before anything is validated
        files = [load_file(p, i, data_year, archive, max_bytes, archiver, max_rows, batch_read)
                 for i, p in enumerate(paths)]
    read_deferred(files)
    if callable(previous):  # Y−1 read by a worker meanwhile (etdz.history.previous_submissions_ahead)
        prepare_suites()  # Great Expectations' import (seconds) overlaps the worker's last seconds, then
        # the worker is waited for before the long frame is built: the year's largest frame and the worker's
        # ~700 MB (23,000 files) are never in memory at once (docs/benchmarks.md, issue 22's fourteenth round)
        previous = previous()
    issues, report, long = validate_submissions(files, catalogue, registry, data_year, previous)
    log = decide(files, issues, catalogue.version)
    dropped = dropped_measures_issues(files, log, long, catalogue)
    if dropped:  # warnings only: the decision stands, the counts include them
        issues = issues_frame(issues.to_dict("records") + dropped)
        log = decide(files, issues, catalogue.version)
    log["late"] = late_flags(log["received_at"], data_year, deadlines)  # flagged, never dropped: decided on merits
    measures = build_measures(long, log, files, registry, catalogue.version, measure_columns)
    return YearIngest(data_year=data_year, method_version=catalogue.version, log=log.reset_index(drop=True),
                      issues=issues, measures=measures, validation=report, files=files)
