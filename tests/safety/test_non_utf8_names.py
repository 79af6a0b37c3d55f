"""File names that are not UTF-8 (issue 23, item 5): decoded safely everywhere, never a traceback.

A zip made on Chinese Windows unpacks GBK bytes as file names; Python keeps them as lone surrogates, which no
UTF-8 output (Parquet, HTML, the terminal) accepts, and the whole year's run failed on one such file. Now the file
is opened by its raw bytes, recorded and shown with each such byte escaped (``\\xcb``), and the other zones go on;
``etdz validate`` prints it the same way.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from etdz import schemas
from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.inbox_state import display_name
from etdz.ingestion import ingest_year
from etdz.registry import load_registry

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
ROOT = Path(__file__).resolve().parents[2]
GBK_NAME = "苏州工业园区2021年报送.csv".encode("gbk")  # as a zip made on Chinese Windows leaves it
SHOWN = GBK_NAME.decode("utf-8", "backslashreplace")


def _inbox(tmp_path: Path, content: bytes) -> Path:
    folder = tmp_path / "inbox" / "2021"
    shutil.copytree(GOLDEN / "inbox" / "2021", folder)
    with open(os.path.join(os.fsencode(folder), GBK_NAME), "wb") as fh:  # the name as raw bytes
        fh.write(content)
    return folder


def test_display_name_escapes_only_what_is_not_utf8():
    assert display_name("苏州工业园区.csv") == "苏州工业园区.csv"
    raw = os.fsdecode(GBK_NAME)  # how Python lists it: lone surrogates
    shown = display_name(raw)
    assert shown == SHOWN and shown.startswith("\\x") and shown.endswith(".csv")
    shown.encode("utf-8")  # any UTF-8 output takes it
    raw_again = re.sub(rb"\\x([0-9a-f]{2})", lambda m: bytes([int(m.group(1), 16)]), shown.encode("utf-8"))
    assert raw_again == GBK_NAME  # the raw bytes are recoverable from the text


def test_a_gbk_named_file_is_ingested_logged_and_the_other_zones_go_on(tmp_path):
    folder = _inbox(tmp_path, (GOLDEN / "inbox" / "2021" / "E1.csv").read_bytes().replace(b"E1", b"E9"))
    catalogue = catalogue_for_year(load_catalogues(GOLDEN / "catalogues"), 2021)
    registry = load_registry(GOLDEN / "registry.csv")
    year = ingest_year(folder, 2021, catalogue, registry, str(tmp_path / "archive"))
    row = year.log[year.log.file_name == SHOWN]
    assert len(row) == 1 and row.archive_path.iloc[0]  # read (opened by its raw bytes) and archived
    schemas.to_table(year.log, schemas.SUBMISSION_LOG)  # the log can be written
    schemas.to_table(year.issues, schemas.SUBMISSION_ISSUES)
    assert len(year.accepted_zones) >= 10  # the golden zones are all still accepted


@pytest.mark.slow
def test_a_run_and_validate_with_a_gbk_named_faulty_file(tmp_path):
    folder = _inbox(tmp_path, b"zone_code,data_year,measure_code,value,unit\nE1,2021,nope,abc,x\n")
    env = {**os.environ, "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
           "ETDZ_INBOX": str(tmp_path / "inbox"), "ETDZ_WAREHOUSE": str(tmp_path / "warehouse"),
           "ETDZ_REPORTS": str(tmp_path / "reports"), "DAGSTER_HOME": str(tmp_path / "dagster_home"),
           "ETDZ_HOME": str(tmp_path)}
    run = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--data-year", "2021"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 rejected" in run.stdout
    page = (tmp_path / "reports" / "2021" / "validation.html").read_text("utf-8")
    assert SHOWN in page
    notices = list((tmp_path / "reports" / "2021" / "rejections").iterdir())
    assert any(SHOWN in p.read_text("utf-8") for p in notices)
    target = os.path.join(os.fsencode(folder), GBK_NAME)
    check = subprocess.run([sys.executable, "-m", "pipelines.cli", "validate", os.fsdecode(target)], cwd=ROOT,
                           env=env, capture_output=True, timeout=300)
    out, err = check.stdout.decode("utf-8"), check.stderr.decode("utf-8")
    assert check.returncode == 1 and "Traceback" not in err, out + err
    assert SHOWN in out and "将被拒收" in out
