"""The worked example of ../shared/examples/golden, end to end through `etdz run` (Dagster, in-process)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory):
    """`etdz run` of the golden example, configured by a configuration file alone (only ETDZ_HOME set)."""
    from etdz.settings import Settings, write_config

    root = tmp_path_factory.mktemp("golden")
    locations = {"ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
                 "ETDZ_INBOX": str(GOLDEN / "inbox"), "ETDZ_WAREHOUSE": str(root / "warehouse"),
                 "ETDZ_REPORTS": str(root / "reports"), "DAGSTER_HOME": str(root / "dagster_home"),
                 "ETDZ_HOME": str(root)}
    assert write_config(Settings.from_env(locations)) == root / "etdz.toml"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETDZ_", "DAGSTER_"))}
    env["ETDZ_HOME"] = str(root)
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--from", "2020", "--to", "2021"], env=env,
                          cwd=root, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"configuration {root / 'etdz.toml'}" in proc.stderr
    return root, proc


def dataset(root: Path, name: str) -> pd.DataFrame:
    return pads.dataset(str(root / "warehouse" / name), partitioning="hive", format="parquet").to_table().to_pandas()


def expected(name: str) -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "expected" / f"{name}.csv")


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    if a.dtype.kind == "f" or b.dtype.kind == "f":
        return pd.Series(np.isclose(a.astype(float), b.astype(float), atol=1e-6, equal_nan=True), index=a.index)
    return a.astype(str).str.lower() == b.astype(str).str.lower()


def compare(exp: pd.DataFrame, got: pd.DataFrame, keys: list[str]):
    got = got.copy()
    for k in keys:
        got[k] = got[k].astype(exp[k].dtype) if exp[k].dtype.kind == "i" else got[k].astype(str)
        exp[k] = exp[k] if exp[k].dtype.kind == "i" else exp[k].astype(str)
    merged = exp.merge(got, on=keys, how="outer", suffixes=("_exp", ""), indicator=True)
    assert (merged._merge == "both").all(), merged[merged._merge != "both"][keys + ["_merge"]]
    for col in exp.columns:
        if col in keys:
            continue
        g = merged[col].astype("float64") if merged[col].dtype.name in ("Int32", "Int64") else merged[col]
        ok = _same(merged[f"{col}_exp"], g)
        assert ok.all(), (col, merged.loc[~ok, keys + [f"{col}_exp", col]])


def test_rankings_match(golden_run):
    root, _ = golden_run
    compare(expected("rankings"), dataset(root, "rankings"), ["data_year", "zone_code"])


def test_indicator_scores_match(golden_run):
    root, _ = golden_run
    compare(expected("indicator_scores"), dataset(root, "indicator_scores"),
            ["data_year", "zone_code", "indicator_code"])


def test_category_scores_match(golden_run):
    root, _ = golden_run
    compare(expected("category_scores"), dataset(root, "category_scores"), ["data_year", "zone_code", "category_code"])


def test_downgrade_watchlist_matches(golden_run):
    root, _ = golden_run
    got = dataset(root, "downgrade_watchlist")
    got["bottom_years"] = got.bottom_years.map(lambda ys: ",".join(str(int(y)) for y in ys))
    compare(expected("downgrade"), got, ["data_year", "zone_code"])


def test_upgrade_candidates_match(golden_run):
    root, _ = golden_run
    compare(expected("upgrade"), dataset(root, "upgrade_candidates"), ["data_year", "zone_code"])


def test_every_dataset_has_a_file_for_every_year(golden_run):
    root, _ = golden_run
    for name in ("submission_log", "submission_issues", "measures", "indicator_scores", "category_scores",
                 "indicator_bounds", "rankings", "downgrade_watchlist", "upgrade_candidates"):
        years = sorted(p.name for p in (root / "warehouse" / name).iterdir() if not p.name.startswith(("_", ".")))
        assert years == ["data_year=2020", "data_year=2021"], name


def test_runs_are_recorded_in_dagster_home(golden_run):
    root, _ = golden_run
    from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

    os.environ["DAGSTER_HOME"] = str(root / "dagster_home")
    with DagsterInstance.get() as instance:
        runs = instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
        assert sorted(r.dagster_run.tags.get("dagster/partition") for r in runs) == ["2020", "2021"]
