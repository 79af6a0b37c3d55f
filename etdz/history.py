"""Reading earlier years: the previous year's submissions (growth, plausibility) and past rankings.

docs/contract/02-inputs.md "Years not run yet": growth reads the accepted submissions of Y−1
wherever they are — the warehouse when Y−1 was run, else its inbox folder, ingested
for the purpose only (nothing archived or written); no folder means no submissions.
Previous ranks and the downgrade window read the rankings that exist in the warehouse.
"""

from __future__ import annotations

import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from etdz.catalogue import Catalogue, MethodologyError, catalogue_for_year
from etdz.inbox_state import InboxEntry, listing_digest, scan_inbox
from etdz.ingestion import ingest_year
from etdz.memory import release_memory
from etdz.processes import cores, one_worker
from etdz.reading import DEFAULT_ROWS_PER_MEASURE
from etdz.storage import Warehouse
from etdz.submission_log import accepted_zones


@dataclass
class Submissions:
    """The accepted, chosen submissions of one year: long measures and the zones that have one."""

    measures: pd.DataFrame | None
    zones: set[str]
    origin: str  # "warehouse" | "inbox" | "none"


#: From this many entries in Y−1's inbox folder (and two cores), the folder is read in a worker process while this
#: year's files are read: below it the worker's start (its imports, Great Expectations') costs more than it saves
PARALLEL_MIN_FILES = 2000
#: The columns of Y−1's ``measures`` that growth and the year-on-year check read (the warehouse's and the inbox's)
GROWTH_COLUMNS = ("zone_code", "measure_code", "value")


def previous_submissions(store: Warehouse, inbox: str | Path, data_year: int, catalogues: list[Catalogue],
                         current: Catalogue, registry: pd.DataFrame, max_bytes: int,
                         max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE,
                         memo: dict | None = None) -> Submissions:
    """Accepted submissions of ``data_year − 1``: from the warehouse, else read from its inbox folder.

    ``memo``: a dict the caller owns and keeps for as long as the inbox read may be reused (the resource, for
    the steps of one run: ingestion and scoring both need Y−1). The last inbox read is kept in it under a key
    of every file's name, size and mtime, the catalogue and the registry, so any change reads again; without
    it every call reads the folder. Nothing is kept anywhere else."""
    with previous_submissions_ahead(store, inbox, data_year, catalogues, current, registry, max_bytes,
                                    max_rows_per_measure, memo, background=False) as pending:
        return pending.result()


def previous_submissions_ahead(store: Warehouse, inbox: str | Path, data_year: int, catalogues: list[Catalogue],
                               current: Catalogue, registry: pd.DataFrame, max_bytes: int,
                               max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE, memo: dict | None = None,
                               background: bool | None = None) -> PendingSubmissions:
    """:func:`previous_submissions`, started: an inbox read to do runs in a worker process meanwhile
    (``background``; default: from :data:`PARALLEL_MIN_FILES` entries on two cores), so that the caller reads this
    year's files at the same time. Use it as a context manager (leaving it stops the worker) and take
    :meth:`PendingSubmissions.result` when Y−1 is needed. The same submissions as :func:`previous_submissions`:
    the worker runs the same read, and a worker that dies (killed, out of memory) is replaced by the read here."""
    year = data_year - 1
    log = store.read("submission_log", year)
    measures = store.read("measures", year)
    if log is not None and measures is not None:
        log_df = log.to_pandas()
        zones = accepted_zones(log_df)
        return PendingSubmissions(Submissions(measures.select(list(GROWTH_COLUMNS)).to_pandas(),
                                              zones, "warehouse"))
    folder = Path(inbox) / str(year)
    if not folder.is_dir():
        return PendingSubmissions(Submissions(None, set(), "none"))

    try:
        catalogue = catalogue_for_year(catalogues, year)
    except MethodologyError:
        # no method for Y−1: read its files with Y's catalogue, which declares the measures growth needs
        catalogue = current
    # The folder is listed once: the key's digest and, on a miss, the files ingested come from that listing.
    entries = scan_inbox(folder)  # names, sizes, mtimes (a link is never followed, a vanished file skipped)
    key = (str(folder.resolve()), year, catalogue.sha256, max_bytes, max_rows_per_measure,
           int(pd.util.hash_pandas_object(registry, index=False).sum()), listing_digest(entries))
    hit = memo.get(key) if memo is not None else None
    if hit is not None:
        return PendingSubmissions(hit)
    args = (folder, year, catalogue, registry, max_bytes, max_rows_per_measure, entries)
    if background is None:
        background = len(entries) >= PARALLEL_MIN_FILES and cores() > 1
    return PendingSubmissions(None, args, key, memo, background)


