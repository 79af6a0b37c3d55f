"""etdz.schemas.to_table: the column-at-a-time conversion gives the same tables as the per-value one it replaced."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from demo import write_synthetic_year
from etdz import schemas
from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.ingestion import ingest_year
from etdz.registry import load_registry
from etdz.scoring.year import YearInputs, score_year


def reference_to_table(df: pd.DataFrame | None, schema: pa.Schema) -> pa.Table:
    """The per-value conversion to_table used before (one Python object per cell): the reference."""
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
                arrays.append(pa.array(col.astype(object).where(col.notna(), None).tolist(), type=f.type,
                                       from_pandas=True))
        else:
            arrays.append(pa.nulls(len(df), type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def assert_same(df: pd.DataFrame, schema: pa.Schema) -> None:
    new, old = schemas.to_table(df, schema), reference_to_table(df, schema)
    assert new.schema == old.schema == schema
    for name in schema.names:
        assert new[name].equals(old[name]), (name, new[name].to_pylist()[:5], old[name].to_pylist()[:5])


@pytest.fixture(scope="module")
def real_year(tmp_path_factory):
    """A synthetic 2023 of 40 zones (with 2022 for growth) ingested and scored: the frames a run writes."""
    home = tmp_path_factory.mktemp("year")
    layout = write_synthetic_year(home, 2023, 40, seed=7)
    cats = load_catalogues()
    registry = load_registry(layout.registry)
    prev = ingest_year(layout.inbox / "2022", 2022, catalogue_for_year(cats, 2022), registry, archive=None)
    ing = ingest_year(layout.inbox / "2023", 2023, catalogue_for_year(cats, 2023), registry, archive=None,
                      previous=prev.measures)
    scored = score_year(YearInputs(2023, catalogue_for_year(cats, 2023), registry, ing.measures, ing.accepted_zones,
                                   prev.measures, prev.accepted_zones, {}))
    top_lists = sorted({m for c in cats for m in c.top_lists})
    frames = {"submission_log": ing.log, "submission_issues": ing.issues, "measures": ing.measures}
    frames.update({name: getattr(scored, name) for name in ("indicator_scores", "indicator_bounds", "category_scores",
                                                            "rankings", "downgrade_watchlist", "upgrade_candidates")})
    return {name: (df, schemas.schema_for(name, top_lists)) for name, df in frames.items()}


@pytest.mark.parametrize("name", ["submission_log", "submission_issues", "measures", "indicator_scores",
                                  "indicator_bounds", "category_scores", "rankings", "downgrade_watchlist",
                                  "upgrade_candidates"])
def test_a_real_years_frames_convert_as_before(real_year, name):
    df, schema = real_year[name]
    assert len(df) > 0 or name in ("submission_issues", "downgrade_watchlist", "upgrade_candidates")
    assert_same(df, schema)


def _generated(schema: pa.Schema, n: int = 60, seed: int = 3) -> pd.DataFrame:
    """Every field of ``schema`` filled in the pandas forms the pipeline produces, with nulls of every kind."""
    rng = np.random.default_rng(seed)
    missing = rng.random(n) < 0.2
    cols = {}
    for f in schema:
        t = f.type
        if pa.types.is_string(t):
            values = [None if m else f"v{i}·区" for i, m in enumerate(missing)]
            values[1] = np.nan  # NaN in a text column is a null too
            cols[f.name] = pd.Series(values, dtype=object if len(cols) % 2 else "str")
        elif pa.types.is_integer(t):
            values = rng.integers(-1000, 1000, n).astype(float)
            cols[f.name] = pd.Series(np.where(missing, np.nan, values))  # float with NaN, as after a join
        elif pa.types.is_floating(t):
            cols[f.name] = pd.Series(np.where(missing, np.nan, rng.normal(size=n) * 1e6))
        elif pa.types.is_boolean(t):
            cols[f.name] = pd.Series([None if m else bool(i % 2) for i, m in enumerate(missing)], dtype=object)
        elif pa.types.is_timestamp(t):
            stamps = pd.Series(pd.date_range("2026-03-01 08:00:00.1234567", periods=n, freq="37min", tz="UTC"))
            cols[f.name] = stamps.where(~missing)
        elif pa.types.is_list(t):
            if pa.types.is_struct(t.value_type):
                item = {k.name: (2023 if pa.types.is_integer(k.type) else "x") for k in t.value_type}
                cols[f.name] = pd.Series([None if m else [item] * (i % 3) for i, m in enumerate(missing)])
            elif pa.types.is_string(t.value_type):  # e.g. ranking_changes.status_changes
                cols[f.name] = pd.Series([None if m else (np.array(["a → b"] * (i % 3), dtype=object) if i % 2
                                                          else ["x: 1 → —"]) for i, m in enumerate(missing)])
            else:
                cols[f.name] = pd.Series([None if m else (np.arange(i % 4, dtype=np.int64) if i % 2 else (1, 2))
                                          for i, m in enumerate(missing)])
        else:
            raise AssertionError(f"no generator for {t}")
    return pd.DataFrame(cols)


@pytest.mark.parametrize("name", sorted(schemas.STATIC) + ["rankings"])
def test_generated_frames_with_nulls_lists_and_timestamps_convert_as_before(name):
    schema = schemas.schema_for(name, ["gdp"])
    df = _generated(schema)
    df["not_in_the_schema"] = 1  # extra columns are dropped
    assert_same(df.drop(columns=[schema.names[-1]]), schema)  # a missing column is typed nulls
    assert_same(df, schema)


def test_nullable_and_integer_dtypes_convert_as_before():
    schema = pa.schema([("a", pa.int32()), ("b", pa.int64()), ("c", pa.float64()), ("d", pa.bool_()),
                        ("e", pa.string())])
    df = pd.DataFrame({"a": pd.array([1, None, 3], dtype="Int64"), "b": np.array([1, 2, 3]),
                       "c": pd.array([1.5, None, 2.0], dtype="Float64"), "d": [True, False, True],
                       "e": pd.array(["x", None, "z"], dtype="string")})
    assert_same(df, schema)


@pytest.mark.parametrize("column, field", [
    (pd.Series([1, 2]), pa.string()),  # numbers where text belongs
    (pd.Series([True, False]), pa.int32()),  # booleans where counts belong
    (pd.Series([1.5, 2.0]), pa.int64()),  # a fraction where an integer belongs
    (pd.Series([2.0**40, 1.0]), pa.int32()),  # out of range
    (pd.Series(["ab", "c"]), pa.list_(pa.int32())),  # text where a list belongs
])
def test_a_wrong_column_fails_or_converts_as_before(column, field):
    schema = pa.schema([("x", field)])
    df = pd.DataFrame({"x": column})

    def outcome(fn):
        try:
            return fn(df, schema)["x"].to_pylist()
        except (pa.ArrowException, TypeError, ValueError):
            return "refused"

    assert outcome(schemas.to_table) == outcome(reference_to_table)
