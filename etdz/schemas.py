"""The fixed, typed schema of every published dataset (docs/contract/04-outputs.md §4.1).

``data_year`` is deliberately absent: it lives in the Hive path only. Every year is
written with the full schema, even when empty, so the datasets read as one table.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
import pyarrow as pa

_S, _F, _I, _B = pa.string(), pa.float64(), pa.int32(), pa.bool_()


def _col(name: str, type_: pa.DataType, doc: str) -> pa.Field:
    """A column with its description, stored in the field's metadata: the one place column docs live
    (written into every Parquet file and shown as the column table in the Dagster UI)."""
    return pa.field(name, type_, metadata={"description": doc})


def describe(field: pa.Field) -> str:
    """The description of a column (empty when it has none)."""
    meta = field.metadata or {}
    return meta.get(b"description", b"").decode("utf-8")


_ZONE = "Zone code (registry `zone_code`)"
_METHOD = "Methodology (catalogue) version the row was produced under"

SUBMISSION_LOG = pa.schema([
    _col("file_name", _S, "Original base name of the file in the inbox"),
    _col("sha256", _S, "SHA-256 of the file's bytes (its name in the archive)"),
    _col("zone_code", _S, "Zone the file is for, as read from it (null if unreadable)"),
    _col("status", _S, "accepted / rejected / superseded (02-inputs §2.1)"),
    _col("errors", _I, "Number of errors found (any error rejects the file)"),
    _col("warnings", _I, "Number of warnings found"),
    _col("received_at", pa.timestamp("us", tz="UTC"), "The file's modification time (when it was received)"),
    _col("size_bytes", pa.int64(), "File size in bytes"),
    _col("file_format", _S, "csv or xlsx"),
    _col("encoding", _S, "Text encoding a CSV was decoded with (utf-8, utf-8-sig, gb18030)"),
    _col("rows", _I, "Data rows read (null when the file could not be read)"),
    _col("method_version", _S, _METHOD),
    _col("superseded_by", _S, "SHA-256 of the accepted file that replaced this one"),
    _col("archive_path", _S, "Where the archived copy of the bytes is"),
    _col("late", _B, "Received after the data year's submission deadline (Asia/Shanghai date, inclusive)"),
])

SUBMISSION_ISSUES = pa.schema([
    _col("file_name", _S, "Original base name of the file"),
    _col("sha256", _S, "SHA-256 of the file"),
    _col("zone_code", _S, "Zone the file is for (null if unreadable)"),
    _col("severity", _S, "error (rejects the file) or warning"),
    _col("scope", _S, "file or row"),
    _col("check", _S, "Stable check code (docs/validation.md)"),
    _col("row", _I, "Data row number in the file (null for file-level issues)"),
    _col("column", _S, "Column the issue is about"),
    _col("value", _S, "The offending value as written"),
    _col("expected", _S, "What was expected instead"),
    _col("message", _S, "What is wrong and what to do, in words"),
])

MEASURES = pa.schema([
    _col("zone_code", _S, _ZONE),
    _col("measure_code", _S, "Measure code of the catalogue"),
    _col("value", _F, "Value in the canonical unit"),
    _col("unit", _S, "The measure's canonical unit"),
    _col("source_sha256", _S, "SHA-256 of the accepted file the value comes from"),
    _col("reported_value", _S, "The value as written in the file"),
    _col("reported_unit", _S, "The unit as written in the file"),
    _col("tier", _S, "national or provincial"),
    _col("method_version", _S, _METHOD),
    _col("rate", _F, "Exchange rate used to convert a currency unit (CNY per unit; null for a plain factor)"),
])

INDICATOR_SCORES = pa.schema([
    _col("zone_code", _S, _ZONE),
    _col("indicator_code", _S, "Indicator code of the catalogue"),
    _col("category_code", _S, "Category the indicator belongs to"),
    _col("value", _F, "Indicator value v(z,i) (03-scoring §3.1; ±inf for growth from a zero base)"),
    _col("status", _S, "ok / missing / no_base (03-scoring §3.1)"),
    _col("score", _F, "Normalised score 0–100 (03-scoring §3.2), unrounded"),
    _col("imputed", _B, "true when the score is the no_base median"),
    _col("better_than_national_avg", _B, "Value better than the national mean (03-scoring §3.5)"),
    _col("better_than_regional_avg", _B, "Value better than the regional mean (03-scoring §3.5)"),
    _col("method_version", _S, _METHOD),
])

CATEGORY_SCORES = pa.schema([
    _col("zone_code", _S, _ZONE),
    _col("category_code", _S, "Category code"),
    _col("score", _F, "Category score S(z,k) (03-scoring §3.3)"),
    _col("national_rank", _I, "Competition rank of the category score in the cohort"),
    _col("method_version", _S, _METHOD),
])

INDICATOR_BOUNDS = pa.schema([
    _col("indicator_code", _S, "Indicator code"),
    _col("method_version", _S, _METHOD),
    _col("category_code", _S, "Category code"),
    _col("direction", _S, "higher or lower is better"),
    _col("weight", _F, "Weight inside its category"),
    _col("lower", _F, "L: lower clipping bound (03-scoring §3.2)"),
    _col("upper", _F, "U: upper clipping bound"),
    _col("mean", _F, "Mean of the finite ok values (national average, §3.5)"),
    _col("imputed_score", _F, "Score given to no_base zones (median of ok scores)"),
    _col("n_finite", _I, "Number of finite ok values"),
])

_RANKINGS_BASE = [
    _col("assessment_year", _I, "Year of the assessment (data year + 1)"),
    _col("zone_code", _S, _ZONE),
    _col("name_zh", _S, "Zone name"),
    _col("province", _S, "Province"),
    _col("region", _S, "Region (east, central, west, northeast)"),
    _col("total_score", _F, "Total score T(z), 0–100 (03-scoring §3.3)"),
    _col("national_rank", _I, "Competition rank in the national cohort (§3.4)"),
    _col("regional_rank", _I, "Competition rank within the region"),
    _col("provincial_rank", _I, "Competition rank within the province"),
    _col("prev_national_rank", _I, "National rank in the previous data year (null if not ranked)"),
    _col("rank_change", _I, "prev_national_rank − national_rank (positive = moved up)"),
    _col("method_changed", _B, "The previous year was scored under another method version"),
    _col("top100", _B, "national_rank ≤ 100"),
    _col("indicators_better_than_avg", _I, "Indicators better than the national average"),
    _col("indicators_better_than_regional_avg", _I, "Indicators better than the regional average"),
    _col("indicators_total", _I, "Number of indicators of the catalogue"),
    _col("submission_status", _S, "accepted or no_valid_submission"),
    _col("downgrade_candidate", _B, "In the downgrade watch-list (§3.6)"),
    _col("summoned", _B, "In the national bottom summons_bottom_n (§3.6)"),
    _col("results_status", _S, "final, or provisional while a due zone has no accepted file"),
    _col("method_version", _S, _METHOD),
]

DOWNGRADE_WATCHLIST = pa.schema([
    _col("zone_code", _S, _ZONE),
    _col("name_zh", _S, "Zone name"),
    _col("region", _S, "Region"),
    _col("bottom_years", pa.list_(_I), "Data years in the window in which the zone was in its bottom n"),
    _col("mean_score", _F, "Mean total score of its two most recent bottom-n years"),
    _col("region_candidate_rank", _I, "Rank among the region's candidates (1 = first proposed)"),
    _col("rule", _S, "regional_bottom or national_consecutive"),
    _col("method_version", _S, _METHOD),
])

UPGRADE_CANDIDATES = pa.schema([
    _col("zone_code", _S, _ZONE),
    _col("name_zh", _S, "Zone name"),
    _col("province", _S, "Province"),
    _col("region", _S, "Region"),
    _col("total_score", _F, "Total score against the national cohort's bounds (§3.7)"),
    _col("candidate_rank", _I, "Rank among the provincial candidates"),
    _col("equivalent_national_rank", _I, "Rank it would have in the national cohort"),
    _col("method_version", _S, _METHOD),
])

RANK_ROBUSTNESS = pa.schema([
    _col("zone_code", _S, _ZONE),
    _col("rank_nominal", _I, "National rank of §3.4 (computed once, not a sample)"),
    _col("rank_median", _I, "Median national rank over the samples (03-scoring §3.9)"),
    _col("rank_p05", _I, "5th percentile of the sampled national ranks (inverted CDF)"),
    _col("rank_p95", _I, "95th percentile of the sampled national ranks (inverted CDF)"),
    _col("p_top100", _F, "Share of samples with national rank ≤ 100"),
    _col("p_region_bottom", _F, "Share of samples in its region's bottom n (null without a downgrade rule)"),
    _col("samples", _I, "Number of Monte Carlo samples N"),
    _col("seed", pa.int64(), "Seed of numpy.random.default_rng"),
    _col("method_version", _S, _METHOD),
    # appended (a dataset's schema only grows, 04 §4.1): years written before read null here
    _col("p_candidate", _F, "Share of samples in which the zone enters Y's downgrade watch-list, the window's "
                            "earlier years as on record (§3.9 step 5; null without a downgrade rule)"),
    _col("p_national_bottom", _F, "Share of samples in the national bottom n (the national_consecutive rule's "
                                  "figure for the card; null without a downgrade rule)"),
])

CHANGED_FILE = pa.struct([
    pa.field("data_year", _I), pa.field("file_name", _S), pa.field("sha256", _S),
    pa.field("previous_status", _S), pa.field("status", _S),
])

RANKING_CHANGES = pa.schema([
    _col("zone_code", _S, _ZONE),
    _col("name_zh", _S, "Zone name"),
    _col("prev_total_score", _F, "Total score in the year's last run with other inputs"),
    _col("total_score", _F, "Total score now"),
    _col("prev_national_rank", _I, "National rank in that run"),
    _col("national_rank", _I, "National rank now"),
    _col("changed_files", pa.list_(CHANGED_FILE),
         "The zone's Y or Y−1 files whose status changed between the two runs (empty: it moved because others did)"),
    _col("previous_run_at", pa.timestamp("us", tz="UTC"), "When the run compared against was written"),
    _col("method_version", _S, _METHOD),
    # appended (issue 19): null in years written before, and where the run compared against did not keep them
    _col("changed_measures", pa.list_(_S),
         "The zone's own Y figures that differ, as \"<measure_code>: <old> → <new>\" in canonical units (shortest "
         "round-trip decimals; — where absent); empty: none; null: not known (baseline written before)"),
    _col("status_changes", pa.list_(_S),
         "Lists entered or left: entered_/left_top30, entered_/left_top100, entered_/left_region_top10, "
         "summoned / no_longer_summoned, entered_/left_watchlist; empty: none; null: not known (baseline "
         "written before)"),
    _col("prev_regional_rank", _I, "Rank within the region in that run (null: new, or not kept)"),
    _col("regional_rank", _I, "Rank within the region now"),
])

STATIC = {
    "submission_log": SUBMISSION_LOG,
    "submission_issues": SUBMISSION_ISSUES,
    "measures": MEASURES,
    "indicator_scores": INDICATOR_SCORES,
    "category_scores": CATEGORY_SCORES,
    "indicator_bounds": INDICATOR_BOUNDS,
    "downgrade_watchlist": DOWNGRADE_WATCHLIST,
    "upgrade_candidates": UPGRADE_CANDIDATES,
    "rank_robustness": RANK_ROBUSTNESS,
    "ranking_changes": RANKING_CHANGES,
}
DATASETS = ("submission_log", "submission_issues", "measures", "indicator_scores", "category_scores",
            "indicator_bounds", "rankings", "downgrade_watchlist", "upgrade_candidates", "rank_robustness",
            "ranking_changes")


def rankings_schema(top_list_measures: Iterable[str]) -> pa.Schema:
    """The rankings schema: fixed columns plus ``rank_<measure>`` for every top list of every
    loaded catalogue (sorted), so all years share one schema even across method versions."""
    extra = [_col(f"rank_{m}", _I, f"Rank by raw {m}, descending (single-item top list, §3.4)")
             for m in sorted(set(top_list_measures))]
    return pa.schema(_RANKINGS_BASE + extra)


def schema_for(dataset: str, top_list_measures: Iterable[str] = ()) -> pa.Schema:
    """The declared schema of ``dataset`` (rankings: with the given top lists' rank columns)."""
    if dataset == "rankings":
        return rankings_schema(top_list_measures)
    return STATIC[dataset]


def _columnar_ok(col: pd.Series, t: pa.DataType) -> bool:
    """Whether pyarrow's own pandas conversion gives what the per-value conversion gives for this column.

    Only where the pandas dtype already is of the field's family: pyarrow would otherwise *cast* (ints to text,
    booleans to numbers) where the per-value conversion refuses, and a wrong column must keep failing."""
    d = col.dtype
    if pa.types.is_string(t):
        return pd.api.types.is_object_dtype(d) or isinstance(d, pd.StringDtype)
    if pa.types.is_integer(t) or pa.types.is_floating(t):
        return pd.api.types.is_numeric_dtype(d) and not pd.api.types.is_bool_dtype(d)
    if pa.types.is_boolean(t):
        return pd.api.types.is_bool_dtype(d) or pd.api.types.is_object_dtype(d)
    return False


def _column(col: pd.Series, t: pa.DataType) -> pa.Array:
    """One column as an Arrow array of type ``t``: nulls for NaN / None / NA / NaT, timestamps to µs in UTC."""
    if pa.types.is_timestamp(t):
        return pa.array(pd.to_datetime(col, utc=True).dt.floor("us"), type=t)
    try:  # whole columns at C speed (~50x the per-value path at 23,000 zones); the per-value path stays the rule
        if pa.types.is_list(t):
            return pa.array(col.tolist(), type=t)  # the elements may be lists, tuples or numpy arrays
        if _columnar_ok(col, t):
            return pa.array(col, type=t, from_pandas=True)
    except (pa.ArrowException, TypeError, ValueError):
        pass  # e.g. a string where a list belongs: the per-value path below decides
    if pa.types.is_list(t):
        return pa.array([None if v is None else list(v) for v in col], type=t)
    return pa.array(col.astype(object).where(col.notna(), None).tolist(), type=t, from_pandas=True)


def to_table(df: pd.DataFrame | None, schema: pa.Schema) -> pa.Table:
    """Conform a DataFrame to ``schema``: missing columns become typed nulls, extra columns are dropped,
    an empty or absent frame gives an empty table with the full schema."""
    if df is None or len(df) == 0:
        return schema.empty_table()
    arrays = [_column(df[f.name], f.type) if f.name in df.columns else pa.nulls(len(df), type=f.type)
              for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)
