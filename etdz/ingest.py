"""Ingestion of one data year's inbox (docs/contract/02-inputs.md §2.1): archive, read, validate, decide.

For every entry of ``<inbox>/<Y>/`` (sorted by name; hidden files too; sub-folders are not
submissions and are skipped; a link, FIFO, socket or device is logged as rejected and never
opened; a file that vanished, changed or cannot be opened since the listing is logged as
rejected with nothing archived; see :func:`load_file`):

1. the bytes are hashed and archived under ``<archive>/<sha[:2]>/<sha256>`` before
   anything else (fsspec, so the archive may be ``s3://…``; the original file name is
   never part of any path written). A local archive is written as one
   :class:`etdz.commit.DurableBatch`: each file renamed into place at once, then one
   flush of the archive's file system before anything is validated, decided or
   reported as received;
2. the file is read (:mod:`etdz.reading`) and validated with the rest of the year
   (:mod:`etdz.validation`, one GX batch);
3. files with an error are ``rejected``; among the accepted files of one zone the one
   with the latest modification time (ties: the greater file name by code point) is
   ``accepted``, the others ``superseded`` (``superseded_by`` = the chosen file's sha256).

Nothing here raises for a bad file: a rejection is a result. Only machinery failures
(an unwritable archive, a GX crash) raise.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import os
import re
import shutil
import stat
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import BinaryIO

import fsspec
import pandas as pd

from etdz.catalogue import Catalogue, MethodologyError, catalogue_for_year
from etdz.commit import DurableBatch, replace_file
from etdz.deadlines import late_flags
from etdz.escape import plain_text
from etdz.inbox_state import InboxEntry, inbox_entry, not_regular, scan_inbox
from etdz.numbers import parse_value
from etdz.reading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_ROWS_PER_MEASURE,
    FileProblem,
    Formula,
    ReadResult,
    file_format,
    read_submission,
)
from etdz.schemas import MEASURES, SUBMISSION_ISSUES, SUBMISSION_LOG
from etdz.submission_log import accepted_zones
from etdz.validation import (
    CHECKS,
    ISSUE_COLUMNS,
    SubmissionFile,
    ValidationReport,
    conversion_note,
    dropped_measures_issues,
    file_checks,
    issue,
    issues_frame,
    read_deferred,
    validate_submissions,
)

LOG_COLUMNS = list(SUBMISSION_LOG.names)
MEASURE_COLUMNS = list(MEASURES.names)
_CHUNK = 1024 * 1024
_ARCHIVE_THREADS = 8  # object-store PUTs overlap with reading


@dataclass
class YearIngest:
    data_year: int
    method_version: str
    log: pd.DataFrame  # SUBMISSION_LOG columns, one row per file found
    issues: pd.DataFrame  # SUBMISSION_ISSUES columns, one row per problem
    measures: pd.DataFrame  # MEASURES columns: the chosen accepted submission of each zone
    validation: ValidationReport
    files: list[SubmissionFile] = field(default_factory=list, repr=False)

    @property
    def submitted_zones(self) -> set[str]:
        """Zones whose chosen submission is accepted."""
        if self.log.empty:
            return set()
        return accepted_zones(self.log)


# --------------------------------------------------------------------------- archive


def archive_url(archive: str, sha256: str) -> str:
    return f"{archive.rstrip('/')}/{sha256[:2]}/{sha256}"


def _local_root(archive: str) -> str | None:
    """The folder of a local archive (a path or ``file://`` URL); None for object storage."""
    fs, root = fsspec.core.url_to_fs(archive)
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return root if "file" in protocols or "local" in protocols else None


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
    read = read_submission(entry.name, data, size, max_bytes, max_rows=max_rows, defer=defer_csv)
    return SubmissionFile(idx=idx, file_name=entry.name, sha256=sha, size=size, read=read, expected_year=expected_year,
                          received_at=pd.Timestamp(st.st_mtime_ns, unit="ns", tz="UTC"), mtime_ns=st.st_mtime_ns,
                          archive_path=where)


def list_inbox(inbox_dir: str | Path) -> list[Path]:
    """Every entry of a year folder but sub-folders, sorted by name: each counts as received
    (docs/contract/02-inputs.md:
    every file is archived and logged), hidden ones too; links, FIFOs, … are listed and rejected, never opened."""
    return [e.path for e in scan_inbox(inbox_dir)]


# --------------------------------------------------------------------------- decisions and frames


def _counts(issues: pd.DataFrame) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    if issues.empty:
        return out
    for name, g in issues.groupby("file_name"):
        out[str(name)] = (int((g["severity"] == "error").sum()), int((g["severity"] == "warning").sum()))
    return out


def decide(files: list[SubmissionFile], issues: pd.DataFrame, method_version: str) -> pd.DataFrame:
    """The submission log: rejected / accepted / superseded per §2.1 "Several files for one zone and year"."""
    counts = _counts(issues)
    rows = []
    for f in files:
        err, warn = counts.get(f.file_name, (0, 0))
        rows.append({
            "file_name": f.file_name, "sha256": f.sha256, "zone_code": f.zone_code,
            "status": "rejected" if err else "accepted", "errors": err, "warnings": warn,
            "received_at": f.received_at, "size_bytes": f.size,
            "file_format": f.read.file_format or (Path(f.file_name).suffix.lower().lstrip(".") or None),
            "encoding": f.read.encoding, "rows": f.read.n_rows if not f.read.problems else None,
            "method_version": method_version, "superseded_by": None, "archive_path": f.archive_path,
            "late": False, "_mtime": f.mtime_ns,
        })
    log = pd.DataFrame(rows, columns=LOG_COLUMNS + ["_mtime"])
    # per zone, the accepted file with the latest mtime wins (ties: the greater name by code point);
    # vectorised: one sort instead of a Python loop per zone
    acc = log.loc[(log["status"] == "accepted") & log["zone_code"].notna(),
                  ["zone_code", "_mtime", "file_name", "sha256"]]
    if len(acc):
        acc = acc.sort_values(["zone_code", "_mtime", "file_name"], kind="stable")
        chosen = acc.drop_duplicates("zone_code", keep="last")
        losers = acc.index.difference(chosen.index)
        if len(losers):
            log.loc[losers, "status"] = "superseded"
            log.loc[losers, "superseded_by"] = acc.loc[losers, "zone_code"].map(
                dict(zip(chosen["zone_code"], chosen["sha256"]))).astype(object)
    log = log.drop(columns=["_mtime"])
    for c in ("errors", "warnings"):
        log[c] = log[c].astype("int32")
    log["rows"] = log["rows"].astype("Int32")
    log["size_bytes"] = log["size_bytes"].astype("int64")
    log["received_at"] = pd.to_datetime(log["received_at"], utc=True)
    return log


def build_measures(long: pd.DataFrame, log: pd.DataFrame, files: list[SubmissionFile], registry: pd.DataFrame,
                   method_version: str) -> pd.DataFrame:
    chosen = set(log.loc[log["status"] == "accepted", "file_name"])
    idx = {f.idx for f in files if f.file_name in chosen}
    if long.empty or not idx:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c in ("value", "rate") else "str")
                             for c in MEASURE_COLUMNS})
    sha = {f.idx: f.sha256 for f in files}
    m = long.loc[long["file_idx"].isin(idx) & long["origin"].eq("row") & long["value"].notna()]
    tier = dict(zip(registry["zone_code"], registry["tier"]))
    out = pd.DataFrame({
        "zone_code": m["zone_code"].astype("str"),
        "measure_code": m["measure_code"].astype("str"),
        "value": m["value"].astype("float64"),
        "unit": m["canonical_unit"].astype("str"),
        "source_sha256": m["file_idx"].map(sha).astype("str"),
        "reported_value": m["value_raw"].astype("str"),
        "reported_unit": m["unit_raw"].astype("str"),
        "tier": m["zone_code"].map(tier).astype("str"),
        "method_version": method_version,
        "rate": m["rate"].astype("float64"),  # null for a plain factor (docs/contract/02-inputs.md §2.3)
    })
    return out.sort_values(["zone_code", "measure_code"], kind="stable").reset_index(drop=True)


