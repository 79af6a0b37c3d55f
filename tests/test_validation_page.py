"""The validation page people read first, and rejection notices named by zone."""

from __future__ import annotations

import pandas as pd
import pytest

from etdz.ingestion import ingest_year
from etdz.validation import gx_module
from etdz.validation_page import render_validation_page, write_rejection_notices
from tests.fixtures.submissions import GIZMO_CATALOGUE, csv_bytes, write_tiny_catalogue, write_tiny_registry


@pytest.fixture(scope="module", autouse=True)
def gx():
    return gx_module()


@pytest.fixture
def year(tmp_path):
    """Z1 accepted (with a warning), Z2 rejected, a PDF of no zone and a file claiming a zone not in the registry;
    Z3 sends nothing. ZX has left, ZN is not due yet, P1 is provincial: none of them is missing."""
    cat = write_tiny_catalogue(tmp_path / "cat", GIZMO_CATALOGUE, "new.yaml")
    reg = write_tiny_registry(tmp_path / "reg")
    inbox = tmp_path / "inbox" / "2022"
    inbox.mkdir(parents=True)
    (inbox / "good.csv").write_bytes(csv_bytes([["Z1", 2022, "gizmos", "40", "台"],
                                                ["Z1", 2022, "ratio_x", "12%", "%"]]))
    (inbox / "bad.csv").write_bytes(csv_bytes([["Z2", 2022, "ratio_x", "5", "%"], ["Z2", 2022, "gizmos", "101", "台"]]))
    (inbox / "说明.pdf").write_bytes(b"%PDF-1.4")
    (inbox / "forged.csv").write_bytes(csv_bytes([["../Z9", 2022, "gizmos", "1", "台"]]))
    return ingest_year(inbox, 2022, cat, reg, str(tmp_path / "archive")), reg


def test_the_page_opens_with_rejected_files_and_missing_zones_then_warnings(year):
    ingest, registry = year
    html = render_validation_page(ingest, registry)
    rejected, missing, warnings = (html.index(h) for h in ("<h2>被拒收的文件（3）", "<h2>尚无有效报送的园区（2）",
                                                           "<h2>警告"))
    assert rejected < missing < warnings < html.index("<h2>逐个文件的问题")
    missing_section = html[missing:warnings]
    assert "Z2" in missing_section and "乙经开区" in missing_section and "已拒收 1 个" in missing_section
    assert "Z3" in missing_section and "丙经开区" in missing_section and "未报送" in missing_section
    for absent in ("Z1", "ZX", "ZN", "P1"):
        assert f'"mono">{absent}<' not in missing_section, absent
    rejected_section = html[rejected:missing]
    assert "乙经开区" in rejected_section and "（名录中没有）" in rejected_section
    found = ingest.issues[ingest.issues.severity == "warning"]
    assert f"<h2>警告（{len(found)}，" in html and len(found)
    assert set(found.check) <= {c for c in found.check if c in html[warnings:html.index("<h2>逐个文件的问题")]}
    # filterable without a script, printable on A4, nothing fetched from the network
    assert 'type="checkbox"' in html and "body:has(#show-" in html
    assert "@page{size:A4" in html and "<script" not in html and "https://" not in html


def test_without_a_registry_the_page_still_renders(year):
    ingest, _ = year
    html = render_validation_page(ingest)
    assert "被拒收的文件（3）" in html and "尚无有效报送的园区" not in html


def test_notices_are_named_by_registered_zone_else_unknown(year, tmp_path):
    ingest, registry = year
    folder = tmp_path / "rejections"
    folder.mkdir()
    (folder / "stale_000000000000.txt").write_text("old", encoding="utf-8")
    write_rejection_notices(ingest, folder, registry)
    sha = dict(zip(ingest.log.file_name, ingest.log.sha256))
    assert sorted(p.name for p in folder.iterdir()) == sorted([
        f"Z2_{sha['bad.csv'][:12]}.txt", f"unknown_{sha['说明.pdf'][:12]}.txt",
        f"unknown_{sha['forged.csv'][:12]}.txt"])  # a code read from a file is not a path unless registered
    assert "row.hard_bounds" in (folder / f"Z2_{sha['bad.csv'][:12]}.txt").read_text(encoding="utf-8")


