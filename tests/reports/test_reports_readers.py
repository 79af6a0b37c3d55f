"""Readers' details (issue 19): the demo's banner, the card of a zone without a valid file, the method annex, FDI in
亿美元, the top-100 list and the links between the pages."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import unquote

import pandas as pd
import pytest
from reports_synth import parse_html

from etdz.rejections import notice_names
from etdz.reports import fictitious, write_year_reports


def _html(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def demo_year(small_year, tmp_path_factory):
    """The small year written as a demo deployment writes it (``ReportInputs.demo``, from Settings.demo)."""
    inp = small_year.inputs()
    inp.demo = True
    return small_year, write_year_reports(inp, tmp_path_factory.mktemp("demo"), generated="2026-01-01 00:00 UTC")


def test_every_page_of_a_demo_deployment_says_its_data_are_fictitious(demo_year):
    data, out = demo_year
    pages = [out.national_report, *sorted(out.cards_dir.glob("*.html"))]
    assert len(pages) == len(data.frames["rankings"]) + 1
    for path in pages:
        page = parse_html(_html(path))
        assert page.ids["demo-banner"].startswith("演示数据（虚构） Demo data — fictitious"), path.name
        assert f'content: "{fictitious.BANNER}"' in _html(path)  # and the top margin of every printed sheet


def test_a_real_deployment_shows_no_banner(written_year):
    data, out = written_year
    for path in [out.national_report, *sorted(out.cards_dir.glob("*.html"))]:
        html = _html(path)
        assert "demo-banner" not in parse_html(html).ids, path.name
        assert fictitious.BANNER_ZH not in html and fictitious.BANNER_EN not in html, path.name


# --------------------------------------------------------------------------- the zone without a valid file


def test_the_card_of_a_zone_whose_file_was_rejected_says_what_why_where_and_how(written_year):
    data, out = written_year
    log = data.frames["submission_log"]
    bad = log[log.status == "rejected"].iloc[0]
    code = bad.zone_code
    rk = data.frames["rankings"].set_index("zone_code")
    assert rk.at[code, "submission_status"] == "no_valid_submission"
    html = _html(out.cards_dir / f"{code}.html")
    page = parse_html(html)
    rows = [r for r in page.tables["rejected-files"] if "data-notice" in r["attrs"]]
    assert len(rows) == 1
    cells = rows[0]["cells"]
    assert cells[0] == bad.file_name
    # received when: Beijing time (the log keeps UTC)
    beijing = pd.Timestamp(bad.received_at).tz_convert("Asia/Shanghai").strftime("%Y-%m-%d %H:%M")
    assert cells[1].startswith(beijing)
    # why: the file's first error in words, and how many there are
    issues = data.frames["submission_issues"]
    first = issues[(issues.sha256 == bad.sha256) & (issues.severity == "error")].message.iloc[0]
    assert cells[2].startswith(first) and f"共 {bad.errors} 个错误" in cells[2]
    # its notice, by the name the ingestion gives it, linked from the card's folder
    name = notice_names(log, set(rk.index))[(bad.file_name, bad.sha256)]
    assert name == f"{code}_{bad.sha256[:12]}.txt" and rows[0]["attrs"]["data-notice"] == name
    assert cells[3] == f"rejections/{name}"
    assert f'href="../rejections/{name}"' in html
    # the way back, before the deadline (30 June of the next year, Beijing time, by default)
    assert f"{data.data_year + 1}-06-30" in page.ids["resubmit"] and "重新报送整份文件" in page.ids["resubmit"]
    assert "逾期" in page.ids["resubmit"]


def test_a_zone_that_sent_nothing_is_told_so_and_how_to_submit(year_builder, catalogue_2021, tmp_path):
    data = year_builder(catalogue_2021, 2022, no_submission=("W002", "C003"), per_region={"east": 4, "central": 3,
                                                                                         "west": 2})
    inp = data.inputs()
    inp.deadline = pd.Timestamp("2023-05-15").date()  # a configured deadline (ETDZ_DEADLINES) wins
    out = write_year_reports(inp, tmp_path)
    page = parse_html(_html(out.cards_dir / "C003.html"))  # only W002 sent a (rejected) file
    assert "rejected-files" not in page.tables
    assert "未收到可识别为本区的 2022 年度报送文件" in page.ids["nothing-received"]
    assert "无法识别园区" not in page.ids["nothing-received"]  # W002's rejected file is W002's, not unattributed
    assert "2023-05-15" in page.ids["resubmit"] and "报送模板" in page.ids["resubmit"]
    accepted = parse_html(_html(out.cards_dir / "E001.html"))
    assert "no-valid-file" not in accepted.ids and "resubmit" not in accepted.ids
    # a rejected file no zone can be told from (an unreadable one) is not the zone's, but the card says it exists
    log = inp.submission_log
    garbage = log[log.status == "rejected"].iloc[[0]].assign(zone_code=None, sha256="d" * 64, file_name="乱码.csv")
    inp.submission_log = pd.concat([log, garbage], ignore_index=True)
    page = parse_html(_html(write_year_reports(inp, tmp_path / "again").cards_dir / "C003.html"))
    assert "另有 1 个无法识别园区的文件被退回" in page.ids["nothing-received"]


# --------------------------------------------------------------------------- the method annex


def test_the_method_annex_reads_the_years_catalogue(written_year):
    data, out = written_year
    page = parse_html(_html(out.national_report))
    cat = data.catalogue
    a, b = cat.winsorise
    assert f"{a * 100:g}% 与 {b * 100:g}% 分位数" in page.ids["annex-normalisation-rule"]
    rows = {r["attrs"]["data-category"]: r["cells"] for r in page.tables["annex-categories"]
            if "data-category" in r["attrs"]}
    assert list(rows) == [k.code for k in cat.categories]
    for k in cat.categories:
        assert rows[k.code][1] == f"{k.weight * 100:g}%"
        assert rows[k.code][2] == str(len(cat.indicators_of(k.code)))
        assert rows[k.code][3].startswith(str(k.source)[0])
    inds = {r["attrs"]["data-indicator"]: r["cells"] for r in page.tables["annex-indicators"]
            if "data-indicator" in r["attrs"]}
    assert list(inds) == [i.code for k in cat.categories for i in cat.indicators_of(k.code)]
    total = sum(float(c[6].rstrip("%")) for c in inds.values())
    assert total == pytest.approx(100, abs=0.005 * len(inds))  # the effective weights add up to the total
    reading = page.ids["annex-reading-list"]
    assert "已公布" in reading and "二级指标权重：未公布" in reading and "未参与变动" in reading
    missing = int((data.frames["indicator_scores"].status == "missing").sum())
    imputed = int(data.frames["indicator_scores"].imputed.fillna(False).astype(bool).sum())
    assert f"本年 {missing} 个指标值缺失" in page.ids["annex-missing-rule"]
    assert f"本年 {imputed} 个指标值插补" in page.ids["annex-no-base-rule"]


def test_the_annex_follows_a_changed_catalogue(small_year, tmp_path):
    """No number of the annex is written into the template: another catalogue, another annex."""
    cat = small_year.catalogue
    changed = dataclasses.replace(
        cat, winsorise=None, categories=tuple(dataclasses.replace(k, source="A: assumed") for k in cat.categories),
        robustness=dataclasses.replace(cat.robustness, weights=0.0, winsorise_options=(None,)))
    inp = small_year.inputs()
    inp.catalogue = changed
    page = parse_html(_html(write_year_reports(inp, tmp_path).national_report))
    rule = page.ids["annex-normalisation-rule"]
    assert "最小值、最大值" in rule and "分位数" not in rule
    reading = page.ids["annex-reading-list"]
    assert "一级类别及其权重：本项目假设" in reading and "稳健性分析中未变动" in reading
    assert "变动了缩尾方式" not in reading


# --------------------------------------------------------------------------- FDI in 亿美元 (display only)


def test_fdi_is_shown_in_yiyi_dollars_on_the_card_and_its_levers(written_year):
    data, out = written_year
    meas = data.frames["measures"]
    fdi = meas[meas.measure_code == "fdi_actual"].set_index("zone_code").value
    assert (meas[meas.measure_code == "fdi_actual"].unit == "万美元").all()  # the data keep the canonical unit
    code = data.frames["rankings"].sort_values("national_rank").zone_code.iloc[0]
    page = parse_html(_html(out.cards_dir / f"{code}.html"))
    row = next(r["cells"] for r in page.tables["indicator-table"] if r["attrs"].get("data-indicator") == "OPN01")
    assert row[2] == "亿美元"
    assert float(row[1].replace(",", "")) == pytest.approx(fdi[code] / 1e4, rel=5e-3)
    levers = {r["attrs"]["data-measure"]: r["cells"] for r in page.tables.get("levers", [])
              if "data-measure" in r["attrs"]}
    if "fdi_actual" in levers:
        assert levers["fdi_actual"][2] == "亿美元"
        assert float(levers["fdi_actual"][1].replace(",", "")) == pytest.approx(fdi[code] / 1e4, rel=5e-3)


# --------------------------------------------------------------------------- the top 100 and the links


@pytest.fixture(scope="module")
def big_year(catalogue_2021, tmp_path_factory):
    from reports_synth import make_year

    data = make_year(catalogue_2021, 2022, per_region={"east": 60, "central": 40, "west": 20}, years=2)
    return data, write_year_reports(data.inputs(), tmp_path_factory.mktemp("big"))


def test_the_top100_list_is_the_rankings_top100_in_rank_order(big_year):
    data, out = big_year
    page = parse_html(_html(out.national_report))
    rows = [r for t in ("top100-1", "top100-2") for r in page.tables[t] if "data-zone" in r["attrs"]]
    rk = data.frames["rankings"].sort_values(["national_rank", "zone_code"])
    expected = rk[rk.top100]
    assert len(rk) == 120 and 100 <= len(expected) < 120
    assert [r["attrs"]["data-zone"] for r in rows] == list(expected.zone_code)
    assert [int(r["cells"][0]) for r in rows] == list(expected.national_rank)
    assert rk[~rk.top100].national_rank.min() > 100  # rank 101 is not on it


def test_links_from_the_national_report_reach_every_card_and_the_workbook(big_year):
    data, out = big_year
    html = _html(out.national_report)
    year = out.national_report.parent
    hrefs = set(re.findall(r'<a [^>]*href="([^"#][^"]*)"', html))
    cards = {h for h in hrefs if h.startswith("zones/")}
    assert cards == {f"zones/{c}.html" for c in data.frames["rankings"].zone_code}  # every card, nothing else
    for h in hrefs:
        assert "://" not in h and not h.startswith("/"), h  # relative: the same from the folder and over HTTP
        if h != "validation.html":  # written by the ingestion, beside the reports
            assert (year / unquote(h)).is_file(), h
    assert 'href="rankings.xlsx"' in html and 'href="validation.html"' in html
    card = _html(next(out.cards_dir.glob("*.html")))
    assert 'href="../national_report.html"' in card and 'href="../rankings.xlsx"' in card


def test_the_links_work_over_etdz_uis_report_server(big_year):
    """`etdz ui` serves the reports folder: every link of the national report and of a card resolves there too."""
    import socket
    import urllib.error
    import urllib.request
    from urllib.parse import urljoin

    from pipelines.cli import serve_reports

    data, out = big_year
    root = out.national_report.parent.parent
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = serve_reports(str(root), "127.0.0.1", port)
    try:
        year = f"http://127.0.0.1:{port}/{data.data_year}/"
        code = data.frames["rankings"].zone_code.iloc[-1]
        checked = 0
        for page in (year + "national_report.html", year + f"zones/{code}.html"):
            html = urllib.request.urlopen(page, timeout=10).read().decode("utf-8")
            for href in sorted(set(re.findall(r'<a [^>]*href="([^"#][^"]*)"', html))):
                if href.endswith("validation.html") or "rejections/" in href:
                    continue  # written by the ingestion step, not by write_year_reports
                try:
                    r = urllib.request.urlopen(urljoin(page, href), timeout=10)
                except urllib.error.HTTPError as exc:
                    raise AssertionError(f"{page}: {href} -> {exc}") from None
                with r:
                    assert r.status == 200, href
                checked += 1
        assert checked > 100
    finally:
        server.shutdown()
