"""Asset checks of the submission validation (declared inside the partitioned ingestion asset).

One check per rule family of :data:`etdz.validation.FAMILIES` plus ``gx_suite``, the
summary of the Great Expectations run. Validation never fails a run: a check that
finds errors (rejected files) fails with severity WARN; a check that only finds
warnings passes, with the warnings in its metadata. The failing rows (file, row,
column, value, check, message) are the errors only, as a markdown table (capped) and
as JSON; the warnings are counted by check and sampled in a table of their own.

Usage in the lead's asset::

    @asset(partitions_def=..., check_specs=submission_check_specs(AssetKey("submissions")))
    def submissions(context, ...):
        ingest = ingest_year(...)
        yield Output(...)
        yield from submission_check_results(ingest, context.asset_key)
"""

from __future__ import annotations

import dagster as dg
import pandas as pd

from etdz.escape import markdown_table
from etdz.validation import CHECKS, FAMILIES, FAMILY_TITLES

MAX_ROWS = 50
MAX_WARNING_ROWS = 10  # a sample: the counts by check say how many of each
_DESCRIPTIONS = {
    fam: f"{FAMILY_TITLES[fam]}: " + ", ".join(f"{c} ({CHECKS[c].severity})" for c in codes)
    for fam, codes in FAMILIES.items()
}
GX_SUITE = "gx_suite"


def submission_check_specs(asset_key, partitions_def=None) -> list[dg.AssetCheckSpec]:
    """One check per rule family plus the GX suite summary. With ``partitions_def`` (the data years) each
    evaluation is recorded for the run's partition, so the UI shows the checks per year."""
    key = dg.AssetKey.from_coercible(asset_key)
    specs = [dg.AssetCheckSpec(name=fam, asset=key, description=_DESCRIPTIONS[fam], partitions_def=partitions_def)
             for fam in FAMILIES]
    specs.append(dg.AssetCheckSpec(
        name=GX_SUITE, asset=key, partitions_def=partitions_def,
        description="Great Expectations 1.x suite derived from the year's catalogue, run on all files of the year "
                    "in one batch; fails (WARN) when a file is rejected"))
    return specs


def _rows(df: pd.DataFrame) -> list[dict]:
    out = []
    for r in df.itertuples(index=False):
        out.append({
            "file": r.file_name, "sha256": r.sha256, "zone_code": None if pd.isna(r.zone_code) else r.zone_code,
            "row": None if pd.isna(r.row) else int(r.row), "column": None if pd.isna(r.column) else r.column,
            "value": None if pd.isna(r.value) else r.value, "check": r.check, "severity": r.severity,
            "message": r.message,
        })
    return out


_COLUMNS = ("file", "row", "column", "value", "check", "severity", "message")


def _markdown(rows: list[dict], total: int, none: str) -> str:
    """Rows as a markdown table (file names and values are untrusted: the shared escaper), ``none`` when empty."""
    if not rows:
        return none
    table = markdown_table(_COLUMNS, ([r[c] for c in _COLUMNS] for r in rows))
    more = f"\n\n… {total - len(rows)} more (see the validation page / submission_issues)" if total > len(rows) else ""
    return table + more


def _metadata(issues: pd.DataFrame, extra: dict) -> dict:
    """The check's counts and rows. ``failing_rows`` lists the errors only (what rejected a file): a year's
    warnings (mostly number-normalised values, accepted) would otherwise crowd them out of the 50 rows shown;
    the warnings are counted by check in ``warnings_by_check`` and sampled in ``warning_rows``."""
    is_error = issues["severity"] == "error"
    errors_df = issues.loc[is_error].sort_values("file_name", kind="stable")
    warnings_df = issues.loc[issues["severity"] == "warning"]
    files = errors_df["file_name"].nunique()
    rows = _rows(errors_df.head(MAX_ROWS))
    warning_rows = _rows(warnings_df.sort_values("file_name", kind="stable").head(MAX_WARNING_ROWS))
    by_check = warnings_df["check"].value_counts()
    meta = {
        "errors": dg.MetadataValue.int(len(errors_df)),
        "warnings": dg.MetadataValue.int(len(warnings_df)),
        "files_with_errors": dg.MetadataValue.int(int(files)),
        "failing_rows": dg.MetadataValue.md(_markdown(rows, len(errors_df), "no error found")),
        "failing_rows_json": dg.MetadataValue.json(rows),
        "warnings_by_check": dg.MetadataValue.json({str(c): int(n) for c, n in by_check.items()}),
        "warning_rows": dg.MetadataValue.md(_markdown(warning_rows, len(warnings_df), "no warning")),
    }
    meta.update(extra)
    return meta


