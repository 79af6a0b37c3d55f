"""The Hive layout and "is this location local?" (etdz/locations.py), and their callers using them."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from etdz.commit import DeploymentLayout
from etdz.locations import dataset_file, is_dataset_file, is_local, local_path, year_folder, year_of_folder
from etdz.storage import Warehouse


def test_the_layout_of_04_outputs():
    assert dataset_file("/w", "rankings", 2022) == "/w/rankings/data_year=2022/part-0.parquet"
    assert dataset_file("s3://b/p/", "rankings", 2022) == "s3://b/p/rankings/data_year=2022/part-0.parquet"
    assert year_folder(2022) == "data_year=2022" and year_of_folder("data_year=2022") == 2022
    for other in ("data_year=", "data_year=20x2", "year=2022", "data_year=2022.tmp"):
        assert year_of_folder(other) is None


@pytest.mark.parametrize("relative,year,inside", [
    ("rankings/data_year=2022/part-0.parquet", 2022, True),
    ("rankings/data_year=2022/_x.tmp", 2022, True),
    ("rankings/data_year=2021/part-0.parquet", 2022, False),
    ("_published/data_year=2022/manifest.json", 2022, False),  # beside the datasets, not one of them
    (".hidden/data_year=2022/part-0.parquet", 2022, False),
    ("rankings/data_year=2022/deeper/part-0.parquet", 2022, False),
])
def test_what_is_a_year_s_dataset_file(relative, year, inside):
    assert is_dataset_file(relative, year) is inside


@pytest.mark.parametrize("location,local", [
    ("/srv/etdz/warehouse", True), ("warehouse", True), ("file:///srv/w", True),
    ("s3://bucket/w", False), ("memory://w", False), ("gs://b", False),
])
def test_is_local(location, local):
    assert is_local(location) is local
    assert (local_path(location) is not None) is local
    if local:
        assert local_path(location) == Path(location.removeprefix("file://"))


def test_the_warehouse_and_the_outputs_agree_on_the_layout_and_locality(tmp_path):
    store = Warehouse(f"file://{tmp_path}/w")
    assert store.local
    store.write("rankings", 2022, pa.table({"a": [1]}))
    assert (tmp_path / "w" / "rankings" / "data_year=2022" / "part-0.parquet").is_file()
    assert store.years("rankings") == [2022]
    out = DeploymentLayout(f"file://{tmp_path}/w", str(tmp_path / "r"), dagster_home=str(tmp_path / "dh"))
    assert out.local_warehouse and out.lock_dir() == tmp_path / "w" / "_locks"
    assert out.journal_dir(2022) == tmp_path / "w" / "_commits" / "data_year=2022"
    assert out.scope(2022).contains(store.path("rankings", 2022))
    assert 2022 in out.years_on_disk()
    remote = DeploymentLayout("s3://b/w", "s3://b/r", dagster_home=str(tmp_path / "dh"))
    # an object-store warehouse keeps its locks and journals beside it, where every pod meets them
    assert not remote.local_warehouse and remote.lock_dir() == "s3://b/w/_locks"
    assert remote.journal_dir(2022) == "s3://b/w/_commits/data_year=2022"
    assert remote.reports_root() == tmp_path / "dh" / "etdz-reports-staging"
