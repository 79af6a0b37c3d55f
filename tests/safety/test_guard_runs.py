"""A run that would destroy good results refuses before anything is written (end to end, `etdz run`)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.runs import GOLDEN, etdz, golden_env

pytestmark = pytest.mark.slow


def _run(root: Path, *args: str, registry: Path, methodology: Path) -> subprocess.CompletedProcess:
    return etdz(root, golden_env(root, ETDZ_REGISTRY=str(registry), ETDZ_METHODOLOGY=str(methodology)), "run", *args)


def _outputs(root: Path) -> dict[str, str]:
    """Every published output of the run (datasets and reports), by content."""
    out = {}
    for base in ("warehouse", "reports"):
        for p in sorted((root / base).rglob("*")):
            rel = p.relative_to(root)
            if p.is_file() and not any(part.startswith(("_", ".")) for part in rel.parts):  # locks, archive, temp
                out[str(rel)] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


@pytest.fixture()
def good_run(tmp_path):
    proc = _run(tmp_path, "--from", "2020", "--to", "2021", registry=GOLDEN / "registry.csv",
                methodology=GOLDEN / "catalogues")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return tmp_path, _outputs(tmp_path)


def test_header_only_registry_is_refused_and_the_last_good_results_stay(good_run):
    root, before = good_run
    header_only = root / "registry_header_only.csv"
    header_only.write_text((GOLDEN / "registry.csv").read_text(encoding="utf-8").splitlines()[0] + "\n",
                           encoding="utf-8")
    proc = _run(root, "--data-year", "2021", registry=header_only, methodology=GOLDEN / "catalogues")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refused" in proc.stderr and "--allow-shrink" in proc.stderr and str(header_only) in proc.stderr
    assert _outputs(root) == before


def test_a_catalogue_that_rejects_every_file_is_refused(good_run, tmp_path_factory):
    root, before = good_run
    methodology = tmp_path_factory.mktemp("renamed")
    for p in (GOLDEN / "catalogues").iterdir():
        text = p.read_text(encoding="utf-8")
        # a renamed measure: every file now carries an unknown measure and lacks a required one
        (methodology / p.name).write_text(text.replace("fdi_actual", "fdi_actual_usd"), encoding="utf-8")
    proc = _run(root, "--data-year", "2021", registry=GOLDEN / "registry.csv", methodology=methodology)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "refused" in proc.stderr and "accepts files from 0 zone" in proc.stderr
    assert _outputs(root) == before
