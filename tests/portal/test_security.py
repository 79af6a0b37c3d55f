"""Every rule of docs/contract/06-portal.md §6.4 (and §6.1's 404), tried as an attacker would."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.portal.conftest import LOCKOUT_SECONDS, PASSWORD, good_file


def _file(data: bytes, name: str = "f.csv") -> dict:
    return {"file": SimpleUploadedFile(name, data)}


@pytest.fixture
def two_zones(portal_env):
    """Z1 (江苏) and Z2 (浙江) with their accounts; Z2 has submitted a file and has a query."""
    p = portal_env
    z1 = p.api(p.account("z1", "zone", zone="Z1"))
    z2 = p.api(p.account("z2", "zone", zone="Z2"))
    rev = p.api(p.account("rev", "reviewer"))
    js = p.api(p.account("js", "province", province="江苏"))
    sha = z2.post("/api/v1/submissions", _file(good_file("Z2"))).json()["sha256"]
    q = rev.post("/api/v1/queries", json.dumps({"data_year": 2025, "zone_code": "Z2", "measure_code": "output",
                                                "question": "请说明"}), content_type="application/json").json()
    return {"z1": z1, "z2": z2, "rev": rev, "js": js, "sha": sha, "query": q["id"]}


def test_another_zones_submission_is_404_not_403(two_zones):
    z1, sha = two_zones["z1"], two_zones["sha"]
    assert z1.get(f"/api/v1/submissions/{sha}").status_code == 404
    assert z1.get(f"/api/v1/submissions/{'0' * 64}").status_code == 404  # the same answer as one that does not exist
    assert z1.get("/api/v1/submissions?data_year=2025").json() == []
    assert z1.get("/api/v1/queries?data_year=2025").json() == []
    assert z1.post(f"/api/v1/submissions/{sha}/approve").status_code == 404
    assert z1.post(f"/api/v1/submissions/{sha}/return", json.dumps({"reason": "x"}),
                   content_type="application/json").status_code == 404
    r = z1.post(f"/api/v1/queries/{two_zones['query']}/answers", json.dumps({"text": "我来回答"}),
                content_type="application/json")
    assert r.status_code == 404
    assert two_zones["rev"].get("/api/v1/queries?data_year=2025").json()[0]["answers"] == []


def test_a_province_outside_its_province_is_404(two_zones):
    js, sha = two_zones["js"], two_zones["sha"]  # Z2 is in 浙江
    assert js.get(f"/api/v1/submissions/{sha}").status_code == 404
    assert js.post(f"/api/v1/submissions/{sha}/approve").status_code == 404
    from portal.models import Submission

    assert Submission.objects.get(sha256=sha).approved_at is None


def test_a_zone_cannot_approve_its_own_file(two_zones):
    assert two_zones["z2"].post(f"/api/v1/submissions/{two_zones['sha']}/approve").status_code == 403


def test_a_file_claiming_another_zones_code_is_refused(portal_env, two_zones):
    data = good_file("Z2", firms=("99", "家"))
    r = two_zones["z1"].post("/api/v1/validate", _file(data))
    assert r.json()["ok"] is False and r.json()["issues"][0]["check"] == "portal.other_zone"
    r = two_zones["z1"].post("/api/v1/submissions", _file(data))
    assert r.status_code == 422 and r.json()["issues"][0]["check"] == "portal.other_zone"
    assert not any(hashlib.sha256(data).hexdigest()[:12] in p.name for p in portal_env.inbox.rglob("*"))


@pytest.mark.parametrize("header", [None, "Bearer ", "Bearer wrong-token", "Basic ejE6eA==", "Token abc"])
def test_no_or_wrong_token_is_401(portal_env, header):
    portal_env.account("z1", "zone", zone="Z1")
    from django.test import Client

    c = Client(headers={"Authorization": header} if header else {})
    for method, path in (("get", "/api/v1/me"), ("get", "/api/v1/submissions"), ("post", "/api/v1/validate"),
                         ("get", "/api/v1/audit")):
        r = getattr(c, method)(path)
        assert r.status_code == 401, (header, path)
        assert r["WWW-Authenticate"].startswith("Bearer")


def test_a_session_cookie_does_not_authorise_the_api(portal_env):
    portal_env.account("z1", "zone", zone="Z1")
    browser = portal_env.browser("z1")
    assert browser.get("/api/v1/me").status_code == 401


def test_a_locked_accounts_token_is_401(portal_env):
    from portal.accounts import lock, unlock

    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    lock("z1")
    assert c.get("/api/v1/me").status_code == 401
    unlock("z1")
    assert c.get("/api/v1/me").status_code == 200


def test_tokens_are_stored_as_sha256_only(portal_env):
    token = portal_env.account("z1", "zone", zone="Z1")
    from portal.models import ApiToken

    stored = list(ApiToken.objects.values_list("digest", flat=True))
    assert stored == [hashlib.sha256(token.encode()).hexdigest()] and len(token) >= 43


def test_passwords_are_argon2id(portal_env):
    portal_env.account("z1", "zone", zone="Z1")
    from django.conf import settings
    from django.contrib.auth import get_user_model

    from portal.config import django_settings

    assert get_user_model().objects.get(username="z1").password.startswith("argon2$argon2id$")
    production = django_settings(settings.ETDZ)["PASSWORD_HASHERS"]
    assert production[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


def test_a_form_without_its_csrf_token_is_403(portal_env):
    portal_env.account("z1", "zone", zone="Z1")
    from django.test import Client

    c = Client(enforce_csrf_checks=True)
    assert c.post("/login", {"username": "z1", "password": PASSWORD}).status_code == 403
    signed_in = portal_env.browser("z1")
    r = signed_in.post("/zone", {"action": "submit", **_file(good_file())})  # the form's token left out
    assert r.status_code == 403
    assert not any(portal_env.inbox.rglob("*.csv"))


def test_signing_out_takes_a_post_with_its_csrf_token(portal_env):
    """A link or an image pointing at /logout (a GET) signs nobody out; a POST without the token neither."""
    portal_env.account("z1", "zone", zone="Z1")
    c = portal_env.browser("z1")
    assert c.get("/logout").status_code == 405
    assert c.post("/logout").status_code == 403  # the form's token left out
    assert c.get("/zone").status_code == 200, "signed out by a GET or a POST without its token"
    r = c.post("/logout", {"csrfmiddlewaretoken": c.cookies["csrftoken"].value})
    assert r.status_code == 302 and r["Location"] == "/login"
    after = c.get("/zone")
    assert after.status_code == 302 and after["Location"].startswith("/login")
    from portal.models import AuditEntry

    assert list(AuditEntry.objects.filter(username="z1").values_list("action", flat=True))[-1] == "logout"


def test_cookies_are_httponly_and_samesite(portal_env):
    portal_env.account("z1", "zone", zone="Z1")
    c = portal_env.browser("z1")
    for name in ("sessionid", "csrftoken"):
        morsel = c.cookies[name]
        assert morsel["httponly"] and morsel["samesite"] == "Strict", name


def test_five_bad_passwords_lock_the_account_then_it_unlocks(portal_env):
    portal_env.account("z1", "zone", zone="Z1")
    from django.test import Client

    c = Client()
    codes = [c.post("/login", {"username": "z1", "password": "wrong"}).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 401, 429]
    assert c.post("/login", {"username": "z1", "password": PASSWORD}).status_code == 429  # even the right one
    time.sleep(LOCKOUT_SECONDS + 0.2)
    assert c.post("/login", {"username": "z1", "password": PASSWORD}).status_code == 302
    from portal.models import AuditEntry

    actions = list(AuditEntry.objects.filter(username="z1").values_list("action", flat=True))
    assert actions.count("login_failed") == 5 and "login_locked" in actions and actions[-1] == "login"


def test_repeated_failures_from_one_address_are_slowed(portal_env, monkeypatch):
    from django.test import Client

    from portal import audit, views

    slept = []
    monkeypatch.setattr(views.time, "sleep", slept.append)
    c = Client()
    for i in range(6):  # different usernames: the address is what is slowed
        c.post("/login", {"username": f"guess{i}", "password": "x"})
    assert slept == [audit.DELAY_STEP_SECONDS * n for n in (1, 2, 3)]  # the first three answer at once


def test_an_upload_over_max_file_mb_is_413(portal_env):
    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    big = b"zone_code,data_year,measure_code,value,unit\r\n" + b"x" * (25 * 1024 * 1024)
    for path in ("/api/v1/validate", "/api/v1/submissions"):
        r = c.post(path, _file(big))
        assert r.status_code == 413 and r.json()["error"] == "too_large"
    browser = portal_env.browser("z1", csrf=False)
    assert browser.post("/zone", {"action": "check", **_file(big)}).status_code == 413
    assert not any(portal_env.inbox.rglob("*"))


@pytest.mark.parametrize("name", ["../../x.csv", "..\\..\\x.csv", "a\x00b.csv", "line\nbreak.csv", "/etc/passwd.csv",
                                  "<script>alert(1)</script>.csv"])
def test_hostile_uploaded_names_never_become_paths(portal_env, tmp_path, name):
    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    data = good_file(firms=(str(len(name)), "家"))
    r = c.post("/api/v1/submissions", _file(data, name))
    assert r.status_code == 201, r.content
    sha = hashlib.sha256(data).hexdigest()
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert [p.relative_to(portal_env.inbox).as_posix() for p in written] == [f"2025/Z1_{sha[:12]}.csv"]


def test_the_audit_log_refuses_update_and_delete(portal_env):
    from portal.audit import record
    from portal.models import AppendOnlyError, AuditEntry

    entry = record("check", username="z1", role="zone", address="127.0.0.1", sha256="a" * 64)
    entry.action = "approve"
    with pytest.raises(AppendOnlyError):
        entry.save()
    with pytest.raises(AppendOnlyError):
        entry.delete()
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.filter(pk=entry.pk).update(action="approve")
    with pytest.raises(AppendOnlyError):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "check"


def test_the_audit_log_is_complete(portal_env):
    """Every action of §6.4 leaves an entry: who, role, what, when, from where, the file's SHA-256."""
    from django.test import Client

    from portal.accounts import lock, unlock
    from portal.models import AuditEntry

    p = portal_env
    zone = p.api(p.account("z1", "zone", zone="Z1"))
    prov = p.api(p.account("js", "province", province="江苏"))
    rev = p.api(p.account("rev", "reviewer"))
    Client().post("/login", {"username": "z1", "password": "wrong"})
    p.browser("z1")
    zone.post("/api/v1/validate", _file(good_file()))
    sha = zone.post("/api/v1/submissions", _file(good_file())).json()["sha256"]
    prov.post(f"/api/v1/submissions/{sha}/approve")
    qid = rev.post("/api/v1/queries", json.dumps({"data_year": 2025, "zone_code": "Z1", "measure_code": "firms",
                                                  "question": "?"}), content_type="application/json").json()["id"]
    zone.post(f"/api/v1/queries/{qid}/answers", json.dumps({"text": "ok"}), content_type="application/json")
    rev.post(f"/api/v1/queries/{qid}/close")
    lock("z1")
    unlock("z1")
    actions = set(AuditEntry.objects.values_list("action", flat=True))
    assert {"account_add", "account_token", "login_failed", "login", "check", "submit", "approve", "query", "answer",
            "close", "account_lock", "account_unlock"} <= actions
    submit = AuditEntry.objects.get(action="submit")
    assert (submit.username, submit.role, submit.sha256) == ("z1", "zone", sha) and submit.address == "127.0.0.1"
    assert AuditEntry.objects.get(action="approve").username == "js"


