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
import os
import shutil
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import fsspec

from etdz.commit import DurableBatch, replace_file
from etdz.locations import local_path

_CHUNK = 1024 * 1024
_ARCHIVE_THREADS = 8  # object-store PUTs overlap with reading


def archive_url(archive: str, sha256: str) -> str:
    return f"{archive.rstrip('/')}/{sha256[:2]}/{sha256}"


def _local_root(archive: str) -> str | None:
    """The folder of a local archive (a path or ``file://`` URL); None for object storage."""
    path = local_path(archive)
    return os.path.abspath(path) if path is not None else None


def archive_bytes(archive: str, sha256: str, data: bytes | None = None, src: BinaryIO | None = None,
                  batch: DurableBatch | None = None) -> str:
    """Store one file's bytes content-addressed (idempotent: a stored file of the right size is kept). ``data``,
    or ``src``: an open binary file, streamed from its start (the file the ingestion opened, never a path opened
    again: it may have been replaced). ``batch``: for a local archive, the batch the file joins (in place at once,
    durable at the batch's sync); without one a local file is durable when this returns."""
    size = len(data) if data is not None else os.fstat(src.fileno()).st_size  # type: ignore[union-attr]
    root = str(batch.root) if batch is not None else _local_root(archive)
    if root is not None:
        dest = os.path.join(root, sha256[:2], sha256)
        with contextlib.suppress(OSError):  # missing (or unreadable: then the write below says why)
            if os.stat(dest).st_size == size:
                return archive_url(archive, sha256)

        def stream(out: BinaryIO) -> None:  # the file the ingestion opened (never the path again)
            src.seek(0)  # type: ignore[union-attr]
            shutil.copyfileobj(src, out, _CHUNK)  # type: ignore[arg-type]

        payload = data if data is not None else stream
        if batch is not None:
            batch.replace(dest, payload)
        else:
            replace_file(dest, payload)
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
