"""The state of an inbox year folder: what is in it (as listed, links never followed) and one digest of it.

The digest covers every entry's name, size and modification time (not its content:
hashing 230 files on every sensor tick would be wasteful, and a replaced file always
changes its mtime). The ingestion archives and hashes the content itself.

Each step lists a year folder once (:func:`scan_inbox`, one ``lstat`` per entry) and derives what else it
needs — the digest, the number of files, the files to ingest — from that one listing.

Listing uses ``lstat``: a symbolic link, FIFO, socket or device is listed as what it is
(the ingestion logs it as rejected, ``file.not_regular``) and is never followed or opened
here; sub-folders are not submissions and are skipped; an entry that disappears between
the directory read and its ``lstat`` was never received.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from etdz.errors import EXIT_REFUSED, EtdzError

# what a non-regular entry is, in Chinese for the rejection message
_NOT_REGULAR = ((stat.S_ISLNK, "符号链接"), (stat.S_ISDIR, "文件夹"), (stat.S_ISFIFO, "命名管道（FIFO）"),
                (stat.S_ISSOCK, "套接字（socket）"), (stat.S_ISCHR, "字符设备"), (stat.S_ISBLK, "块设备"))


@dataclass(frozen=True)
class InboxEntry:
    """One entry of a year folder as listed: ``not_regular`` is None for a regular file, else what it is."""

    path: Path
    not_regular: str | None
    size: int
    mtime_ns: int

    @property
    def name(self) -> str:
        """The file's name as shown and recorded (:func:`display_name`); ``path`` keeps the raw bytes to open it."""
        return display_name(self.path.name)


def display_name(name: str) -> str:
    """A file name (or path) safe to record and show: one that is not UTF-8 (GBK bytes from a zip made on Chinese
    Windows; Python keeps such bytes as lone surrogates, which no UTF-8 output accepts) has each such byte written as
    ``\\xNN`` — the raw bytes stay recoverable from the text, and the file itself is opened by its raw path."""
    try:
        name.encode("utf-8")
        return name
    except UnicodeEncodeError:
        return os.fsencode(name).decode("utf-8", "backslashreplace")


def not_regular(mode: int) -> str | None:
    """None for a regular file's ``st_mode``, else what the entry is (Chinese)."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _NOT_REGULAR if test(mode)), "特殊文件")


def inbox_entry(path: str | Path) -> InboxEntry:
    """One path as listed (``lstat``: a link is described, not followed). Raises FileNotFoundError."""
    st = os.lstat(path)
    return InboxEntry(Path(path), not_regular(st.st_mode), st.st_size, st.st_mtime_ns)


class InboxFolderRefused(EtdzError):
    """A year folder of the inbox that is a symbolic link: never followed (exit 2; the message says what to do)."""

    exit_code = EXIT_REFUSED


def refuse_linked_folder(folder: str | Path) -> None:
    """Raise :class:`InboxFolderRefused` when the year folder ``folder`` is a symbolic link: like a linked file,
    what it points to is never read, archived or shown (it may be anywhere on the machine)."""
    if os.path.islink(folder):
        try:
            target = os.readlink(folder)
        except OSError:
            target = "?"
        raise InboxFolderRefused(
            f"the inbox folder {folder} is a symbolic link (to {target!r}); etdz never follows links in the inbox, "
            f"so nothing of it was read. Put the year's files in a real folder there (e.g. replace the link by the "
            f"folder it points to: rm {folder} && mv <that folder> {folder}), then run the command again")


def scan_inbox(folder: str | Path) -> list[InboxEntry]:
    """Every entry of a year folder except sub-folders, sorted by name (code point): the files received.
    A year folder that is a symbolic link raises :class:`InboxFolderRefused`."""
    refuse_linked_folder(folder)
    try:
        it = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    out: list[InboxEntry] = []
    with it:
        for e in it:
            try:
                st = e.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # gone between the directory read and its lstat: never received
            if stat.S_ISDIR(st.st_mode):
                continue
            out.append(InboxEntry(Path(e.path), not_regular(st.st_mode), st.st_size, st.st_mtime_ns))
    out.sort(key=lambda x: x.name)
    return out


def has_entries(folder: str | Path) -> bool:
    """Whether the year folder holds anything :func:`scan_inbox` would list, stopping at the first such entry
    (no ``lstat`` of every file: the partitions only need to know that a year has files)."""
    try:
        it = os.scandir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return False
    with it:
        for e in it:
            try:
                if not e.is_dir(follow_symlinks=False):
                    return True
            except FileNotFoundError:
                continue
    return False


def listing_digest(entries: list[InboxEntry]) -> str:
    """The digest of a folder as listed by :func:`scan_inbox` (names, sizes, modification times; "empty" when
    none): a step that lists the folder anyway passes its listing instead of listing it again."""
    if not entries:
        return "empty"
    h = hashlib.sha256()
    for e in entries:
        h.update(f"{e.name}\0{e.size}\0{e.mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


def folder_digest(folder: str | Path) -> str:
    """A short digest of the folder's entry names, sizes and modification times ("empty" when none)."""
    return listing_digest(scan_inbox(folder))


def inbox_years(inbox: str | Path) -> list[int]:
    """Year folders present in the inbox."""
    root = Path(inbox)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 4)
