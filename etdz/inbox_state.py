"""The state of an inbox year folder as one digest: what changed since the last run?

The digest covers every file's name, size and modification time (not its content:
hashing 230 files on every sensor tick would be wasteful, and a replaced file always
changes its mtime). The ingestion archives and hashes the content itself.
"""

from __future__ import annotations

import hashlib
from pathlib import Path


def inbox_files(folder: str | Path) -> list[Path]:
    """Regular files of a year folder, sorted by name: the same set the ingestion receives."""
    from etdz.ingest import list_inbox

    return list_inbox(folder)


def folder_digest(folder: str | Path) -> str:
    """A short digest of the folder's file names, sizes and modification times ("empty" when none)."""
    files = inbox_files(folder)
    if not files:
        return "empty"
    h = hashlib.sha256()
    for p in files:
        st = p.stat()
        h.update(f"{p.name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


def inbox_years(inbox: str | Path) -> list[int]:
    """Year folders present in the inbox."""
    root = Path(inbox)
    if not root.is_dir():
        return []
    return sorted(int(p.name) for p in root.iterdir() if p.is_dir() and p.name.isdigit() and len(p.name) == 4)
