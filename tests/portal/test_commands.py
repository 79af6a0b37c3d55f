"""The portal's commands and configuration (06 §6.5, §6.4): ``etdz accounts …``, ``etdz portal`` on waitress,
the demo's accounts, the settings and the database URL."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from etdz.settings import ConfigError, Settings
from pipelines.cli import stop_process_group

ETDZ = [sys.executable, "-c", "import sys; from pipelines.cli import main; sys.exit(main())"]
ROOT = Path(__file__).resolve().parents[2]


def _etdz(home: Path, *args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*ETDZ, *args], input=stdin, capture_output=True, text=True, cwd=ROOT, timeout=300,
                          env={**os.environ, "ETDZ_HOME": str(home), **(env or {})})


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "portal" / "portal.sqlite3")


@pytest.mark.slow  # subprocesses of `etdz`
def test_accounts_commands(tmp_path):
    home = tmp_path / "home"
    r = _etdz(home, "accounts", "add", "suzhou", "--role", "zone", "--zone", "jiangsu-suzhou-industrial-park",
              stdin="a-long-enough-password\n")
    assert r.returncode == 0, r.stderr
    assert "role zone zone jiangsu-suzhou-industrial-park" in r.stdout
    row = _db(home).execute("select u.password, a.province from auth_user u join portal_account a "
                            "on a.user_id = u.id where u.username = 'suzhou'").fetchone()
    assert row[0].startswith("argon2$argon2id$") and row[1] == "江苏省"  # the province from the registry
    r = _etdz(home, "accounts", "add", "x", "--role", "zone", "--zone", "no-such-zone", stdin="a-long-enough-pw\n")
    assert r.returncode == 2 and "not in the registry" in r.stderr
    r = _etdz(home, "accounts", "add", "p", "--role", "province", "--province", "江苏", stdin="a-long-enough-pw\n")
    assert r.returncode == 2 and "江苏省" in r.stderr  # the registry's spelling is named
    r = _etdz(home, "accounts", "add", "weak", "--role", "reviewer", stdin="123\n")
    assert r.returncode == 2 and "password refused" in r.stderr
    r = _etdz(home, "accounts", "token", "suzhou")
    assert r.returncode == 0
    token = r.stdout.strip().splitlines()[-1]
    assert len(token) >= 43 and " " not in token
    import hashlib

    digests = [d for (d,) in _db(home).execute("select digest from portal_apitoken")]
    assert digests == [hashlib.sha256(token.encode()).hexdigest()]
    assert _etdz(home, "accounts", "lock", "suzhou").returncode == 0
    assert _db(home).execute("select is_active from auth_user where username='suzhou'").fetchone() == (0,)
    assert _etdz(home, "accounts", "unlock", "suzhou").returncode == 0
    assert _db(home).execute("select is_active from auth_user where username='suzhou'").fetchone() == (1,)
    assert _etdz(home, "accounts", "remove", "suzhou").returncode == 0
    assert _db(home).execute("select count(*) from auth_user").fetchone() == (0,)
    assert _etdz(home, "accounts", "remove", "suzhou").returncode == 2
    actions = [a for (a,) in _db(home).execute("select action from portal_auditentry order by id")]
    assert actions[:2] == ["account_add", "account_token"] and "account_remove" in actions
    # the secret key: generated once, private
    key = home / "portal" / "secret_key"
    assert key.stat().st_mode & 0o777 == 0o600


@pytest.mark.slow  # subprocesses of `etdz`
def test_the_documented_sqlite_backup_and_restore(tmp_path):
    """docs/portal.md "Backups": SQLite's online backup of the portal database is whole, and a restored copy put in
    place of ``portal.sqlite3`` (its -wal/-shm removed) serves the accounts it held."""
    home = tmp_path / "home"
    r = _etdz(home, "accounts", "add", "kept", "--role", "reviewer", stdin="a-long-enough-password\n")
    assert r.returncode == 0, r.stderr
    db = home / "portal" / "portal.sqlite3"
    copy = tmp_path / "backup" / "portal.sqlite3"
    copy.parent.mkdir()
    src, dst = sqlite3.connect(db), sqlite3.connect(copy)
    src.backup(dst)  # the docs' fallback without the sqlite3 tool
    src.close()
    assert dst.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    dst.close()
    assert _etdz(home, "accounts", "remove", "kept").returncode == 0  # the loss the backup must undo
    for leftover in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        leftover.unlink(missing_ok=True)
    copy.replace(db)
    r = _etdz(home, "accounts", "token", "kept")
    assert r.returncode == 0, r.stderr  # the restored database knows the account again
    assert _db(home).execute("select count(*) from auth_user where username='kept'").fetchone() == (1,)


@pytest.mark.slow  # subprocesses of `etdz`
def test_other_commands_do_not_import_django():
    code = ("import sys; from pipelines.cli import build_full_parser; build_full_parser(); "
            "print('django' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert out.stdout.strip() == "False", out.stderr


@pytest.mark.slow  # subprocesses of `etdz`
def test_portal_refuses_to_bind_beyond_loopback(tmp_path):
    r = _etdz(tmp_path, "portal", "--host", "0.0.0.0", "--port", "8999")
    assert r.returncode == 2 and "reverse proxy with TLS" in r.stderr and "portal_behind_tls_proxy" in r.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
@pytest.mark.server
def test_etdz_portal_serves_with_waitress(tmp_path):
    home = tmp_path / "home"
    assert _etdz(home, "accounts", "add", "rev", "--role", "reviewer", stdin="a-long-enough-password\n").returncode == 0
    token = _etdz(home, "accounts", "token", "rev").stdout.strip().splitlines()[-1]
    port = _free_port()
    proc = subprocess.Popen([*ETDZ, "portal", "--port", str(port)], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "ETDZ_HOME": str(home)},
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                page = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5)
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "the portal did not start"
                time.sleep(0.5)
        assert page.status == 200 and page.headers.get("Server") == "etdz-portal"  # waitress, named
        assert 'name="csrfmiddlewaretoken"' in page.read().decode()
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert json.loads(urllib.request.urlopen(req, timeout=10).read()) == {
            "username": "rev", "role": "reviewer", "zone_code": None, "province": None}
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/me", timeout=10)
        assert err.value.code == 401
    finally:
        # SIGTERM, then SIGKILL after 30 s: a portal slow to die on a loaded machine (a write stalled on the
        # disk) must neither hang the suite nor hide the body's own failure behind a TimeoutExpired
        stop_process_group(proc, timeout=30)


@pytest.mark.slow  # subprocesses of `etdz`
def test_demo_accounts_sign_in(tmp_path):
    """The demo's hook: one zone, its province and a reviewer, with passwords that work."""
    code = """
import os, portal
from etdz.settings import Settings
from portal.demo import demo_accounts_text
s = Settings.from_env()
text = demo_accounts_text(s)
print(text)
from django.contrib.auth import authenticate
for line in text.splitlines()[1:]:
    user, _, password = line.split()[:3]
    assert authenticate(username=user, password=password) is not None, user
print("ALL SIGNED IN")
"""
    again = None
    for _ in range(2):  # a second demo run resets the same accounts
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=300,
                             env={**os.environ, "ETDZ_HOME": str(tmp_path)})
        assert out.returncode == 0 and "ALL SIGNED IN" in out.stdout, out.stderr
        again = out.stdout
    assert "demo-zone" in again and "demo-province" in again and "demo-reviewer" in again
    assert "etdz portal" in again and "/login" in again


