"""How the project starts worker processes, always from this install's import path.

Work runs in processes of their own on a multi-core machine: the zone cards of a large year
(:class:`etdz.reports.cards.CardJob`: a pool from the ``forkserver``, :func:`worker_context`), the previous
year's inbox read while this year's files are read (:func:`etdz.history.previous_submissions_ahead`: one spawned
interpreter, :func:`one_worker`, so no forkserver stays in memory for the rest of the run), and a command's Great
Expectations suites (:mod:`etdz.validation.worker`: one spawned interpreter, :func:`start_worker`, for the
command's life), which is the command's :func:`spare` process between suites: a smaller year's cards are shared
with it. None uses ``fork``:
a step's process has Dagster's threads, and a fork copies the locks they hold. The forkserver imports
:data:`PRELOAD` once; every card worker forked from it starts with those modules, sharing their pages.

Python 3.11's forkserver imports its preload before it takes the parent's ``sys.path`` (CPython gh-117378, fixed
from 3.12.8 and 3.13.1). It runs as ``python -c``, so the folder the command was started in comes first on its
path: an ``etdz/`` there (another checkout) or a ``jinja2.py`` would be what every worker runs, silently. So every
new interpreter here starts with ``PYTHONSAFEPATH`` (that folder left out) and ``PYTHONPATH`` set to this
process's path, both in the environment only while it starts; the workers then take the parent's path as usual.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import multiprocessing.forkserver
import os
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Protocol

#: What the forkserver imports once for every card worker (pandas, numpy, pyarrow and Jinja2 with them)
PRELOAD = ["etdz.reports.cards"]

_START = threading.Lock()


@contextlib.contextmanager
def _safe_start() -> Iterator[None]:
    """While a new interpreter starts: ``PYTHONSAFEPATH`` and this process's path as ``PYTHONPATH``."""
    path = os.pathsep.join(os.path.abspath(p) if p else os.getcwd() for p in sys.path)
    with _START:
        saved = {name: os.environ.get(name) for name in ("PYTHONSAFEPATH", "PYTHONPATH")}
        os.environ.update(PYTHONSAFEPATH="1", PYTHONPATH=path)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def worker_context() -> multiprocessing.context.BaseContext:
    """The ``forkserver`` context, its server running with :data:`PRELOAD` imported from this process's path
    (see the module doc). A server already running (an earlier step or year of the same process) is kept."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    with _safe_start():
        multiprocessing.forkserver.ensure_running()
    return ctx


def one_worker() -> ProcessPoolExecutor:
    """A pool of one fresh interpreter (``spawn``), started now from this process's path: for a single long task
    beside this process, without a forkserver that would stay in memory for the rest of the process."""
    pool, first = start_worker(int)
    try:
        first.result()  # the interpreter has started
    except BaseException:  # it could not start: nothing left behind
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool


def start_worker(first: Callable[..., Any], *args: Any) -> tuple[ProcessPoolExecutor, Future]:
    """A pool of one fresh interpreter (``spawn``) launched now from this process's path with ``first(*args)`` as
    its first task, not waited for: the caller goes on while the interpreter starts. Raises OSError when no process
    can be started (limits, memory)."""
    pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    try:
        with _safe_start():
            future = pool.submit(first, *args)  # the interpreter is launched with its first task
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    return pool, future


def stop_now(pool: ProcessPoolExecutor) -> None:
    """Stop ``pool`` now, without waiting for its work: its processes are terminated. For a worker whose results
    are no longer wanted and that keeps nothing (it must create no multiprocessing lock or shared memory: the
    resource tracker would report it leaked). Neither shutting down and waiting — a worker's normal exit tears
    down every module it imported, ~0.7 s with GX — nor shutting down without waiting — a busy worker is left
    behind, and once this process leaves with ``os._exit`` (the console script) it stays blocked on its queue
    for good."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):  # the pool's own record (CPython)
        if process.is_alive():
            process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


class Spare(Protocol):
    """A process of the command's that is idle between its own tasks (the suite worker,
    :mod:`etdz.validation.worker`): others may give it work."""

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future | None:
        """``fn(*args)`` in that process, after what it was given before; None when it is gone."""


_SPARE: list[Spare] = []


@contextlib.contextmanager
def lending(process: Spare) -> Iterator[None]:
    """While inside, :func:`spare` is ``process`` (the command's lifetime)."""
    _SPARE.append(process)
    try:
        yield
    finally:
        _SPARE.remove(process)


def spare() -> Spare | None:
    """The command's spare process (:func:`lending`), or None."""
    return _SPARE[-1] if _SPARE else None


def cores() -> int:
    """The cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1
