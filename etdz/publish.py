"""Publishing freezes a data year: a manifest of every output with its hash, the files used and the catalogue.

Results are published only after approval (docs/contract/01-domain.md "Review"). Once a year is
published, any run that would write it refuses (:class:`PublishedYearError`) until the
year is explicitly reopened with a reason; every publish and reopen is appended to the
year's ``history.jsonl``, so the record of who froze or reopened what, and why, stays.

Layout, beside the datasets: ``<warehouse>/_published/data_year=<Y>/manifest-<time>.json`` (every published
version), ``manifest.json`` (a copy of the latest) and ``history.jsonl`` (the ``_`` prefix keeps dataset readers
away). Publishing and reopening hold the year's write lock (:mod:`etdz.locks`), so they never interleave with a
step of a run of the year; every file is replaced atomically (:func:`etdz.commit.replace_file`, one PUT on an
object store). The history is the commit point: a publish event names its manifest file, written before it, so
a publication interrupted half-way is either recorded with its manifest or not recorded at all.

The reports hashed are the *published* ones, where readers get them (``ETDZ_REPORTS``: a local folder or an
``s3://`` prefix), never a machine's local staging copy: a publish from any pod records the same files, and a
publication without report files is refused (and one recorded so by an older release fails ``--verify``).
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
from pathlib import Path

import fsspec

from etdz.catalogue import Catalogue
from etdz.commit import DeploymentLayout, replace_file
from etdz.errors import EXIT_REFUSED, EtdzError
from etdz.escape import plain_text
from etdz.locations import local_path, year_folder
from etdz.locks import COMMAND_WAIT, year_lock
from etdz.queries import publish_refusal, query_status
from etdz.schemas import DATASETS
from etdz.storage import Warehouse


class PublishedYearError(RuntimeError):
    """A run tried to change a published data year."""


def _folder(store: Warehouse, year: int) -> str:
    return f"{store.base}/_published/{year_folder(year)}"


def manifest_url(store: Warehouse, year: int) -> str:
    """Where the year's manifest is, as the user names it (the warehouse URL or path)."""
    return f"{store.root}/_published/{year_folder(year)}/manifest.json"


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


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
            f"data year {year} was published on {event['at']} by {plain_text(event['by'])} (manifest "
            f"{manifest_url(store, year)}); its results are frozen. If it must change, "
            f"reopen it first: {reopen_command(year)}")


def reopen_command(year: int) -> str:
    """The command that reopens a published year (every message that refuses one names it)."""
    return f'etdz reopen --data-year {int(year)} --reason "…"'


def blocked_by_publication(year: int, event: dict, why: str) -> str:
    """The message when something would re-run a published year (the sensor, the schedule): which year, since
    when, why it would run, and the command that reopens it. The one wording the automation uses."""
    return (f"data year {year} is published (on {event['at']} by {plain_text(event['by'])}), so it is not run "
            f"although {why}. "
            f"If the correction must reach it, reopen it: {reopen_command(year)} — the "
            f"next tick then runs it (or run it yourself: etdz run --data-year {year})")


def lock_dir_of(store: Warehouse) -> Path | str:
    """Where the year locks of this warehouse live (the same place every run's steps lock)."""
    return DeploymentLayout(store.root, "").lock_dir()


def _put(store: Warehouse, path: str, body: bytes) -> None:
    """Replace one file of the published folder atomically: a local file through a temporary name and a rename,
    an object in one PUT (readers see the old or the new one, never half)."""
    if store.local:
        replace_file(path, body)
    else:
        store.fs.pipe_file(path, body)


def _append(store: Warehouse, year: int, event: dict) -> None:
    """Add one event to the year's history (called holding the year's lock: read, extend, replace)."""
    folder = _folder(store, year)
    store.fs.makedirs(folder, exist_ok=True)
    lines = [json.dumps(e, ensure_ascii=False) for e in history(store, year)] + [json.dumps(event, ensure_ascii=False)]
    _put(store, f"{folder}/history.jsonl", ("\n".join(lines) + "\n").encode("utf-8"))


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hidden(relative: str) -> bool:
    """A name below the reports folder that is no report: staged, temporary or hidden (``_``/``.`` parts)."""
    return any(part.startswith(("_", ".")) for part in relative.split("/"))


def report_files(reports: str | Path) -> dict[str, str]:
    """SHA-256 of every report file under ``reports`` (a year's published reports: a local folder or an
    object-store URL), by path relative to it, ``/``-separated; empty when there is none."""
    folder = local_path(str(reports))
    if folder is not None:
        if not folder.is_dir():
            return {}
        out = {}
        for p in sorted(folder.rglob("*")):
            rel = p.relative_to(folder).as_posix()
            if p.is_file() and not _hidden(rel):
                out[rel] = _sha256_bytes(p.read_bytes())
        return out
    fs, base = fsspec.core.url_to_fs(str(reports).rstrip("/"))
    fs.invalidate_cache(base)  # another pod uploaded them: no listing this process cached before
    out = {}
    for key in sorted(fs.find(base)):
        rel = key[len(base):].lstrip("/")
        if rel and not _hidden(rel):
            out[rel] = _sha256_bytes(fs.cat_file(key))
    return out