def test_portal_settings_from_the_configuration(tmp_path):
    s = Settings.from_env({"ETDZ_HOME": str(tmp_path), "ETDZ_APPROVAL_REQUIRED": "true", "ETDZ_PORTAL_PORT": "8100",
                           "ETDZ_PORTAL_LOCKOUT_SECONDS": "60", "ETDZ_PORTAL_BEHIND_TLS_PROXY": "yes"})
    assert (s.approval_required, s.portal_port, s.portal_lockout_seconds, s.portal_behind_tls_proxy) == \
        (True, 8100, 60, True)
    d = Settings.from_env({"ETDZ_HOME": str(tmp_path)})
    assert (d.approval_required, d.portal_host, d.portal_port, d.portal_lockout_seconds, d.portal_database) == \
        (False, "127.0.0.1", 8000, 900, "")
    (tmp_path / "etdz.toml").write_text("approval_required = true\nportal_port = 8200\n", encoding="utf-8")
    f = Settings.from_env({"ETDZ_HOME": str(tmp_path)})
    assert f.approval_required is True and f.portal_port == 8200
    with pytest.raises(ConfigError, match="ETDZ_APPROVAL_REQUIRED.*true or false"):
        Settings.from_env({"ETDZ_HOME": str(tmp_path), "ETDZ_APPROVAL_REQUIRED": "maybe"})


def test_the_portal_database_by_url(tmp_path):
    from portal.config import database

    base = Settings.from_env({"ETDZ_HOME": str(tmp_path)})
    assert database(base)["NAME"] == str(tmp_path / "portal" / "portal.sqlite3")
    pg = database(dataclasses.replace(base, portal_database="postgresql://etdz:p%40ss@db.local:5433/portal"))
    assert (pg["ENGINE"], pg["NAME"], pg["USER"], pg["PASSWORD"], pg["HOST"], pg["PORT"]) == \
        ("django.db.backends.postgresql", "portal", "etdz", "p@ss", "db.local", "5433")
    lite = database(dataclasses.replace(base, portal_database=f"sqlite:///{tmp_path}/other.db"))
    assert lite["NAME"] == f"{tmp_path}/other.db"
    rel = database(dataclasses.replace(base, portal_database="sqlite:///db/p.sqlite3"))
    assert rel["NAME"] == str(tmp_path / "db" / "p.sqlite3")
    with pytest.raises(ConfigError, match="mysql"):
        database(dataclasses.replace(base, portal_database="mysql://x@y/z"))
