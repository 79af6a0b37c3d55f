"""Real servers for the operations tests: PostgreSQL, an S3-compatible server (moto), the golden run.

Every server listens on 127.0.0.1 on a free port, lives in a temporary folder and is stopped in the
fixture's teardown. A test that needs a binary which is not installed (Debian's ``postgresql``,
``chromium``) skips with the reason — unless ``ETDZ_REQUIRE_SERVERS`` is set (``.ci/run`` sets it),
then it fails: CI must never pass by skipping.
"""

from __future__ import annotations

import glob
import json
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pyarrow.dataset as pads
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
YEARS = ("2020", "2021")
REPO = Path(__file__).resolve().parents[2]

# Dummy credentials and no instance-metadata lookups: the AWS SDK must never look beyond loopback.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "etdz-test",
    "AWS_SECRET_ACCESS_KEY": "etdz-test-secret",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
}


# ----------------------------------------------------------------------------- helpers


def require(condition: bool, reason: str) -> None:
    """Skip with ``reason`` when ``condition`` is false — or fail when ETDZ_REQUIRE_SERVERS is set."""
    if condition:
        return
    if os.environ.get("ETDZ_REQUIRE_SERVERS", "").strip() not in ("", "0", "false", "no"):
        pytest.fail(f"{reason} (ETDZ_REQUIRE_SERVERS is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None, what: str = "server") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on 127.0.0.1:{port}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop_group(proc: subprocess.Popen, timeout: float = 10) -> None:
    """End a process started with ``start_new_session=True`` and everything it started, by group (the rule
    `etdz ui` stops its own processes by)."""
    from pipelines.cli import stop_process_group

    stop_process_group(proc, timeout)


def free_port_pair() -> int:
    """A free port P whose next port is free too (`etdz ui` serves the UI on P and the reports on P + 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two consecutive free ports on 127.0.0.1")


# The UI port of this test session: runs build their report links from it, the UI tests start `etdz ui` on it.
UI_PORT = free_port_pair()


def golden_env(root: Path, **extra: str) -> dict[str, str]:
    """The environment of an `etdz run` of the golden example with everything under ``root``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETDZ_", "AWS_", "DAGSTER_"))}
    env.update({
        "ETDZ_HOME": str(root),
        "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"),
        "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
        "ETDZ_INBOX": str(GOLDEN / "inbox"),
        "ETDZ_WAREHOUSE": str(root / "warehouse"),
        "ETDZ_REPORTS": str(root / "reports"),
        "DAGSTER_HOME": str(root / "dagster_home"),
        "ETDZ_UI_PORT": str(UI_PORT),
    })
    env.update(extra)
    return env


def run_golden(root: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`etdz run --from 2020 --to 2021` in a subprocess; asserts it succeeded."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--from", YEARS[0], "--to", YEARS[-1]],
                          env=env, cwd=root, capture_output=True, text=True, timeout=600)
    proc.seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
    assert proc.returncode == 0, f"etdz run failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
    return proc


def read_dataset(root: str, name: str, filesystem=None) -> pd.DataFrame:
    """A whole Hive-partitioned dataset as one frame, in a stable row order."""
    ds = pads.dataset(f"{root.rstrip('/')}/{name}", filesystem=filesystem, format="parquet", partitioning="hive",
                      ignore_prefixes=["_", "."])
    df = ds.to_table().to_pandas()
    keys = [c for c in ("data_year", "zone_code", "indicator_code", "category_code") if c in df.columns]
    return df.sort_values(keys, kind="stable").reset_index(drop=True)


def network_audit_dir(folder: Path) -> Path:
    """A ``sitecustomize`` that logs every socket connection / name lookup of a Python process.

    Put the returned folder first on PYTHONPATH and set ETDZ_NETLOG to a file: each ``socket.connect``
    and ``socket.getaddrinfo`` (audit events, any thread) becomes one JSON line there.
    """
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "sitecustomize.py").write_text(
        "import json, os, sys\n"
        "_log = os.environ.get('ETDZ_NETLOG')\n"
        "def _hook(event, args):\n"
        "    if event not in ('socket.connect', 'socket.getaddrinfo') or not _log:\n"
        "        return\n"
        "    where = args[1] if event == 'socket.connect' else [args[0], args[1]]\n"
        "    with open(_log, 'a', encoding='utf-8') as fh:\n"
        "        fh.write(json.dumps({'event': event, 'address': repr(where)}) + '\\n')\n"
        "sys.addaudithook(_hook)\n",
        encoding="utf-8")
    return folder