def test_binding_beyond_loopback_needs_the_tls_proxy_setting(portal_base):
    import dataclasses

    from etdz.settings import ConfigError
    from portal.server import check_host

    check_host(portal_base, "127.0.0.1")
    with pytest.raises(ConfigError, match="reverse proxy with TLS"):
        check_host(portal_base, "0.0.0.0")
    check_host(dataclasses.replace(portal_base, portal_behind_tls_proxy=True), "0.0.0.0")


def test_behind_the_proxy_cookies_are_secure(portal_base):
    import dataclasses

    from portal.config import django_settings

    s = django_settings(dataclasses.replace(portal_base, portal_behind_tls_proxy=True))
    assert s["SESSION_COOKIE_SECURE"] and s["CSRF_COOKIE_SECURE"]
    assert s["SECURE_PROXY_SSL_HEADER"] == ("HTTP_X_FORWARDED_PROTO", "https")
    assert not django_settings(portal_base)["SESSION_COOKIE_SECURE"]


def test_a_foreign_host_header_is_refused(portal_env):
    from django.test import Client

    assert Client(HTTP_HOST="portal.evil.example").get("/login").status_code == 400
    assert Client(HTTP_HOST="127.0.0.1:8000").get("/login").status_code == 200


def test_removing_an_account_with_records_keeps_them(portal_env):
    """Who did what stays true: an account that submitted is locked for good instead of deleted."""
    from django.contrib.auth import get_user_model

    from portal.accounts import remove
    from portal.models import ApiToken, Submission

    c = portal_env.api(portal_env.account("z1", "zone", zone="Z1"))
    assert c.post("/api/v1/submissions", _file(good_file())).status_code == 201
    remove("z1")
    user = get_user_model().objects.get(username="z1")
    assert not user.is_active and not user.has_usable_password() and not ApiToken.objects.exists()
    assert Submission.objects.get().submitted_by == user
    assert c.get("/api/v1/me").status_code == 401
    portal_env.account("idle", "reviewer")
    remove("idle")
    assert not get_user_model().objects.filter(username="idle").exists()
