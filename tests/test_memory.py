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
assert gc.get_freeze_count() == 0, "nothing is frozen before Great Expectations is imported"
import great_expectations  # noqa: F401 - the last big import, as in the validation step
memory.release_memory()
frozen = gc.get_freeze_count()
assert frozen > 100_000, frozen  # Dagster-free here, but pandas, pyarrow and GX: far more than this
node = _Node(); ref = weakref.ref(node); del node
memory.release_memory()
assert ref() is None, "a cycle made after the freeze is collected"
assert gc.get_freeze_count() == frozen, "frozen once, not at every call"
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
