"""Safe opening of an inbox entry: the file is read as it is, not as it was listed.

Only a regular file is opened (without following a link, without blocking); one that vanished, changed since
the listing or while being read, or that the system refuses to open is a rejected file with its own check code
and nothing archived — never an exception that would fail the other zones. It is hashed (and archived,
:mod:`etdz.ingestion.archive`) first, then read (:mod:`etdz.reading`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

import pandas as pd

from etdz.inbox_state import InboxEntry, inbox_entry, not_regular, scan_inbox
from etdz.ingestion.archive import _hash_open_file, archive_bytes
from etdz.reading import FileProblem, ReadResult, file_format, read_submission
from etdz.validation import SubmissionFile

# open without following a link (a link swapped in after the listing fails with ELOOP) and without blocking
# (a FIFO swapped in would otherwise wait for a writer forever); the fd's own fstat then decides
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _unread(entry: InboxEntry, idx: int, expected_year: int, check: str, message: str) -> SubmissionFile:
    """A file listed but not read (not regular, vanished, changed, refused by the system): nothing archived,
    no hash (``sha256`` is empty), rejected with ``check``."""
    problem = FileProblem(check, message, expected="收件箱中一个完整、可读的普通文件（.csv 或 .xlsx）")
    return SubmissionFile(idx=idx, file_name=entry.name, sha256="", size=0 if entry.not_regular else entry.size,
                          read=ReadResult(file_format=file_format(entry.name), problems=[problem]),
                          expected_year=expected_year, received_at=pd.Timestamp(entry.mtime_ns, unit="ns", tz="UTC"),
                          mtime_ns=entry.mtime_ns, archive_path=None)


def _not_regular_message(what: str) -> str:
    return (f"这是一个{what}，不是普通文件：系统不会打开它（也不会打开它指向的内容），未读取也未存档。"
            f"请把报送文件本身（不是链接或快捷方式）放入收件箱")


_CHANGED = ("文件在列出收件箱之后被改动或替换（大小或修改时间与列出时不同，"
            "例如上传工具先写临时文件再改名，或文件仍在写入），本次未读取也未存档；下一次运行会读取它当时的内容")


def _os_reason(exc: OSError) -> str:
    return f"{type(exc).__name__}: {exc.strerror or exc}"


def load_file(entry: InboxEntry | str | Path, idx: int, expected_year: int, archive: str | None, max_bytes: int,
              archiver=None, max_rows: int | None = None, defer_csv: bool = False) -> SubmissionFile:
    """Hash (and archive) one file first, then read it. Files over ``max_bytes`` are archived, never read.

    ``entry``: the file as listed (:func:`etdz.inbox_state.scan_inbox`; a path is listed here). The file is read
    as it is, not as it was listed: only a regular file is opened (without following a link, without blocking),
    and one that vanished, changed since the listing or while being read, or that the system refuses to open is
    a rejected file with its own check code (``file.not_regular``, ``file.vanished``, ``file.changed``,
    ``file.cannot_open``) and nothing archived — never an exception that would fail the other zones.

    ``archiver``: a callable with :func:`archive_bytes`' signature that returns the archive URL (default:
    :func:`archive_bytes` itself; :func:`ingest_year` passes the year's, from :func:`archiving`). A file over
    ``max_bytes`` is streamed from the open file by :func:`archive_bytes` itself, durable on its own.
    ``defer_csv``: a well-formed CSV is left pending for the year's batch read
    (:func:`etdz.validation.read_deferred`; see :func:`etdz.reading.read_submission`)."""
    if not isinstance(entry, InboxEntry):
        try:
            entry = inbox_entry(entry)
        except FileNotFoundError:
            entry = InboxEntry(Path(entry), None, 0, 0)  # the open below reports it as vanished
    archiver = archiver or archive_bytes
    if entry.not_regular:
        return _unread(entry, idx, expected_year, "file.not_regular", _not_regular_message(entry.not_regular))
    try:
        fd = os.open(entry.path, _OPEN_FLAGS)
    except FileNotFoundError:
        return _unread(entry, idx, expected_year, "file.vanished",
                       "列出收件箱之后、读取之前，文件已被删除或改名，未读取也未存档；如仍需报送，请重新放入收件箱")
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # replaced by a link after the listing
            return _unread(entry, idx, expected_year, "file.not_regular", _not_regular_message("符号链接"))
        return _unread(entry, idx, expected_year, "file.cannot_open",
                       f"操作系统拒绝打开文件（{_os_reason(exc)}），未读取也未存档；"
                       f"请检查文件的权限（运行 etdz 的账户须能读取）后重新放入")
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # replaced by a FIFO, a folder, … after the listing: never read
        os.close(fd)
        return _unread(entry, idx, expected_year, "file.not_regular",
                       _not_regular_message(not_regular(st.st_mode) or "特殊文件"))
    with os.fdopen(fd, "rb") as fh:
        try:
            if (st.st_size, st.st_mtime_ns) != (entry.size, entry.mtime_ns):
                return _unread(entry, idx, expected_year, "file.changed", _CHANGED)
            data: bytes | None = fh.read(max_bytes + 1)
            large = len(data) > max_bytes  # type: ignore[arg-type]
            sha = _hash_open_file(fh) if large else hashlib.sha256(data).hexdigest()  # type: ignore[arg-type]
            after = os.fstat(fd)
            if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):  # written to while read
                return _unread(entry, idx, expected_year, "file.changed", _CHANGED)
            if large:
                data = None
                size = max(st.st_size, max_bytes + 1)
                # streamed from this open file, now (the background writers get bytes, not an open file)
                where = archive_bytes(archive, sha, src=fh) if archive else None
            else:
                size = len(data)  # type: ignore[arg-type]
                where = archiver(archive, sha, data=data) if archive else None
        except OSError as exc:  # an I/O error while reading: this file only
            return _unread(entry, idx, expected_year, "file.cannot_open",
                           f"读取文件时出错（{_os_reason(exc)}），未读取也未存档；请重新放入该文件")
    return received_file(entry.name, data, idx, expected_year, st.st_mtime_ns, max_bytes, size=size, sha256=sha,
                         archive_path=where, max_rows=max_rows, defer=defer_csv)


def received_file(name: str, data: bytes | None, idx: int, expected_year: int, mtime_ns: int, max_bytes: int, *,
                  size: int | None = None, sha256: str | None = None, archive_path: str | None = None,
                  max_rows: int | None = None, defer: bool = False) -> SubmissionFile:
    """A file received as bytes, read: what :func:`load_file` returns once it has the bytes of an inbox file,
    and what the warm check (:mod:`etdz.checking`) builds from an upload's bytes — one reading for both.

    ``name`` is the file's name (only its extension decides the format; it is never a path). ``mtime_ns``: its
    modification time (for an upload, when it was received). Bytes over ``max_bytes`` are never read (the file is
    ``file.too_large``); ``size`` and ``sha256`` are given when ``data`` is None (a large file :func:`load_file`
    streamed), else computed from ``data``."""
    if data is not None and len(data) > max_bytes:
        size, sha256, data = len(data), sha256 or hashlib.sha256(data).hexdigest(), None
    size = len(data) if size is None else size  # type: ignore[arg-type]
    sha256 = sha256 or hashlib.sha256(data).hexdigest()  # type: ignore[arg-type]
    read = read_submission(name, data, size, max_bytes, max_rows=max_rows, defer=defer)
    return SubmissionFile(idx=idx, file_name=name, sha256=sha256, size=size, read=read, expected_year=expected_year,
                          received_at=pd.Timestamp(mtime_ns, unit="ns", tz="UTC"), mtime_ns=mtime_ns,
                          archive_path=archive_path)


def list_inbox(inbox_dir: str | Path) -> list[Path]:
    """Every entry of a year folder but sub-folders, sorted by name: each counts as received
    (docs/contract/02-inputs.md:
    every file is archived and logged), hidden ones too; links, FIFOs, … are listed and rejected, never opened."""
    return [e.path for e in scan_inbox(inbox_dir)]
