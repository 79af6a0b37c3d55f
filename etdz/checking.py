"""The check of one submission file, as the run would check it: ONE function for `etdz validate` and the portal.

:class:`Checker` is meant to live as long as its process (the portal's WSGI process, or one `etdz validate`
command) and makes every check the run makes, through the run's own code:

- the file is opened and read by the ingestion's reader (:func:`etdz.ingestion.opening.load_file`, or
  :func:`etdz.ingestion.opening.received_file` for uploaded bytes) — the same size and row limits, the same
  refusal of links, FIFOs and temporary names;
- its data year decides the catalogue (the year written in the file; the parent folder's name when it is a
  four-digit year, which then also decides ``file.year_mismatch`` as in the inbox; an explicit ``data_year``
  acts as that folder) — :func:`choose_catalogue`;
- the file checks and the row checks are :func:`etdz.validation.validate_submissions`, with the catalogue's
  Great Expectations suite run by a :class:`etdz.validation.SuiteRunner` built ONCE per catalogue and reused
  (context, suite, data asset and batch definition: building them cost ~40 ms a check, and GX is imported
  once per process, on the first check, never at import of this module; the imports are then frozen out of the
  garbage collector's full passes, :func:`etdz.memory.freeze_imports`, and no check runs a full collection);
- the year-on-year band reads the zone's accepted Y−1 figures through :func:`etdz.history.previous_submissions`
  (the warehouse when Y−1 was run, else Y−1's inbox), read once and kept until the warehouse's Y−1 files or
  Y−1's inbox folder change; a check joins the Y−1 figures of the zones its files name, not the whole year's;
- ``file.measures_dropped`` compares the file with the zone's current accepted file of the year's inbox, chosen
  by the run's own rule (latest modification time, then the greater name): the inbox is listed once per check
  (once per batch: one ``lstat`` per entry, :func:`etdz.inbox_state.scan_inbox`); each entry is read and checked
  once and kept while its name, size and modification time are unchanged (only the entries of the checked file's
  zone are validated row by row, once, in the same GX validation as the checked file), so a check after a new
  upload reads only the new file.

The checked file is treated as if it were placed in the year's inbox under its name: an inbox entry of the same
name is the file it replaces (a file checked from inside the inbox is itself), its modification time is its own
(for uploaded bytes: now, or ``received_at_ns``), and it would become the zone's chosen file exactly when the run
would choose it. For every file of a demo year, the issues equal the run's ``submission_issues`` for that file
(``tests/test_checking.py``).

**Threads, micro-batching**: a Checker is thread-safe, and meant to be shared by a process's threads (a
multi-threaded WSGI process holds ONE). Great Expectations' context and the caches are shared and GX's objects
are not made for concurrent use, so one check runs at a time — but the checks asked for while one runs gather, and
the next runs them all as ONE batch (:meth:`Checker._run_batch`): one GX validation over the concatenation of the
waiting files per catalogue and year, exactly as the run validates a year's files in one call and attributes the
issues per file. 50 zones checking at once therefore cost about two validations, not 50. A file's result in a
batch is the result it gets alone (``tests/test_checking.py``): the long frame keeps each file's rows apart
(``file_idx``), a file name appears once per batch (a repeated name waits for the next round), and a batch that
raises is checked again job by job, so each caller gets its own results or its own exception.

**Reuse**: a check is kept (the last :data:`MEMO_SIZE`) with what it read — the rules, the zone's accepted Y−1
figures' sources, and the zone's candidate files of the year's inbox (their names, sizes and modification times,
and which of them is later than the checked file) — and a check of the same bytes (SHA-256), name and year is
answered from it while all of that is unchanged: the portal's submission reuses the check the zone just made. Any
change to those inputs (a file of the zone added, replaced or removed; Y−1 re-run; a catalogue edited) makes it
checked again. Nothing is written anywhere: no archive, no warehouse, no report.

**Reloads**: the catalogues and the registry are loaded once and loaded again when their files change (the
methodology folder's listing and the registry file's size and modification time are looked at on every check),
so a long-lived process never checks against rules the run no longer uses.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue, MethodologyError, catalogue_for_year, load_catalogues
from etdz.history import previous_submissions
from etdz.inbox_state import InboxEntry, display_name, listing_digest, scan_inbox
from etdz.ingestion.opening import load_file, received_file
from etdz.memory import freeze_imports
from etdz.numbers import parse_value
from etdz.reading import DEFAULT_MAX_BYTES, DEFAULT_ROWS_PER_MEASURE, Formula, ReadResult
from etdz.registry import SHIPPED_REGISTRY, load_registry
from etdz.settings import Settings
from etdz.storage import Warehouse
from etdz.validation import (
    SubmissionFile,
    SuiteRunner,
    conversion_note,
    file_checks,
    issue,
    issues_frame,
    measures_dropped_issue,
    read_deferred,
    registry_lookup,
    reported_measures,
    validate_rows,
    validate_submissions,
    zone_cells,
)

Source = str | os.PathLike | bytes


@dataclass
class CheckResult:
    """What the run would say about one file: its issues (``submission_issues`` columns, sorted as the run sorts
    them) and what the file was checked as."""

    file_name: str
    sha256: str
    data_year: int | None  # the year it was checked as (None: the file names no single valid year)
    zone_code: str | None  # the zone the file names (None: no single zone)
    method_version: str | None  # the catalogue it was checked against (None: the file could not be read)
    issues: pd.DataFrame
    conversions: list[str] = field(default_factory=list)  # rows in a currency unit, with their computation
    supersedes: str | None = None  # the zone's accepted file of the inbox this one would replace
    source: str = ""  # the path as given ("" for bytes)

    @property
    def errors(self) -> int:
        return int((self.issues["severity"] == "error").sum())

    @property
    def warnings(self) -> int:
        return int((self.issues["severity"] == "warning").sum())

    @property
    def rejected(self) -> bool:
        """Whether the run would reject the file (at least one error)."""
        return self.errors > 0


def file_year(read: ReadResult) -> int | None:
    """The data year a file's rows agree on (None: none, or several)."""
    years = set()
    for rec in read.rows:
        v = rec.get("data_year")
        p = parse_value(None if isinstance(v, Formula) else v)
        if p.ok and float(p.value).is_integer():  # type: ignore[arg-type]
            years.add(int(p.value))  # type: ignore[arg-type]
    return years.pop() if len(years) == 1 else None


