"""A submission without figures is not a submission (issue 11): a blank template or a header-only file is
rejected with its own check code and never replaces a zone's real file; a correction that reports fewer
measures than the file it replaces gets a warning naming the measures that disappeared."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from etdz.catalogue import load_catalogues
from etdz.ingestion import ingest_year
from etdz.registry import load_registry
from etdz.template import write_template
from tests.corpus.build_corpus import ZONE, rows
from tests.fixtures.runs import dataset, etdz, golden_env
from tests.fixtures.submissions import COLUMNS, csv_bytes

YEAR = 2022
OLD, NEW = 1_650_000_000, 1_660_000_000  # the real file first, the blank ones later (a later file would win)
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"


def _put(folder: Path, name: str, data: bytes, mtime: int) -> None:
    (folder / name).write_bytes(data)
    os.utime(folder / name, (mtime, mtime))


def _blank_templates(folder: Path, catalogues, registry, zone: str | None) -> list[str]:
    """`etdz template --data-year 2022 [--zone Z]` written straight into the inbox, as an operator would."""
    paths = write_template(folder, YEAR, catalogues, zone=zone, registry=registry)
    for p in paths:
        os.utime(p, (NEW, NEW))
    return [p.name for p in paths]


@pytest.fixture(scope="module")
def shipped():
    return load_catalogues(), load_registry()


def _issue(y, name: str, check: str) -> pd.Series:
    iss = y.issues.loc[(y.issues.file_name == name) & (y.issues.check == check)]
    assert len(iss) == 1, (name, check, y.issues.loc[y.issues.file_name == name, "check"].tolist())
    return iss.iloc[0]


def test_blank_template_and_header_only_file_are_rejected_and_the_real_file_stays_the_submission(tmp_path, shipped):
    catalogues, registry = shipped
    cat = next(c for c in catalogues if c.version == "2021")
    inbox = tmp_path / "inbox" / str(YEAR)
    inbox.mkdir(parents=True)
    _put(inbox, "real.csv", csv_bytes(rows()), OLD)
    templates = _blank_templates(inbox, catalogues, registry, ZONE)
    assert sorted(templates) == [f"etdz_template_{YEAR}_{ZONE}.csv", f"etdz_template_{YEAR}_{ZONE}.xlsx"]
    _put(inbox, "header_only.csv", csv_bytes([]), NEW)

    y = ingest_year(inbox, YEAR, cat, registry, str(tmp_path / "archive"))
    log = y.log.set_index("file_name")
    assert log.at["real.csv", "status"] == "accepted"
    for name in templates:
        assert log.at[name, "status"] == "rejected"
        assert log.at[name, "zone_code"] == ZONE  # the zone is named: the operator sees whose blank file it is
        issue = _issue(y, name, "file.no_values")
        assert issue.severity == "error" and "没有报送任何数值" in issue.message and "空白模板" in issue.message
        # one clear error, not a warning per empty measure
        assert set(y.issues.loc[y.issues.file_name == name, "check"]) == {"file.no_values"}
    assert log.at["header_only.csv", "status"] == "rejected"
    assert "只有表头" in _issue(y, "header_only.csv", "file.no_data").message
    # the zone's figures are those of its real file
    real_sha = log.at["real.csv", "sha256"]
    assert set(y.measures.loc[y.measures.zone_code == ZONE, "source_sha256"]) == {real_sha}
    assert len(y.measures.loc[y.measures.zone_code == ZONE]) == len(rows())


def test_blank_template_without_zone_is_rejected_for_having_no_values(tmp_path, shipped):
    catalogues, registry = shipped
    cat = next(c for c in catalogues if c.version == "2021")
    inbox = tmp_path / "inbox" / str(YEAR)
    inbox.mkdir(parents=True)
    names = _blank_templates(inbox, catalogues, registry, None)
    y = ingest_year(inbox, YEAR, cat, registry, None)
    for name in names:
        assert y.log.set_index("file_name").at[name, "status"] == "rejected"
        _issue(y, name, "file.no_values")


def test_correction_with_fewer_measures_warns_and_names_them(tmp_path, shipped):
    catalogues, registry = shipped
    cat = next(c for c in catalogues if c.version == "2021")
    inbox = tmp_path / "inbox" / str(YEAR)
    inbox.mkdir(parents=True)
    _put(inbox, "first.csv", csv_bytes(rows()), OLD)
    _put(inbox, "correction.csv", csv_bytes(rows(gdp=None, tax_revenue=("", "亿元"))), NEW)
    y = ingest_year(inbox, YEAR, cat, registry, None)
    log = y.log.set_index("file_name")
    assert log.at["correction.csv", "status"] == "accepted" and log.at["first.csv", "status"] == "superseded"
    w = _issue(y, "correction.csv", "file.measures_dropped")
    assert w.severity == "warning" and w.value == "gdp, tax_revenue"
    assert "first.csv" in w.message and "gdp（地区生产总值）" in w.message and "tax_revenue" in w.message
    # the warning is counted in the log like every other
    assert log.at["correction.csv", "warnings"] == (y.issues.file_name == "correction.csv").sum()
    # a correction with every measure raises nothing of the kind
    _put(inbox, "correction.csv", csv_bytes(rows(gdp=("2900", "亿元"))), NEW)
    y = ingest_year(inbox, YEAR, cat, registry, None)
    assert not (y.issues.check == "file.measures_dropped").any()


@pytest.mark.slow
def test_etdz_run_keeps_the_zones_scores_when_a_blank_template_arrives(tmp_path):
    inbox = tmp_path / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    folder = inbox / "2021"
    real = folder / "E1.csv"
    os.utime(real, (OLD, OLD))
    paths = write_template(folder, 2021, load_catalogues(GOLDEN / "catalogues"), zone="E1",
                           registry=load_registry(GOLDEN / "registry.csv"))
    for p in paths:
        os.utime(p, (NEW, NEW))
    (folder / "header only.csv").write_text(",".join(COLUMNS) + "\n", encoding="utf-8")
    proc = etdz(tmp_path, golden_env(tmp_path, inbox), "run", "--from", "2020", "--to", "2021")
    assert proc.returncode == 0, proc.stdout + proc.stderr

    log = dataset(tmp_path, "submission_log").query("data_year == 2021").set_index("file_name")
    for p in paths:
        assert log.at[p.name, "status"] == "rejected"
    assert log.at["header only.csv", "status"] == "rejected" and log.at["E1.csv", "status"] == "accepted"
    exp = pd.read_csv(GOLDEN / "expected" / "rankings.csv")
    got = dataset(tmp_path, "rankings").merge(exp, on=["data_year", "zone_code"], suffixes=("", "_exp"))
    assert len(got) == len(exp) and (got.total_score - got.total_score_exp).abs().max() < 1e-9
    e1 = got.loc[(got.data_year == 2021) & (got.zone_code == "E1")].iloc[0]
    assert e1.submission_status == "accepted" and e1.total_score > 0
