"""Loading a year's scoring inputs from the warehouse (etdz.scoring.inputs)."""

from __future__ import annotations

import pandas as pd
import pytest

from etdz import schemas
from etdz.history import Submissions
from etdz.scoring import score_year
from etdz.scoring.inputs import load_year_inputs
from etdz.storage import Warehouse
from tests.scoring.conftest import make_catalogue, make_registry

CATALOGUE = make_catalogue([{"code": "V", "category": "A", "direction": "higher", "kind": "value", "measure": "x"}],
                           downgrade={"rule": "regional_bottom", "bottom_n": 1, "window": 3, "times": 2})
REGISTRY = make_registry([("a", "east", "P"), ("b", "east", "P"), ("c", "west", "Q")])


def write(store: Warehouse, name: str, year: int, df: pd.DataFrame) -> None:
    store.write(name, year, schemas.to_table(df, schemas.schema_for(name)))


def test_reads_accepted_zones_measures_previous_year_and_the_window_of_rankings(tmp_path):
    store = Warehouse(str(tmp_path))
    write(store, "submission_log", 2022, pd.DataFrame({"zone_code": ["a", "b", "c"],
                                                       "status": ["accepted", "rejected", "accepted"]}))
    write(store, "measures", 2022, pd.DataFrame({"zone_code": ["a", "c"], "measure_code": ["x", "x"],
                                                 "value": [3.0, 5.0]}))
    for year in (2019, 2020, 2021):  # 2019 is outside the window of 3 (2020 … 2022)
        write(store, "rankings", year, pd.DataFrame({"zone_code": ["a"], "national_rank": [1], "total_score": [9.0],
                                                     "region": ["east"], "regional_rank": [1],
                                                     "method_version": ["T1"]}))
    previous = Submissions(pd.DataFrame({"zone_code": ["a"], "measure_code": ["x"], "value": [1.0]}), {"a"},
                           "warehouse")
    inputs = load_year_inputs(store, 2022, CATALOGUE, REGISTRY, lambda: previous)
    assert inputs.accepted == {"a", "c"} and inputs.prev_accepted == {"a"}
    assert sorted(inputs.history) == [2020, 2021]
    assert inputs.measures.set_index("zone_code").value.to_dict() == {"a": 3.0, "c": 5.0}
    ranks = score_year(inputs).rankings.set_index("zone_code")
    assert ranks.national_rank.to_dict() == {"c": 1, "a": 2, "b": 2}  # a scores the minimum, b has no file: both 0
    assert ranks.loc["a", "prev_national_rank"] == 1  # from the 2021 rankings


def test_a_year_never_ingested_names_the_warehouse_and_what_to_run_before_reading_the_previous_year(tmp_path):
    def previous() -> Submissions:
        raise AssertionError("Y−1 must not be read before Y is known to exist")

    with pytest.raises(RuntimeError, match=r"2022 has no ingested submissions in .*etdz run --data-year 2022"):
        load_year_inputs(Warehouse(str(tmp_path)), 2022, CATALOGUE, REGISTRY, previous)