def ingest_year(inbox_dir: str | Path, data_year: int, catalogue: Catalogue, registry: pd.DataFrame,
                archive: str | None, previous: pd.DataFrame | None = None,
                max_bytes: int = DEFAULT_MAX_BYTES, deadlines: Mapping[int, date] | None = None,
                max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE, batch_read: bool = True,
                listing: list[InboxEntry] | None = None) -> YearIngest:
    """Archive, read, validate and decide every file of ``<inbox>/<data_year>``.

    ``archive=None``: nothing is archived (``etdz validate``; a never-run previous year
    read for growth only). ``previous``: the MEASURES frame of Y-1's accepted
    submissions, for the ``soft_max_yoy_factor`` warnings. ``deadlines``: configured
    deadlines per data year (``ETDZ_DEADLINES``), else the default of :mod:`etdz.deadlines`. A file may hold at
    most ``max_rows_per_measure`` × the catalogue's number of measures non-blank data rows
    (``file.too_many_rows``: the rest is never parsed). ``batch_read``: the year's well-formed CSVs are parsed in
    one pass (:func:`etdz.validation.read_deferred`), the other files one by one; False reads every file on its
    own (same results, slower: the reference the batch is tested against). ``listing``: the folder as the caller
    has just listed it (:func:`etdz.inbox_state.scan_inbox`), so that one step lists a folder once; else it is
    listed here."""
    data_year = int(data_year)
    max_rows = max_rows_per_measure * len(catalogue.measures)
    paths = scan_inbox(inbox_dir) if listing is None else listing
    with archiving(archive, data_year) as archiver:  # all archived and flushed before anything is validated
        files = [load_file(p, i, data_year, archive, max_bytes, archiver, max_rows, batch_read)
                 for i, p in enumerate(paths)]
    read_deferred(files)
    issues, report, long = validate_submissions(files, catalogue, registry, data_year, previous)
    log = decide(files, issues, catalogue.version)
    dropped = dropped_measures_issues(files, log, long, catalogue)
    if dropped:  # warnings only: the decision stands, the counts include them
        issues = issues_frame(issues.to_dict("records") + dropped)
        log = decide(files, issues, catalogue.version)
    log["late"] = late_flags(log["received_at"], data_year, deadlines)  # flagged, never dropped: decided on merits
    measures = build_measures(long, log, files, registry, catalogue.version)
    return YearIngest(data_year=data_year, method_version=catalogue.version, log=log.reset_index(drop=True),
                      issues=issues, measures=measures, validation=report, files=files)


