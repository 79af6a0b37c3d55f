"""Giving freed memory back to the operating system between the big steps of a year.

CPython and pyarrow free large temporaries (the per-row dicts of 23,000 files, the
previous year's long frame) into the C allocator, which keeps the pages: the process
peak is then the sum of steps instead of the largest one. ``malloc_trim`` (glibc)
returns them. A no-op where it does not exist.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc

_libc = None


def release_memory() -> None:
    """Collect garbage and return free heap pages to the OS (glibc only)."""
    global _libc
    gc.collect()
    try:
        import pyarrow as pa

        pa.default_memory_pool().release_unused()
    except Exception:  # noqa: BLE001 — best effort, never a failure
        pass
    if _libc is None:
        name = ctypes.util.find_library("c")
        _libc = ctypes.CDLL(name) if name else False
    if _libc and hasattr(_libc, "malloc_trim"):
        _libc.malloc_trim(0)
