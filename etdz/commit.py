"""Atomic files and one commit per step: after any failure a step's outputs are all old or all new.

Three mechanisms, one home:

- :func:`atomic_write` — the project's only way to write an output file: a temporary ``_<name>.<id>.tmp``
  in the same folder (readers skip ``_`` and ``.`` names), fsync, rename over the final name, fsync the
  folder. A reader never sees half a file.
- :class:`DurableBatch` — many files (the archive of received submissions) written the same atomic way but
  without a flush each: every file is renamed into place at once, and one ``syncfs(2)`` of their file
  system makes them all durable together before anything relies on them (per-file fsyncs where the
  platform has no syncfs).
- :func:`step_commit` — everything a step writes (Parquet datasets, reports, rejection notices) is staged
  as such temporary files while the commit is open (not flushed one by one: one syncfs of their file
  system at the end makes them all durable); then the step writes a small journal (the list of staged →
  final renames and of files to remove), durably and atomically, and applies it. A failure
  before the journal exists leaves only temporary files, which the next step or command removes (all
  old); a failure after it is rolled forward by the next step or command (all new). Recovery runs under
  the year's write lock, before anything is read.

Writers need not know about the commit: :func:`atomic_write` and :func:`remove` join the commit that is
open for the path's data year (found by path), so assets keep calling ``store.write`` and the report
writers unchanged. A helper process (the card workers) writes through a :class:`Writer` the step's process
made (:func:`writer_for`): it stages under the commit's id, and the step's process adopts what it staged.

Object storage (an ``s3://`` warehouse): datasets are staged as ``_<name>.<commit id>.tmp`` objects beside
their final keys; the journal lives beside them too (``<warehouse>/_commits/data_year=<Y>/<commit id>.json``,
one PUT) and moves them into place with server-side copies, so whichever process comes next — on any
machine — rolls a journal left by a killed one forward. Each object is replaced in one request, but a reader
may see some objects of a step new and others old *while* the journal is applied; after the step returns (or
the next step or command of any pod has rolled the journal forward) they are all new. A commit that stages
objects first leaves a marker ``<commit id>.open`` in that folder; the year's next step removes the staged
objects of a marker without a journal (a step killed before its journal) — only that commit's, never another
step's staging. Reports uploaded to a bucket are published after the commit, file by file.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import json
import os
import stat
import sys
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import fsspec

from etdz.errors import EXIT_REFUSED, StorageError, storage_error
from etdz.locations import is_dataset_file, is_local, local_path, year_folder, year_of_folder
from etdz.locks import LockTimeout, year_lock

Data = bytes | Callable[[BinaryIO], None]  # the bytes, or a function that writes them to an open file

_open_commits: list[StepCommit] = []
_registry_lock = threading.Lock()


# --------------------------------------------------------------------------- plain files


def is_temporary(name: str) -> bool:
    """A name left by an unfinished write (ours are ``_<name>.<id>.tmp``); readers and recovery skip them."""
    return name.startswith(("_", ".")) and name.endswith(".tmp")


def _tmp_path(path: Path, tag: str) -> Path:
    return path.parent / f"_{path.name}.{tag}.tmp"


def _write_file(path: Path, data: Data, durable: bool = True) -> None:
    """Write one new file, fsynced unless ``durable`` is False (a :class:`DurableBatch` syncs later).
    The fault-injection seam of the tests: every write goes through here."""
    with open(path, "wb") as fh:
        if callable(data):
            data(fh)
        else:
            fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())


def _rename(src: str | Path, dst: str | Path) -> None:
    """Atomically replace ``dst`` by ``src`` (the tests' other seam: every rename goes through here)."""
    os.replace(src, dst)


def fsync_dir(folder: str | Path) -> None:
    """Make the folder's entries (renames, new files) durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink_quietly(path: str | Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def _libc_syncfs() -> Callable[[int], int] | None:
    """libc's ``syncfs(fd)`` (Linux), or None where the C library has none (macOS, the BSDs)."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs  # the process's own symbols: libc, no library search
    except (OSError, AttributeError):
        return None
    fn.argtypes = [ctypes.c_int]
    fn.restype = ctypes.c_int
    return fn


# the seam the tests replace to inject a failing flush (0 on success; -1 with errno set, as the C call)
_syncfs = _libc_syncfs()


def sync_filesystem(folder: str | Path, what: str = "flushing to disk") -> bool:
    """Make every file written so far on the file system holding ``folder`` durable: one ``syncfs(2)``.

    Returns False, having done nothing, where the platform has no syncfs (the caller then fsyncs each
    file and folder itself). A failed flush — an I/O error of the disk, a full disk or quota met by
    delayed allocation — raises :class:`etdz.errors.StorageError` naming ``folder`` (``what``: the action
    named in the message): files written before it may not be on disk, so nothing may rely on them."""
    if _syncfs is None:
        return False
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise storage_error(exc, folder, what) from exc
    try:
        if _syncfs(fd) != 0:
            code = ctypes.get_errno()
            raise storage_error(OSError(code, os.strerror(code)), folder, what)
    finally:
        os.close(fd)
    return True


def replace_file(path: str | Path, data: Data) -> Path:
    """Write ``path`` atomically now, whatever commit is open (the archive, manifests, journals)."""
    path = Path(path)
    tmp = _tmp_path(path, uuid.uuid4().hex)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_file(tmp, data)
        _rename(tmp, path)
        fsync_dir(path.parent)
    except OSError as exc:
        raise storage_error(exc, path) from exc
    finally:
        if tmp.exists():
            _unlink_quietly(tmp)
    return path


def _stage_file(path: Path, tag: str, data: Data) -> str:
    """Write ``path``'s new content to its temporary name for the step commit ``tag``; returns that name. Not
    flushed where the platform has syncfs: the commit flushes all its files at once."""
    tmp = _tmp_path(path, tag)
    try:
        try:
            _write_file(tmp, data, durable=_syncfs is None)
        except FileNotFoundError:
            if path.parent.is_dir():  # not a missing folder: the data's own error
                raise
            # its folder is made only when missing (a step stages thousands of files into a few folders)
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_file(tmp, data, durable=_syncfs is None)
    except OSError as exc:
        _unlink_quietly(tmp)
        raise storage_error(exc, path) from exc
    return str(tmp)


@dataclass(frozen=True)
class Writer:
    """:func:`atomic_write` for a helper process (a worker of a pool), which cannot see the step's commit.

    Made in the step's process by :func:`writer_for` and sent to the worker (it pickles): inside a step
    commit, :meth:`write` stages the file under the commit's id and returns the staged name, which the step's
    process hands back to :meth:`StepCommit.adopt` (:func:`adopt`); outside one it replaces the file at once
    and returns None."""

    tag: str | None  # the step commit's id; None: no commit is open

    def write(self, path: Path, data: Data) -> str | None:
        if self.tag is None:
            replace_file(path, data)
            return None
        return _stage_file(path, self.tag, data)


def writer_for(folder: str | Path) -> Writer:
    """The :class:`Writer` of the files of local ``folder``: its data year's open step commit's, if any."""
    commit = commit_for(str(folder))
    return Writer(None) if commit is None else commit.writer(Path(folder))


def adopt(path: str | Path, staged: str | None) -> None:
    """In the step's process: the open commit takes what a :class:`Writer` staged for ``path`` (None: the writer
    replaced the file itself, outside any commit)."""
    if staged is None:
        return
    commit = commit_for(str(path))
    if commit is None:
        raise RuntimeError(f"{path} was staged for a step commit that is no longer open")
    commit.adopt(Path(path), staged)


class DurableBatch:
    """Files under ``root`` replaced atomically now and made durable together by :meth:`sync`.

    Each file is written to a temporary ``_<name>.<tag>.<id>.tmp`` beside it and renamed over its final name
    at once — a reader sees the whole file or none — without a flush of its own; :meth:`sync` then flushes
    them all with one syncfs of root's file system. Where the platform has none, each file is fsynced before
    its rename and :meth:`sync` fsyncs every folder whose entries changed. Nothing may rely on the files
    surviving a power cut before :meth:`sync` has returned.

    ``tag`` (no ``.``) names the writer (the archive: its data year); the caller holds that tag's lock from
    :meth:`begin` to :meth:`sync`. :meth:`begin` leaves a marker ``<root>/_writing.<tag>`` that a successful
    :meth:`sync` removes: a batch that was killed leaves it, and the next batch of the tag then removes the
    temporaries the killed one left (walking root's folders only then)."""

    def __init__(self, root: str | Path, tag: str):
        if "." in tag or "/" in tag:
            raise ValueError(f"a batch's tag has no '.' or '/', found {tag!r}")
        self.root = Path(root)
        self.tag = tag
        self.marker = self.root / f"_writing.{tag}"
        self.fsync_each = _syncfs is None  # decided once: a batch's files are all flushed the same way
        self._folders: set[str] = set()   # folders known to exist
        self._changed: set[str] = set()   # folders whose entries changed (the fallback fsyncs them)

    def _tagged(self, name: str) -> bool:
        parts = name[:-len(".tmp")].rsplit(".", 2)
        return is_temporary(name) and len(parts) == 3 and parts[1] == self.tag

    def begin(self) -> int:
        """Start the batch: remove what a killed earlier batch of the tag left, mark this one as writing.
        Returns how many temporaries were removed."""
        removed = 0
        try:
            if self.marker.exists():
                for dirpath, _, names in os.walk(self.root):
                    for name in names:
                        if self._tagged(name):
                            _unlink_quietly(os.path.join(dirpath, name))
                            removed += 1
            self._ensure_folder(self.root)
            self.marker.touch()
        except OSError as exc:
            raise storage_error(exc, self.marker) from exc
        return removed

    def _ensure_folder(self, folder: Path) -> None:
        key = str(folder)
        if key in self._folders:
            return
        if not folder.is_dir():
            folder.mkdir(parents=True, exist_ok=True)
            self._changed.add(str(folder.parent))  # its parent's entries changed too
        self._folders.add(key)

    def replace(self, path: str | Path, data: Data) -> Path:
        """Write ``path`` (under ``root``) atomically now; durable once :meth:`sync` has returned."""
        path = Path(path)
        tmp = _tmp_path(path, f"{self.tag}.{uuid.uuid4().hex}")
        try:
            self._ensure_folder(path.parent)
            _write_file(tmp, data, durable=self.fsync_each)
            _rename(tmp, path)
        except OSError as exc:
            _unlink_quietly(tmp)
            raise storage_error(exc, path) from exc
        except BaseException:
            _unlink_quietly(tmp)
            raise
        self._changed.add(str(path.parent))
        return path

    def sync(self, what: str = "flushing to disk") -> None:
        """Make every file of the batch durable (syncfs also flushes what a killed earlier batch renamed into place
        and left unflushed), then drop the marker. Raises :class:`etdz.errors.StorageError` naming ``root``."""
        if not self.root.is_dir():
            return  # nothing was ever written
        if self.fsync_each or not sync_filesystem(self.root, what):
            for folder in sorted(self._changed):
                try:
                    fsync_dir(folder)
                except OSError as exc:
                    raise storage_error(exc, folder, what) from exc
        _unlink_quietly(self.marker)


def atomic_write(path: str | Path, data: Data) -> Path:
    """Write one output file atomically; inside an open step commit it is staged and appears at the commit.

    ``data``: bytes, or a function writing to a binary file object (to stream large files). Raises
    :class:`etdz.errors.StorageError` (one plain message) when the filesystem refuses.
    """
    path = Path(path)
    commit = commit_for(str(path))
    if commit is not None:
        commit.stage(path, data)
        return path
    return replace_file(path, data)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """:func:`atomic_write` of UTF-8 text."""
    return atomic_write(path, text.encode("utf-8"))


def remove(path: str | Path) -> None:
    """Remove an output file (a stale notice or card); inside an open step commit, at the commit."""
    path = Path(path)
    commit = commit_for(str(path))
    if commit is not None:
        commit.remove(path)
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise storage_error(exc, path, "removing") from exc


# --------------------------------------------------------------------------- where a year's outputs live


def _norm(location: str) -> str:
    """Local locations (paths and ``file://`` URLs) as absolute paths, so prefixes compare; other URLs as they are."""
    path = local_path(location)
    return os.path.abspath(path) if path is not None else location.rstrip("/")


@dataclass(frozen=True)
class YearScope:
    """Every output file of one data year: its dataset files in the warehouse and its reports folder."""

    year: int
    warehouse: str  # local folder or fsspec URL
    reports: str    # the year's local reports folder

    def contains(self, location: str) -> bool:
        """True when ``location`` (a path or URL) is one of the year's output files."""
        loc = _norm(location)
        reports = _norm(self.reports)
        if loc == reports or loc.startswith(reports + "/"):
            return True
        warehouse = _norm(self.warehouse)
        if not loc.startswith(warehouse + "/"):
            return False
        return is_dataset_file(loc[len(warehouse) + 1:], self.year)


@dataclass(frozen=True)
class DeploymentLayout:
    """The output locations of a deployment (``ETDZ_WAREHOUSE``, ``ETDZ_REPORTS``) and where the
    year locks and the commit journals of those outputs live."""

    warehouse: str
    reports: str
    dagster_home: str = field(default_factory=lambda: os.environ.get("DAGSTER_HOME") or str(Path.home()))

    @property
    def local_warehouse(self) -> bool:
        return is_local(self.warehouse)

    def _beside(self, name: str) -> Path | str:
        """A folder beside the datasets: a local Path, or a URL on the warehouse's object store."""
        root = local_path(self.warehouse)
        return root / name if root is not None else f"{self.warehouse.rstrip('/')}/{name}"

    def reports_root(self) -> Path:
        """Where reports are written locally: ETDZ_REPORTS itself, or for an object-store URL a staging
        folder under DAGSTER_HOME whose files are then uploaded."""
        return local_path(self.reports) or Path(self.dagster_home) / "etdz-reports-staging"

    def lock_dir(self) -> Path | str:
        """The per-year write locks, beside the warehouse (on its object store for an ``s3://`` one: every
        machine that writes the warehouse meets them)."""
        return self._beside("_locks")

    def journal_dir(self, year: int) -> Path | str:
        """The commit journals of one year, beside the warehouse (on its object store for an ``s3://`` one)."""
        return _child(self._beside("_commits"), year_folder(year))

    def scope(self, year: int) -> YearScope:
        return YearScope(int(year), self.warehouse, str(self.reports_root() / str(int(year))))

    def years_on_disk(self) -> list[int]:
        """Years that have a journal, dataset folder or reports folder (candidates for recovery)."""
        years: set[int] = set()
        years |= {y for name, _ in _listing(self._beside("_commits")) if (y := year_of_folder(name)) is not None}
        root = local_path(self.warehouse)
        if root is not None:
            years |= {y for p in root.glob("*/data_year=*")
                      if not p.parent.name.startswith(("_", ".")) and (y := year_of_folder(p.name)) is not None}
        reports = self.reports_root()
        if reports.is_dir():
            years |= {int(p.name) for p in reports.iterdir() if p.is_dir() and p.name.isdigit()}
        return sorted(years)

    def check_writable(self, *more: str) -> None:
        """Refuse (exit code 2) before a run when an output folder cannot be written: a read-only or missing
        folder, no permission. Object stores are left to the run. ``more``: other folders (the archive)."""
        folders = [self.warehouse, str(self.reports_root()), *more]
        for folder in folders:
            path = local_path(folder)
            if path is None:
                continue
            probe = path / f"_probe.{uuid.uuid4().hex}.tmp"
            try:
                path.mkdir(parents=True, exist_ok=True)
                probe.write_bytes(b"")
                probe.unlink()
            except OSError as exc:
                raise storage_error(exc, path, "writing to", exit_code=EXIT_REFUSED) from exc

    def recover_all(self) -> list[int]:
        """Roll every finished commit forward and remove what failed runs left behind, for every year no
        other process is writing now (those are skipped: their writer owns them). Returns the years repaired.
        Run by each command before it reads anything."""
        repaired = []
        for year in self.years_on_disk():
            if not _pending(self.journal_dir(year), self.scope(year)):
                continue  # nothing to do: no lock taken (a read-only copy of the outputs can still be verified)
            try:
                with year_lock(self.lock_dir(), year, timeout=0):
                    if recover(self.journal_dir(year), self.scope(year)):
                        repaired.append(year)
            except LockTimeout:
                continue
            except StorageError as exc:  # that year's next step says it again; every other year goes on
                print(f"etdz: data year {year}: {exc}", file=sys.stderr, flush=True)
        return repaired


# --------------------------------------------------------------------------- the commit


def commit_for(location: str) -> StepCommit | None:
    """The step commit open in this process for the data year ``location`` belongs to, if any."""
    with _registry_lock:
        for commit in _open_commits:
            if commit.scope.contains(location):
                return commit
    return None


def _fs_of(location: str):
    return (None, location) if is_local(location) else fsspec.core.url_to_fs(location)


# --------------------------------------------------------------------------- journal folders, local or remote
# A journal folder is a local Path, or (an object-store warehouse) a URL string: these few functions are the
# only ones that tell the two apart.


def _child(folder: Path | str, name: str) -> Path | str:
    return folder / name if isinstance(folder, Path) else f"{folder.rstrip('/')}/{name}"


def _name(location: Path | str) -> str:
    return location.name if isinstance(location, Path) else location.rstrip("/").rsplit("/", 1)[-1]


def _listing(folder: Path | str) -> list[tuple[str, float]]:
    """The entries of a journal folder (name, modification time), oldest first; none when it does not exist."""
    if isinstance(folder, Path):
        if not folder.is_dir():
            return []
        out = [(p.name, p.stat().st_mtime_ns / 1e9) for p in folder.iterdir()]
    else:
        fs, path = fsspec.core.url_to_fs(folder)
        fs.invalidate_cache(path)  # another pod may have written it since this process last looked
        try:
            entries = fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        out = []
        for e in entries:
            modified = e.get("LastModified") or e.get("mtime") or e.get("created") or 0
            out.append((e["name"].rstrip("/").rsplit("/", 1)[-1],
                        modified.timestamp() if hasattr(modified, "timestamp") else float(modified)))
    return sorted(out, key=lambda item: (item[1], item[0]))


def _read_journal(journal: Path | str) -> bytes:
    if isinstance(journal, Path):
        return journal.read_bytes()
    fs, path = fsspec.core.url_to_fs(journal)
    return fs.cat_file(path)


def _write_journal(journal: Path | str, body: bytes) -> Path | str:
    """Write a journal (or a marker) atomically and durably: a replaced file, or one PUT."""
    if isinstance(journal, Path):
        return replace_file(journal, body)
    fs, path = fsspec.core.url_to_fs(journal)
    try:
        fs.pipe_file(path, body)
    except OSError as exc:
        raise storage_error(exc, journal) from exc
    return journal


def _drop_journal(journal: Path | str) -> None:
    """Remove a journal (or a marker) once it is done with; a missing one is fine (another pod finished it)."""
    if isinstance(journal, Path):
        if journal.exists():
            os.unlink(journal)
            fsync_dir(journal.parent)
        return
    fs, path = fsspec.core.url_to_fs(journal)
    with contextlib.suppress(FileNotFoundError):
        fs.rm_file(path)


class StepCommit:
    """The files one step stages; :meth:`commit` makes them all appear together (see the module doc)."""

    def __init__(self, journal_dir: Path | str, scope: YearScope, label: str):
        self.journal_dir = _folder_of(journal_dir)
        self.scope = scope
        self.tag = f"{label}-{uuid.uuid4().hex[:12]}"  # the commit id: names its staging, marker and journal
        self.staged: dict[str, str] = {}   # final location → staged location
        self.removed: set[str] = set()     # final locations to remove
        self.after: list[Callable[[], None]] = []  # run once the files are in place (uploads)
        self.journal: Path | str | None = None
        self.marker: Path | str | None = None  # written before the first staged object (see the module doc)
        self.writer_folders: set[str] = set()  # where other processes stage for it (:meth:`writer`)

    def stage(self, path: Path, data: Data) -> None:
        """Write ``path``'s new content to its temporary name (replacing what this step staged before)."""
        self.adopt(path, _stage_file(path, self.tag, data))

    def adopt(self, path: Path, staged: str) -> None:
        """Take ``path``'s content as staged at ``staged`` (by :meth:`stage`, or by a :class:`Writer` of this
        commit in another process): the commit renames it into place with the rest."""
        self.staged[str(path)] = staged
        self.removed.discard(str(path))

    def writer(self, folder: Path) -> Writer:
        """A :class:`Writer` staging files of ``folder`` for this commit from other processes; whatever they
        staged there and this commit never adopted is removed if the commit is abandoned."""
        self.writer_folders.add(str(folder))
        return Writer(self.tag)

    def stage_object(self, url: str, data: bytes) -> None:
        """Stage an object of an object store (one PUT under a temporary key beside it)."""
        folder, name = url.rsplit("/", 1)
        tmp = f"{folder}/_{name}.{self.tag}.tmp"
        if self.marker is None:  # first: whoever finds the marker without a journal removes this staging
            self.marker = _write_journal(_child(self.journal_dir, f"{self.tag}.open"),
                                         json.dumps({"year": self.scope.year}).encode("utf-8"))
        fs, path = _fs_of(tmp)
        fs.pipe_file(path, data)
        self.staged[url] = tmp
        self.removed.discard(url)

    def remove(self, path: Path) -> None:
        tmp = self.staged.pop(str(path), None)
        if tmp:
            _unlink_quietly(tmp)
        self.removed.add(str(path))

    def staged_location(self, location: str) -> str | None:
        """Where this step staged ``location``'s new content (so the step reads its own writes)."""
        return self.staged.get(location)

    def commit(self) -> None:
        """Journal the staged renames durably, apply them, drop the journal, then run the uploads."""
        if not self.staged and not self.removed:
            return
        try:
            _flush_staged(self.staged.values())  # the staged files are on disk before the journal says so
            absent = sorted(f for f in self.staged if is_local(f) and not os.path.lexists(f))
            body = json.dumps({"year": self.scope.year, "renames": sorted(self.staged.items()),
                               "removes": sorted(self.removed), "absent": absent}, ensure_ascii=False).encode("utf-8")
            self.journal = _write_journal(_child(self.journal_dir, f"{self.tag}.json"), body)
            # (the files a rollback removes: those the step adds, which did not exist when it was journalled)
        except BaseException:
            self.abort()
            raise
        apply_journal(self.journal)  # a failure here leaves the journal: the next command rolls it forward
        for action in self.after:
            action()

    def abort(self) -> None:
        """Remove what was staged: the previous outputs stay as they were."""
        for folder in self.writer_folders:  # staged by a helper process, not adopted yet (it failed midway)
            for leftover in Path(folder).glob(f"_*.{self.tag}.tmp"):
                _unlink_quietly(leftover)
        for tmp in self.staged.values():
            if is_local(tmp):
                _unlink_quietly(tmp)
            else:
                fs, path = _fs_of(tmp)
                with contextlib.suppress(Exception):
                    fs.rm(path)
        self.staged.clear()
        if self.marker is not None:
            with contextlib.suppress(Exception):  # left behind, the year's next step sweeps this staging
                _drop_journal(self.marker)


def _flush_staged(staged: Iterable[str]) -> None:
    """Make a step's staged local files durable: one syncfs of each file system they are on (a step of 23,000
    zone cards flushes once, not 23,000 times); where the platform has none, each file was fsynced when staged
    and each folder is fsynced here. Raises :class:`etdz.errors.StorageError` naming the folder."""
    folders = sorted({os.path.dirname(t) for t in staged if is_local(t)})
    if _syncfs is None:
        for folder in folders:
            fsync_dir(folder)
        return
    flushed: set[int] = set()
    for folder in folders:
        try:
            device = os.stat(folder).st_dev
        except OSError as exc:
            raise storage_error(exc, folder, "flushing the step's files to disk in") from exc
        if device not in flushed:
            sync_filesystem(folder, "flushing the step's files to disk in")
            flushed.add(device)


def _link(src: str | Path, dst: str | Path) -> None:
    """Give ``src`` a second name ``dst`` (its backup while a journal is applied; a seam of the tests)."""
    os.link(src, dst)


_FS_IOC_GETFLAGS = 0x80086601  # Linux ioctl: a file's attribute flags (chattr/lsattr)
_IMMUTABLE_FLAGS = 0x10 | 0x20  # FS_IMMUTABLE_FL | FS_APPEND_FL: no rename into or out of, no new entry


def _is_immutable(path: str) -> bool:
    """Whether ``path`` (a folder) carries the immutable or append-only attribute (Linux; False elsewhere)."""
    try:
        import fcntl  # noqa: PLC0415 - POSIX only

        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_DIRECTORY", 0))
    except (ImportError, OSError):
        return False
    try:
        buf = fcntl.ioctl(fd, _FS_IOC_GETFLAGS, b"\0" * 8)
        return bool(int.from_bytes(buf[:4], "little") & _IMMUTABLE_FLAGS)
    except OSError:
        return False  # a file system without attributes
    finally:
        os.close(fd)


class _Obstacle(Exception):
    """A target of a journal that cannot be replaced (found before anything was changed)."""

    def __init__(self, path: str, exc: OSError):
        super().__init__(path)
        self.path, self.exc = path, exc


def _backup_of(journal: Path | str, final: str) -> str:
    """Where the previous version of ``final`` is kept while ``journal`` is applied (a temporary name)."""
    return str(_tmp_path(Path(final), f"{_name(journal).removesuffix('.json')}.old"))


def _prepare(journal: Path, renames: list[tuple[str, str]], removes: list[str]) -> None:
    """Check that every local target of the journal can be replaced, keeping each previous version under a
    second name (a hard link: the file itself stays in place and readers see no gap). Raises :class:`_Obstacle`
    at the first target that cannot be replaced: a folder in its place, an immutable or append-only file or
    folder, a folder without write permission. Idempotent (a backup already made is kept)."""
    checked: set[str] = set()
    targets = [final for final, tmp in renames if os.path.exists(tmp)] + [f for f in removes if os.path.lexists(f)]
    for final in targets:
        folder = os.path.dirname(final)
        if folder not in checked:
            if _is_immutable(folder):
                raise _Obstacle(folder, OSError(errno.EPERM, "the folder is immutable or append-only (chattr)"))
            if not os.access(folder, os.W_OK | os.X_OK):
                raise _Obstacle(folder, OSError(errno.EACCES, "no permission to change the folder"))
            checked.add(folder)
        try:
            st = os.lstat(final)
        except FileNotFoundError:
            continue  # a new file: nothing to keep
        except OSError as exc:
            raise _Obstacle(final, exc) from exc
        if stat.S_ISDIR(st.st_mode):
            raise _Obstacle(final, OSError(errno.EISDIR, "a folder is in the file's place"))
        backup = _backup_of(journal, final)
        if os.path.lexists(backup):
            continue
        try:
            _link(final, backup)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EMLINK, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS):
                raise _Obstacle(final, exc) from exc  # EPERM here: the file is immutable or append-only
            try:  # a file system without hard links: the previous version moves aside until the new one is in
                _rename(final, backup)
            except OSError as exc2:
                raise _Obstacle(final, exc2) from exc2