# --------------------------------------------------------------------------- etdz validate


def _file_year(read: ReadResult) -> int | None:
    years = set()
    for rec in read.rows:
        v = rec.get("data_year")
        p = parse_value(None if isinstance(v, Formula) else v)
        if p.ok and float(p.value).is_integer():  # type: ignore[arg-type]
            years.add(int(p.value))  # type: ignore[arg-type]
    return years.pop() if len(years) == 1 else None


def validate_files(paths: list[str | Path], catalogues: list[Catalogue], registry: pd.DataFrame,
                   max_bytes: int = DEFAULT_MAX_BYTES,
                   max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE) -> tuple[str, int]:
    """Check files against the catalogue of their own data year, touching nothing.

    Returns (a Chinese report listing every problem with its check code, exit status:
    1 if any file would be rejected, else 0)."""
    groups: dict[tuple[str, int], list[SubmissionFile]] = defaultdict(list)
    alone: list[tuple[SubmissionFile, list[dict]]] = []
    order: list[SubmissionFile] = []
    by_version: dict[str, Catalogue] = {}
    # the catalogue is known only once the file is read: the limit of the largest one
    max_rows = max_rows_per_measure * max((len(c.measures) for c in catalogues), default=1)
    for i, raw in enumerate(paths):
        path = Path(raw)
        if not path.exists() and not path.is_symlink():  # a link, FIFO, folder … is load_file's: file.not_regular
            f = SubmissionFile(i, path.name, "", 0, ReadResult(), 0)
            order.append(f)
            alone.append((f, [issue(f, "file.unreadable", f"文件「{path}」不存在或不是文件", value=str(path))]))
            continue
        folder_year = int(path.parent.name) if re.fullmatch(r"\d{4}", path.parent.name) else None
        f = load_file(path, i, folder_year or 0, None, max_bytes, max_rows=max_rows)
        order.append(f)
        if f.read.problems:  # nothing else can be checked in a file that could not be read
            alone.append((f, file_checks(f, registry)))
            continue
        year = _file_year(f.read) or folder_year
        f.expected_year = folder_year or year or 0
        # Every problem in one pass: a file whose year is unknown, or has no catalogue, is still checked (zone,
        # rows) against the nearest catalogue, beside the year problem, so one correction round fixes everything.
        if year is None:
            # expected_year 0: the file checks skip the year and due checks (reported here instead)
            alone.append((f, [issue(f, "file.year_mismatch",
                                     f"文件「{f.file_name}」「data_year」列没有一个统一、有效的年份，无法确定适用的考核办法"
                                     f"（其余问题按最新的考核办法检查）；请在每一行填写数据年份",
                                     column="data_year", expected="四位年份，如 2022")]))
            catalogue = max(catalogues, key=lambda c: c.year_from)
        else:
            try:
                catalogue = catalogue_for_year(catalogues, year)
            except MethodologyError as exc:
                alone.append((f, [issue(f, "file.no_catalogue",
                                         f"文件「{f.file_name}」：{exc}（其余问题按年份最接近的考核办法检查）",
                                         column="data_year", value=str(year), expected="有考核办法适用的数据年份")]))
                catalogue = min(catalogues, key=lambda c: min(abs(year - c.year_from), abs(year - (c.year_to or year))))
        by_version[catalogue.version] = catalogue
        groups[(catalogue.version, year or 0)].append(f)
    all_issues: list[dict] = []
    for _, iss in alone:
        all_issues.extend(iss)
    versions: dict[int, str] = {}
    conversions: dict[int, list[str]] = defaultdict(list)  # rows in a currency unit, shown with their computation
    for (version, year), fs in groups.items():
        issues, _, long = validate_submissions(fs, by_version[version], registry, year)
        all_issues.extend(issues.to_dict("records"))
        for f in fs:
            versions[f.idx] = f"{version}"
        if len(long):
            for r in long.loc[long["rate"].notna()].itertuples(index=False):
                note = conversion_note(by_version[version], r.measure_code, r.unit_checked, year, r.reported)
                conversions[r.file_idx].append(f"第 {r.row} 行 {r.measure_code}：{note}")
    frame = issues_frame(all_issues)
    lines: list[str] = []
    rejected = 0
    sev_zh = {"error": "错误", "warning": "警告"}
    by_file = {key: g for key, g in frame.groupby(["file_name", "sha256"], sort=False)}  # linear in the files
    empty = frame.iloc[0:0]
    for f in order:
        mine = by_file.get((f.file_name, f.sha256), empty)
        errors = int((mine["severity"] == "error").sum())
        warnings = int((mine["severity"] == "warning").sum())
        rejected += errors > 0
        verdict = (f"将被拒收（{errors} 个错误，{warnings} 个警告）" if errors else
                   f"可以接收（{warnings} 个警告）" if warnings else "可以接收，没有发现问题")
        lines.append(f"== {paths[f.idx]}")
        info = []
        if f.zone_code:
            info.append(f"园区 {f.zone_code}")
        if f.idx in versions:
            info.append(f"数据年份 {f.expected_year or '无法确定'}，考核办法 {versions[f.idx]}")
        details = f"；{'，'.join(info)}" if info else ""
        lines.append(f"   {verdict}{details}  [{'REJECTED' if errors else 'OK'}]")
        lines.extend(f"   [换算] {c}" for c in conversions.get(f.idx, []))
        for r in mine.itertuples(index=False):
            where = f"第 {r.row} 行" if not pd.isna(r.row) else "文件"
            col = f"，列 {r.column}" if isinstance(r.column, str) and r.column else ""
            lines.append(f"   [{sev_zh.get(r.severity, r.severity)}] {r.check}（{where}{col}）：{r.message}")
    lines.append(f"合计：{len(order)} 个文件，{rejected} 个将被拒收，{len(order) - rejected} 个可以接收。")
    return "\n".join(map(plain_text, lines)) + "\n", 1 if rejected else 0  # file names must not drive the terminal


__all__ = ["YearIngest", "ingest_year", "validate_files", "archive_bytes", "archive_url", "decide", "build_measures",
           "list_inbox", "scan_inbox", "load_file", "CHECKS", "ISSUE_COLUMNS", "SUBMISSION_ISSUES"]