def build_manifest(store: Warehouse, reports: str | Path, year: int, catalogue: Catalogue, registry_path: str) -> dict:
    """Hash every dataset file and published report of the year (``reports``: the year's reports folder or
    URL, where readers get them); list the submission files used. Refuses a year without report files."""
    datasets = {}
    for name in DATASETS:
        path = store.path(name, year)
        if not store.fs.exists(path):
            if not store.years(name):
                continue  # a dataset this deployment has never written (added to the schemas by a later release)
            raise EtdzError(f"data year {year} has no {name} dataset in {store.root}: run it before publishing "
                            f"(etdz run --data-year {year})", EXIT_REFUSED)
        with store.fs.open(path, "rb") as fh:
            data = fh.read()
        datasets[name] = {"path": store.url(name, year), "sha256": _sha256_bytes(data), "bytes": len(data)}
    report_hashes = report_files(reports)
    if not report_hashes:  # nothing to freeze: the year's reports are not where readers get them
        raise EtdzError(f"data year {year} has no report files in {reports}; nothing was published. Run the year "
                        f"(etdz run --data-year {year}) so that its reports are written there, then publish",
                        EXIT_REFUSED)
    log = store.read("submission_log", year).to_pandas()
    files = [{"file_name": r["file_name"], "sha256": r["sha256"], "zone_code": r["zone_code"], "status": r["status"],
              "archive_path": r.get("archive_path") if isinstance(r.get("archive_path"), str) else None}
             for r in log.sort_values(["zone_code", "file_name"], na_position="last").to_dict("records")]
    damaged = [f"{f['archive_path']} ({f['file_name']})" for f in files
               if f["archive_path"] and f["sha256"] and _hash_of(f["archive_path"]) != f["sha256"]]
    if damaged:  # what is frozen must be what the zones sent
        raise EtdzError(f"data year {year}: the archived copy of {len(damaged)} submission file(s) is missing or no "
                        f"longer matches its SHA-256: {', '.join(map(plain_text, damaged[:5]))}; nothing was "
                        f"published. Run the year again (etdz run --data-year {year}): it writes each copy again from "
                        f"the inbox; then publish", EXIT_REFUSED)
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
        "reports": {"folder": str(reports), "files": report_hashes},
    }


def publish_year(store: Warehouse, reports: str | Path, year: int, catalogue: Catalogue, registry_path: str,
                 approved_by: str | None = None, note: str | None = None, lock_dir: str | Path | None = None,
                 wait: float | None = COMMAND_WAIT, queries: list[dict] | None = None) -> dict:
    """Freeze the year: write its manifest and record the publish event. Refuses an already published year.
    ``reports``: the year's published reports (a folder or an object-store URL, see :func:`report_files`).

    Holds the year's write lock (``lock_dir``, default :func:`lock_dir_of`) throughout, waiting ``wait`` seconds
    for a run of the year before :class:`etdz.locks.LockTimeout` names it: a step of a run can never commit
    into a year after it was published, and the manifest hashes one consistent state. Refuses a year with a
    review query open (``queries``: the year's, None without a portal database; 06-portal.md §6.3)."""
    with year_lock(lock_dir or lock_dir_of(store), year, timeout=wait):
        if is_published(store, year):
            ensure_writable(store, year)  # raises with the details
        refusal = publish_refusal(year, query_status(queries))
        if refusal:
            raise EtdzError(refusal, EXIT_REFUSED)
        manifest = build_manifest(store, reports, year, catalogue, registry_path)
        event = {"action": "publish", "at": _now(), "by": approved_by or getpass.getuser(), "note": note or "",
                 "manifest_sha256": _sha256_bytes(json.dumps(manifest, sort_keys=True, ensure_ascii=False).encode())}
        folder = _folder(store, year)
        store.fs.makedirs(folder, exist_ok=True)
        stamp = event["at"].replace(":", "").replace("-", "")
        name, n = f"manifest-{stamp}.json", 1
        while store.fs.exists(f"{folder}/{name}"):  # published twice in one second: every version stays
            n += 1
            name = f"manifest-{stamp}-{n}.json"
        event["manifest"] = name
        manifest["published"] = event
        body = json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")
        _put(store, f"{folder}/{name}", body)  # first the version itself,
        _append(store, year, event)  # then the commit point, which names it,
        _put(store, f"{folder}/manifest.json", body)  # then the copy of the latest
    return manifest