def _roll_back(journal: Path | str, entries: dict) -> None:
    """Put every previous version back (a file the journal would have added is removed), then drop the journal,
    the backups and what was staged: the step's outputs are all as they were. Marks the journal first, so that a
    rollback interrupted half-way is finished as a rollback. Raises OSError when a file cannot be put back."""
    if entries.get("state") != "rollback":
        entries = {**entries, "state": "rollback"}
        body = json.dumps(entries, ensure_ascii=False).encode("utf-8")
        if isinstance(journal, Path):
            tmp = _tmp_path(journal, uuid.uuid4().hex)
            try:
                _write_file(tmp, body)
                os.replace(tmp, journal)
            finally:
                _unlink_quietly(tmp)
        else:
            _write_journal(journal, body)
    absent = set(entries.get("absent", []))
    folders: set[str] = set()
    for final, tmp in [*entries["renames"], *[(f, None) for f in entries["removes"]]]:
        if not is_local(final):
            continue  # objects are moved only after every local file is in: none has been moved yet
        backup = _backup_of(journal, final)
        if os.path.lexists(backup):
            if os.path.lexists(final) and os.path.samestat(os.lstat(backup), os.lstat(final)):
                os.unlink(backup)  # still in place (a rename between two names of one file would do nothing)
            else:
                _rename(backup, final)  # the previous version, the same file as before
            folders.add(os.path.dirname(final))
        elif final in absent and tmp is not None and not os.path.lexists(tmp) and os.path.lexists(final):
            os.unlink(final)  # a file the step added
            folders.add(os.path.dirname(final))
        if tmp is not None:
            _unlink_quietly(tmp)
    for folder in sorted(folders):
        fsync_dir(folder)
    _finish(journal)


