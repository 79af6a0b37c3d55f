"""Printed from a real browser (headless Chromium's PDF): a card on at most two A4 pages, and no heading left alone at
the foot of a page in the national report or a card (each heading's page is the page of what follows it, read from
the PDF's named destinations; see reports_synth.with_heading_anchors)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from reports_synth import (
    chromium_pdf,
    corrected,
    make_year,
    orphaned_headings,
    require_chromium,
    with_heading_anchors,
)

from etdz.reports import write_year_reports
from etdz.scoring.robustness import rank_robustness, robustness_inputs

pytestmark = pytest.mark.server

require_chromium()

A4 = (595.3, 841.9)  # points
MAX_CARD_PAGES = 2


def _print(html: Path, tmp: Path) -> dict:
    """Print ``html`` with an anchor on each heading and on what follows it; the PDF's pages and orphans."""
    page, pairs = with_heading_anchors(html.read_text(encoding="utf-8"))
    probe = html.with_name(f"_print_{html.name}")  # beside the original, so its relative links stay the same
    probe.write_text(page, encoding="utf-8")
    try:
        r = chromium_pdf(probe, tmp / f"{html.stem}.pdf")
    finally:
        probe.unlink()
    assert r["returncode"] == 0, r["stderr"][-2000:]
    assert r["boxes"] and all(abs(w - A4[0]) < 1 and abs(h - A4[1]) < 1 for w, h in r["boxes"])  # A4 portrait
    assert len(r["boxes"]) == r["pages"] > 0
    return {"pages": r["pages"], "headings": len(pairs), "orphans": orphaned_headings(r["pdf"], pairs)}


@pytest.fixture(scope="module")
def full_year(catalogue_2021, tmp_path_factory):
    """A full-size demo year as the pipeline writes it: 230 zones, rank robustness from the real analysis, a
    correction (the changes section), the demo's banner."""
    cat = dataclasses.replace(catalogue_2021, robustness=dataclasses.replace(catalogue_2021.robustness, samples=200))
    first = make_year(cat, 2023, per_region={"east": 112, "central": 68, "west": 50}, years=3, seed=11)
    worst = first.frames["rankings"].sort_values("national_rank").zone_code.iloc[-3]
    data = corrected(first, worst, "trade_total", 40.0)
    earlier = {int(t): g for t, g in data.history.groupby("data_year") if t < data.data_year}
    inp = data.inputs()
    inp.rank_robustness = rank_robustness(robustness_inputs(data.data_year, cat, data.frames["indicator_scores"],
                                                            data.frames["rankings"], earlier))
    inp.demo = True
    return data, write_year_reports(inp, tmp_path_factory.mktemp("print"))


def test_the_detector_finds_a_heading_left_at_the_foot_of_a_page(tmp_path):
    """The control: without `break-after: avoid` a heading that lands at a page's foot is reported."""
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><head><style>@page{size:A4;margin:10mm} body{margin:0} h2{margin:0;'
                    'height:30px}</style></head><body><div style="height:1010px"></div><h2>孤立标题 alone</h2>'
                    '<p style="height:300px">text</p><h2>其后有内容 kept</h2><p>text</p></body></html>',
                    encoding="utf-8")
    got = _print(page, tmp_path)
    assert got["pages"] == 2 and got["headings"] == 2
    assert len(got["orphans"]) == 1 and got["orphans"][0].startswith("孤立标题")


def _picks(data) -> dict[str, str]:
    rk = data.frames["rankings"].sort_values("national_rank").reset_index(drop=True)
    watch = data.frames["downgrade_watchlist"]
    out = {"first": rk.zone_code.iloc[0], "middle": rk.zone_code.iloc[len(rk) // 2], "last": rk.zone_code.iloc[-1],
           "no_valid_file": rk[rk.submission_status != "accepted"].zone_code.iloc[0]}
    if len(watch):
        out["watch_list"] = watch.zone_code.iloc[0]
    return out


@pytest.mark.parametrize("pick", ["first", "middle", "last", "no_valid_file", "watch_list", "longest"])
def test_a_card_prints_on_at_most_two_a4_pages(full_year, tmp_path, pick):
    data, out = full_year
    picks = _picks(data)
    if pick == "longest":  # the card with the most to say (levers, lowering measures, rejected files)
        code = max(out.cards_dir.glob("*.html"), key=lambda p: p.stat().st_size).stem
    elif pick not in picks:
        pytest.skip("no zone on the watch-list in this synthetic year")
    else:
        code = picks[pick]
    got = _print(out.cards_dir / f"{code}.html", tmp_path)
    print(f"\ncard {code} ({pick}): {got['pages']} A4 page(s), {got['headings']} headings")
    assert got["pages"] <= MAX_CARD_PAGES
    assert got["orphans"] == []


def test_the_national_report_prints_without_orphaned_headings(full_year, tmp_path):
    data, out = full_year
    got = _print(out.national_report, tmp_path)
    print(f"\nnational report: {got['pages']} A4 pages, {got['headings']} headings, orphans {got['orphans']}")
    assert got["headings"] >= 25  # every section's heading and the sub-headings were checked
    assert got["orphans"] == []