def reopen_year(store: Warehouse, year: int, reason: str, by: str | None = None,
                lock_dir: str | Path | None = None, wait: float | None = COMMAND_WAIT) -> dict:
    """Unfreeze a published year; the reason is required and recorded (under the year's lock, as publishing)."""
    if not reason or not reason.strip():
        raise ValueError("reopening a published year needs a reason (--reason), which is recorded")
    with year_lock(lock_dir or lock_dir_of(store), year, timeout=wait):
        if not is_published(store, year):
            raise ValueError(f"data year {year} is not published; nothing to reopen")
        event = {"action": "reopen", "at": _now(), "by": by or getpass.getuser(), "reason": reason.strip()}
        _append(store, year, event)
    return event


def published_manifest(store: Warehouse, year: int) -> dict | None:
    """The manifest of the year's last publication: the file its publish event names (``manifest.json`` for
    publications recorded before events named theirs); None when the year was never published."""
    folder = _folder(store, year)
    publishes = [e for e in history(store, year) if e.get("action") == "publish"]
    name = publishes[-1].get("manifest") if publishes else None
    path = f"{folder}/{name or 'manifest.json'}"
    if not store.fs.exists(path):
        return None
    with store.fs.open(path, "rb") as fh:
        return json.loads(fh.read())


def _hash_of(location: str) -> str | None:
    """SHA-256 of a local file or an object (None when it is not there)."""
    fs, path = fsspec.core.url_to_fs(location)
    if not fs.exists(path):
        return None
    with fs.open(path, "rb") as fh:
        return _sha256_bytes(fh.read())


def _differences(expected: dict[str, str], actual: dict[str, str | None], label: str) -> list[str]:
    """One line per file whose hash differs, that is missing, or (``actual`` beyond ``expected``) was added."""
    out = []
    for where, sha in expected.items():
        now = actual.get(where)
        if now is None:
            out.append(f"{label} {where}: missing")
        elif now != sha:
            out.append(f"{label} {where}: changed since publication")
    out += [f"{label} {where}: added since publication" for where in sorted(set(actual) - set(expected))]
    return out


def verify(store: Warehouse, year: int, archive: str | None = None) -> list[str]:
    """Every difference between the published manifest and the files now in place (empty = intact).

    Covers everything the manifest lists: the datasets, every report file (national report, cards,
    workbook, validation page, rejection notices; files added to the folder since count too), the
    archived submission files, the catalogue and the registry. Each line names one file. When anything
    differs, a last line says whether the year was reopened since (a re-run then explains the change) or
    not (the files were changed outside etdz). ``archive``: where submissions are archived, for manifests
    that predate the archive paths they now record.
    """
    manifest = published_manifest(store, year)
    if manifest is None:
        return [f"data year {year} has no manifest"]
    problems = _differences({store.url(n, year): i["sha256"] for n, i in manifest["datasets"].items()},
                            {store.url(n, year): _hash_of(store.url(n, year)) for n in manifest["datasets"]},
                            "dataset")
    folder = manifest["reports"]["folder"].rstrip("/")
    listed = {f"{folder}/{rel}": sha for rel, sha in manifest["reports"]["files"].items()}
    present = {f"{folder}/{rel}": sha for rel, sha in report_files(folder).items()}
    if not listed:  # a manifest hashed nothing (an older release publishing from a pod without the reports)
        problems.append(f"report {folder}: the manifest lists no report files, so they are not protected; reopen "
                        f"the year and publish it again ({reopen_command(year)}, then etdz publish)")
    problems += _differences(listed, present, "report")
    archived = {}
    for f in manifest["submission_files"]:
        where = f.get("archive_path") or (f"{archive.rstrip('/')}/{f['sha256'][:2]}/{f['sha256']}" if archive else None)
        if where:
            archived[where] = f["sha256"]
    problems += _differences(archived, {w: _hash_of(w) for w in archived}, "archived submission")
    for part in ("catalogue", "registry"):
        info = manifest[part]
        problems += _differences({info["path"]: info["sha256"]}, {info["path"]: _hash_of(info["path"])}, part)
    if problems:
        events = history(store, year)
        published_at = manifest.get("published", {}).get("at", "")
        last_publish = max((i for i, e in enumerate(events) if e["action"] == "publish"), default=-1)
        reopened = [e for e in events[last_publish + 1:] if e["action"] == "reopen"]
        if reopened:
            last = reopened[-1]
            problems.append(f"data year {year} was reopened since its publication (on {last['at']} by "
                            f"{plain_text(last['by'])}: {plain_text(last.get('reason', ''))}); a re-run after "
                            f"reopening changes these files")
        else:
            problems.append(f"data year {year} was not reopened since its publication on {published_at}: these "
                            f"files were changed outside etdz; restore them from the manifest's hashes or reopen "
                            f"the year and re-run it")
    return problems