def _finish(journal: Path | str) -> None:
    """Drop a journal that is done with, and its commit's marker (object stores)."""
    _drop_journal(journal)
    if not isinstance(journal, Path):
        _drop_journal(journal.removesuffix(".json") + ".open")


def _applied(journal: Path | str, entries: dict) -> tuple[int, int]:
    """How many of the journal's local files are new now, of how many (for a message that says what is true)."""
    renames = [(f, t) for f, t in entries["renames"] if is_local(t)]
    return sum(1 for _, t in renames if not os.path.lexists(t)), len(renames)


def apply_journal(journal: Path | str) -> None:
    """Move every staged file of a complete journal into place, all or nothing, then remove the journal.

    First every local target is checked and its previous version kept under a second name (:func:`_prepare`);
    then the staged files are renamed into place; then the previous versions and the journal are dropped. When a
    target cannot be replaced, or a rename fails, every previous version is put back and the journal dropped:
    nothing of the step changed, and the error (:class:`etdz.errors.StorageError`) names the target and says so.
    Idempotent: a journal interrupted (the process killed) is finished by the next call, forward — or backward
    when it was being rolled back. ``journal``: a local file, or an object beside an object-store warehouse
    (then any process, on any machine, can finish it; local files staged on another machine are not there
    and are left alone)."""
    entries = json.loads(_read_journal(journal))
    if entries.get("state") == "rollback":
        try:
            _roll_back(journal, entries)
        except OSError as exc:
            raise _not_put_back(journal, entries, exc) from exc
        return
    local = [(f, t) for f, t in entries["renames"] if is_local(t)]
    local_removes = [f for f in entries["removes"] if is_local(f)]
    folders: set[str] = set()
    try:
        _prepare(journal, local, local_removes)
        for final, tmp in local:
            if os.path.exists(tmp):
                _rename(tmp, final)
                folders.add(os.path.dirname(final))
        for final in local_removes:
            if os.path.lexists(final):
                os.unlink(final)
                folders.add(os.path.dirname(final))
    except Exception as exc:  # an obstacle, a failed rename, a bug: the previous versions go back
        cause = exc.exc if isinstance(exc, _Obstacle) else exc
        where = exc.path if isinstance(exc, _Obstacle) else (getattr(exc, "filename", None) or journal)
        try:
            _roll_back(journal, entries)
        except OSError as exc2:
            raise _not_put_back(journal, entries, exc2) from exc
        if isinstance(cause, OSError):
            raise storage_error(cause, where, "committing") from exc
        raise
    try:
        for final, tmp in entries["renames"]:  # object storage: each object replaced in one request
            if not is_local(tmp):
                fs, path = _fs_of(tmp)
                if fs.exists(path):  # gone: moved by an earlier attempt (of any process)
                    fs.mv(path, _fs_of(final)[1])
        for final in entries["removes"]:
            if not is_local(final):
                fs, path = _fs_of(final)
                if fs.exists(path):
                    fs.rm(path)
        for folder in sorted(folders):
            fsync_dir(folder)
        for final in [f for f, _ in local] + local_removes:
            _unlink_quietly(_backup_of(journal, final))
        _finish(journal)
    except OSError as exc:  # every local file is new; an object or a flush failed: the next command finishes it
        raise StorageError(f"committing {getattr(exc, 'filename', None) or journal} failed: "
                           f"{exc.strerror or exc}. The step's files are in place but not all confirmed; the journal "
                           f"{journal} is kept and the next etdz command finishes it. Correct the cause, then run the "
                           f"command again.") from exc


