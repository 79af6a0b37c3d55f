"""Every row of the JSON API (docs/contract/06-portal.md §6.5), as scripts call it with a bearer token."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.portal.conftest import good_file, warned_file


def _file(data: bytes, name: str = "报送.csv") -> dict:
    return {"file": SimpleUploadedFile(name, data)}


@pytest.fixture
def people(portal_env):
    """A zone account of Z1 (江苏), its province, another province, a reviewer, an admin: their API clients."""
    p = portal_env
    return {"zone": p.api(p.account("z1", "zone", zone="Z1")),
            "province": p.api(p.account("js", "province", province="江苏")),
            "other_province": p.api(p.account("zj", "province", province="浙江")),
            "reviewer": p.api(p.account("rev", "reviewer")),
            "admin": p.api(p.account("adm", "admin"))}


def test_me_for_every_role(people):
    assert people["zone"].get("/api/v1/me").json() == {"username": "z1", "role": "zone", "zone_code": "Z1",
                                                       "province": "江苏"}
    assert people["province"].get("/api/v1/me").json() == {"username": "js", "role": "province", "zone_code": None,
                                                           "province": "江苏"}
    assert people["reviewer"].get("/api/v1/me").json()["role"] == "reviewer"
    assert people["admin"].get("/api/v1/me").json()["role"] == "admin"


def test_validate_lists_every_problem_and_stores_nothing(portal_env, people):
    bad = good_file(firms=("3.5", "家"), jobs=("many", "人"), share=("90", "%"))
    r = people["zone"].post("/api/v1/validate", _file(bad))
    assert r.status_code == 200
    body = r.json()
    assert body["ok"] is False and body["data_year"] == 2025 and body["zone_code"] == "Z1"
    got = {(i["check"], i["row"], i["column"], i["severity"]) for i in body["issues"]}
    assert {("row.not_integer", 4, "value", "error"), ("row.invalid_value", 5, "value", "error"),
            ("row.soft_range", 6, "value", "warning")} <= got
    for i in body["issues"]:
        assert set(i) >= {"severity", "check", "row", "column", "value", "message"} and i["message"]
    assert not portal_env.inbox.exists() or not any(portal_env.inbox.rglob("*.csv"))
    from portal.models import AuditEntry, Submission

    assert Submission.objects.count() == 0
    assert AuditEntry.objects.filter(action="check", username="z1").count() == 1


def test_validate_is_for_zones_only(people):
    assert people["reviewer"].post("/api/v1/validate", _file(good_file())).status_code == 403


def test_submit_201_writes_the_portal_name_into_the_inbox(portal_env, people):
    data = good_file()
    r = people["zone"].post("/api/v1/submissions", _file(data, "../../x.csv"))
    assert r.status_code == 201, r.content
    body = r.json()
    import hashlib

    sha = hashlib.sha256(data).hexdigest()
    assert body["sha256"] == sha and body["status"] == "submitted" and isinstance(body["late"], bool)
    assert body["issues"] == []
    files = sorted(p.relative_to(portal_env.inbox).as_posix() for p in portal_env.inbox.rglob("*") if p.is_file())
    assert files == [f"2025/Z1_{sha[:12]}.csv"]
    assert (portal_env.inbox / "2025" / f"Z1_{sha[:12]}.csv").read_bytes() == data


def test_submit_with_an_error_is_422_and_stores_nothing(portal_env, people):
    r = people["zone"].post("/api/v1/submissions", _file(good_file(firms=("3.5", "家"))))
    assert r.status_code == 422
    assert any(i["check"] == "row.not_integer" for i in r.json()["issues"])
    assert not any(portal_env.inbox.rglob("*.csv"))


def test_submit_needs_an_explanation_per_substantive_warning(portal_env, people):
    zone = people["zone"]
    r = zone.post("/api/v1/submissions", _file(warned_file()))
    assert r.status_code == 422
    assert r.json()["to_explain"] == ["row.soft_range:6"]  # not the thousands separator of row 2
    assert not any(portal_env.inbox.rglob("*.csv"))
    r = zone.post("/api/v1/submissions", {**_file(warned_file()),
                                          "explanations": json.dumps({"row.soft_range:6": "新设园区，占比确实较高"})})
    assert r.status_code == 201, r.content
    assert r.json()["explanations"] == {"row.soft_range:6": "新设园区，占比确实较高"}


def test_list_and_get_submissions(people):
    sha = people["zone"].post("/api/v1/submissions", _file(good_file())).json()["sha256"]
    for who in ("zone", "province", "reviewer", "admin"):
        rows = people[who].get("/api/v1/submissions?data_year=2025").json()
        assert [r["sha256"] for r in rows] == [sha], who
        assert set(rows[0]) >= {"sha256", "zone_code", "data_year", "status", "late", "submitted_at", "submitted_by"}
        one = people[who].get(f"/api/v1/submissions/{sha}")
        assert one.status_code == 200 and one.json()["issues"] == [] and one.json()["submitted_by"] == "z1"
    assert people["zone"].get("/api/v1/submissions?data_year=2024").json() == []
    assert people["other_province"].get("/api/v1/submissions?data_year=2025").json() == []
    assert people["other_province"].get(f"/api/v1/submissions/{sha}").status_code == 404


def test_approve_and_return(approval_env):
    p = approval_env
    zone, prov = p.api(p.account("z1", "zone", zone="Z1")), p.api(p.account("js", "province", province="江苏"))
    a = zone.post("/api/v1/submissions", _file(good_file())).json()
    assert a["status"] == "awaiting_approval" and not any(p.inbox.rglob("*.csv"))
    r = prov.post(f"/api/v1/submissions/{a['sha256']}/approve")
    assert r.status_code == 200 and r.json()["approved"] is True and r.json()["status"] == "submitted"
    assert [f.name for f in p.inbox.rglob("*.csv")] == [f"Z1_{a['sha256'][:12]}.csv"]
    b = zone.post("/api/v1/submissions", _file(good_file(firms=("36", "家")))).json()
    r = prov.post(f"/api/v1/submissions/{b['sha256']}/return", json.dumps({"reason": "企业数与统计公报不符"}),
                  content_type="application/json")
    assert r.status_code == 200 and r.json()["status"] == "returned"
    assert r.json()["return_reason"] == "企业数与统计公报不符"
    assert len(list(p.inbox.rglob("*.csv"))) == 1  # a returned file never reaches the inbox
    assert prov.post(f"/api/v1/submissions/{b['sha256']}/approve").status_code == 409
    # a return needs a reason
    c = zone.post("/api/v1/submissions", _file(good_file(firms=("37", "家")))).json()
    r = prov.post(f"/api/v1/submissions/{c['sha256']}/return", json.dumps({"reason": "  "}),
                  content_type="application/json")
    assert r.status_code == 409


def test_queries_open_list_answer_close(people):
    rev, zone = people["reviewer"], people["zone"]
    r = rev.post("/api/v1/queries", json.dumps({"data_year": 2025, "zone_code": "Z1", "measure_code": "output",
                                                "question": "产值较上年增长过快，请说明"}),
                 content_type="application/json")
    assert r.status_code == 201
    q = r.json()
    assert q["state"] == "open" and q["opened_by"] == "rev" and q["answers"] == []
    for who in ("zone", "province", "reviewer", "admin"):
        assert [x["id"] for x in people[who].get("/api/v1/queries?data_year=2025").json()] == [q["id"]], who
    assert people["other_province"].get("/api/v1/queries?data_year=2025").json() == []
    r = zone.post(f"/api/v1/queries/{q['id']}/answers", json.dumps({"text": "新项目投产"}),
                  content_type="application/json")
    assert r.status_code == 200 and r.json()["state"] == "answered"
    assert [a["text"] for a in r.json()["answers"]] == ["新项目投产"]
    r = rev.post(f"/api/v1/queries/{q['id']}/answers", json.dumps({"text": "请附投产公告"}),
                 content_type="application/json")
    assert r.json()["state"] == "open"  # a follow-up: back to open
    r = rev.post(f"/api/v1/queries/{q['id']}/close")
    assert r.status_code == 200 and r.json()["state"] == "closed"
    assert [a["text"] for a in r.json()["answers"]] == ["新项目投产", "请附投产公告"]
    assert zone.post(f"/api/v1/queries/{q['id']}/answers", json.dumps({"text": "x"}),
                     content_type="application/json").status_code == 409
    assert zone.post(f"/api/v1/queries/{q['id']}/close").status_code == 403  # only reviewers close
    assert rev.post(f"/api/v1/queries/{q['id']}/reopen").json()["state"] == "open"


def test_only_reviewers_open_queries(people):
    body = json.dumps({"data_year": 2025, "zone_code": "Z1", "measure_code": "output", "question": "?"})
    assert people["zone"].post("/api/v1/queries", body, content_type="application/json").status_code == 403
    assert people["province"].post("/api/v1/queries", body, content_type="application/json").status_code == 403
    unknown = json.dumps({"data_year": 2025, "zone_code": "NOPE", "measure_code": "output", "question": "?"})
    assert people["reviewer"].post("/api/v1/queries", unknown, content_type="application/json").status_code == 400


def test_explained_warning_opens_an_answered_query(people):
    people["zone"].post("/api/v1/submissions", {**_file(warned_file()),
                                                "explanations": json.dumps({"row.soft_range:6": "确为 90%"})})
    qs = people["reviewer"].get("/api/v1/queries?data_year=2025").json()
    assert len(qs) == 1
    q = qs[0]
    assert q["state"] == "answered" and q["zone_code"] == "Z1" and q["measure_code"] == "share"
    assert [a["text"] for a in q["answers"]] == ["确为 90%"] and "90" in q["question"]


def test_audit_for_admins_only(people):
    people["zone"].post("/api/v1/validate", _file(good_file()))
    entries = people["admin"].get("/api/v1/audit?since=2000-01-01T00:00:00Z").json()
    check = [e for e in entries if e["action"] == "check"]
    assert len(check) == 1 and check[0]["username"] == "z1" and check[0]["role"] == "zone"
    assert len(check[0]["sha256"]) == 64 and check[0]["address"] and check[0]["at"]
    assert people["admin"].get("/api/v1/audit?since=2999-01-01T00:00:00").json() == []
    assert people["admin"].get("/api/v1/audit?since=yesterday").status_code == 400
    for who in ("zone", "province", "reviewer"):
        assert people[who].get("/api/v1/audit").status_code == 404
