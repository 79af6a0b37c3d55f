"""portal/results.py and portal/_results.html: the portal calls a year final only when no query is open or
answered-but-not-closed (06-portal.md §6.3), with the counts — the reports' rule (etdz/queries.py)."""

from __future__ import annotations

import json

import pandas as pd
import pytest


def write_rankings(settings, year: int, status: str) -> None:
    from etdz.schemas import schema_for, to_table
    from etdz.storage import Warehouse

    df = pd.DataFrame({"zone_code": ["Z1", "Z2"], "results_status": [status, status]})
    Warehouse(settings.warehouse).write("rankings", year, to_table(df, schema_for("rankings")))


@pytest.fixture
def reviewer(portal_env):
    return portal_env.api(portal_env.account("rev", "reviewer"))


def open_query(reviewer, year: int) -> int:
    r = reviewer.post("/api/v1/queries", json.dumps({"data_year": year, "zone_code": "Z1", "measure_code": "output",
                                                     "question": "?"}), content_type="application/json")
    assert r.status_code == 201, r.content
    return r.json()["id"]


def render(year: int) -> str:
    from django.template.loader import render_to_string

    from portal.results import year_results

    return render_to_string("portal/_results.html", {"results": year_results(year)})


def test_final_only_when_every_query_is_closed(portal_env, reviewer):
    from portal.results import year_results

    assert year_results(2025)["ran"] is False and "尚未计算" in render(2025)
    write_rankings(portal_env.settings, 2025, "final")
    assert year_results(2025)["label"] == "final" and "正式 final" in render(2025)
    qid = open_query(reviewer, 2025)
    r = year_results(2025)
    assert (r["label"], r["open"], r["answered"]) == ("under_review", 1, 0)
    html = render(2025)
    assert "复核中 under review" in html and 'id="results-open">1<' in html and "正式 final" not in html
    assert reviewer.post(f"/api/v1/queries/{qid}/close").status_code == 200
    r = year_results(2025)
    assert (r["label"], r["open"], r["closed"]) == ("final", 0, 1)


def test_provisional_results_stay_provisional(portal_env):
    from portal.results import year_results

    write_rankings(portal_env.settings, 2025, "provisional")
    assert year_results(2025)["label"] == "provisional" and "暂定 provisional" in render(2025)
