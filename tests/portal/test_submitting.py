"""Submitting (06 §6.2): the portal's names in the inbox, written durably with the submission's time; approval;
deadlines; a published year; the status from ``submission_log``; the completeness counts matching it."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import threading
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from tests.portal.conftest import good_file, run_ingestion


def _file(data: bytes, name: str = "f.csv") -> dict:
    return {"file": SimpleUploadedFile(name, data)}


def _files(folder: Path) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


def test_the_file_lands_under_its_portal_name_with_the_submission_time(portal_env):
    from portal.models import Submission

    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    data = good_file()
    sha = c.post("/api/v1/submissions", _file(data, "我的报表 最终版.csv")).json()["sha256"]
    sub = Submission.objects.get(sha256=sha)
    path = portal_env.inbox / "2025" / f"Z1_{sha[:12]}.csv"
    assert _files(portal_env.inbox) == [f"2025/Z1_{sha[:12]}.csv"]  # no temporary left anywhere in the inbox
    assert path.stat().st_mtime_ns == int(sub.submitted_at.timestamp() * 1e9)
    assert sub.original_name == "我的报表 最终版.csv" and sub.address == "127.0.0.1"
    assert sub.submitted_by.username == "z1"


def test_xlsx_keeps_its_format(portal_env):
    from tests.fixtures.submissions import rows_for, xlsx_bytes

    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    data = xlsx_bytes(rows_for("Z1", 2025))
    r = c.post("/api/v1/submissions", _file(data, "REPORT.XLSX"))
    assert r.status_code == 201, r.content
    assert _files(portal_env.inbox) == [f"2025/Z1_{hashlib.sha256(data).hexdigest()[:12]}.xlsx"]


def test_the_same_bytes_twice_are_one_submission(portal_env):
    from portal.models import Submission

    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    assert c.post("/api/v1/submissions", _file(good_file())).status_code == 201
    assert c.post("/api/v1/submissions", _file(good_file(), "again.csv")).status_code == 200
    assert Submission.objects.count() == 1 and len(_files(portal_env.inbox)) == 1


def test_concurrent_submissions_are_each_recorded_once(portal_env):
    from django.db import connections

    from portal.models import AuditEntry, Submission

    zones = ["Z1", "Z2", "Z3"]
    clients = {z: portal_env.api(portal_env.account(f"u{z}", "zone", zone=z)) for z in zones}
    codes: list[int] = []

    def send(zone: str, n: int) -> None:
        try:
            codes.append(clients[zone].post("/api/v1/submissions",
                                            _file(good_file(zone, firms=(str(30 + n), "家")))).status_code)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(z, n)) for z in zones for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [201] * 6
    assert Submission.objects.count() == 6 and len(_files(portal_env.inbox)) == 6
    assert AuditEntry.objects.filter(action="submit").count() == 6


def test_a_failed_write_records_nothing(portal_env, monkeypatch):
    from portal import submitting
    from portal.models import Submission

    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    real = submitting.os.replace

    def refuse_into_the_year(src, dst):  # the final rename into the year folder fails (the disk is full)
        if Path(dst).parent == portal_env.inbox / "2025":
            raise OSError(28, "No space left on device")
        return real(src, dst)

    monkeypatch.setattr(submitting.os, "replace", refuse_into_the_year)
    r = c.post("/api/v1/submissions", _file(good_file()))
    assert r.status_code == 503 and "No space left" in r.json()["message"]
    assert Submission.objects.count() == 0
    assert _files(portal_env.inbox) == []  # neither in the year folder nor in the staging folder


def test_approval_delivers_with_the_submission_time_not_the_approval(approval_env):
    from portal.models import Submission

    p = approval_env
    zone, prov = p.api(p.account("z1", "zone", zone="Z1")), p.api(p.account("js", "province", province="江苏"))
    sha = zone.post("/api/v1/submissions", _file(good_file())).json()["sha256"]
    assert not (p.inbox / "2025").exists()
    assert zone.get(f"/api/v1/submissions/{sha}").json()["status"] == "awaiting_approval"
    time.sleep(0.05)
    assert prov.post(f"/api/v1/submissions/{sha}/approve").status_code == 200
    sub = Submission.objects.get(sha256=sha)
    path = p.inbox / "2025" / f"Z1_{sha[:12]}.csv"
    assert path.stat().st_mtime_ns == int(sub.submitted_at.timestamp() * 1e9) < sub.approved_at.timestamp() * 1e9
    from portal.submitting import held_path

    assert not held_path(sub).exists()  # nothing kept twice


def test_late_follows_the_years_deadline(portal_env):
    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    ahead = (dt.date.today() + dt.timedelta(days=400)).isoformat()
    with override_settings(ETDZ=dataclasses.replace(portal_env.settings, deadlines=f"2025={ahead}")):
        assert c.post("/api/v1/submissions", _file(good_file())).json()["late"] is False
    with override_settings(ETDZ=dataclasses.replace(portal_env.settings, deadlines="2025=2026-01-15")):
        r = c.post("/api/v1/submissions", _file(good_file(firms=("36", "家"))))
        assert r.status_code == 201 and r.json()["late"] is True  # accepted, flagged


def test_a_published_year_refuses_submissions(portal_env):
    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    folder = Path(portal_env.settings.warehouse) / "_published" / "data_year=2025"
    folder.mkdir(parents=True)
    (folder / "history.jsonl").write_text(json.dumps({"action": "publish", "at": "2026-09-01T00:00:00+00:00",
                                                      "by": "ministry"}) + "\n", encoding="utf-8")
    r = c.post("/api/v1/submissions", _file(good_file()))
    assert r.status_code == 409 and "published" in r.json()["message"]
    assert not any(portal_env.inbox.rglob("*.csv"))


def test_status_is_the_pipelines_once_the_year_has_run(portal_env):
    p = portal_env
    z1 = p.api(p.account("z1", "zone", zone="Z1"))
    first = z1.post("/api/v1/submissions", _file(good_file())).json()["sha256"]
    time.sleep(0.01)
    second = z1.post("/api/v1/submissions", _file(good_file(firms=("36", "家")))).json()["sha256"]
    assert {r["status"] for r in z1.get("/api/v1/submissions?data_year=2025").json()} == {"submitted"}
    run_ingestion(p.settings)
    status = {r["sha256"]: r["status"] for r in z1.get("/api/v1/submissions?data_year=2025").json()}
    assert status == {first: "superseded", second: "accepted"}  # the latest submission wins
    third = z1.post("/api/v1/submissions", _file(good_file(firms=("37", "家")))).json()["sha256"]
    assert z1.get(f"/api/v1/submissions/{third}").json()["status"] == "submitted"  # not in that run


def test_completeness_counts_match_submission_log(portal_env):
    """Due / submitted / approved / accepted / late per province and region, as the log says after a run."""
    import pandas as pd

    from etdz.storage import Warehouse
    from portal.completeness import table

    p = portal_env
    settings = dataclasses.replace(p.settings, deadlines="2025=2026-01-15")  # every file of today is late
    with override_settings(ETDZ=settings):
        z1, z2 = p.api(p.account("z1", "zone", zone="Z1")), p.api(p.account("z2", "zone", zone="Z2"))
        js = p.api(p.account("js", "province", province="江苏"))
        sha = z1.post("/api/v1/submissions", _file(good_file("Z1"))).json()["sha256"]
        js.post(f"/api/v1/submissions/{sha}/approve")
        z2.post("/api/v1/submissions", _file(good_file("Z2")))
        # a file of Z3 that reached the inbox another way, on time, and a rejected one of ZN
        (p.inbox / "2025" / "z3.csv").write_bytes(good_file("Z3"))
        (p.inbox / "2025" / "zn.csv").write_bytes(good_file("ZN", firms=("1.5", "家")))
        import os

        os.utime(p.inbox / "2025" / "z3.csv", (1767000000, 1767000000))  # 2025-12-29: before the deadline
        run_ingestion(settings)
        t = table(2025)
        log = Warehouse(settings.warehouse).read("submission_log", 2025).to_pandas()
    assert t["total"] == {"due": 4, "submitted": 4, "approved": 1,
                          "accepted": int(log.loc[log.status == "accepted", "zone_code"].nunique()),
                          "late": int(log.loc[(log.status == "accepted") & log.late, "zone_code"].nunique())}
    assert t["total"]["accepted"] == 3 and t["total"]["late"] == 2
    by_province = {r["province"]: r for r in t["provinces"]}
    assert by_province["江苏"] == {"province": "江苏", "due": 1, "submitted": 1, "approved": 1, "accepted": 1,
                                  "late": 1}
    assert by_province["广东"]["accepted"] == 0 and by_province["广东"]["submitted"] == 1  # ZN: rejected
    by_region = pd.DataFrame(t["regions"]).set_index("region")
    assert by_region.loc["east", "due"] == 3 and by_region.loc["central", "accepted"] == 1


@pytest.mark.parametrize("fixture", ["portal_env"])
def test_the_check_is_the_runs_checker(portal_env, fixture):
    """One warm Checker per process and configuration: the same object for every request."""
    from portal.submitting import checker

    assert checker() is checker()


def test_which_warnings_need_an_explanation(portal_base):
    """06 §6.2: soft range, year-on-year, a consistency rule within its tolerance or not_above, a required measure
    missing, measures dropped — not number-format, extra-column (or not-due) warnings. A new warning code of the
    checks fails here until it is classified."""
    from etdz.validation.checks import CHECKS
    from portal.submitting import SUBSTANTIVE

    can_warn = {c.code for c in CHECKS.values() if c.severity == "warning"} | {"row.inconsistent"}
    assert SUBSTANTIVE <= can_warn
    assert can_warn - SUBSTANTIVE == {"row.number_normalised", "file.extra_column", "file.zone_not_due"}