def folder_year(path: Path) -> int | None:
    """The year of an inbox-style parent folder (``…/2023/file.csv``), else None."""
    return int(path.parent.name) if re.fullmatch(r"\d{4}", path.parent.name) else None


def choose_catalogue(f: SubmissionFile, given_year: int | None,
                     catalogues: list[Catalogue]) -> tuple[Catalogue, int | None, list[dict]]:
    """The catalogue a read file is checked against, the year it is checked as, and the year problems.

    ``given_year``: the year it is submitted for (its inbox folder's, or the portal's): its catalogue, as in the
    run, and a row naming another year is ``file.year_mismatch`` (the file checks). Without one, the year all its
    rows name.

    Every problem in one pass: a file whose year is unknown, or has no catalogue, is still checked (zone, rows)
    against the nearest catalogue, beside the year problem, so one correction round fixes everything. Sets
    ``f.expected_year`` (0 when unknown: the file checks then skip the year and due checks)."""
    year = given_year or file_year(f.read)  # the folder's year decides, as in the run
    f.expected_year = year or 0
    if year is None:
        return max(catalogues, key=lambda c: c.year_from), None, [issue(
            f, "file.year_mismatch",
            f"文件「{f.file_name}」「data_year」列没有一个统一、有效的年份，无法确定适用的考核办法"
            f"（其余问题按最新的考核办法检查）；请在每一行填写数据年份",
            column="data_year", expected="四位年份，如 2022")]
    try:
        return catalogue_for_year(catalogues, year), year, []
    except MethodologyError as exc:
        nearest = min(catalogues, key=lambda c: min(abs(year - c.year_from), abs(year - (c.year_to or year))))
        return nearest, year, [issue(f, "file.no_catalogue",
                                     f"文件「{f.file_name}」：{exc}（其余问题按年份最接近的考核办法检查）",
                                     column="data_year", value=str(year), expected="有考核办法适用的数据年份")]


@dataclass
class _Rules:
    catalogues: list[Catalogue]
    registry: pd.DataFrame
    lookup: dict[str, dict]
    key: tuple  # what they were loaded from (None: given, never reloaded)
    max_rows: int  # the row limit before the year is known: that of the largest catalogue


@dataclass
class _Entry:
    """One inbox entry as the run would see it: read once for its identity (zone, file-level errors; its rows are
    not kept: at 23,000 files they would be most of the memory), read again and validated row by row only when a
    file of its zone is checked, once."""

    entry: InboxEntry
    file: SubmissionFile
    file_errors: bool
    errors: bool | None = None  # None: its rows are not validated yet
    reported: frozenset[str] = frozenset()


@dataclass
class _InboxYear:
    digest: str = ""
    rules_key: tuple = ()
    entries: dict[tuple, _Entry] = field(default_factory=dict)  # (name, size, mtime_ns, kind) → entry


