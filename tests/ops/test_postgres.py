"""PostgreSQL instance storage: the golden example with deploy/dagster.postgres.yaml against a real server.

The server is Debian's PostgreSQL, started by the fixture on 127.0.0.1 with password authentication;
the DAGSTER_HOME holds exactly the documented deploy/dagster.postgres.yaml, every connection setting
from the environment.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest
import yaml

from tests.ops.conftest import REPO, golden_env, read_dataset, run_golden

pytestmark = [pytest.mark.server, pytest.mark.slow]

DEPLOY_YAML = REPO / "deploy" / "dagster.postgres.yaml"


def test_the_documented_dagster_yaml_takes_everything_from_the_environment():
    cfg = yaml.safe_load(DEPLOY_YAML.read_text(encoding="utf-8"))
    db = cfg["storage"]["postgres"]["postgres_db"]
    assert set(db) == {"hostname", "port", "username", "password", "db_name", "scheme"}
    settings = {k: v for k, v in db.items() if k != "scheme"}
    assert all(set(v) == {"env"} for v in settings.values()), "no literal connection settings (the password!)"
    assert db["scheme"] == "postgresql+psycopg2"  # SQLAlchemy 2.1 would pick psycopg 3, which is not installed
    assert cfg["telemetry"] == {"enabled": False}
    assert cfg["nux"] == {"enabled": False}


@pytest.fixture(scope="module")
def postgres_run(postgres_server, tmp_path_factory):
    db = "dagster_etdz"
    postgres_server.create_database(db)
    root = tmp_path_factory.mktemp("pg")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY_YAML, home / "dagster.yaml")
    pg_env = {"DAGSTER_PG_HOST": "127.0.0.1", "DAGSTER_PG_PORT": str(postgres_server.port),
              "DAGSTER_PG_USERNAME": postgres_server.user, "DAGSTER_PG_PASSWORD": postgres_server.password,
              "DAGSTER_PG_DB": db}
    proc = run_golden(root, golden_env(root, **pg_env))
    return root, home, pg_env, db, proc


@pytest.fixture()
def pg_instance(postgres_run, monkeypatch):
    from dagster import DagsterInstance

    root, home, pg_env, _, _ = postgres_run
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    for k, v in pg_env.items():
        monkeypatch.setenv(k, v)
    with DagsterInstance.get() as instance:
        yield instance


def test_runs_are_recorded_in_postgresql(pg_instance, postgres_run):
    from dagster import AssetKey, DagsterRunStatus, RunsFilter
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage

    assert isinstance(pg_instance.run_storage, PostgresRunStorage)
    assert isinstance(pg_instance.event_log_storage, PostgresEventLogStorage)
    records = pg_instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.SUCCESS]))
    assert sorted(r.dagster_run.tags.get("dagster/partition") for r in records) == ["2020", "2021"]
    assert all(r.dagster_run.tags.get("etdz/trigger") == "cli" for r in records)
    # the materializations and the asset-check results are in PostgreSQL's event log too
    mats = pg_instance.fetch_materializations(AssetKey("rankings"), limit=10).records
    assert sorted(m.partition_key for m in mats) == ["2020", "2021"]

    # ...and nowhere else: no SQLite run storage was created in DAGSTER_HOME
    _, home, _, _, _ = postgres_run
    assert not list(home.rglob("*.db")), list(home.rglob("*.db"))


def test_the_rows_are_really_in_the_database(postgres_server, postgres_run):
    _, _, _, db, _ = postgres_run
    conn = postgres_server.connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT status, count(*) FROM runs GROUP BY status")
            assert dict(cur.fetchall()) == {"SUCCESS": 2}
            cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION'")
            assert cur.fetchone()[0] > 0
            cur.execute("SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_CHECK_EVALUATION'")
            assert cur.fetchone()[0] > 0
    finally:
        conn.close()


@pytest.mark.parametrize("name", ["rankings", "indicator_scores", "category_scores", "downgrade_watchlist",
                                  "upgrade_candidates"])
def test_results_equal_those_of_the_default_sqlite_instance(postgres_run, baseline_run, name):
    pg_root = postgres_run[0]
    base_root = baseline_run[0]
    got = read_dataset(str(pg_root / "warehouse"), name)
    want = read_dataset(str(base_root / "warehouse"), name)
    pd.testing.assert_frame_equal(got, want)


def test_the_server_checks_passwords(postgres_server):
    """So the successful runs above prove DAGSTER_PG_PASSWORD reached the server."""
    import psycopg2

    with pytest.raises(psycopg2.OperationalError, match="password authentication failed"):
        psycopg2.connect(host="127.0.0.1", port=postgres_server.port, user=postgres_server.user,
                         password="not-the-password", dbname="postgres", connect_timeout=10)
