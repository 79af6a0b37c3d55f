"""Faulty files dropped beside the golden example change nothing for the other zones (issue 4)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.dataset as pads
import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
pytestmark = pytest.mark.slow
HEADER = "zone_code,data_year,measure_code,value,unit\n"


def _faulty_files(folder: Path) -> dict[str, str]:
    """Write faulty or awkward files into the 2021 inbox; returns {file name: expected status}."""
    good_e1 = (folder / "E1.csv").read_text(encoding="utf-8")
    files = {
        "garbage.csv": (os.urandom(2048), "rejected"),
        "E1 有误的旧版本.csv": (good_e1.replace("2021,fdi_actual,", "2021,fdi_actual,约").encode("utf-8"), "rejected"),
        "未知开发区.csv": ((HEADER + "ZZ9,2021,fdi_actual,100,万美元\n").encode("utf-8"), "rejected"),
        "两个区.csv": ((HEADER + "E2,2021,fdi_actual,1,万美元\nE3,2021,trade_total,1,亿元\n").encode("utf-8"),
                    "rejected"),
        "分号.csv": (good_e1.replace(",", ";").encode("utf-8"), "rejected"),
        "只有表头.csv": (HEADER.encode("utf-8"), "rejected"),
        "说明.txt": ("请查收".encode(), "rejected"),
        "负数.csv": (good_e1.replace("E1", "E4").replace("2021,hitech_enterprises,", "2021,hitech_enterprises,-")
                    .encode("utf-8"), "rejected"),
        "W1 GBK 旧版.csv": ((folder / "W1.csv").read_text(encoding="utf-8").encode("gb18030"), "superseded"),
        "wrong year.csv": (good_e1.replace(",2021,", ",2020,").encode("utf-8"), "rejected"),
    }
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, (1_600_000_000, 1_600_000_000))  # older than the golden files
    # an XLSX with a title row above the header
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["2021年 C1 统计报表"])
    for line in (folder / "C1.csv").read_text(encoding="utf-8").splitlines():
        ws.append(line.split(","))
    wb.save(folder / "C1 带标题.xlsx")
    os.utime(folder / "C1 带标题.xlsx", (1_600_000_000, 1_600_000_000))
    expected = {name: status for name, (_, status) in files.items()}
    expected["C1 带标题.xlsx"] = "rejected"
    return expected


def _run(root: Path, inbox: Path) -> None:
    env = {**os.environ, "ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"),
           "ETDZ_INBOX": str(inbox), "ETDZ_WAREHOUSE": str(root / "warehouse"), "ETDZ_REPORTS": str(root / "reports"),
           "DAGSTER_HOME": str(root / "dagster_home"), "ETDZ_HOME": str(root)}
    proc = subprocess.run([sys.executable, "-m", "pipelines.cli", "run", "--from", "2020", "--to", "2021"], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr  # rejected files never fail the run


def _read(root: Path, name: str) -> pd.DataFrame:
    return pads.dataset(str(root / "warehouse" / name), partitioning="hive", format="parquet").to_table().to_pandas()


def test_faulty_files_are_rejected_and_the_scores_are_those_of_the_clean_run(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    expected_status = _faulty_files(inbox / "2021")
    _run(tmp_path, inbox)

    log = _read(tmp_path, "submission_log")
    log21 = log[log.data_year == 2021].set_index("file_name")
    for name, status in expected_status.items():
        assert log21.loc[name, "status"] == status, (name, log21.loc[name].to_dict())
    # every file received is logged with its SHA-256, byte for byte
    for p in (inbox / "2021").iterdir():
        assert log21.loc[p.name, "sha256"] == hashlib.sha256(p.read_bytes()).hexdigest()
    issues = _read(tmp_path, "submission_issues")
    for name, status in expected_status.items():
        if status == "rejected":
            mine = issues[(issues.file_name == name) & (issues.severity == "error")]
            assert len(mine) and mine.message.str.len().min() > 5, name

    # the scores equal the worked example's expected results, as if the faulty files were never there
    exp = pd.read_csv(GOLDEN / "expected" / "rankings.csv")
    got = _read(tmp_path, "rankings").merge(exp, on=["data_year", "zone_code"], suffixes=("", "_exp"))
    assert len(got) == len(exp)
    assert (got.total_score - got.total_score_exp).abs().max() < 1e-9
    assert (got.national_rank == got.national_rank_exp).all() and (got.regional_rank == got.regional_rank_exp).all()
    assert set(got.submission_status) == {"accepted"}

    # one notice per rejected file, named by its registered zone (else unknown) and its fingerprint
    notices = {p.name for p in (tmp_path / "reports" / "2021" / "rejections").iterdir()}
    rejected = log21[log21.status == "rejected"]
    assert len(notices) == len(rejected)
    sha = {name: digest[:12] for name, digest in log21.sha256.items()}
    assert f"E1_{sha['E1 有误的旧版本.csv']}.txt" in notices
    assert f"unknown_{sha['未知开发区.csv']}.txt" in notices and f"unknown_{sha['garbage.csv']}.txt" in notices
    page = (tmp_path / "reports" / "2021" / "validation.html").read_text(encoding="utf-8")
    assert page.index("<h2>被拒收的文件") < page.index("<h2>尚无有效报送的园区") < page.index("<h2>警告")
