"""One writer per data year, on every machine that writes the warehouse.

The lock lives beside the warehouse (``<warehouse>/_locks/data_year=<Y>.lock``), so every process that writes
the year meets it, whichever machine (pod) it runs on:

- a local warehouse: an advisory file lock (``flock``), released by the OS even on SIGKILL;
- an object store (``s3://``): a lock *object* created with a conditional write (``If-None-Match: *``: of two
  processes creating it, S3 lets exactly one succeed) and held by a lease — the holder renews it every
  :data:`LEASE_SECONDS` / 4 (``If-Match`` on its own ETag) and deletes it when done (``If-Match`` again, so
  it never deletes a successor's). A holder killed without a chance to delete it (SIGKILL, a pod evicted)
  leaves a lock whose lease runs out; the next process takes it over, again by a conditional write on the
  expired record's ETag, so of two taking over only one wins.

`etdz run` holds the year's lock for the whole run; assets take it again (re-entrant
within a process) so runs launched from the UI, a schedule or a sensor are covered
too, in whichever pod they run.

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
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import fsspec.asyn

from etdz.errors import EXIT_REFUSED, EtdzError, storage_error
from etdz.escape import plain_text
from etdz.locations import is_local, local_path, year_folder

#: how long a command typed by someone waits for a year held by another process before it refuses (exit 2)
COMMAND_WAIT = 3.0

#: how long an object-store lock stays valid without its holder renewing it (``ETDZ_LOCK_LEASE_SECONDS``
#: overrides it; the tests shorten it): a killed holder blocks its year at most this long
LEASE_SECONDS = float(os.environ.get("ETDZ_LOCK_LEASE_SECONDS") or 60)

_held: dict[str, int] = {}  # lock path → re-entrancy depth, for this process only
_COMMAND_CHARS = 300  # the command recorded in the lock file (a run's argv can be long)
_log = logging.getLogger("etdz")


class LockTimeout(EtdzError):
    """The year is held by another process (the message names it); exit code 2: nothing was written."""

    exit_code = EXIT_REFUSED


def lock_path(lock_dir: str | Path, data_year: int) -> Path | str:
    """The lock file (a Path) or lock object (a URL) of one data year."""
    if is_local(str(lock_dir)):
        return local_path(str(lock_dir)) / f"{year_folder(data_year)}.lock"
    return f"{str(lock_dir).rstrip('/')}/{year_folder(data_year)}.lock"


def _holder(**extra) -> dict:
    command = " ".join([Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])
    return {"host": socket.gethostname(), "pid": os.getpid(), "command": command[:_COMMAND_CHARS],
            "since": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), **extra}


def _holder_record() -> bytes:
    return (json.dumps(_holder(), ensure_ascii=False) + "\n").encode("utf-8")


def _parse(data: bytes) -> dict | None:
    try:
        record = json.loads(data[:4096].decode("utf-8", "replace"))
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def holder(lock_dir: str | Path, data_year: int) -> dict | None:
    """What the lock of the year says about its holder (``host``, ``pid``, ``command``, ``since``; on an object
    store also ``expires``), or None when it says nothing readable. A released lock file keeps its last holder's
    record (a released lock object is gone: None)."""
    path = lock_path(lock_dir, data_year)
    try:
        if isinstance(path, Path):
            return _parse(path.read_bytes())
        found = _store_of(path).read()
    except OSError:
        return None
    return _parse(found[1]) if found else None


def describe_holder(record: dict | None) -> str:
    """The holder in words, for a message (control characters of the recorded command escaped)."""
    if not record:
        return "another process (it has not recorded who it is yet)"
    lease = f"; its lease runs out at {record['expires']} unless renewed" if record.get("expires") else ""
    return (f"process {record.get('pid', '?')} on host {plain_text(str(record.get('host', '?')))} "
            f"(command: {plain_text(str(record.get('command', '?')))}; since {record.get('since', '?')}{lease})")


def _refusal(data_year: int, where: str, record: dict | None, released: str) -> LockTimeout:
    return LockTimeout(f"data year {data_year} is being written by {describe_holder(record)}; nothing was written. "
                       f"Wait for it to finish, then run the command again (the lock {where} is released when that "
                       f"process ends, {released})")


@contextlib.contextmanager
def year_lock(lock_dir: str | Path, data_year: int, timeout: float | None = None) -> Iterator[Path | str]:
    """Hold the exclusive lock of ``data_year`` (``lock_dir``: a local folder or an object-store URL).

    ``timeout``: seconds to wait for another holder before :class:`LockTimeout` (whose message names the holder
    and the lock); None waits as long as it takes (a step of a run launched by the daemon); 0 does not
    wait. Re-entrant within a process. While held, the lock records this process (:func:`holder`)."""
    path = lock_path(lock_dir, data_year)
    key = str(path)
    if _held.get(key):
        _held[key] += 1
        try:
            yield path
        finally:
            _held[key] -= 1
        return
    hold = _file_lock if isinstance(path, Path) else _object_lock
    with hold(path, data_year, timeout):
        _held[key] = 1
        try:
            yield path
        finally:
            _held.pop(key, None)


@contextlib.contextmanager
def _file_lock(path: Path, data_year: int, timeout: float | None) -> Iterator[None]:
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
                    raise _refusal(data_year, str(path), holder(path.parent, data_year),
                                   "even if it is killed") from None
                time.sleep(0.1)
        os.ftruncate(fd, 0)
        os.pwrite(fd, _holder_record(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --------------------------------------------------------------------------- the lock object (object stores)


class _Store:
    """Conditional writes of one object: create if absent, replace or delete if unchanged (by ETag).

    S3 (and S3-compatible stores: MinIO, moto) through s3fs's client: ``If-None-Match: *`` and ``If-Match``.
    Other fsspec stores have no conditional write; there a check-then-write is used, which is safe within one
    machine only (docs/operations.md says so)."""

    def __init__(self, url: str):
        self.url = url
        self.fs, self.path = fsspec.core.url_to_fs(url)
        protocols = self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,)
        self.s3 = bool({"s3", "s3a"} & set(protocols))
        self.bucket, _, self.key = self.path.partition("/")

    def _call(self, method: str, **kw):
        return self.fs.call_s3(method, Bucket=self.bucket, Key=self.key, **kw)

    def read(self) -> tuple[str, bytes] | None:
        """(ETag, body) of the object, None when there is none."""
        if self.s3:
            async def get() -> tuple[str, bytes]:  # the ETag and the body of one GET: they belong together
                out = await self.fs._call_s3("get_object", Bucket=self.bucket, Key=self.key)
                async with out["Body"] as body:
                    return out["ETag"], await body.read()

            try:
                return fsspec.asyn.sync(self.fs.loop, get)
            except FileNotFoundError:
                return None
        if not self.fs.exists(self.path):
            return None
        data = self.fs.cat_file(self.path)
        return str(hash(data)), data

    def create(self, body: bytes) -> str | None:
        """Write the object if there is none; its ETag, or None when one exists."""
        if self.s3:
            try:
                return self._call("put_object", Body=body, IfNoneMatch="*")["ETag"]
            except OSError as exc:
                if _condition_failed(exc):
                    return None
                raise
        if self.fs.exists(self.path):
            return None
        self.fs.pipe_file(self.path, body)
        return str(hash(body))

    def replace(self, body: bytes, etag: str) -> str | None:
        """Replace the object if its ETag is still ``etag``; the new ETag, or None when it changed."""
        if self.s3:
            try:
                return self._call("put_object", Body=body, IfMatch=etag)["ETag"]
            except (OSError, FileNotFoundError) as exc:
                if isinstance(exc, FileNotFoundError) or _condition_failed(exc):
                    return None
                raise
        found = self.read()
        if not found or found[0] != etag:
            return None
        self.fs.pipe_file(self.path, body)
        return str(hash(body))

    def delete(self, etag: str) -> None:
        """Remove the object if its ETag is still ``etag`` (a successor's lock is left alone)."""
        if self.s3:
            with contextlib.suppress(FileNotFoundError):
                try:
                    self._call("delete_object", IfMatch=etag)
                except OSError as exc:
                    if not _condition_failed(exc):
                        raise
            return
        found = self.read()
        if found and found[0] == etag:
            self.fs.rm_file(self.path)


def _condition_failed(exc: BaseException) -> bool:
    """Whether an S3 error is a failed condition (412 Precondition Failed, 409 ConditionalRequestConflict)."""
    if isinstance(exc, FileExistsError):
        return True  # s3fs's translation of a failed If-None-Match
    cause = exc.__cause__ or exc.__context__
    error = getattr(cause, "response", {}).get("Error", {}) if cause is not None else {}
    return error.get("Code") in ("PreconditionFailed", "412", "ConditionalRequestConflict", "409")


def _store_of(url: str) -> _Store:
    return _Store(url)


def _expired(record: dict | None) -> bool:
    """Whether a lock object's lease has run out (an unreadable record counts as expired: nobody renews it)."""
    try:
        return dt.datetime.fromisoformat(record["expires"]) < dt.datetime.now(dt.UTC)
    except (TypeError, KeyError, ValueError):
        return True


def _lease_record(holder_record: dict) -> bytes:
    """The lock object's body: its holder, and the end of its lease (now + :data:`LEASE_SECONDS`)."""
    expires = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=LEASE_SECONDS)
    return json.dumps({**holder_record, "expires": expires.isoformat(timespec="milliseconds")},
                      ensure_ascii=False).encode("utf-8")


