"""The guard against runs that would destroy good results (etdz/guard.py)."""

from __future__ import annotations

import pandas as pd
import pytest

from etdz.guard import RunRefused, acceptance_findings, cohort_findings, refuse_if


def _registry(n: int, first: int = 2015) -> pd.DataFrame:
    return pd.DataFrame({
        "zone_code": [f"Z{i:03d}" for i in range(n)], "name_zh": [f"区{i}" for i in range(n)],
        "province": "江苏省", "region": "east", "tier": "national",
        "first_data_year": pd.array([first] * n, dtype="Int64"), "exit_data_year": pd.array([None] * n, dtype="Int64"),
    })


def _rankings(codes) -> pd.DataFrame:
    return pd.DataFrame({"zone_code": list(codes)})


def _log(accepted: int, rejected: int) -> pd.DataFrame:
    return pd.DataFrame({"zone_code": [f"Z{i:03d}" for i in range(accepted + rejected)],
                         "status": ["accepted"] * accepted + ["rejected"] * rejected})


def test_header_only_registry_is_an_empty_cohort():
    found = cohort_findings(2023, _registry(0), "/x/registry.csv", None)
    assert [f.code for f in found] == ["cohort.empty"]
    assert "/x/registry.csv" in found[0].message and "2023" in found[0].message


def test_a_registry_that_drops_most_ranked_zones_is_refused_and_one_that_keeps_half_is_not():
    ranked = _rankings(f"Z{i:03d}" for i in range(230))
    assert [f.code for f in cohort_findings(2023, _registry(114), "r.csv", ranked)] == ["cohort.shrunk"]
    assert cohort_findings(2023, _registry(115), "r.csv", ranked) == []
    assert cohort_findings(2023, _registry(230), "r.csv", ranked) == []


def test_first_run_of_a_year_only_needs_a_cohort():
    assert cohort_findings(2023, _registry(3), "r.csv", None) == []
    assert cohort_findings(2023, _registry(3), "r.csv", _rankings([])) == []


def test_zones_not_yet_due_do_not_count():
    assert [f.code for f in cohort_findings(2020, _registry(5, first=2024), "r.csv", None)] == ["cohort.empty"]


def test_acceptance_collapse_against_the_last_good_run():
    before = _log(accepted=200, rejected=30)
    assert [f.code for f in acceptance_findings(2023, {"Z001"}, before, "2021.yaml")] == ["acceptance.collapsed"]
    assert acceptance_findings(2023, {f"Z{i:03d}" for i in range(100)}, before, "2021.yaml") == []
    assert acceptance_findings(2023, set(), None, "2021.yaml") == []  # a year's first run has nothing to lose


def test_refusal_names_the_way_out_and_is_exit_code_2():
    found = cohort_findings(2023, _registry(0), "r.csv", None)
    with pytest.raises(RunRefused) as exc:
        refuse_if(found, 2023, allowed=False)
    assert exc.value.exit_code == 2
    assert "--allow-shrink" in str(exc.value) and "etdz/allow_shrink" in str(exc.value)
    refuse_if(found, 2023, allowed=True)  # deliberate: proceeds
    refuse_if([], 2023, allowed=False)