def _file_key(path: str | Path) -> tuple:
    """What a file or folder looks like from outside: changes when it is replaced or edited."""
    p = Path(path)
    try:
        if p.is_dir():
            return ("dir", listing_digest(scan_inbox(p)))
        st = os.stat(p)
        return ("file", st.st_size, st.st_mtime_ns)
    except OSError:
        return ("missing",)


class Checker:
    """The warm check of one file (module docstring): ``Checker(settings).check(path_or_bytes, name)``.

    ``settings`` gives the catalogues, the registry, the limits, and the inbox and warehouse the year-on-year and
    "measures dropped" checks read. Without settings, ``catalogues`` and ``registry`` must be given and the
    checks that need the inbox or the warehouse are skipped unless ``inbox`` / ``warehouse`` are given too."""

    def __init__(self, settings: Settings | None = None, *, catalogues: list[Catalogue] | None = None,
                 registry: pd.DataFrame | None = None, inbox: str | None = None, warehouse: str | None = None,
                 max_bytes: int | None = None, max_rows_per_measure: int | None = None):
        if settings is None and (catalogues is None or registry is None):
            raise ValueError("Checker needs settings, or catalogues and a registry")
        self.settings = settings
        self.inbox = inbox if inbox is not None else (settings.inbox if settings else None)
        self.warehouse = warehouse if warehouse is not None else (settings.warehouse if settings else None)
        self.max_bytes = max_bytes or (settings.max_file_bytes if settings else DEFAULT_MAX_BYTES)
        self.max_rows_per_measure = max_rows_per_measure or (
            settings.max_rows_per_measure if settings else DEFAULT_ROWS_PER_MEASURE)
        self._given = (catalogues, registry) if catalogues is not None and registry is not None else None
        self._lock = threading.RLock()
        self._rules: _Rules | None = None
        self._runners: dict[str, SuiteRunner] = {}  # catalogue sha256 → its GX suite, built once
        self._previous: dict[int, _Previous] = {}  # data year → its accepted Y−1 measures and what they came from
        self._listings: dict[str, tuple[list[InboxEntry], str]] | None = None  # a batch's folder listings (_listing)
        self._inbox: dict[int, _InboxYear] = {}
        self._queue_cv = threading.Condition()  # guards _queue and _busy (never held during a check)
        self._queue: list[_Job] = []
        self._busy = False
        self._memo: OrderedDict[tuple, tuple[dict, CheckResult]] = OrderedDict()  # checks kept for reuse
        self.reused = 0  # checks answered from the memo (for tests and the bench)
        self.rounds = 0  # check rounds run (each: one validation per catalogue and year of its files)

    # ------------------------------------------------------------------ public

    def check(self, source: Source, name: str | None = None, *, data_year: int | None = None,
              received_at_ns: int | None = None) -> CheckResult:
        """Check one file: a path, or its bytes with its file ``name`` (an upload). ``data_year``: the year it is
        submitted for (as its inbox folder would say); else the year written in it, or its folder's name."""
        return self.check_files([source], names=[name], data_year=data_year, received_at_ns=received_at_ns)[0]

    def check_files(self, sources: Iterable[Source], names: Iterable[str | None] | None = None, *,
                    data_year: int | None = None, received_at_ns: int | None = None) -> list[CheckResult]:
        """Check several files (`etdz validate FILE…`): each as :meth:`check` would, the files of one catalogue
        and year validated in one batch. Results in the order given."""
        sources = list(sources)
        names = list(names) if names is not None else [None] * len(sources)
        job = _Job([_Item(src, name, data_year, received_at_ns) for src, name in zip(sources, names)])
        self._submit(job)
        if job.error is not None:
            raise job.error
        return job.results  # type: ignore[return-value]

    def warm(self, data_years: Iterable[int] = ()) -> None:
        """Do now what the first check would do (import GX, build the suites, read Y−1 and the inbox of each of
        ``data_years``), so that no user waits for it — e.g. when a portal process starts."""
        with self._lock:
            rules = self._current_rules()
            for year in data_years:
                try:
                    cat = catalogue_for_year(rules.catalogues, int(year))
                except MethodologyError:
                    continue
                self._runner(cat)
                self._previous_measures(int(year), cat, rules)
                self._inbox_year(int(year), cat, rules)

    # ------------------------------------------------------------------ micro-batching and reuse

    def _submit(self, job: _Job) -> None:
        """Run ``job`` in the next batch (module docstring, "Threads"): the first caller while no batch runs leads
        the batch of every job queued so far; the others wait for their results."""
        with self._queue_cv:
            self._queue.append(job)
            while not job.done and self._busy:
                self._queue_cv.wait()
            if job.done:
                return
            self._busy = True
            batch, self._queue = self._queue, []
        try:
            with self._lock:
                self._run_batch(batch)
        finally:
            with self._queue_cv:
                for j in batch:
                    j.done = True
                self._busy = False
                self._queue_cv.notify_all()

    def _run_batch(self, batch: list[_Job]) -> None:
        """Every job of ``batch``: a check reused when nothing it read has changed, the others in ONE validation
        per catalogue and year (as many rounds as a file name repeats). A batch that raises is checked again job by
        job, so a job gets exactly what it would have got alone: its results, or its own exception."""
        own = self._listings is None  # the outermost call lists each folder once for the whole batch
        if own:
            self._listings = {}
        try:
            rules = self._current_rules()
            todo: list[tuple[_Job, int, tuple | None]] = []
            for job in batch:
                job.results = [None] * len(job.items)  # type: ignore[list-item]
                for n, item in enumerate(job.items):
                    key = _memo_key(item)
                    hit = self._memo.get(key) if key is not None else None
                    if hit is not None and hit[0] == self._deps_now(hit[0], hit[1], item, rules):
                        self._memo.move_to_end(key)  # type: ignore[arg-type]
                        self.reused += 1
                        job.results[n] = _copy(hit[1])
                    else:
                        todo.append((job, n, key))
            while todo:  # a file name once per round: the issues name their file by name and fingerprint
                names: set[str] = set()
                now, later = [], []
                for t in todo:
                    nm = t[0].items[t[1]].file_name
                    (later if nm in names else now).append(t)
                    names.add(nm)
                items = [t[0].items[t[1]] for t in now]
                results, deps = self._check(items, rules)
                self.rounds += 1
                for (job, n, key), res, dep in zip(now, results, deps):
                    job.results[n] = res
                    if key is not None:
                        self._memo[key] = (dep, _copy(res))
                        self._memo.move_to_end(key)
                        while len(self._memo) > MEMO_SIZE:
                            self._memo.popitem(last=False)
                todo = later
        except BaseException:  # noqa: BLE001 - each job again alone: its own answer or its own exception
            if len(batch) == 1:
                raise
            for job in batch:
                try:
                    self._run_batch([job])
                    job.error = None
                except Exception as exc:  # noqa: BLE001 - handed to the job's caller
                    job.error = exc
        finally:
            if own:
                self._listings = None

    def _deps_now(self, deps: dict, res: CheckResult, item: _Item, rules: _Rules) -> dict:
        """What the inputs ``deps`` recorded for a check look like now (same keys, same shape): equal to ``deps``
        exactly when the check would say the same again."""
        now: dict = {"rules": rules.key}
        if "previous" in deps:
            year, version = deps["previous"][0], deps["previous"][1]
            catalogue = next((c for c in rules.catalogues if c.version == version), None)
            now["previous"] = (year, version, self._previous_key(year, catalogue, rules) if catalogue else None)
        if "zone" in deps:
            year, zone = deps["zone"][0], deps["zone"][1]
            now["zone"] = self._zone_key(year, zone, res.file_name, _item_mtime(item), rules)
        return now

    def _zone_key(self, year: int, zone: str, name: str, mtime_ns: int, rules: _Rules) -> tuple | None:
        """The zone's accepted-file candidates of the year's inbox (what ``file.measures_dropped`` and
        ``supersedes`` read) and whether each is later than a file ``name`` of ``mtime_ns``."""
        try:
            catalogue = catalogue_for_year(rules.catalogues, year)
        except MethodologyError:
            return None
        state = self._inbox_year(year, catalogue, rules)
        mine = sorted((e for e in state.entries.values() if e.file.zone_code == zone and e.file.file_name != name
                       and not e.file_errors), key=lambda e: _entry_key(e.entry))
        later = tuple((e.file.mtime_ns, e.file.file_name) > (mtime_ns, name) for e in mine)
        return (year, zone, tuple(_entry_key(e.entry) for e in mine), later)

    # ------------------------------------------------------------------ the check

    def _check(self, items: list[_Item], rules: _Rules) -> tuple[list[CheckResult], list[dict]]:
        """Check ``items`` (file names unique among them), the files of one catalogue and year in one validation;
        returns their results and, for each, what it read (:meth:`_deps_now`: the rules, Y−1, the zone's inbox)."""
        files: list[SubmissionFile] = []
        alone: dict[int, list[dict]] = {}  # file idx → issues of a file not validated further
        given: list[str] = []
        deps: list[dict] = [{"rules": rules.key} for _ in items]
        for i, item in enumerate(items):
            src = item.source
            f, year_given, problem = self._open(i, src, item.name, item.data_year, item.received_at_ns, rules)
            files.append(f)
            given.append("" if isinstance(src, bytes) else os.fspath(src))
            if problem is not None:
                alone[i] = problem
            elif f.read.problems:  # nothing else can be checked in a file that could not be read
                alone[i] = file_checks(f, rules.registry, rules.lookup)
            else:
                f.expected_year = year_given or 0  # choose_catalogue sets the final value
        groups: dict[tuple[str, int], list[SubmissionFile]] = {}
        by_version: dict[str, Catalogue] = {}
        year_issues: dict[int, list[dict]] = {}
        for f in files:
            if f.idx in alone:
                continue
            catalogue, year, problems = choose_catalogue(f, f.expected_year or None, rules.catalogues)
            year_issues[f.idx] = problems
            by_version[catalogue.version] = catalogue
            groups.setdefault((catalogue.version, year or 0), []).append(f)

        issues: dict[int, list[dict]] = {i: list(v) for i, v in alone.items()}
        conversions: dict[int, list[str]] = {}
        supersedes: dict[int, str] = {}
        checked: dict[int, tuple[int | None, str]] = {}
        for (version, year), fs in groups.items():
            catalogue = by_version[version]
            zones = _zones_named(fs)
            previous = self._previous_measures(year, catalogue, rules, zones=zones) if year else None
            if year and (self.warehouse or self.inbox):
                for f in fs:
                    deps[f.idx]["previous"] = (year, version, self._previous_key(year, catalogue, rules))
            entries = self._entries_to_validate(fs, zones, year, catalogue, rules, first_idx=len(items))
            frame, _, long = validate_submissions(fs + [ef for _, ef in entries], catalogue, rules.registry, year,
                                                  previous, runner=self._runner(catalogue), lookup=rules.lookup,
                                                  release=False)
            owner = {}
            for f in fs + [ef for _, ef in entries]:
                owner.setdefault((f.file_name, f.sha256), f.idx)
            for rec in frame.to_dict("records"):  # issues name their file by name and fingerprint
                issues.setdefault(owner[(rec["file_name"], rec["sha256"])], []).append(rec)
            reported = reported_measures(long)
            for e, ef in entries:  # the inbox entries validated alongside: what "measures dropped" needs of them
                e.errors = any(x["severity"] == "error" for x in issues.pop(ef.idx, []))
                e.reported = frozenset(reported.get(ef.idx, set()))
            for f in fs:
                issues.setdefault(f.idx, []).extend(year_issues[f.idx])
                checked[f.idx] = (f.expected_year or None, version)
                if len(long):
                    mine = long.loc[long["file_idx"].eq(f.idx) & long["rate"].notna()]
                    conversions[f.idx] = [  # rows in a currency unit, shown with their computation
                        f"第 {r.row} 行 {r.measure_code}："
                        f"{conversion_note(catalogue, r.measure_code, r.unit_checked, year, r.reported)}"
                        for r in mine.itertuples(index=False)]
            for f in fs:
                if not year or any(x["severity"] == "error" for x in issues[f.idx]) or not f.zone_code:
                    continue  # a rejected file never supersedes anything; a file of no known year has no inbox
                if self.inbox:
                    deps[f.idx]["zone"] = self._zone_key(year, f.zone_code, f.file_name, f.mtime_ns, rules)
                dropped = self._dropped(f, reported.get(f.idx, set()), year, catalogue, rules)
                if dropped is not None:
                    prev, rec = dropped
                    supersedes[f.idx] = prev
                    if rec is not None:
                        issues[f.idx].append(rec)
        out = []
        for f, src in zip(files, given):
            year, version = checked.get(f.idx, (None, None))
            out.append(CheckResult(file_name=f.file_name, sha256=f.sha256, data_year=year, zone_code=f.zone_code,
                                   method_version=version, issues=issues_frame(issues.get(f.idx, [])),
                                   conversions=conversions.get(f.idx, []), supersedes=supersedes.get(f.idx),
                                   source=src))
        return out, deps

    def _open(self, i: int, src: Source, name: str | None, data_year: int | None, received_at_ns: int | None,
              rules: _Rules) -> tuple[SubmissionFile, int | None, list[dict] | None]:
        """The file as the ingestion reads it; the year its folder (or ``data_year``) gives; a problem that stops
        the check (a path that does not exist)."""
        if isinstance(src, bytes):
            fname = Path(name or "upload").name  # a name, never a path: only its extension decides the format
            mtime = received_at_ns if received_at_ns is not None else time.time_ns()
            f = received_file(fname, src, i, data_year or 0, mtime, self.max_bytes, max_rows=rules.max_rows)
            return f, data_year, None
        path = Path(src)
        year = data_year or folder_year(path)
        if not path.exists() and not path.is_symlink():  # a link, FIFO, folder … is load_file's: file.not_regular
            shown = display_name(str(path))  # a name that is not UTF-8, escaped
            f = SubmissionFile(i, display_name(path.name), "", 0, ReadResult(), 0)
            return f, year, [issue(f, "file.unreadable", f"文件「{shown}」不存在或不是文件", value=shown)]
        return load_file(path, i, year or 0, None, self.max_bytes, max_rows=rules.max_rows), year, None

    # ------------------------------------------------------------------ "measures dropped"

    def _dropped(self, f: SubmissionFile, reported: set[str], year: int, catalogue: Catalogue,
                 rules: _Rules) -> tuple[str, dict | None] | None:
        """(the zone's accepted file ``f`` would replace, the ``file.measures_dropped`` issue or None), when ``f``
        would become the zone's chosen file over an accepted one — the run's rule
        (:func:`etdz.ingestion.deciding.decide`): latest modification time, then the greater name."""
        if not self.inbox:
            return None
        try:
            year_catalogue = catalogue_for_year(rules.catalogues, year)
        except MethodologyError:
            return None  # the run cannot run that year: nothing of its inbox is ever accepted
        state = self._inbox_year(year, year_catalogue, rules)
        zone = [e for e in state.entries.values() if e.file.zone_code == f.zone_code and e.file.file_name != f.file_name
                and not e.file_errors]
        self._validate_entries([e for e in zone if e.errors is None], year, year_catalogue, rules)
        others = [e for e in zone if not e.errors]
        if not others:
            return None
        prev = max(others, key=lambda e: (e.file.mtime_ns, e.file.file_name))
        if (f.mtime_ns, f.file_name) < (prev.file.mtime_ns, prev.file.file_name):
            return None  # an older file: the run would keep the zone's later one
        return prev.file.file_name, measures_dropped_issue(f, prev.file, reported, set(prev.reported), catalogue)

    def _inbox_year(self, year: int, catalogue: Catalogue, rules: _Rules) -> _InboxYear:
        """The year's inbox as the run would read it: entries read once each, kept while unchanged."""
        entries, digest = self._listing(Path(self.inbox) / str(year))  # type: ignore[arg-type]
        state = self._inbox.get(year)
        if state is None or state.rules_key != (rules.key, catalogue.sha256):
            state = self._inbox[year] = _InboxYear(rules_key=(rules.key, catalogue.sha256))
        if state.digest == digest:
            return state
        keyed = {_entry_key(e): e for e in entries}
        kept = {k: v for k, v in state.entries.items() if k in keyed}
        new = [e for k, e in keyed.items() if k not in kept]
        max_rows = self.max_rows_per_measure * len(catalogue.measures)
        files = [load_file(e, i, year, None, self.max_bytes, max_rows=max_rows, defer_csv=True)
                 for i, e in enumerate(new, start=max((v.file.idx for v in kept.values()), default=-1) + 1)]
        read_deferred(files)  # the run's one-pass read of well-formed CSVs
        for e, f in zip(new, files):
            problems = file_checks(f, rules.registry, rules.lookup)
            f.read.release_rows()
            kept[_entry_key(e)] = _Entry(entry=e, file=f, file_errors=any(x["severity"] == "error" for x in problems))
        state.entries, state.digest = kept, digest
        return state

    def _entries_to_validate(self, fs: list[SubmissionFile], zones: set[str | None], year: int, catalogue: Catalogue,
                             rules: _Rules, first_idx: int) -> list[tuple[_Entry, SubmissionFile]]:
        """The inbox entries of the zones ``fs`` name whose rows are not validated yet, read again (numbered from
        ``first_idx``) to be validated in the same GX validation as ``fs`` — one validation where a zone's
        correction would otherwise need two. Only when ``fs`` are checked against the year's own catalogue; an
        entry named like one of ``fs`` is left to :meth:`_validate_entries` (issues name their file by name).

        The same outcome as :meth:`_validate_entries`: an entry has an error when its file or a row breaks a rule
        (Y−1 joined or not: the year-on-year band only warns), and its reported measures are its rows'."""
        if not year or not self.inbox:
            return []
        try:
            year_catalogue = catalogue_for_year(rules.catalogues, year)
        except MethodologyError:
            return []
        if year_catalogue.sha256 != catalogue.sha256:
            return []
        names = {f.file_name for f in fs}
        state = self._inbox_year(year, year_catalogue, rules)
        todo = [e for e in state.entries.values() if e.errors is None and not e.file_errors
                and e.file.zone_code in zones and e.file.file_name not in names]
        return [(e, self._reload(e, i, year, catalogue)) for i, e in enumerate(todo, start=first_idx)]

    def _reload(self, e: _Entry, idx: int, year: int, catalogue: Catalogue) -> SubmissionFile:
        """An inbox entry read again with its rows (numbered ``idx``), as the run reads it: one replaced or removed
        since the listing comes back with its reading problem (``file.changed`` / ``file.unreadable``)."""
        return load_file(e.entry, idx, year, None, self.max_bytes,
                         max_rows=self.max_rows_per_measure * len(catalogue.measures))

    def _validate_entries(self, entries: list[_Entry], year: int, catalogue: Catalogue, rules: _Rules) -> None:
        """Row checks of inbox entries (no Y−1: acceptance and the values reported do not depend on it)."""
        if not entries:
            return
        files = [self._reload(e, e.file.idx, year, catalogue) for e in entries]
        bad: set[int] = set()
        for f in files:  # as it is now: one replaced since the listing is file.changed, hence not accepted
            if any(x["severity"] == "error" for x in file_checks(f, rules.registry, rules.lookup)):
                bad.add(f.idx)
        row_issues, _, long = validate_rows([f for f in files if f.idx not in bad], catalogue, year, None,
                                            runner=self._runner(catalogue), release=False)
        bad |= {e.file.idx for e in entries if any(x["severity"] == "error" and x["file_name"] == e.file.file_name
                                                   for x in row_issues)}
        reported = reported_measures(long)
        for e in entries:
            e.errors = e.file.idx in bad
            e.reported = frozenset(reported.get(e.file.idx, set()))

    # ------------------------------------------------------------------ cached state

    def _runner(self, catalogue: Catalogue) -> SuiteRunner:
        runner = self._runners.get(catalogue.sha256)
        if runner is None:
            runner = SuiteRunner.for_catalogue(catalogue, f"etdz_check_{catalogue.version}", screen=True)
            self._runners[catalogue.sha256] = runner
            # GX is imported now: later automatic collections skip the imports' objects (a full one walks
            # ~365,000 of them, 0.1–0.25 s: a check that paid for one would be the slowest of the day)
            freeze_imports()
        return runner

    def _previous_measures(self, year: int, catalogue: Catalogue, rules: _Rules,
                           zones: set[str | None] | None = None) -> pd.DataFrame | None:
        """The accepted Y−1 measures (:func:`etdz.history.previous_submissions`) — of ``zones`` only when given
        (what the year-on-year band of their files reads; the rest of the year is not joined) — read again only
        when the warehouse's Y−1 files or Y−1's inbox folder change."""
        if not self.warehouse and not self.inbox:
            return None
        key = self._previous_key(year, catalogue, rules)
        hit = self._previous.get(year)
        if hit is None or hit.key != key:
            if not self.warehouse:
                return None
            prev = previous_submissions(Warehouse(self.warehouse), self.inbox or "", year, rules.catalogues, catalogue,
                                        rules.registry, self.max_bytes, max_rows_per_measure=self.max_rows_per_measure)
            hit = self._previous[year] = _Previous(key, prev.measures)
        return hit.of(zones)

    def _previous_key(self, year: int, catalogue: Catalogue, rules: _Rules) -> tuple:
        """What Y−1's accepted measures are read from looks like (the warehouse's Y−1 files, Y−1's inbox)."""
        store = Warehouse(self.warehouse) if self.warehouse else None
        return (rules.key, catalogue.sha256, _store_key(store, year - 1),
                self._listing(Path(self.inbox) / str(year - 1))[1] if self.inbox else "")

    def _listing(self, folder: Path) -> tuple[list[InboxEntry], str]:
        """An inbox folder's entries and their digest (:func:`etdz.inbox_state.listing_digest`), listed once per
        batch: every check of a batch sees the inbox as it was when the batch began (a file added meanwhile is seen
        by the next check, as the run sees only what its listing saw)."""
        hit = self._listings.get(os.fspath(folder)) if self._listings is not None else None
        if hit is None:
            entries = scan_inbox(folder)
            hit = (entries, listing_digest(entries))
            if self._listings is not None:
                self._listings[os.fspath(folder)] = hit
        return hit

    def _current_rules(self) -> _Rules:
        """The catalogues and the registry, loaded again when their files changed."""
        if self._given is not None:
            if self._rules is None:
                self._rules = self._make_rules(*self._given, key=("given",))
            return self._rules
        s = self.settings
        key = (_file_key(s.methodology) if s.methodology else ("shipped",),  # type: ignore[union-attr]
               _file_key(s.registry or SHIPPED_REGISTRY))  # type: ignore[union-attr]
        if self._rules is None or self._rules.key != key:
            self._rules = self._make_rules(load_catalogues(s.methodology), load_registry(s.registry), key=key)  # type: ignore[union-attr]
            self._runners.clear()
            self._previous.clear()
            self._inbox.clear()
            self._memo.clear()
        return self._rules

    def _make_rules(self, catalogues: list[Catalogue], registry: pd.DataFrame, key: tuple) -> _Rules:
        max_rows = self.max_rows_per_measure * max((len(c.measures) for c in catalogues), default=1)
        return _Rules(catalogues, registry, registry_lookup(registry), key, max_rows)


