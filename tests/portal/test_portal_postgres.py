"""The portal on a real PostgreSQL by URL (``portal_database = postgresql://…``, docs/contract/06-portal.md §6.4):
its real server (`etdz portal`) migrates the database, zones submit and a province approves through the JSON API,
queries are opened, answered and closed; the rows are read back from PostgreSQL itself, and the Dagster side
(``review_queries``) reads the same queries from there. The server is the operations tests' fixture (Debian's
PostgreSQL on 127.0.0.1, password authentication).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.fixtures.submissions import csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry
from tests.ops.conftest import postgres_server  # noqa: F401  (the fixture, used by name)
from tests.portal.servers import add_account, clean_env, open_year, portal_server

pytestmark = [pytest.mark.server, pytest.mark.slow]

DB = "etdz_portal"

READ_QUERIES = """
import json, sys
from assets.queries import load_year_queries, load_year_version
from etdz.settings import Settings
s = Settings.from_env()
y = int(sys.argv[1])
print(json.dumps({"queries": load_year_queries(s, y), "version": load_year_version(s, y)}))
"""


@pytest.fixture(scope="module")
def pg_portal(postgres_server, tmp_path_factory):  # noqa: F811  (the imported fixture)
    postgres_server.create_database(DB)
    root = tmp_path_factory.mktemp("portal_pg")
    write_tiny_catalogue(root / "methodology")
    write_tiny_registry(root)
    url = f"postgresql://{postgres_server.user}:{postgres_server.password}@127.0.0.1:{postgres_server.port}/{DB}"
    env = clean_env(ETDZ_HOME=str(root / "home"), ETDZ_METHODOLOGY=str(root / "methodology"),
                    ETDZ_REGISTRY=str(root / "registry.csv"), ETDZ_INBOX=str(root / "inbox"),
                    ETDZ_WAREHOUSE=str(root / "warehouse"), ETDZ_REPORTS=str(root / "reports"),
                    DAGSTER_HOME=str(root / "dagster_home"), ETDZ_PORTAL_DATABASE=url,
                    ETDZ_APPROVAL_REQUIRED="true")
    tokens = {"zone": add_account(env, root, "zone-z1", "zone", zone="Z1"),
              "other": add_account(env, root, "zone-z2", "zone", zone="Z2"),
              "province": add_account(env, root, "prov-js", "province", province="江苏"),
              "reviewer": add_account(env, root, "reviewer", "reviewer")}
    with portal_server(env, root) as base:
        yield {"base": base, "env": env, "root": root, "tokens": tokens, "db": postgres_server}


def call(site, who: str, method: str, path: str, **kw) -> requests.Response:
    return requests.request(method, site["base"] + path, timeout=60,
                            headers={"Authorization": f"Bearer {site['tokens'][who]}"}, **kw)


def rows(site, sql: str, *args) -> list[tuple]:
    conn = site["db"].connect(DB)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, args)
            return cur.fetchall()
    finally:
        conn.close()


def test_the_portal_works_on_postgresql_and_the_pipeline_reads_its_queries(pg_portal):
    site, year = pg_portal, open_year()
    assert call(site, "zone", "GET", "/api/v1/me").json()["zone_code"] == "Z1"
    # the accounts (argon2id hashes) and the tokens (SHA-256 digests) are in PostgreSQL, not in a SQLite file
    hashes = rows(site, "SELECT password FROM auth_user ORDER BY username")
    assert len(hashes) == 4 and all(h.startswith("argon2$argon2id$") for (h,) in hashes)
    assert not (Path(site["env"]["ETDZ_HOME"]) / "portal" / "portal.sqlite3").exists()

    good = csv_bytes(rows_for("Z1", year))
    r = call(site, "zone", "POST", "/api/v1/validate", files={"file": ("z1.csv", good)})
    assert r.status_code == 200 and r.json()["ok"] is True, r.text
    r = call(site, "zone", "POST", "/api/v1/submissions", files={"file": ("z1.csv", good)})
    assert r.status_code == 201, r.text
    sha = r.json()["sha256"]
    assert r.json()["status"] == "awaiting_approval"
    inbox_year = Path(site["env"]["ETDZ_INBOX"]) / str(year)
    assert not inbox_year.exists() or not any(inbox_year.iterdir())
    assert call(site, "other", "GET", f"/api/v1/submissions/{sha}").status_code == 404  # another zone's: 404
    r = call(site, "province", "POST", f"/api/v1/submissions/{sha}/approve")
    assert r.status_code == 200, r.text
    assert [p.name for p in inbox_year.iterdir()] == [f"Z1_{sha[:12]}.csv"]
    [(state, approved)] = rows(site, "SELECT state, approved_at IS NOT NULL FROM portal_submission WHERE sha256 = %s",
                               sha)
    assert approved, state

    # a query through its rounds, each change a new version the Dagster side reads from PostgreSQL
    def dagster_side():
        p = subprocess.run([sys.executable, "-c", READ_QUERIES, str(year)], env=site["env"], cwd=site["root"],
                           capture_output=True, text=True, timeout=300)
        assert p.returncode == 0, p.stderr
        return json.loads(p.stdout.strip().splitlines()[-1])

    empty = dagster_side()
    assert empty["queries"] == []
    r = call(site, "reviewer", "POST", "/api/v1/queries", json={"data_year": year, "zone_code": "Z1",
                                                                "measure_code": "output", "question": "请核实 / check"})
    assert r.status_code == 201, r.text
    qid = r.json()["id"]
    opened = dagster_side()
    assert [q["state"] for q in opened["queries"]] == ["open"] and opened["version"] != empty["version"]
    assert call(site, "zone", "POST", f"/api/v1/queries/{qid}/answers", json={"text": "已核实"}).status_code == 200
    assert call(site, "reviewer", "POST", f"/api/v1/queries/{qid}/close").status_code == 200
    closed = dagster_side()
    assert [q["state"] for q in closed["queries"]] == ["closed"]
    assert [a["text"] for a in closed["queries"][0]["answers"]] == ["已核实"]
    assert len({empty["version"], opened["version"], closed["version"]}) == 3
    assert rows(site, "SELECT state FROM portal_query WHERE id = %s", qid) == [("closed",)]

    # the audit log: every action, with the file's digest where there is one
    actions = [a for (a,) in rows(site, "SELECT action FROM portal_auditentry ORDER BY id")]
    for action in ("check", "submit", "approve", "query", "answer", "close"):
        assert action in actions, (action, actions)
    assert rows(site, "SELECT username, sha256 FROM portal_auditentry WHERE action = 'submit'") == [("zone-z1", sha)]