@contextlib.contextmanager
def _object_lock(url: str, data_year: int, timeout: float | None) -> Iterator[None]:
    store = _store_of(url)
    me = _holder(token=uuid.uuid4().hex)
    deadline = None if timeout is None else time.monotonic() + timeout
    record = None
    try:
        while True:
            etag = store.create(_lease_record(me))
            if etag is None:
                found = store.read()
                if found is None:
                    continue  # released in between: try again at once
                record = _parse(found[1])
                if _expired(record):
                    etag = store.replace(_lease_record(me), found[0])  # take over; of two, one wins
                    if etag is not None:
                        _log.warning("data year %s: took over the lock %s from %s, whose lease had run out",
                                     data_year, url, describe_holder(record))
            if etag is not None:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise _refusal(data_year, url, record, "or at the latest when its lease runs out if it is killed")
            time.sleep(0.5)
    except OSError as exc:
        raise storage_error(exc, url, "taking the write lock", exit_code=EXIT_REFUSED) from exc
    lease = _Lease(store, me, etag, data_year)
    lease.start()
    try:
        yield
    finally:
        lease.stop()


class _Lease(threading.Thread):
    """Renews a held lock object every quarter lease until stopped, then deletes it."""

    def __init__(self, store: _Store, me: dict, etag: str, data_year: int):
        super().__init__(name=f"etdz-lease-{data_year}", daemon=True)
        self.store, self.me, self.etag, self.year = store, me, etag, data_year
        self.done = threading.Event()
        self.lost = False

    def run(self) -> None:
        while not self.done.wait(LEASE_SECONDS / 4):
            try:
                etag = self.store.replace(_lease_record(self.me), self.etag)
            except OSError as exc:  # the store unreachable for a moment: the next renewal tries again
                _log.warning("data year %s: renewing the lock %s failed (%s); retrying", self.year, self.store.url, exc)
                continue
            if etag is None:
                self.lost = True
                _log.error("data year %s: the lock %s was taken over by another process (this one did not renew "
                           "it within %s s); this run's later steps will wait for it", self.year, self.store.url,
                           LEASE_SECONDS)
                return
            self.etag = etag

    def stop(self) -> None:
        self.done.set()
        self.join()
        if not self.lost:
            with contextlib.suppress(OSError):
                self.store.delete(self.etag)
