"""Great Expectations in a process of its own, imported while the command does everything else.

A cold ``etdz run`` spent ~1.5 s of its ~6.5 s importing Great Expectations, in its first step, after Dagster's
import, the definitions and the run's start (~2 s) that it could have overlapped. ``etdz run`` and ``etdz demo``
therefore start a suite worker as they start (:func:`suite_worker`): one spawned interpreter
(:func:`etdz.processes.start_worker`) that imports GX at once, on the other core, and then runs every year's
suite (:func:`year_runner`). The command's own process does not import GX at all.

The results are the same: the worker runs the same :class:`~etdz.validation.suite.SuiteRunner` on the same frame
(the columns the suite reads) and sends back GX's results as plain
:class:`~etdz.validation.suite.ExpectationResult`, which :func:`etdz.validation.validate_rows` reads the same way
whichever process ran the suite. An error GX raises there is raised here.

The suite runs here instead when there is nothing to overlap or it would cost more than it saves:

- one core (the worker would only take turns with the command);
- a year of more than :data:`MAX_FILES` files (:func:`year_of`: the worker is stopped before its ingest), or a
  frame of more than :data:`MAX_ROWS` rows all the same (the worker is then stopped and its memory given back):
  sending a large frame costs about what the import saves, the worker would hold a second copy, and at 23,000
  zones its ~300 MB would add to the peak of the year's ingest (bounded: issue 22);
- a worker that could not start or died (killed, out of memory): the suite runs here, as before.

Between suites the worker is the command's spare process (:func:`etdz.processes.spare`): a year of 40 to 1,999
cards is shared between it and the command, span by span (:class:`etdz.reports.cards.CardJob`).

Without a started worker (the tests, the portal's warm check, the UI's runs through Dagster's daemon),
:func:`year_runner` builds a :class:`SuiteRunner` here, as it always did.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

import pandas as pd

from etdz.catalogue import Catalogue
from etdz.memory import freeze_imports
from etdz.processes import cores, lending, start_worker, stop_now
from etdz.validation.suite import (
    ExpectationResult,
    SuiteRunner,
    build_suite,
    ephemeral_context,
    gx_module,
    spec_columns,
    suite_spec,
)

#: the largest long frame sent to the worker (rows; 230 demo zones make ~8,000, 23,000 synthetic zones ~1 million)
MAX_ROWS = 200_000
#: a year of more files than this stops the worker before its ingest: its frame would pass MAX_ROWS, and the
#: worker (~300 MB) would sit beside the year's largest steps until then
MAX_FILES = 3_000
#: the catalogues whose suites the worker keeps built (a multi-year run uses one or two)
KEPT_SUITES = 4
#: how often the worker looks whether its command's process is still there (seconds)
PARENT_POLL_S = 0.5

# ----------------------------------------------------------------------------- in the worker's process

_RUNNERS: dict[str, SuiteRunner] = {}


def _leave_with(parent: int) -> None:
    """Leave when the process that started this worker is gone (killed: it had no chance to stop us)."""
    while os.getppid() == parent:
        time.sleep(PARENT_POLL_S)
    os._exit(0)


def _warm_up(parent: int) -> str:
    """The worker's first task: GX imported and a context made once (its first costs); returns GX's version.
    A thread watches ``parent`` (the command's process): a worker whose command was killed does not stay.

    GX's validations make a tqdm progress bar (disabled) whose default lock is a multiprocessing lock; a thread
    lock instead (tqdm's ``set_lock``), so that the worker holds nothing the resource tracker would report as
    leaked when it is terminated (:func:`etdz.processes.stop_now`)."""
    threading.Thread(target=_leave_with, args=(parent,), name="etdz-parent-watch", daemon=True).start()
    from tqdm import tqdm  # noqa: PLC0415

    tqdm.set_lock(threading.RLock())
    ephemeral_context()
    freeze_imports()  # the worker's collections walk what its suites create, not GX's modules
    return gx_module().__version__


def _run_suite(catalogue: Catalogue, df: pd.DataFrame) -> list[ExpectationResult]:
    """The catalogue's suite (built once per catalogue, the last :data:`KEPT_SUITES` kept) on ``df``."""
    runner = _RUNNERS.pop(catalogue.sha256, None)
    if runner is None:
        runner = SuiteRunner.for_catalogue(catalogue, f"etdz_submissions_{catalogue.version}")
    _RUNNERS[catalogue.sha256] = runner  # the most recently used last
    while len(_RUNNERS) > KEPT_SUITES:
        del _RUNNERS[next(iter(_RUNNERS))]
    return runner.results(df)


# ----------------------------------------------------------------------------- in the command's process


class SuiteWorker:
    """The worker process of one command, from :func:`suite_worker`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()  # one suite at a time; a stop waits for the suite running
        self._pool: ProcessPoolExecutor | None
        self._pool, self._warm = start_worker(_warm_up, os.getpid())
        self._version: str | None = None
        self.suites_run = 0  # the suites this worker has run (the command's years it validated)

    @property
    def running(self) -> bool:
        """Whether the worker may still run suites (not stopped, not found dead)."""
        return self._pool is not None

    def results(self, catalogue: Catalogue, df: pd.DataFrame) -> tuple[list[ExpectationResult], str] | None:
        """The suite's results on ``df`` and GX's version, from the worker; None when it cannot give them (died,
        or stopped): the caller runs the suite itself."""
        with self._lock:
            if self._pool is None:
                return None
            try:
                if self._version is None:
                    self._version = self._warm.result()
                results = self._pool.submit(_run_suite, catalogue, df).result()
            except (BrokenProcessPool, OSError, EOFError):  # the worker died or cannot be reached
                self._stop()
                return None
            self.suites_run += 1
            return results, self._version

    def submit(self, fn, *args) -> Future | None:
        """``fn(*args)`` in the worker's process, after what it was given before (:class:`etdz.processes.Spare`:
        the command lends it to its year's cards); None when it is stopped or found dead."""
        with self._lock:
            if self._pool is None:
                return None
            try:
                return self._pool.submit(fn, *args)
            except (BrokenProcessPool, RuntimeError):  # died, or shut down under us
                self._stop()
                return None

    def stop(self) -> None:
        """Stop the worker now: its process is terminated (:func:`etdz.processes.stop_now`)."""
        with self._lock:
            self._stop()

    def _stop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            stop_now(pool)


_CURRENT: SuiteWorker | None = None
_CURRENT_LOCK = threading.Lock()


def year_of(files: int) -> None:
    """A year of ``files`` inbox files is about to run (:func:`pipelines.runs.run_years`, from the listing it has
    just made): more than :data:`MAX_FILES` stops this process's suite worker, before the year's ingest."""
    worker = _CURRENT
    if worker is not None and files > MAX_FILES:
        worker.stop()


@contextlib.contextmanager
def suite_worker(enabled: bool | None = None) -> Iterator[SuiteWorker | None]:
    """A suite worker for this process while inside (the command's lifetime), stopped on leaving.

    ``enabled``: None starts one on a multi-core machine (:func:`etdz.processes.cores`); a worker that cannot be
    started (process limits, memory) is none: the suites then run here. Not nested: inside another, the outer one
    is used."""
    global _CURRENT
    worker = None
    if enabled is None:
        enabled = cores() > 1
    with _CURRENT_LOCK:
        if enabled and _CURRENT is None:
            with contextlib.suppress(OSError):
                worker = _CURRENT = SuiteWorker()
    try:
        with lending(worker) if worker is not None else contextlib.nullcontext():
            yield worker if worker is not None else _CURRENT
    finally:
        if worker is not None:
            with _CURRENT_LOCK:
                _CURRENT = None
            worker.stop()


class YearSuite:
    """A year's suite for :func:`etdz.validation.validate_rows`: run by the command's suite worker when there is
    one and the frame is small enough (:data:`MAX_ROWS`), else here by a :class:`SuiteRunner` built on first use."""

    def __init__(self, catalogue: Catalogue, name: str, worker: SuiteWorker | None) -> None:
        self.catalogue, self.name, self.worker = catalogue, name, worker
        self.gx_version = ""
        self._here: SuiteRunner | None = None

    @property
    def ran_in_worker(self) -> bool:
        """Whether the last :meth:`results` came from the worker process."""
        return self._here is None and bool(self.gx_version)

    def results(self, df: pd.DataFrame) -> list[ExpectationResult]:
        """The suite's results on ``df`` (the long frame), in the suite's order."""
        worker = self.worker
        if worker is not None and worker.running:
            if len(df) <= MAX_ROWS:
                used = [c for c in _suite_columns(self.catalogue) if c in df.columns]
                answer = worker.results(self.catalogue, df[used])
                if answer is not None:
                    results, self.gx_version = answer
                    return results
            else:  # too large to send: its memory back before GX runs here on the frame
                worker.stop()
        if self._here is None:
            ctx = ephemeral_context()  # before the suite: GX creates a suite only inside a context
            self._here = SuiteRunner(build_suite(self.catalogue, self.name), ctx)
        results = self._here.results(df)
        self.gx_version = self._here.gx_version
        return results


_COLUMNS: dict[str, list[str]] = {}


def _suite_columns(catalogue: Catalogue) -> list[str]:
    """The long frame's columns a catalogue's suite reads (:func:`~etdz.validation.suite.suite_spec`, no GX)."""
    cols = _COLUMNS.get(catalogue.sha256)
    if cols is None:
        cols = _COLUMNS[catalogue.sha256] = spec_columns(suite_spec(catalogue))
    return cols


def year_runner(catalogue: Catalogue, name: str) -> YearSuite:
    """The suite of a year's run (:func:`etdz.validation.validate_rows`): in this process's suite worker when a
    command started one (:func:`suite_worker`), else here."""
    return YearSuite(catalogue, name, _CURRENT)


def prepare() -> None:
    """Great Expectations' import done now (seconds) unless a suite worker does it: a caller about to wait for
    something else (Y−1 read in another process) pays it meanwhile."""
    if _CURRENT is None or not _CURRENT.running:
        gx_module()


def worker_pid(worker: SuiteWorker) -> int | None:
    """The worker's process id (tests), or None when it is not running."""
    pool = worker._pool
    if pool is None:
        return None
    future: Future = pool.submit(os.getpid)
    return future.result()
