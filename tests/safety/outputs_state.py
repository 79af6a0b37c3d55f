"""What "every output of a step is all-old or all-new" means, checked on the files themselves.

A year's outputs are grouped by the step that writes them. A file's identity is its inode, size and
modification time: a step that commits replaces every file it writes (a new inode), a step that did not
commit leaves each file exactly as it was. Dataset bytes are also compared with a clean run's, since
Parquet files are deterministic (reports carry time stamps and are compared by identity and name only).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from etdz.commit import is_temporary

INGESTION_DATASETS = {"submission_log", "submission_issues", "measures"}
STEPS = ("ingestion", "scoring", "reports")


def step_of(rel: str) -> str:
    """The step that writes an output file, from its path relative to the deployment's root."""
    parts = rel.split("/")
    if parts[0] == "warehouse":
        return "ingestion" if parts[1] in INGESTION_DATASETS else "scoring"
    if parts[2] == "validation.html" or parts[2] == "rejections":
        return "ingestion"
    return "reports"


@dataclass(frozen=True)
class FileState:
    ident: tuple[int, int, int]
    data: bytes | None  # the bytes of a dataset file, None for a report


def snapshot(root: Path, year: int) -> dict[str, dict[str, FileState]]:
    """Every output file of ``year`` under ``root`` (``warehouse/`` and ``reports/``), per step."""
    out: dict[str, dict[str, FileState]] = {s: {} for s in STEPS}
    tops = [(root / "warehouse", lambda p: f"data_year={year}" in p.parts), (root / "reports" / str(year), None)]
    for top, keep in tops:
        if not top.is_dir():
            continue
        for p in sorted(top.rglob("*")):
            rel = p.relative_to(root).as_posix()
            if not p.is_file() or any(part.startswith(("_", ".")) for part in p.relative_to(root).parts[1:]):
                continue
            if keep is not None and not keep(p):
                continue
            st = p.stat()
            data = p.read_bytes() if rel.startswith("warehouse/") else None
            out[step_of(rel)][rel] = FileState((st.st_ino, st.st_size, st.st_mtime_ns), data)
    return out


def leftovers(root: Path) -> list[str]:
    """Temporary files and unapplied journals anywhere under ``root`` (none may survive a recovery)."""
    found = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = Path(dirpath) / name
            if is_temporary(name) or ("_commits" in path.parts and name.endswith(".json")):
                found.append(str(path.relative_to(root)))
    return found


def verdict(now: dict[str, FileState], old: dict[str, FileState], new: dict[str, FileState]) -> str:
    """"old" when every file of the step is untouched, "new" when every file is from the new run, else "torn"."""
    if now.keys() == old.keys() and all(now[k].ident == old[k].ident for k in now):
        return "old"
    if now.keys() == new.keys() and all(k not in old or now[k].ident != old[k].ident for k in now) \
            and all(now[k].data == new[k].data for k in now):
        return "new"
    return "torn"


def copy_state(src: Path, dst: Path) -> None:
    """Copy a deployment's outputs keeping modification times (identities are re-read after the copy)."""
    for name in ("warehouse", "reports"):
        if (src / name).exists():
            shutil.copytree(src / name, dst / name, copy_function=shutil.copy2, symlinks=True)