def _not_put_back(journal: Path | str, entries: dict, exc: OSError) -> StorageError:
    new, total = _applied(journal, entries)
    return StorageError(
        f"committing the step failed and its previous files could not all be put back "
        f"({getattr(exc, 'filename', None) or journal}: {exc.strerror or exc}): {new} of {total} files are new. The "
        f"journal {journal} is kept; once the cause is fixed, the next etdz command for data year "
        f"{entries.get('year')} puts the previous files back (other years are not affected).")


def _local_folders(scope: YearScope) -> list[Path]:
    folders = [Path(scope.reports)]
    root = local_path(scope.warehouse)
    if root is not None:
        folders += list(root.glob(f"*/{year_folder(scope.year)}"))
    return folders


def _pending(journal_dir: Path | str, scope: YearScope) -> bool:
    """Whether a failed run of the year left a journal, a commit marker or a temporary file (local outputs)."""
    if _listing(journal_dir):
        return True
    return any(is_temporary(name) for folder in _local_folders(scope) if folder.is_dir()
               for _, _, files in os.walk(folder) for name in files)


def _sweep_commit(scope: YearScope, tag: str) -> int:
    """Remove the objects one abandoned commit (``tag``, its id) staged in the year's dataset folders, and only
    those: another step's staging has another id. Returns how many."""
    fs, base = _fs_of(scope.warehouse)
    leftovers = [p for p in fs.glob(f"{base}/*/{year_folder(scope.year)}/_*.{tag}.tmp")
                 if _name(p).endswith(f".{tag}.tmp")]
    if leftovers:
        fs.rm(leftovers)
    return len(leftovers)


