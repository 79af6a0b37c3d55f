"""Machinery failures as one plain message each, with the exit code the `etdz` command returns.

Exit codes (README): 0 the run succeeded (rejected files included); 2 refused before anything was
written (configuration, environment, a guard); 1 a run that started failed. Every message names the
path involved and what the operator can do; the command prints it without a traceback unless ``--debug``.
"""

from __future__ import annotations

import errno
import os

from etdz.locations import local_path

EXIT_REFUSED = 2
EXIT_FAILED = 1


class EtdzError(Exception):
    """An error an operator can act on: ``str(exc)`` is the whole message, ``exit_code`` what `etdz` returns."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, exit_code: int | None = None):
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class StorageError(EtdzError):
    """Writing or reading an output failed on the filesystem (disk full, read-only, permission, missing folder)."""


class UsageError(EtdzError):
    """A command given impossible arguments (a year that is not one, ``--to`` before ``--from``): exit 2."""

    exit_code = EXIT_REFUSED


class DamagedFileError(EtdzError):
    """A Parquet file on record cannot be read: it is named, with the command that rebuilds it."""


_WHAT_TO_DO = {
    errno.ENOSPC: ("the disk is full", "free space on that disk (or point the setting at another disk)"),
    errno.EDQUOT: ("the disk quota (of space or of number of files) is exceeded", "free space, remove files you "
                   "do not need, or raise the quota"),
    errno.EROFS: ("the folder is on a read-only filesystem", "remount it read-write or point the setting at a "
                                                             "writable folder"),
    errno.EACCES: ("permission denied", "give the user running etdz write access to it (or point the setting "
                                        "at a folder it may write)"),
    errno.EPERM: ("operation not permitted", "give the user running etdz write access to it"),
    errno.ENOENT: ("the folder does not exist", "create it, or correct the setting that points there"),
    errno.ENOTDIR: ("a part of the path is a file, not a folder", "correct the setting that points there"),
    errno.EIO: ("the disk reported an input/output error", "check the disk and the system log (dmesg) before "
                                                           "trusting it again, or point the setting at another disk"),
}


# ENOSPC also means "no inode left": a disk with free space that cannot take one more file
_NO_INODES = ("the disk has no free inodes left (it holds as many files as it can, although it may have free "
              "space; `df -i` shows it)", "remove files you do not need on that disk, or point the setting at another "
                                          "disk")


def out_of_inodes(path: str | os.PathLike) -> bool:
    """Whether the file system holding ``path`` (or its nearest existing folder) has no inode left for this user."""
    local = local_path(str(path))
    if local is None:
        return False  # object storage has no inodes
    folder = os.path.abspath(local)
    while folder and not os.path.isdir(folder):
        parent = os.path.dirname(folder)
        if parent == folder:
            return False
        folder = parent
    try:
        st = os.statvfs(folder)
    except OSError:
        return False
    return st.f_files > 0 and st.f_favail == 0  # f_files 0: a file system without an inode count (btrfs, NFS)


def storage_error(exc: OSError, path: str | os.PathLike, action: str = "writing",
                  exit_code: int = EXIT_FAILED) -> StorageError:
    """Turn an OSError met while ``action`` (e.g. "writing") ``path`` into one plain message.

    The message says what happened, where, that the step's earlier outputs are untouched (every step
    commits its files together, etdz/commit.py), and what to do before running the command again.
    """
    what, todo = _WHAT_TO_DO.get(exc.errno or 0, (exc.strerror or str(exc), "correct the cause"))
    if exc.errno == errno.ENOSPC and out_of_inodes(path):
        what, todo = _NO_INODES
    where = path  # the file the operator knows, not the temporary name it was being written to
    kept = ("Nothing was written" if exit_code == EXIT_REFUSED
            else "Nothing of this step was changed (the previous results stay in place)")
    return StorageError(f"{action} {where} failed: {what}. {kept}; {todo}, then run the command again.", exit_code)



def error_message(info) -> str | None:
    """The plain message of an :class:`EtdzError` inside Dagster's serialized error chain, else None.

    ``info``: a ``SerializableErrorInfo`` (``cls_name``, ``message``, ``cause``, ``context``); duck-typed
    so this module needs no Dagster."""
    names = {cls.__name__ for cls in _subclasses(EtdzError)}
    seen = 0
    while info is not None and seen < 20:
        if info.cls_name in names:
            first = info.message.split(f"{info.cls_name}: ", 1)  # drop the "module.ClassName: " prefix
            return (first[1] if len(first) == 2 and "\n" not in first[0] else info.message).strip()
        info = info.cause or info.context
        seen += 1
    return None


def _subclasses(cls: type) -> list[type]:
    out = [cls]
    for sub in cls.__subclasses__():
        out += _subclasses(sub)
    return out
