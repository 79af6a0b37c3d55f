"""Worker processes (etdz/processes.py) run this install's code, whatever folder the command was started in."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import etdz

_SCRIPT = """
from etdz.processes import one_worker, worker_context
from concurrent.futures import ProcessPoolExecutor


def where():
    import etdz.history
    import etdz.reports.cards
    return etdz.__file__, etdz.history.__file__, etdz.reports.cards.__file__


if __name__ == "__main__":
    with ProcessPoolExecutor(1, mp_context=worker_context()) as pool:
        print(*pool.submit(where).result())
    with one_worker() as pool:
        print(*pool.submit(where).result())
"""


@pytest.mark.slow
def test_workers_never_import_a_package_in_the_folder_the_command_runs_from(tmp_path):
    """An ``etdz/`` in the working folder (another checkout, a stray copy) is never what a worker imports:
    Python 3.11's forkserver puts that folder first on its path for its preload (CPython gh-117378)."""
    work = tmp_path / "work"
    (work / "etdz" / "reports").mkdir(parents=True)
    marker = tmp_path / "the folder's etdz was imported"
    for init in (work / "etdz" / "__init__.py", work / "etdz" / "reports" / "__init__.py"):
        init.write_text(f"open({str(marker)!r}, 'w').close()\n")
    (work / "etdz" / "history.py").write_text("")
    (work / "etdz" / "reports" / "cards.py").write_text("")
    script = tmp_path / "script" / "where.py"
    script.parent.mkdir()
    script.write_text(_SCRIPT)
    done = subprocess.run([sys.executable, str(script)], cwd=work, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert not marker.exists()
    ours = Path(etdz.__file__).parent
    lines = done.stdout.split("\n")[:2]
    assert len(lines) == 2
    for line in lines:
        files = [Path(f) for f in line.split()]
        assert len(files) == 3 and all(ours in f.parents for f in files), line
