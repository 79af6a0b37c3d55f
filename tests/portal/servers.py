"""The portal as its real server for the browser, PostgreSQL and load tests: `etdz portal` (waitress) in a process
group of its own on a free loopback port, its accounts made in a process configured from the same environment.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

from tests.ops.conftest import free_port, stop_group, wait_for_port

PASSWORD = "server-test-passphrase"


def open_year() -> int:
    """The year the portal takes files for: the calendar year just closed in Beijing (portal.submitting.open_year)."""
    return dt.datetime.now(ZoneInfo("Asia/Shanghai")).year - 1


def clean_env(**values: str) -> dict[str, str]:
    """This process's environment without any ETDZ_/DAGSTER_ variable, plus ``values``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ETDZ_", "DAGSTER_"))}
    env.update(values)
    return env


# The portal's own functions (portal.accounts.add_account / new_token, what `etdz accounts add` and `etdz accounts
# token` call), in a process configured from the server's environment: one JSON line per account on standard input
# ({username, role, zone, province, password}); prints one token per line.
_ADD_ACCOUNTS = """
import json, sys
import portal
from etdz.settings import Settings
portal.setup_django(Settings.from_env())
portal.migrate()
from portal.accounts import add_account, new_token
for line in sys.stdin:
    a = json.loads(line)
    add_account(a["username"], a["role"], a["password"], zone_code=a["zone"], province=a["province"])
    print(new_token(a["username"]), flush=True)
"""


def add_accounts(env: dict[str, str], cwd: Path, accounts: list[dict]) -> list[str]:
    """Create accounts ``[{username, role, zone?, province?, password?}]`` on the portal database ``env`` names, in
    one process; returns their API tokens in order."""
    lines = [json.dumps({"zone": "", "province": "", "password": PASSWORD, **a}, ensure_ascii=False) for a in accounts]
    p = subprocess.run([sys.executable, "-c", _ADD_ACCOUNTS], input="\n".join(lines) + "\n", env=env, cwd=cwd,
                       capture_output=True, text=True, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    tokens = p.stdout.split()
    assert len(tokens) == len(accounts), p.stdout + p.stderr
    return tokens


def etdz(env: dict[str, str], cwd: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """``etdz <args>`` (the console script's module) in a process of its own; asserts it succeeded."""
    p = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], input=stdin, env=env, cwd=cwd,
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, f"etdz {' '.join(args)} exited with {p.returncode}:\n{p.stdout}\n{p.stderr}"
    return p


def add_account(env: dict[str, str], cwd: Path, username: str, role: str, zone: str = "", province: str = "",
                password: str = PASSWORD) -> str:
    """One account through the real commands: `etdz accounts add` (the password on standard input), then
    `etdz accounts token` (the token alone on the last line); returns the token."""
    where = ["--zone", zone] if zone else ["--province", province] if province else []
    etdz(env, cwd, "accounts", "add", username, "--role", role, *where, stdin=password + "\n")
    return etdz(env, cwd, "accounts", "token", username).stdout.strip().splitlines()[-1]


class Server(str):
    """The base URL of a running `etdz portal` (a str), with its process id (``pid``) and log (``log``)."""

    pid: int
    log: Path

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far (/proc/<pid>/stat), every thread included."""
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def portal_server(env: dict[str, str], cwd: Path, timeout: float = 180) -> Iterator[Server]:
    """`etdz portal --port <free>` until the block ends; yields its base URL. Its output goes to cwd/portal.log."""
    port = free_port()
    log = Path(cwd) / "portal.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "portal", "--port", str(port)], env=env,
                                cwd=cwd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        try:
            wait_for_port(port, timeout, proc, "etdz portal")
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"{exc}\n{log.read_text(encoding='utf-8', errors='replace')[-4000:]}") from None
        server = Server(f"http://127.0.0.1:{port}")
        server.pid, server.log = proc.pid, log
        yield server
    finally:
        stop_group(proc)
