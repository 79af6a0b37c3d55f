"""Receiving and archiving (docs/contract/02-inputs.md §2.1): every received file's bytes are hashed and stored
content-addressed under ``<archive>/<sha[:2]>/<sha256>`` before anything else (fsspec, so the archive may be
``s3://…``; the original file name is never part of any path written). A local archive is written as one
:class:`etdz.commit.DurableBatch`: each file renamed into place at once, then one flush of the archive's file
system before anything is validated, decided or reported as received.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import fsspec

from etdz.commit import DurableBatch, replace_file
from etdz.locations import local_path

_CHUNK = 1024 * 1024
_log = logging.getLogger("etdz.archive")
_ARCHIVE_THREADS = 8  # object-store PUTs overlap with reading


def archive_url(archive: str, sha256: str) -> str:
    return f"{archive.rstrip('/')}/{sha256[:2]}/{sha256}"


def _local_root(archive: str) -> str | None:
    """The folder of a local archive (a path or ``file://`` URL); None for object storage."""
    path = local_path(archive)
    return os.path.abspath(path) if path is not None else None


# A kept copy's modification time says whether its bytes were checked: etdz sets it to this stamp (1 January 2000
# plus a few seconds taken from the hash) when it writes or verifies a copy, so a copy whose bytes were changed since
# — by any ordinary write, which sets the time to "now" — is re-hashed, and repaired when they no longer match its
# name. A copy with the stamp is kept without reading it again (23,000 files are not re-read at every run).
_VERIFIED_EPOCH_NS = 946_684_800 * 10**9


def verified_mtime_ns(sha256: str) -> int:
    """The modification time etdz gives an archived copy whose bytes it wrote or checked (see above)."""
    return _VERIFIED_EPOCH_NS + int(sha256[:8], 16)


def _file_sha256(path: str) -> str:
    with open(path, "rb") as fh:
        return _hash_open_file(fh)


def _kept_copy_is_good(dest: str, sha256: str, size: int) -> bool:
    """Whether the archive already holds ``sha256``'s bytes at ``dest``: the right size and either the stamp
    (:func:`verified_mtime_ns`) or, re-hashed, the right hash (then stamped). A copy with other bytes is a damaged
    copy: False, and the caller writes it again from the file received (a warning names it)."""
    try:
        st = os.stat(dest)
    except OSError:
        return False  # missing (or unreadable: then the write says why)
    if st.st_size != size:
        if st.st_size:
            _log.warning("archived copy %s has %d bytes, not %d: written again from the file received",
                         dest, st.st_size, size)
        return False
    stamp = verified_mtime_ns(sha256)
    if st.st_mtime_ns == stamp:
        return True
    try:
        good = _file_sha256(dest) == sha256
    except OSError:
        return False
    if not good:
        _log.warning("archived copy %s no longer matches its SHA-256 (its bytes were changed): written again from "
                     "the file received", dest)
        return False
    with contextlib.suppress(OSError):  # checked: not read again until it is modified
        os.utime(dest, ns=(st.st_atime_ns, stamp))
    return True


def archive_bytes(archive: str, sha256: str, data: bytes | None = None, src: BinaryIO | None = None,
                  batch: DurableBatch | None = None) -> str:
    """Store one file's bytes content-addressed (idempotent: a stored copy that is intact is kept, a local one
    whose bytes no longer match its name is written again: see :func:`_kept_copy_is_good`). ``data``,
    or ``src``: an open binary file, streamed from its start (the file the ingestion opened, never a path opened
    again: it may have been replaced). ``batch``: for a local archive, the batch the file joins (in place at once,
    durable at the batch's sync); without one a local file is durable when this returns."""
    size = len(data) if data is not None else os.fstat(src.fileno()).st_size  # type: ignore[union-attr]
    root = str(batch.root) if batch is not None else _local_root(archive)
    if root is not None:
        dest = os.path.join(root, sha256[:2], sha256)
        if _kept_copy_is_good(dest, sha256, size):
            return archive_url(archive, sha256)

        def stream(out: BinaryIO) -> None:  # the file the ingestion opened (never the path again)
            src.seek(0)  # type: ignore[union-attr]
            shutil.copyfileobj(src, out, _CHUNK)  # type: ignore[arg-type]

        payload = data if data is not None else stream
        if batch is not None:
            batch.replace(dest, payload)
        else:
            replace_file(dest, payload)
        stamp = verified_mtime_ns(sha256)
        os.utime(dest, ns=(stamp, stamp))  # "written by etdz, not modified since" (see _kept_copy_is_good)
        return archive_url(archive, sha256)
    fs, base = fsspec.core.url_to_fs(archive)
    dest = f"{base.rstrip('/')}/{sha256[:2]}/{sha256}"
    if fs.exists(dest) and fs.size(dest) == size:
        return archive_url(archive, sha256)
    fs.makedirs(os.path.dirname(dest), exist_ok=True)
    if data is not None:
        fs.pipe_file(dest, data)
    else:
        src.seek(0)  # type: ignore[union-attr]
        with fs.open(dest, "wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)  # type: ignore[arg-type]
    return archive_url(archive, sha256)


@contextlib.contextmanager
def archiving(archive: str | None, data_year: int) -> Iterator[Callable[..., str] | None]:
    """The archiver :func:`load_file` calls for one year's files (None without an archive).

    A local archive is one :class:`etdz.commit.DurableBatch` tagged with the year (the caller holds the year's
    write lock, as every step does): what a killed earlier ingest of the year left is removed first, each file
    is renamed into place without a flush of its own, and when the block ends one flush of the archive's file
    system has made them all durable — before anything is validated, decided or reported as received. A failed
    write or flush raises :class:`etdz.errors.StorageError` naming the archive. The writes stay in this thread:
    without a flush each is a few short system calls, which writer threads only slowed down (their handing the
    GIL back and forth cost more CPU than the writes). Object storage: one PUT per file, by a few threads while
    the next files are read (network latency), all finished (or raised) when the block ends."""
    if not archive:
        yield None
        return
    root = _local_root(archive)
    if root is not None:
        batch = DurableBatch(root, f"y{int(data_year)}")
        batch.begin()
        yield functools.partial(archive_bytes, batch=batch)
        batch.sync(f"flushing the files received for {int(data_year)} to disk in the archive")
        return
    with ThreadPoolExecutor(max_workers=_ARCHIVE_THREADS, thread_name_prefix="etdz-archive") as pool:
        pending: list = []

        def archiver(where: str, sha256: str, data: bytes | None = None, src: BinaryIO | None = None) -> str:
            pending.append(pool.submit(archive_bytes, where, sha256, data=data, src=src))
            if len(pending) > 4 * _ARCHIVE_THREADS:  # bounded: at most a few files' bytes wait in memory
                pending[len(pending) - 4 * _ARCHIVE_THREADS - 1].result()
            return archive_url(where, sha256)

        yield archiver
        for fut in pending:
            fut.result()  # re-raises an archive failure


def _hash_open_file(fh: BinaryIO) -> str:
    h = hashlib.sha256()
    fh.seek(0)
    while chunk := fh.read(_CHUNK):
        h.update(chunk)
    return h.hexdigest()
