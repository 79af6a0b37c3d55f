"""The fixed, typed schema of every published dataset (04-outputs.md §4.1).

``data_year`` is deliberately absent: it lives in the Hive path only. Every year is
written with the full schema, even when empty, so the datasets read as one table.
"""

from __future__ import annotations

from typing import Iterable

import pandas as pd
import pyarrow as pa

_S, _F, _I, _B = pa.string(), pa.float64(), pa.int32(), pa.bool_()

SUBMISSION_LOG = pa.schema([
    ("file_name", _S), ("sha256", _S), ("zone_code", _S), ("status", _S),
    ("errors", _I), ("warnings", _I), ("received_at", pa.timestamp("us", tz="UTC")),
    ("size_bytes", pa.int64()), ("file_format", _S), ("encoding", _S), ("rows", _I),
    ("method_version", _S), ("superseded_by", _S), ("archive_path", _S),
])

SUBMISSION_ISSUES = pa.schema([
    ("file_name", _S), ("sha256", _S), ("zone_code", _S), ("severity", _S), ("scope", _S),
    ("check", _S), ("row", _I), ("column", _S), ("value", _S), ("expected", _S), ("message", _S),
])

MEASURES = pa.schema([
    ("zone_code", _S), ("measure_code", _S), ("value", _F), ("unit", _S), ("source_sha256", _S),
    ("reported_value", _S), ("reported_unit", _S), ("tier", _S), ("method_version", _S),
])

INDICATOR_SCORES = pa.schema([
    ("zone_code", _S), ("indicator_code", _S), ("category_code", _S), ("value", _F), ("status", _S),
    ("score", _F), ("imputed", _B), ("better_than_national_avg", _B), ("better_than_regional_avg", _B),
    ("method_version", _S),
])

CATEGORY_SCORES = pa.schema([
    ("zone_code", _S), ("category_code", _S), ("score", _F), ("national_rank", _I), ("method_version", _S),
])

INDICATOR_BOUNDS = pa.schema([
    ("indicator_code", _S), ("method_version", _S), ("category_code", _S), ("direction", _S), ("weight", _F),
    ("lower", _F), ("upper", _F), ("mean", _F), ("imputed_score", _F), ("n_finite", _I),
])

_RANKINGS_BASE = [
    ("assessment_year", _I), ("zone_code", _S), ("name_zh", _S), ("province", _S), ("region", _S),
    ("total_score", _F), ("national_rank", _I), ("regional_rank", _I), ("provincial_rank", _I),
    ("prev_national_rank", _I), ("rank_change", _I), ("method_changed", _B), ("top100", _B),
    ("indicators_better_than_avg", _I), ("indicators_better_than_regional_avg", _I), ("indicators_total", _I),
    ("submission_status", _S), ("downgrade_candidate", _B), ("summoned", _B), ("results_status", _S),
    ("method_version", _S),
]

DOWNGRADE_WATCHLIST = pa.schema([
    ("zone_code", _S), ("name_zh", _S), ("region", _S), ("bottom_years", pa.list_(_I)), ("mean_score", _F),
    ("region_candidate_rank", _I), ("rule", _S), ("method_version", _S),
])

UPGRADE_CANDIDATES = pa.schema([
    ("zone_code", _S), ("name_zh", _S), ("province", _S), ("region", _S), ("total_score", _F),
    ("candidate_rank", _I), ("equivalent_national_rank", _I), ("method_version", _S),
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
}
DATASETS = ("submission_log", "submission_issues", "measures", "indicator_scores", "category_scores",
            "indicator_bounds", "rankings", "downgrade_watchlist", "upgrade_candidates")


def rankings_schema(top_list_measures: Iterable[str]) -> pa.Schema:
    """The rankings schema: fixed columns plus ``rank_<measure>`` for every top list of every
    loaded catalogue (sorted), so all years share one schema even across method versions."""
    extra = [(f"rank_{m}", _I) for m in sorted(set(top_list_measures))]
    return pa.schema(_RANKINGS_BASE + extra)


def schema_for(dataset: str, top_list_measures: Iterable[str] = ()) -> pa.Schema:
    if dataset == "rankings":
        return rankings_schema(top_list_measures)
    return STATIC[dataset]


def to_table(df: pd.DataFrame | None, schema: pa.Schema) -> pa.Table:
    """Conform a DataFrame to ``schema``: missing columns become typed nulls, extra columns are dropped,
    an empty or absent frame gives an empty table with the full schema."""
    if df is None or len(df) == 0:
        return schema.empty_table()
    arrays = []
    for f in schema:
        if f.name in df.columns:
            col = df[f.name]
            if pa.types.is_list(f.type):
                arrays.append(pa.array([None if v is None else list(v) for v in col], type=f.type))
            elif pa.types.is_timestamp(f.type):
                arrays.append(pa.array(pd.to_datetime(col, utc=True).dt.floor("us"), type=f.type))
            else:
                arrays.append(pa.array(col.astype(object).where(col.notna(), None).tolist(), type=f.type, from_pandas=True))
        else:
            arrays.append(pa.nulls(len(df), type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)
