"""One writer per data year: an advisory file lock, released by the OS even on SIGKILL.

`etdz run` holds the year's lock for the whole run; assets take it again (re-entrant
within a process) so runs launched from the UI, a schedule or a sensor are covered
too. For deployments whose run workers do not share a filesystem, the Dagster run
queue's tag concurrency limit on ``dagster/partition`` does the same (docs/operations.md).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from etdz.errors import storage_error
from etdz.locations import year_folder

_held: dict[str, int] = {}  # lock path → re-entrancy depth, for this process only


class LockTimeout(RuntimeError):
    pass


@contextlib.contextmanager
def year_lock(lock_dir: str | Path, data_year: int, timeout: float = 3600.0) -> Iterator[Path]:
    """Hold the exclusive lock of ``data_year`` (waiting up to ``timeout`` seconds for another writer)."""
    lock_dir = Path(lock_dir)
    path = lock_dir / f"{year_folder(data_year)}.lock"
    key = str(path)
    if _held.get(key):
        _held[key] += 1
        try:
            yield path
        finally:
            _held[key] -= 1
        return
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise storage_error(exc, path, "opening the write lock") from exc
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(f"data year {data_year} is being written by another run (lock {path}); "
                                      f"wait for it to finish or check for a stuck process") from None
                time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        _held[key] = 1
        try:
            yield path
        finally:
            _held.pop(key, None)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