def read_inbox(folder: Path, year: int, catalogue: Catalogue, registry: pd.DataFrame, max_bytes: int,
               max_rows_per_measure: int, entries: list[InboxEntry]) -> Submissions:
    """Y−1's inbox folder ingested for growth and the year-on-year check only: nothing archived or written."""
    ing = ingest_year(folder, year, catalogue, registry, archive=None, previous=None, max_bytes=max_bytes,
                      max_rows_per_measure=max_rows_per_measure, listing=entries, measure_columns=GROWTH_COLUMNS)
    return Submissions(ing.measures, frozenset(ing.accepted_zones), "inbox")


class PendingSubmissions:
    """Y−1's submissions, known or being read (:func:`previous_submissions_ahead`)."""

    def __init__(self, done: Submissions | None, args: tuple | None = None, key: tuple | None = None,
                 memo: dict | None = None, background: bool = False) -> None:
        self._done, self._args, self._key, self._memo = done, args, key, memo
        self._pool: ProcessPoolExecutor | None = None
        self._future = None
        self._closing = threading.Lock()
        if done is None and background:
            try:
                self._pool = one_worker()
                self._future = self._pool.submit(read_inbox, *args)
            except (OSError, BrokenProcessPool):  # no process to be had (limits, memory): the read is done here
                self.close()
                self._future = None
            else:
                # The worker's memory (~700 MB at 23,000 files) is given back as soon as it has answered, not when
                # this year's files are done: stopped from a thread of its own, since the callback runs in the
                # pool's own thread, which shutting the pool down waits for.
                self._future.add_done_callback(
                    lambda _: threading.Thread(target=self.close, name="etdz-y-1-worker-stop", daemon=True).start())

    @property
    def in_background(self) -> bool:
        """Whether a worker process reads the folder."""
        return self._future is not None

    def result(self) -> Submissions:
        """The submissions (waiting for the worker, or reading the folder here, the first time)."""
        if self._done is None:
            hit = None
            if self._future is not None:
                try:
                    hit = self._future.result()
                except BrokenProcessPool:  # the worker died (killed, out of memory): the read is done here instead
                    pass
                finally:
                    self.close()
            if hit is None:
                hit = read_inbox(*self._args)
                release_memory()  # only its measures are kept: give the rest back before this year's ingest
            if self._memo is not None:
                self._memo.clear()  # one year kept: bounded memory
                self._memo[self._key] = hit
            self._done = hit
        return self._done

    def close(self) -> None:
        """Stop the worker (waiting for a read it has started; nothing is kept of it)."""
        with self._closing:
            pool, self._pool = self._pool, None
            if pool is not None:
                pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> PendingSubmissions:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def ranking_history(store: Warehouse, years: range | list[int]) -> dict[int, pd.DataFrame]:
    """Rankings of the given years that exist in the warehouse."""
    out = {}
    for y in years:
        t = store.read("rankings", y)
        if t is not None:
            out[int(y)] = t.to_pandas()
    return out


def all_rankings(store: Warehouse, up_to: int) -> pd.DataFrame:
    """Rankings of every year on record up to ``up_to`` with a ``data_year`` column (report trends)."""
    years = [y for y in store.years("rankings") if y <= up_to]
    frames = [t.assign(data_year=y) for y, t in ranking_history(store, years).items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