MEMO_SIZE = 1024  # checks kept for reuse (a result is a few KB)


@dataclass
class _Previous:
    """A year's accepted Y−1 measures, what they were read from, and their rows by zone (made on first use)."""

    key: tuple
    measures: pd.DataFrame | None
    by_zone: dict | None = None

    def of(self, zones: set[str | None] | None) -> pd.DataFrame | None:
        """The measures of ``zones`` (all of them when None), in their order in the year's frame."""
        if zones is None or self.measures is None or "zone_code" not in self.measures.columns:
            return self.measures
        if self.by_zone is None:
            self.by_zone = self.measures.groupby("zone_code", sort=False).indices
        rows = [self.by_zone[z] for z in zones if z in self.by_zone]
        return self.measures.iloc[np.sort(np.concatenate(rows)) if rows else []]


@dataclass
class _Item:
    """One file to check, as given to :meth:`Checker.check_files`."""

    source: Source
    name: str | None
    data_year: int | None
    received_at_ns: int | None

    @property
    def file_name(self) -> str:
        """The name the check gives the file (its issues name it so)."""
        if isinstance(self.source, bytes):
            return Path(self.name or "upload").name
        return display_name(Path(self.source).name)


@dataclass
class _Job:
    """The files of one :meth:`Checker.check_files` call, waiting for a batch; its results or its exception."""

    items: list[_Item]
    results: list[CheckResult] | None = None
    error: BaseException | None = None
    done: bool = False