def test_every_rejected_file_has_its_own_notice_even_unread_or_byte_identical(year, tmp_path):
    """Unreadable files have no SHA-256 and identical bytes share one: neither may overwrite another notice."""
    ingest, registry = year
    inbox = tmp_path / "inbox" / "2022"
    (inbox / "bad copy.csv").write_bytes((inbox / "bad.csv").read_bytes())
    (inbox / "link.csv").symlink_to(inbox / "bad.csv")
    (inbox / "other link.csv").symlink_to("/etc/passwd")
    from etdz.catalogue import load_catalogue

    cat = load_catalogue(tmp_path / "cat" / "new.yaml")
    ingest = ingest_year(inbox, 2022, cat, registry, None)
    rejected = ingest.log[ingest.log.status == "rejected"]
    assert {"link.csv", "other link.csv", "bad copy.csv"} <= set(rejected.file_name)
    folder = tmp_path / "notices"
    write_rejection_notices(ingest, folder, registry)
    notices = sorted(p.name for p in folder.iterdir())
    assert len(notices) == len(rejected), notices
    assert all(len(n.split("_", 1)[1]) > len(".txt") for n in notices), notices  # never a bare "unknown_.txt"


def _notice(folder, ingest, file_name):
    sha = dict(zip(ingest.log.file_name, ingest.log.sha256))[file_name]
    return next(p for p in folder.iterdir() if sha[:12] in p.name).read_text(encoding="utf-8")


def test_a_file_of_another_year_is_told_to_go_to_that_year_never_to_overwrite_the_accepted_one(year, tmp_path):
    """Z1 has an accepted 2022 file; its 2021 figures sent into 2022 must not be relabelled 2022 and resent (that
    would replace the accepted file with last year's figures): the notice says to send them for 2021."""
    from datetime import date

    from etdz.catalogue import load_catalogue

    ingest, registry = year
    inbox = tmp_path / "inbox" / "2022"
    last_year = [["Z1", 2021, "gizmos", "38", "台"], ["Z1", 2021, "ratio_x", "11", "%"]]
    (inbox / "去年的.csv").write_bytes(csv_bytes(last_year))
    (inbox / "文字年份.csv").write_bytes(csv_bytes([["Z3", "二〇二二", "gizmos", "38", "台"]]))
    ingest = ingest_year(inbox, 2022, load_catalogue(tmp_path / "cat" / "new.yaml"), registry, None)
    folder = tmp_path / "notices"
    write_rejection_notices(ingest, folder, registry, deadlines={2022: date(2023, 5, 15)})
    text = _notice(folder, ingest, "去年的.csv")
    assert "园区：甲经开区（代码 Z1）" in text and "数据年度：2022" in text
    assert "报送截止：2023-05-15（北京时间" in text
    assert "原样作为 2021 年度的报送提交" in text and "不要改动年份" in text
    assert "本区 2022 年度已有被受理的文件「good.csv」" in text and "仍然有效" in text
    assert "切勿只把每一行的年份改为 2022" in text
    assert "每一行填写 2022" not in text and "并在每一行的 data_year 列填写该年份" not in text
    # a year written as text is this year's figures with the year miswritten: there, writing the year is the fix
    iss = ingest.issues
    text_year = iss[(iss.file_name == "文字年份.csv") & (iss.check == "file.year_mismatch")]
    assert "并在每一行填写 2022" in text_year.message.iloc[0] and "不要改动年份" not in text_year.message.iloc[0]
    # a zone with no accepted file is told it scores 0 until it resubmits, by the deadline
    other = _notice(folder, ingest, "bad.csv")
    assert "园区：乙经开区（代码 Z2）" in other and "尚无被受理的文件" in other and "2023-05-15" in other
    received = ingest.log.set_index("file_name").at["bad.csv", "received_at"]
    assert pd.Timestamp(received).tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M") + "（北京时间" in other


def test_a_notice_of_an_unregistered_zone_still_has_a_deadline(year, tmp_path):
    ingest, registry = year
    folder = tmp_path / "notices"
    write_rejection_notices(ingest, folder, registry)
    text = _notice(folder, ingest, "forged.csv")
    assert "不在园区名录中" in text and "报送截止：2023-06-30" in text  # the default: 30 June of the next year


def test_a_demo_deployment_marks_its_validation_page_and_notices(year, tmp_path):
    from etdz.reports import fictitious

    ingest, registry = year
    folder = tmp_path / "notices"
    write_rejection_notices(ingest, folder, registry, demo=True)
    assert all(p.read_text(encoding="utf-8").startswith(f"【{fictitious.BANNER}】") for p in folder.iterdir())
    assert 'id="demo-banner"' in render_validation_page(ingest, registry, demo=True)
    real = tmp_path / "real"
    write_rejection_notices(ingest, real, registry)
    assert not any(fictitious.BANNER_ZH in p.read_text(encoding="utf-8") for p in real.iterdir())
    assert 'id="demo-banner"' not in render_validation_page(ingest, registry)
