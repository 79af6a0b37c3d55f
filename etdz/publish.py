"""Publishing freezes a data year: a manifest of every output with its hash, the files used and the catalogue.

Results are published only after approval (01-domain.md "Review"). Once a year is
published, any run that would write it refuses (:class:`PublishedYearError`) until the
year is explicitly reopened with a reason; every publish and reopen is appended to the
year's ``history.jsonl``, so the record of who froze or reopened what, and why, stays.

Layout, beside the datasets: ``<warehouse>/_published/data_year=<Y>/manifest.json`` and
``history.jsonl`` (the ``_`` prefix keeps dataset readers away).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from pathlib import Path

from etdz.catalogue import Catalogue
from etdz.schemas import DATASETS
from etdz.storage import Warehouse


class PublishedYearError(RuntimeError):
    """A run tried to change a published data year."""


def _folder(store: Warehouse, year: int) -> str:
    return f"{store.base}/_published/data_year={int(year)}"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def history(store: Warehouse, year: int) -> list[dict]:
    """Every publish / reopen event of the year, oldest first."""
    path = f"{_folder(store, year)}/history.jsonl"
    if not store.fs.exists(path):
        return []
    with store.fs.open(path, "rb") as fh:
        return [json.loads(line) for line in fh.read().decode("utf-8").splitlines() if line.strip()]


def is_published(store: Warehouse, year: int) -> dict | None:
    """The last publish event when the year is currently published (not reopened since), else None."""
    events = history(store, year)
    return events[-1] if events and events[-1]["action"] == "publish" else None


def ensure_writable(store: Warehouse, year: int) -> None:
    """Refuse to touch a published year (called by every asset before it writes)."""
    event = is_published(store, year)
    if event:
        raise PublishedYearError(
            f"data year {year} was published on {event['at']} by {event['by']} (manifest "
            f"{store.root}/_published/data_year={year}/manifest.json); its results are frozen. If it must change, "
            f"reopen it first: etdz reopen --data-year {year} --reason \"…\"")


def _append(store: Warehouse, year: int, event: dict) -> None:
    folder = _folder(store, year)
    store.fs.makedirs(folder, exist_ok=True)
    lines = [json.dumps(e, ensure_ascii=False) for e in history(store, year)] + [json.dumps(event, ensure_ascii=False)]
    store.fs.pipe_file(f"{folder}/history.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(store: Warehouse, reports_dir: Path, year: int, catalogue: Catalogue, registry_path: str) -> dict:
    """Hash every dataset file and report of the year; list the submission files used."""
    datasets = {}
    for name in DATASETS:
        path = store.path(name, year)
        if not store.fs.exists(path):
            raise FileNotFoundError(f"data year {year} has no {name} dataset in {store.root}: run it before publishing")
        with store.fs.open(path, "rb") as fh:
            data = fh.read()
        datasets[name] = {"path": store.url(name, year), "sha256": _sha256_bytes(data), "bytes": len(data)}
    reports = {}
    if reports_dir.is_dir():
        for p in sorted(reports_dir.rglob("*")):
            if p.is_file() and not p.name.startswith(("_", ".")):
                reports[str(p.relative_to(reports_dir))] = _sha256_bytes(p.read_bytes())
    log = store.read("submission_log", year).to_pandas()
    files = [{"file_name": r["file_name"], "sha256": r["sha256"], "zone_code": r["zone_code"], "status": r["status"]}
             for r in log.sort_values(["zone_code", "file_name"], na_position="last").to_dict("records")]
    rankings = store.read("rankings", year).to_pandas()
    return {
        "data_year": int(year),
        "assessment_year": int(year) + 1,
        "catalogue": {"version": catalogue.version, "path": catalogue.path, "sha256": catalogue.sha256},
        "registry": {"path": registry_path, "sha256": _sha256_bytes(Path(registry_path).read_bytes())},
        "results_status": rankings.results_status.iloc[0] if len(rankings) else "final",
        "zones_ranked": int(len(rankings)),
        "submission_files": files,
        "datasets": datasets,
        "reports": {"folder": str(reports_dir), "files": reports},
    }


def publish_year(store: Warehouse, reports_dir: Path, year: int, catalogue: Catalogue, registry_path: str,
                 approved_by: str | None = None, note: str | None = None) -> dict:
    """Freeze the year: write its manifest and record the publish event. Refuses an already published year."""
    if is_published(store, year):
        ensure_writable(store, year)  # raises with the details
    manifest = build_manifest(store, reports_dir, year, catalogue, registry_path)
    event = {"action": "publish", "at": _now(), "by": approved_by or getpass.getuser(), "note": note or "",
             "manifest_sha256": _sha256_bytes(json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode())}
    manifest["published"] = event
    folder = _folder(store, year)
    store.fs.makedirs(folder, exist_ok=True)
    body = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
    stamp = event["at"].replace(":", "").replace("-", "")
    store.fs.pipe_file(f"{folder}/manifest-{stamp}.json", body)  # every published version stays
    store.fs.pipe_file(f"{folder}/manifest.json", body)
    _append(store, year, event)
    return manifest


def reopen_year(store: Warehouse, year: int, reason: str, by: str | None = None) -> dict:
    """Unfreeze a published year; the reason is required and recorded."""
    if not reason or not reason.strip():
        raise ValueError("reopening a published year needs a reason (--reason), which is recorded")
    if not is_published(store, year):
        raise ValueError(f"data year {year} is not published; nothing to reopen")
    event = {"action": "reopen", "at": _now(), "by": by or getpass.getuser(), "reason": reason.strip()}
    _append(store, year, event)
    return event


def verify(store: Warehouse, year: int) -> list[str]:
    """Differences between the published manifest and the files now in place (empty = intact)."""
    folder = _folder(store, year)
    if not store.fs.exists(f"{folder}/manifest.json"):
        return [f"data year {year} has no manifest"]
    with store.fs.open(f"{folder}/manifest.json", "rb") as fh:
        manifest = json.loads(fh.read())
    problems = []
    for name, info in manifest["datasets"].items():
        path = store.path(name, year)
        if not store.fs.exists(path):
            problems.append(f"{name}: missing")
            continue
        with store.fs.open(path, "rb") as fh:
            if _sha256_bytes(fh.read()) != info["sha256"]:
                problems.append(f"{name}: changed since publication")
    return problems
