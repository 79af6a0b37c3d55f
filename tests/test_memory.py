"""etdz.memory: the imports are frozen once, and garbage made afterwards is still collected."""

from __future__ import annotations

import gc
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


class _Node:
    def __init__(self) -> None:
        self.me = self  # a reference cycle: only the cycle collector frees it


@pytest.mark.slow
def test_release_memory_freezes_the_imports_once_and_still_collects_new_cycles():
    # a fresh interpreter: whether this pytest process already froze depends on the order of the tests
    code = """
import gc, sys, weakref
from etdz import memory
from tests.test_memory import _Node
memory.release_memory()
first = gc.get_freeze_count()
assert first > 10_000, first  # pandas and pyarrow, frozen by the first call
memory.release_memory()
assert gc.get_freeze_count() == first, "no import since: not frozen again"
import great_expectations  # noqa: F401 - imported later, as when the suite runs in this process
memory.release_memory()
frozen = gc.get_freeze_count()
assert frozen > first + 100_000, (first, frozen)  # GX's objects frozen with the rest
node = _Node(); ref = weakref.ref(node); del node
memory.release_memory()
assert ref() is None, "a cycle made after the freeze is collected"
assert gc.get_freeze_count() == frozen, "frozen again only after imports, not at every call"
assert memory.freeze_imports() is False
print("ok")
"""
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout.strip() == "ok", proc.stdout[-2000:] + proc.stderr[-3000:]


def test_release_memory_collects_cycles_in_this_process():
    from etdz.memory import release_memory

    node = _Node()
    ref = weakref.ref(node)
    del node
    release_memory()
    assert ref() is None
    assert gc.isenabled()


MAPPED_CODE = """
import ctypes, ctypes.util, sys
from etdz import memory

class MallInfo2(ctypes.Structure):  # glibc >= 2.33
    _fields_ = [(n, ctypes.c_size_t) for n in
                ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
                 "keepcost")]

libc = ctypes.CDLL(ctypes.util.find_library("c"))
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.mallinfo2.restype = MallInfo2
MiB = 2 ** 20
if sys.argv[1] == "fixed":
    assert memory.map_large_allocations() is True
    assert memory.map_large_allocations() is True  # idempotent
libc.free(libc.malloc(30 * MiB))  # a freed mapping: glibc's own threshold rises to 30 MiB
before = libc.mallinfo2().hblkhd
block = libc.malloc(20 * MiB)  # a year-sized array
print(libc.mallinfo2().hblkhd - before >= 20 * MiB)
"""


@pytest.mark.parametrize("mode, mapped", [("default", False), ("fixed", True)])
def test_map_large_allocations_keeps_year_sized_blocks_out_of_the_heap(mode, mapped):
    # a fresh interpreter each: the threshold is the process's; "default" shows glibc's own behaviour, which the
    # call exists to change (a 20 MiB block after a 30 MiB one was freed lands in the heap, kept after free)
    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt")
    proc = subprocess.run([sys.executable, "-c", MAPPED_CODE, mode], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip() == str(mapped)


def test_every_writing_step_maps_its_large_allocations(tmp_path, monkeypatch):
    from assets.resource import EtdzResource
    from etdz import memory
    from etdz.settings import Settings

    calls = []
    monkeypatch.setattr("assets.resource.map_large_allocations", lambda: calls.append(True) or True)
    resource = EtdzResource(Settings(inbox=str(tmp_path / "inbox"), warehouse=str(tmp_path / "w"),
                                     reports=str(tmp_path / "r"), archive=str(tmp_path / "a"),
                                     registry=str(tmp_path / "registry.csv"), methodology=str(tmp_path / "m"),
                                     dagster_home=str(tmp_path / "dh")))
    assert memory.MMAP_THRESHOLD == 16 * 2 ** 20  # below glibc's ceiling (32 MiB), above pandas' temporaries
    with resource.writing(2023):
        pass
    assert calls == [True]