def read_netlog(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


LOOPBACK = ("127.0.0.1", "'localhost'", "::1")


def non_loopback(entries: list[dict]) -> list[dict]:
    """Log entries that reach (or look up) anything but loopback or a Unix socket."""
    bad = []
    for e in entries:
        addr = e["address"]
        if e["event"] == "socket.connect" and not addr.startswith(("(", "[")):
            continue  # a Unix-domain socket path
        if not any(token in addr for token in LOOPBACK):
            bad.append(e)
    return bad


# ----------------------------------------------------------------------------- the baseline run


@pytest.fixture(scope="session")
def baseline_run(tmp_path_factory):
    """The golden example through `etdz run` with the defaults: local warehouse, SQLite instance.

    Its DAGSTER_HOME holds deploy/dagster.sqlite.yaml (what `etdz` writes, plus the UI's sign-up dialog off).
    """
    root = tmp_path_factory.mktemp("baseline")
    (root / "dagster_home").mkdir()
    shutil.copy(REPO / "deploy" / "dagster.sqlite.yaml", root / "dagster_home" / "dagster.yaml")
    proc = run_golden(root, golden_env(root))
    return root, proc


# ----------------------------------------------------------------------------- PostgreSQL


#: where Debian keeps system tools (runuser is in /usr/sbin), which a user's PATH often leaves out
SYSTEM_BIN = ("/usr/sbin", "/sbin", "/usr/bin", "/bin")


def system_tool(name: str) -> str | None:
    """The path of a system program: on PATH, else in :data:`SYSTEM_BIN` (the README's own PATH has no sbin)."""
    return shutil.which(name) or shutil.which(name, path=os.pathsep.join(SYSTEM_BIN))


def postgres_bindir() -> Path | None:
    """Debian's PostgreSQL binaries (newest major version), or whatever initdb is on PATH."""
    def major(p: str) -> float:
        try:
            return float(Path(p).parent.name)
        except ValueError:
            return 0.0

    for cand in sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=major, reverse=True):
        if (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found and shutil.which("pg_ctl") else None


class Postgres:
    def __init__(self, bindir: Path, folder: Path, port: int, user: str, password: str):
        self.bindir, self.folder, self.port, self.user, self.password = bindir, folder, port, user, password
        self.data = folder / "data"
        self.as_root = os.geteuid() == 0

    def _cmd(self, *args: str) -> list[str]:
        # initdb refuses to run as root: run the server tools as the postgres system user
        return ([system_tool("runuser") or "runuser", "-u", "postgres", "--"] if self.as_root else []) + list(args)

    def start(self) -> None:
        pw = self.folder / "pwfile"
        pw.write_text(self.password + "\n", encoding="utf-8")
        if self.as_root:
            uid, gid = pwd.getpwnam("postgres").pw_uid, pwd.getpwnam("postgres").pw_gid
            for p in (self.folder, pw):
                os.chown(p, uid, gid)
        os.chmod(pw, 0o600)
        subprocess.run(self._cmd(str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
                                 f"--pwfile={pw}", "--auth=scram-sha-256", "-E", "UTF8", "--no-locale", "--no-sync"),
                       check=True, capture_output=True, text=True, timeout=120)
        opts = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        subprocess.run(self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                                 "-o", opts, "-w", "-t", "60", "start"),
                       check=True, capture_output=True, text=True, timeout=90)

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"),
                           capture_output=True, text=True, timeout=60)

    def log(self) -> str:
        p = self.folder / "log"
        return p.read_text(encoding="utf-8", errors="replace") if p.exists() else ""

    def connect(self, dbname: str = "postgres"):
        import psycopg2

        return psycopg2.connect(host="127.0.0.1", port=self.port, user=self.user, password=self.password,
                                dbname=dbname, connect_timeout=10)

    def create_database(self, name: str) -> None:
        conn = self.connect()
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{name}"')
        finally:
            conn.close()


@pytest.fixture(scope="module")
def postgres_server():
    """A throw-away PostgreSQL on 127.0.0.1:<free port> (password auth), stopped and deleted afterwards."""
    bindir = postgres_bindir()
    require(bindir is not None, "PostgreSQL is not installed (Debian package `postgresql`: initdb/pg_ctl not found)")
    if os.geteuid() == 0:
        require(system_tool("runuser") is not None, f"running as root needs `runuser` (util-linux) to start "
                f"PostgreSQL; not found on PATH nor in {', '.join(SYSTEM_BIN)}")
        try:
            pwd.getpwnam("postgres")
        except KeyError:
            require(False, "running as root needs the `postgres` system user (Debian package `postgresql`)")
    # not under pytest's tmp folder: that one is private to root, and the server runs as `postgres`
    folder = Path(tempfile.mkdtemp(prefix="etdz-pg-"))
    server = Postgres(bindir, folder, free_port(), "etdz", "etdz-pg-secret")
    try:
        try:
            server.start()
        except subprocess.CalledProcessError as exc:
            raise RuntimeError(f"PostgreSQL did not start: {exc.stderr}\n{server.log()}") from exc
        yield server
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)


# ----------------------------------------------------------------------------- S3 (moto server mode)


class S3Server:
    def __init__(self, port: int, proc: subprocess.Popen, log: Path):
        self.port, self.proc, self.log = port, proc, log
        self.endpoint = f"http://127.0.0.1:{port}"

    def env(self) -> dict[str, str]:
        """What a process needs to talk to this server and nothing else."""
        return {**AWS_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=AWS_ENV["AWS_DEFAULT_REGION"],
                            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
                            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"])

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def filesystem(self):
        """A fresh s3fs filesystem on this server (no instance cache, so no stale listings)."""
        import s3fs

        return s3fs.S3FileSystem(key=AWS_ENV["AWS_ACCESS_KEY_ID"], secret=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
                                 endpoint_url=self.endpoint, skip_instance_cache=True,
                                 client_kwargs={"region_name": AWS_ENV["AWS_DEFAULT_REGION"]})


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory, monkeypatch_module):
    """moto's S3 server on 127.0.0.1:<free port>, in its own process group; this process points at it."""
    folder = tmp_path_factory.mktemp("moto")
    port = free_port()
    log = folder / "moto.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                stdout=fh, stderr=subprocess.STDOUT, env={**os.environ, **AWS_ENV},
                                start_new_session=True)
    server = S3Server(port, proc, log)
    try:
        wait_for_port(port, 60, proc, "moto server")
        for k, v in server.env().items():
            monkeypatch_module.setenv(k, v)
        yield server
    finally:
        stop_group(proc)


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