def _sweep(scope: YearScope) -> int:
    """Remove the temporary files failed writes of the year left in its local folders; returns how many."""
    removed = 0
    folders = _local_folders(scope)
    for folder in folders:
        if not folder.is_dir():
            continue
        for dirpath, _, files in os.walk(folder):
            for name in files:
                if is_temporary(name):
                    _unlink_quietly(os.path.join(dirpath, name))
                    removed += 1
    return removed


def recover(journal_dir: Path | str, scope: YearScope) -> bool:
    """Finish or undo whatever a failed run of the year left: complete journals are rolled forward (oldest
    first), the objects staged by a commit that left a marker but no journal are removed (that commit's only),
    then every temporary file of the year's local folders. Call it holding the year's lock (then every commit
    whose marker or journal is there is dead: their writer held the lock). Returns True when anything was
    repaired."""
    journal_dir = _folder_of(journal_dir)
    repaired = False
    entries = _listing(journal_dir)
    names = {name for name, _ in entries}
    for name, _ in entries:
        if name.endswith(".json") and not name.startswith(("_", ".")):
            apply_journal(_child(journal_dir, name))
            repaired = True
    for name, _ in entries:
        if name.endswith(".open") and name.removesuffix(".open") + ".json" not in names:
            _sweep_commit(scope, name.removesuffix(".open"))  # killed before its journal: all old
            _drop_journal(_child(journal_dir, name))
            repaired = True
        elif is_temporary(name) and isinstance(journal_dir, Path):
            _unlink_quietly(journal_dir / name)
    return _sweep(scope) > 0 or repaired


def _folder_of(location: Path | str) -> Path | str:
    """A journal folder as these functions take it: a Path when it is local, else the URL."""
    if isinstance(location, Path):
        return location
    path = local_path(location)
    return path if path is not None else location.rstrip("/")


@contextlib.contextmanager
def step_commit(journal_dir: Path | str, scope: YearScope, label: str = "step") -> Iterator[StepCommit]:
    """Open the year's commit for one step: recover first, stage every write, commit on success.

    Call it holding the year's write lock. Re-entrant: a nested call for the same year joins the open
    commit. On an exception (or the step being abandoned) everything staged is removed.
    """
    with _registry_lock:
        joined = next((c for c in _open_commits if c.scope == scope), None)
    if joined is not None:
        yield joined
        return
    recover(journal_dir, scope)
    commit = StepCommit(journal_dir, scope, label)
    with _registry_lock:
        _open_commits.append(commit)
    try:
        yield commit
    except BaseException:
        _close(commit)
        commit.abort()
        raise
    _close(commit)
    commit.commit()


def _close(commit: StepCommit) -> None:
    with _registry_lock:
        if commit in _open_commits:
            _open_commits.remove(commit)

