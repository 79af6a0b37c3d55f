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


def _imports(path: Path) -> set[str]:
    """The top-level packages a module imports (anywhere in it: inside functions too)."""
    import ast

    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_assets_and_checks_never_import_pipelines():
    # one direction only: pipelines/ (the Definitions, runs, schedule, sensor) wires assets/ and checks/, which
    # never reach back — so neither package needs the other half-imported to load
    offenders = {str(p.relative_to(REPO)): sorted(_imports(p) & {"pipelines"})
                 for pkg in ("assets", "checks") for p in (REPO / pkg).glob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}
    # and the test really reads them: pipelines/ imports assets/
    assert "assets" in _imports(REPO / "pipelines" / "definitions.py")


def test_assets_import_without_pipelines():
    script = ("import sys\nclass Block:\n    def find_spec(self, name, path=None, target=None):\n"
              "        if name.split('.')[0] == 'pipelines':\n"
              "            raise ImportError(name + ' must not be imported by assets/ or checks/')\n"
              "sys.meta_path.insert(0, Block())\n"
              "import importlib, pkgutil, assets, checks\n"
              "for pkg in (assets, checks):\n"
              "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
              "        importlib.import_module(m.name)\nprint('ok')\n")
    proc = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and proc.stdout.split()[-1] == "ok", proc.stderr[-3000:]
