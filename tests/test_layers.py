"""`etdz/` is plain Python: every module imports with dagster, assets, checks and pipelines unimportable — and
without the demo package (`demo/`: generated data, outside the core)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

SCRIPT = r"""
import importlib, pkgutil, sys

BLOCKED = ("dagster", "dagster_graphql", "dagster_webserver", "assets", "checks", "pipelines", "demo")

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} must not be imported by etdz/")

sys.meta_path.insert(0, Block())
import etdz
names = [m.name for m in pkgutil.walk_packages(etdz.__path__, "etdz.")]
for name in names:
    importlib.import_module(name)
print(len(names))
"""


def test_every_module_of_etdz_imports_without_the_dagster_layer():
    proc = subprocess.run([sys.executable, "-c", SCRIPT], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert int(proc.stdout.split()[-1]) >= 20  # the walk really found the package's modules
