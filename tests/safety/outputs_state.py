"""What "every output of a step is all-old or all-new" means, checked on the files themselves.

A year's outputs are grouped by the step that writes them. A file's identity is its inode, size and
modification time: a step that commits replaces every file it writes (a new inode), a step that did not
commit leaves each file exactly as it was. Dataset bytes are also compared with a clean run's, since
Parquet files are deterministic (reports carry time stamps and are compared by identity and name only).
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import etdz.commit as commit_mod
from etdz.commit import is_temporary

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
YEAR = 2021

INGESTION_DATASETS = {"submission_log", "submission_issues", "measures"}
OWN_STEP = {"rank_robustness": "robustness", "ranking_changes": "changes"}  # assets of their own, after the scores
STEPS = ("ingestion", "scoring", "robustness", "changes", "reports")


def step_of(rel: str) -> str:
    """The step that writes an output file, from its path relative to the deployment's root."""
    parts = rel.split("/")
    if parts[0] == "warehouse":
        return "ingestion" if parts[1] in INGESTION_DATASETS else OWN_STEP.get(parts[1], "scoring")
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


def inboxes(base: Path) -> tuple[Path, Path]:
    """Inbox A (the golden files plus a garbage file) and B (a zone's file withdrawn, another faulty file)."""
    a, b = base / "inbox_a", base / "inbox_b"
    shutil.copytree(GOLDEN / "inbox", a, copy_function=shutil.copy2)
    shutil.copytree(GOLDEN / "inbox", b, copy_function=shutil.copy2)
    (a / str(YEAR) / "garbage.csv").write_bytes(b"\x00\x01 not a submission")
    (b / str(YEAR) / "E2.csv").unlink()
    (b / str(YEAR) / "header only.csv").write_text("zone_code,data_year,measure_code,value,unit\n", encoding="utf-8")
    for p in list(a.rglob("*.csv")) + list(b.rglob("*.csv")):
        os.utime(p, (1_700_000_000, 1_700_000_000))
    return a, b


def run_year(root: Path, inbox: Path, year: int, archive: Path | None = None):
    """Run every asset of ``year`` in this process, as `etdz run` does (raise_on_error=False). ``archive``:
    one archive for several roots, so the logs (which name the archived copies) compare equal."""
    from dagster import DagsterInstance

    from etdz.settings import Settings
    from pipelines.definitions import build_definitions
    from pipelines.runs import in_process_job

    env = {"ETDZ_HOME": str(root), "ETDZ_INBOX": str(inbox), "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"),
           "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"), "ETDZ_WAREHOUSE": str(root / "warehouse"),
           "ETDZ_REPORTS": str(root / "reports"), "DAGSTER_HOME": str(root / "dagster_home")}
    if archive is not None:
        env["ETDZ_ARCHIVE"] = str(archive)
    job = in_process_job(build_definitions(Settings.from_env(env)))  # the twin `etdz run` executes
    with DagsterInstance.ephemeral() as instance:
        return job.execute_in_process(partition_key=str(year), instance=instance, raise_on_error=False)


def prepare_old_and_new(base: Path):
    """The old state (2020 and 2021 on inbox A) in ``base/old`` with its archive saved as ``base/archive_old``,
    and a clean re-run of 2021 on inbox B: returns (base, inbox B, old root, the new run's snapshot, the new
    run's file operations in order)."""
    inbox_a, inbox_b = inboxes(base)
    old = base / "old"
    for y in (2020, YEAR):
        assert run_year(old, inbox_a, y, base / "archive").success
    shutil.copytree(base / "archive", base / "archive_old")  # each run below starts from the old archive
    new = base / "new"
    copy_state(old, new)
    ops = []
    real_write, real_rename = commit_mod._write_file, commit_mod._rename

    def write(path, data, **kw):
        ops.append(("write", str(path)))
        real_write(path, data, **kw)

    def rename(src, dst):
        ops.append(("rename", str(dst)))
        real_rename(src, dst)

    commit_mod._write_file, commit_mod._rename = write, rename
    try:
        assert run_year(new, inbox_b, YEAR, base / "archive").success
    finally:
        commit_mod._write_file, commit_mod._rename = real_write, real_rename
    return base, inbox_b, old, snapshot(new, YEAR), ops


def restore_archive(base: Path) -> None:
    """Put the archive back as the old runs left it (a trial starts where the old state was)."""
    shutil.rmtree(base / "archive", ignore_errors=True)
    shutil.copytree(base / "archive_old", base / "archive")


def mount_tmpfs(mnt: Path, size: str) -> str | None:
    """Mount a real tmpfs of ``size`` at ``mnt``; returns why not when mounting is not permitted."""
    mnt.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True,
                          text=True)
    return None if proc.returncode == 0 else f"cannot mount a tmpfs here ({proc.stderr.strip()}): needs root"


def unmount(mnt: Path) -> None:
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill ``disk`` with one file until at most ``leave`` bytes are free; returns the filler."""
    filler = disk / "filler"
    free = shutil.disk_usage(disk).free
    with open(filler, "wb", buffering=0) as fh:
        chunk = b"\0" * 65536
        remaining = max(0, free - leave)
        try:
            while remaining > 0:
                remaining -= fh.write(chunk[:min(len(chunk), remaining)])
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise
    return filler