def submission_check_results(ingest, asset_key) -> list[dg.AssetCheckResult]:
    """One AssetCheckResult per family plus ``gx_suite`` for a :class:`etdz.ingestion.YearIngest`."""
    key = dg.AssetKey.from_coercible(asset_key)
    issues = ingest.issues
    report = ingest.validation
    # the UI's checks list shows each check's latest evaluation, whatever its year: the description names the
    # year so "Failed" reads as "2022 failed", not as the state of the year on screen
    year = ingest.data_year
    out: list[dg.AssetCheckResult] = []
    for fam, codes in FAMILIES.items():
        mine = issues.loc[issues["check"].isin(codes)]
        errors = int((mine["severity"] == "error").sum())
        by_code = {c: int((mine["check"] == c).sum()) for c in codes}
        extra = {"data_year": dg.MetadataValue.int(year), "by_check": dg.MetadataValue.json(by_code)}
        exps = [e for e in report.expectations if e.family == fam]
        if exps:
            extra["gx_expectations"] = dg.MetadataValue.json([
                {"check": e.check, "type": e.expectation_type, "columns": list(e.columns), "success": e.success,
                 "unexpected_count": e.unexpected_count, "element_count": e.element_count} for e in exps])
        out.append(dg.AssetCheckResult(
            asset_key=key, check_name=fam, passed=errors == 0,
            severity=dg.AssetCheckSeverity.WARN, metadata=_metadata(mine, extra),
            description=f"data year {year} — {FAMILY_TITLES[fam]}: {errors} error(s), {len(mine) - errors} warning(s)"))
    log = ingest.log
    status_counts = {s: int((log["status"] == s).sum()) for s in ("accepted", "rejected", "superseded")}
    rejected = status_counts["rejected"]
    failures = report.failures if len(report.failures) else issues.iloc[0:0]
    extra = {
        "data_year": dg.MetadataValue.int(year),
        "files": dg.MetadataValue.int(len(log)),
        "accepted": dg.MetadataValue.int(status_counts["accepted"]),
        "rejected": dg.MetadataValue.int(rejected),
        "superseded": dg.MetadataValue.int(status_counts["superseded"]),
        "rows_checked": dg.MetadataValue.int(report.rows_checked),
        "expectations": dg.MetadataValue.int(len(report.expectations)),
        "expectations_failed": dg.MetadataValue.int(sum(not e.success for e in report.expectations)),
        "suite_name": dg.MetadataValue.text(report.suite_name),
        "method_version": dg.MetadataValue.text(report.method_version),
        "gx_version": dg.MetadataValue.text(report.gx_version or ""),
        "gx_seconds": dg.MetadataValue.float(round(report.duration_s, 3)),
        "rejected_files": dg.MetadataValue.json(
            log.loc[log["status"] == "rejected", ["file_name", "sha256", "errors"]].astype(object).to_dict("records")),
    }
    out.append(dg.AssetCheckResult(
        asset_key=key, check_name=GX_SUITE, passed=rejected == 0, severity=dg.AssetCheckSeverity.WARN,
        metadata=_metadata(failures, extra),
        description=(f"data year {year} — {len(log)} file(s): {status_counts['accepted']} accepted, "
                     f"{rejected} rejected, {status_counts['superseded']} superseded; GX suite {report.suite_name}")))
    return out

