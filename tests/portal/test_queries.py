"""The queries' interface for the Dagster side (portal/queries.py): ``year_queries`` and ``year_version``."""

from __future__ import annotations

import json

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.portal.conftest import warned_file

KEYS = {"id", "data_year", "zone_code", "measure_code", "question", "state", "opened_by", "opened_at", "updated_at",
        "answers"}


def test_year_queries_and_their_version(portal_env):
    from portal.queries import year_queries, year_version

    p = portal_env
    zone, rev = p.api(p.account("z1", "zone", zone="Z1")), p.api(p.account("rev", "reviewer"))
    versions = [year_version(2025)]
    assert year_queries(2025) == []
    zone.post("/api/v1/submissions", {"file": SimpleUploadedFile("a.csv", warned_file()),
                                      "explanations": json.dumps({"row.soft_range:6": "属实"})})
    versions.append(year_version(2025))
    q = rev.post("/api/v1/queries", json.dumps({"data_year": 2025, "zone_code": "Z1", "measure_code": "firms",
                                                "question": "企业数？"}), content_type="application/json").json()
    versions.append(year_version(2025))
    zone.post(f"/api/v1/queries/{q['id']}/answers", json.dumps({"text": "35 家"}), content_type="application/json")
    versions.append(year_version(2025))
    rev.post(f"/api/v1/queries/{q['id']}/close")
    versions.append(year_version(2025))
    rev.post(f"/api/v1/queries/{q['id']}/reopen")
    versions.append(year_version(2025))
    assert len(set(versions)) == len(versions)  # every change is a new version
    assert year_version(2025) == versions[-1]  # and nothing else changes it
    rows = year_queries(2025)
    assert [set(r) for r in rows] == [KEYS, KEYS]
    assert [(r["state"], r["measure_code"]) for r in rows] == [("answered", "share"), ("open", "firms")]
    assert rows[1]["answers"][0]["text"] == "35 家" and rows[1]["opened_by"] == "rev"
    assert year_queries(2024) == [] and year_version(2024) != year_version(2025)
    # another year's change leaves this year's version alone
    rev.post("/api/v1/queries", json.dumps({"data_year": 2024, "zone_code": "Z1", "measure_code": "firms",
                                            "question": "?"}), content_type="application/json")
    assert year_version(2025) == versions[-1]
