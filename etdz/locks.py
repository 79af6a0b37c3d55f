"""One writer per data year: an advisory file lock, released by the OS even on SIGKILL.

`etdz run` holds the year's lock for the whole run; assets take it again (re-entrant
within a process) so runs launched from the UI, a schedule or a sensor are covered
too. For deployments whose run workers do not share a filesystem, the Dagster run
queue's tag concurrency limit on ``dagster/partition`` does the same (docs/operations.md).

Who holds a lock is written into the lock file (host, pid, command, since when), so whoever meets a held
lock is told who to wait for. A command someone typed (``etdz run``, ``publish``, ``reopen``) waits only
:data:`COMMAND_WAIT` seconds and then refuses (exit 2) naming the holder; a step of a run launched by the
daemon or the UI waits as long as it takes (it never fails for a lock: the run queue already keeps two runs
of a year apart, and a failed run is not retried by automation).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from etdz.errors import EXIT_REFUSED, EtdzError, storage_error
from etdz.escape import plain_text
from etdz.locations import year_folder

#: how long a command typed by someone waits for a year held by another process before it refuses (exit 2)
COMMAND_WAIT = 3.0

_held: dict[str, int] = {}  # lock path → re-entrancy depth, for this process only
_COMMAND_CHARS = 300  # the command recorded in the lock file (a run's argv can be long)


class LockTimeout(EtdzError):
    """The year is held by another process (the message names it); exit code 2: nothing was written."""

    exit_code = EXIT_REFUSED


def lock_path(lock_dir: str | Path, data_year: int) -> Path:
    """The lock file of one data year."""
    return Path(lock_dir) / f"{year_folder(data_year)}.lock"


def _holder_record() -> bytes:
    command = " ".join([Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])
    record = {"host": socket.gethostname(), "pid": os.getpid(), "command": command[:_COMMAND_CHARS],
              "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    return (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")


def holder(lock_dir: str | Path, data_year: int) -> dict | None:
    """What the lock file of the year says about its holder (``host``, ``pid``, ``command``, ``since``), or None
    when it says nothing readable. Only meaningful while the lock is held: a released lock keeps its last
    holder's record."""
    try:
        text = lock_path(lock_dir, data_year).read_bytes()[:4096].decode("utf-8", "replace")
        record = json.loads(text)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def describe_holder(record: dict | None) -> str:
    """The holder in words, for a message (control characters of the recorded command escaped)."""
    if not record:
        return "another process (it has not recorded who it is yet)"
    return (f"process {record.get('pid', '?')} on host {plain_text(str(record.get('host', '?')))} "
            f"(command: {plain_text(str(record.get('command', '?')))}; since {record.get('since', '?')})")


@contextlib.contextmanager
def year_lock(lock_dir: str | Path, data_year: int, timeout: float | None = None) -> Iterator[Path]:
    """Hold the exclusive lock of ``data_year``.

    ``timeout``: seconds to wait for another holder before :class:`LockTimeout` (whose message names the holder
    and the lock file); None waits as long as it takes (a step of a run launched by the daemon); 0 does not
    wait. Re-entrant within a process. While held, the lock file records this process (:func:`holder`)."""
    path = lock_path(lock_dir, data_year)
    key = str(path)
    if _held.get(key):
        _held[key] += 1
        try:
            yield path
        finally:
            _held[key] -= 1
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
    except OSError as exc:
        raise storage_error(exc, path, "opening the write lock", exit_code=EXIT_REFUSED) from exc
    try:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if deadline is not None and time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"data year {data_year} is being written by {describe_holder(holder(lock_dir, data_year))}; "
                        f"nothing was written. Wait for it to finish, then run the command again (the lock {path} is "
                        f"released when that process ends, even if it is killed)") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _holder_record(), 0)
        _held[key] = 1
        try:
            yield path
        finally:
            _held.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
