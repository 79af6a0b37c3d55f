"""The warehouse: Hive layout, one schema across years, atomic replacement."""

from __future__ import annotations

import os

import pandas as pd
import pyarrow.dataset as pads

from etdz import schemas
from etdz.storage import Warehouse


def test_years_read_as_one_table_with_data_year_from_the_path(tmp_path):
    w = Warehouse(str(tmp_path))
    df = pd.DataFrame({"zone_code": ["a"], "measure_code": ["gdp"], "value": [float("inf")], "unit": ["亿元"]})
    w.write("measures", 2020, schemas.to_table(df, schemas.MEASURES))
    w.write("measures", 2021, schemas.to_table(None, schemas.MEASURES))  # an empty year keeps the full schema
    t = pads.dataset(str(tmp_path / "measures"), partitioning="hive").to_table()
    assert t.num_rows == 1 and "data_year" in t.column_names
    assert t.column("value").to_pylist() == [float("inf")]
    assert w.years("measures") == [2020, 2021]
    assert "data_year" not in w.read("measures", 2020).column_names


def test_write_replaces_atomically_and_leaves_no_temporary_file(tmp_path):
    w = Warehouse(str(tmp_path))
    for n in (1, 2):
        df = pd.DataFrame({"zone_code": [f"z{i}" for i in range(n)], "measure_code": "m", "value": 1.0})
        w.write("measures", 2020, schemas.to_table(df, schemas.MEASURES))
    assert w.read("measures", 2020).num_rows == 2
    assert os.listdir(tmp_path / "measures" / "data_year=2020") == ["part-0.parquet"]


def test_rankings_schema_has_a_rank_column_per_top_list():
    s = schemas.rankings_schema(["trade_total", "fdi_actual", "fdi_actual"])
    assert [f.name for f in s][-2:] == ["rank_fdi_actual", "rank_trade_total"]
    assert "data_year" not in s.names
