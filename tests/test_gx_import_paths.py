"""Great Expectations (3–5 s to import here) stays off the path of every command that does not validate.

Each command runs in a fresh interpreter (``pipelines.cli.main`` in-process, so that ``sys.modules`` can be looked
at when it returns); the probe fails when ``great_expectations`` was imported. ``etdz validate`` is the control:
it must import GX, so a probe that could not see the import would fail there.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# runs one etdz command; prints whether GX was imported; `ui` does not start Dagster's webserver and daemon
PROBE = r"""
import subprocess, sys
argv = sys.argv[1:]
from pipelines.cli import main
if argv[0] == "ui":
    import dagster  # before Popen is replaced: importing Dagster runs `file` through subprocess
    class NoServer:
        pid, returncode, args = 0, 0, ()
        def __init__(self, *a, **k): pass
        def poll(self): return 0
        def wait(self, timeout=None): return 0
    subprocess.Popen = NoServer
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
print(f"PROBE exit={code} gx={'great_expectations' in sys.modules}")
"""


def probe(*argv: str, env: dict | None = None) -> tuple[str, str]:
    proc = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=ROOT, capture_output=True, text=True,
                          timeout=600, env=env)
    line = next((x for x in proc.stdout.splitlines() if x.startswith("PROBE")), "")
    return line, proc.stdout[-2000:] + proc.stderr[-3000:]


@pytest.mark.slow
def test_importing_the_cli_the_definitions_and_the_checker_does_not_import_gx(tmp_path):
    code = ("import sys\n"
            "import pipelines.cli, pipelines.definitions, etdz.checking, etdz.ingestion, etdz.validation\n"
            "from etdz.settings import Settings\n"
            "pipelines.definitions.build_definitions()\n"
            "etdz.checking.Checker(Settings.from_env())\n"
            "print('gx' if 'great_expectations' in sys.modules else 'no gx')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.stdout.strip().endswith("no gx"), out.stdout + out.stderr


@pytest.mark.slow
def test_template_and_ui_do_not_import_gx_and_validate_does(tmp_path):
    line, log = probe("template", "--data-year", "2023", "--out", str(tmp_path / "tpl"))
    assert line == "PROBE exit=0 gx=False", log
    line, log = probe("ui", "--port", "3977")
    assert "gx=False" in line, log
    csv = next((tmp_path / "tpl").glob("*.csv"))
    line, log = probe("validate", str(csv))
    assert "gx=True" in line, log  # the control: the probe sees an import


@pytest.mark.slow
def test_run_publish_reopen_and_a_run_with_nothing_stale_do_not_import_gx(tmp_path, monkeypatch):
    """One synthetic year run through Dagster, then each command in a fresh interpreter."""
    import os

    from demo.synthetic import write_synthetic_year
    from etdz.settings import Settings
    from pipelines.runs import run_years

    home = tmp_path / "home"
    layout = write_synthetic_year(home, 2023, 6, seed=7)
    env = {**os.environ, "ETDZ_HOME": str(home), "ETDZ_INBOX": str(layout.inbox),
           "ETDZ_REGISTRY": str(layout.registry)}
    run_years([2022, 2023], Settings.from_env(env), quiet=True)  # Y and the Y−1 it writes: nothing stale
    # `etdz run` validates in its suite worker (etdz/validation/worker.py): GX is imported there, not here
    from etdz.processes import cores

    line, log = probe("run", "--data-year", "2023", env=env)
    assert line == f"PROBE exit=0 gx={cores() < 2}", log  # one core: no worker, GX here
    assert "leaked" not in log, log  # the worker, terminated, left nothing to the resource tracker
    for argv in (["run", "--stale"], ["publish", "--data-year", "2023", "--approved-by", "test"],
                 ["publish", "--data-year", "2023", "--verify"],
                 ["reopen", "--data-year", "2023", "--reason", "test"]):
        line, log = probe(*argv, env=env)
        assert line == "PROBE exit=0 gx=False", (argv, log)
