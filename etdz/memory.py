"""Giving freed memory back to the operating system between the big steps of a year.

CPython and pyarrow free large temporaries (the per-row dicts of 23,000 files, the
previous year's long frame) into the C allocator, which keeps the pages: the process
peak is then the sum of steps instead of the largest one. ``malloc_trim`` (glibc)
returns them. A no-op where it does not exist.

A full ``gc.collect()`` walks every tracked object, and after Dagster, pandas, pyarrow and
Great Expectations are imported that is ~365,000 objects of module code that never becomes
garbage: ~0.25 s of CPU per collection on the 2-core bench machine, five times a year. Once the
big imports are done, :func:`freeze_imports` moves the survivors into the permanent generation
(``gc.freeze``), so later collections, ours and the interpreter's automatic ones, walk only what
the year created since. The run freezes before its first year (:func:`pipelines.runs.run_years`), the suite
worker after importing GX, the warm check after building its suite, a card worker after receiving the year.

glibc's threshold for giving a large allocation its own mapping rises, by default, to the size of each mapped
block freed (up to 32 MiB), so after the first big frames the next ones come from the heap, whose pages outlive
the step that used them (a thread pool's arenas most of all). :func:`map_large_allocations` fixes the
threshold, so a step's year-sized arrays are unmapped when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys

_libc = None
_mapped = False

#: Allocations of at least this many bytes get their own mapping, unmapped when freed (glibc's
#: ``M_MMAP_THRESHOLD``). Smaller ones stay on the heap: a mapping per mid-sized pandas temporary would cost a
#: page fault per page each time (measured in docs/benchmarks.md, tenth round).
MMAP_THRESHOLD = 16 * 2**20
_M_MMAP_THRESHOLD = -3  # glibc's malloc.h


_frozen_modules: int | None = None  # how many modules were loaded at the last freeze; None: never frozen


def freeze_imports() -> bool:
    """Collect once, then ``gc.freeze()`` what survives; True when it froze.

    The first call freezes; a later one only when modules have been imported since the last freeze (the
    reports' and the readers' libraries load in a year's steps; Great Expectations only where the suite runs:
    :mod:`etdz.validation.worker`). The run's process calls it before its first year and after each
    (:func:`pipelines.runs.run_years`), so from its second year on nothing new is frozen. Frozen objects are still
    freed by reference counting; only garbage *cycles* among them would stay until exit, so a freeze belongs after
    imports, not between the steps of every year.
    """
    global _frozen_modules
    if _frozen_modules is not None and len(sys.modules) <= _frozen_modules:
        return False
    gc.collect()
    gc.freeze()
    _frozen_modules = len(sys.modules)
    return True


def _c_library():
    global _libc
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name) if name else False
    return _libc


def map_large_allocations(threshold: int = MMAP_THRESHOLD) -> bool:
    """Give every allocation of ``threshold`` bytes or more its own mapping from now on, in this process (glibc's
    ``mallopt(M_MMAP_THRESHOLD)``, which also stops the threshold from rising): a year-sized array freed at the
    end of a step goes back to the OS, not into heap pages the next step's peak adds to. Idempotent; False where
    the C library has no ``mallopt`` or refuses the value."""
    global _mapped
    if _mapped:
        return True
    libc = _c_library()
    if not libc or not hasattr(libc, "mallopt"):
        return False
    _mapped = bool(libc.mallopt(_M_MMAP_THRESHOLD, int(threshold)))
    return _mapped


def release_memory() -> None:
    """Collect garbage and return free heap pages to the OS (glibc only).

    A call after imports (:func:`freeze_imports`) freezes what survives; every later collection skips it.
    """
    try:
        import pyarrow as pa  # first: an import of its own would make the next call freeze again
    except ImportError:  # pragma: no cover - a dependency of the project
        pa = None
    if not freeze_imports():
        gc.collect()
    if pa is not None:
        try:
            pa.default_memory_pool().release_unused()
        except Exception:  # noqa: BLE001 — best effort, never a failure
            pass
    libc = _c_library()
    if libc and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)