def _zones_named(files: list[SubmissionFile]) -> set[str | None]:
    """Every zone code a cell of ``files`` names (:func:`etdz.validation.zone_cells`; before the file checks decide
    each file's zone: a superset of them), for the Y−1 figures the year-on-year band can read."""
    return {z for f in files for z in zone_cells(f)}


def _memo_key(item: _Item) -> tuple | None:
    """What identifies a check's input: the bytes' SHA-256 (an upload), or the path as it looks from outside; with
    the name and the year it is checked for. None: not kept (a path that cannot be looked at)."""
    if isinstance(item.source, bytes):
        return ("bytes", hashlib.sha256(item.source).hexdigest(), item.file_name, item.data_year)
    try:
        st = os.lstat(item.source)
    except OSError:
        return None
    return ("path", os.fspath(item.source), st.st_size, st.st_mtime_ns, st.st_ino, item.data_year)


def _item_mtime(item: _Item) -> int:
    """The modification time the check gives the file: an upload's reception (now by default), a path's own."""
    if isinstance(item.source, bytes):
        return item.received_at_ns if item.received_at_ns is not None else time.time_ns()
    try:
        return os.stat(item.source).st_mtime_ns
    except OSError:
        return 0


def _copy(res: CheckResult) -> CheckResult:
    """A result a caller may change without changing the kept one."""
    return dataclasses.replace(res, issues=res.issues.copy(), conversions=list(res.conversions))


def _entry_key(e: InboxEntry) -> tuple:
    return (e.name, e.size, e.mtime_ns, e.not_regular)


def _store_key(store: Warehouse | None, year: int) -> tuple:
    """What the warehouse's files of ``year`` that Y−1 is read from look like (size, modification time / ETag)."""
    if store is None:
        return ()
    out = []
    for dataset in ("submission_log", "measures"):
        try:
            info = store.fs.info(store.path(dataset, year))
        except (FileNotFoundError, OSError):
            out.append(None)
            continue
        out.append((info.get("size"), info.get("mtime") or info.get("LastModified") or info.get("ETag")))
    return tuple(out)


__all__ = ["CheckResult", "Checker", "choose_catalogue", "file_year", "folder_year"]
