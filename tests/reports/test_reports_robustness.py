"""Rank robustness (03-scoring.md §3.9) as the card, the national report and the workbook show it: from a small
hand-built ``rank_robustness`` frame (the wording of each status), and from the real scorer's analysis of a
synthetic year under each shipped catalogue (what the pages say was varied — never more than was varied —
and ``p_candidate`` beside every watch-list zone)."""

from __future__ import annotations

import dataclasses

import openpyxl
import pandas as pd
import pytest
from reports_synth import make_year, parse_html

from etdz.catalogue import Robustness, catalogue_for_year, load_catalogues
from etdz.reports import write_year_reports
from etdz.reports.robustness import not_varied, pct, varied
from etdz.schemas import RANK_ROBUSTNESS
from etdz.scoring.downgrade import bottom_flags
from etdz.scoring.robustness import rank_robustness, robustness_inputs

TEXT_2021 = ("the indicator weights (±25%) and the normalisation (winsorised at 5/95% or not; a growth indicator "
             "without base at the median or at 0)")


@pytest.fixture(scope="module")
def robust_year(catalogue_2021, tmp_path_factory):
    small_year = make_year(catalogue_2021, 2022, per_region={"east": 14, "central": 10, "west": 9}, seed=3)
    rk = small_year.frames["rankings"].sort_values("national_rank").reset_index(drop=True)
    in_bottom = bottom_flags(rk, small_year.catalogue.downgrade.bottom_n, "regional_bottom").to_numpy()
    n = len(rk)
    watch = set(small_year.frames["downgrade_watchlist"].zone_code)
    rr = pd.DataFrame({
        "zone_code": rk.zone_code, "rank_nominal": rk.national_rank,
        "rank_median": rk.national_rank, "rank_p05": (rk.national_rank - 2).clip(lower=1),
        "rank_p95": (rk.national_rank + 3).clip(upper=n),
        "p_top100": 1.0, "p_region_bottom": [0.97 if b else 0.0 for b in in_bottom], "samples": 1000, "seed": 42,
        "method_version": small_year.catalogue.version,
        "p_candidate": [0.99 if z in watch else 0.0 for z in rk.zone_code], "p_national_bottom": 0.0})
    first, middle = rk.zone_code.iloc[0], rk.zone_code.iloc[n // 2]
    outside = rk.zone_code[~in_bottom].iloc[1]
    inside = rk.zone_code[in_bottom].iloc[0]
    rr.loc[rr.zone_code == first, ["rank_p05", "rank_p95", "rank_median"]] = 1   # firm
    rr.loc[rr.zone_code == middle, "p_top100"] = 0.9      # falls out of the top 100 in 10%: depends
    rr.loc[rr.zone_code == outside, "p_region_bottom"] = 0.3   # not bottom nominally, bottom in 30%: depends
    rr.loc[rr.zone_code == inside, "p_region_bottom"] = 0.96   # bottom in 96%: firm
    rr.loc[rr.zone_code == outside, "p_candidate"] = 0.3   # off the list, on it in 30%: depends
    assert list(rr.columns) == [f.name for f in RANK_ROBUSTNESS]
    inp = small_year.inputs()
    inp.rank_robustness = rr
    out = write_year_reports(inp, tmp_path_factory.mktemp("robust"))
    return {"rk": rk, "rr": rr.set_index("zone_code"), "out": out, "first": first, "middle": middle,
            "outside": outside, "inside": inside, "bottom_n": small_year.catalogue.downgrade.bottom_n}


def _card(y, code):
    return parse_html((y["out"].cards_dir / f"{code}.html").read_text(encoding="utf-8"))


def test_card_says_how_firm_the_rank_is_in_words(robust_year):
    y = robust_year
    code = y["middle"]
    r = y["rr"].loc[code]
    page = _card(y, code)
    text = page.ids["robustness-sentence"]
    assert (f"Rank {r.rank_nominal}; under 1,000 variants of {TEXT_2021}: "
            f"{r.rank_p05}–{r.rank_p95} (90%), top 100 in 90% of them, in its region's bottom {y['bottom_n']} in "
            f"{pct(r.p_region_bottom)}, on the downgrade watch-list in {pct(r.p_candidate)}. "
            f"Median rank {r.rank_median}."
            ) in text
    assert "Held fixed: the category weights (published: 30/30/15/15/10)." in text
    assert f"全国第 {r.rank_nominal} 名" in text and f"第 {r.rank_p05}–{r.rank_p95} 名" in text
    assert "是否保持前100取决于未公开的方法选择" in page.ids["robustness-verdict"]
    assert "不变" in _card(y, y["first"]).ids["robustness-verdict"]  # one rank in every variant
    outside = _card(y, y["outside"])
    assert "会否落入本区域后" in outside.ids["robustness-verdict"]
    assert "会否列入降级预警名单取决于未公开的方法选择" in outside.ids["robustness-candidate"]
    assert "30%" in outside.ids["risk-p-candidate"] and "depends on the unpublished choices" in \
        outside.ids["risk-p-candidate"]
    assert "在几乎所有组合下均处于本区域后" in _card(y, y["inside"]).ids["robustness-verdict"]


def test_national_report_draws_every_interval_and_median_and_lists_the_zones_that_depend(robust_year):
    y = robust_year
    html = y["out"].national_report.read_text(encoding="utf-8")
    section = html[html.index('<section id="robustness">'):html.index('<section id="movers">')]
    assert section.count("<g data-zone=") == len(y["rk"])
    assert section.count('<line class="median"') == len(y["rk"])  # the median of every zone on the chart
    page = parse_html(html)
    listed = [r["attrs"]["data-zone"] for r in page.tables["robust-depending"] if "data-zone" in r["attrs"]]
    assert sorted(listed) == sorted([y["middle"], y["outside"]])
    row = next(r["cells"] for r in page.tables["robust-depending"] if r["attrs"].get("data-zone") == y["middle"])
    r = y["rr"].loc[y["middle"]]
    assert row[2] == str(r.rank_nominal) and row[3] == f"{r.rank_p05}–{r.rank_p95}" and row[4] == "90%"
    # the downgrade status: the zone off the list in 70% and every candidate at 99% (on it, firm: not listed)
    cand = {r["attrs"]["data-zone"]: r["cells"] for r in page.tables["robust-candidates"] if "data-zone" in r["attrs"]}
    assert list(cand) == [y["outside"]] and cand[y["outside"]][4] == "30%"


def test_without_the_dataset_the_reports_say_so(written_year):
    data, out = written_year
    card = (out.cards_dir / f"{data.frames['rankings'].zone_code.iloc[0]}.html").read_text(encoding="utf-8")
    assert "Rank robustness has not been computed for this year." in card
    assert "Rank robustness has not been computed" in out.national_report.read_text(encoding="utf-8")


def test_rows_written_before_p_candidate_still_render(robust_year, catalogue_2021, tmp_path):
    """A year whose rank_robustness predates the column reads null there: no share is made up."""
    small_year = make_year(catalogue_2021, 2022, per_region={"east": 8, "central": 6, "west": 6}, seed=5)
    rk = small_year.frames["rankings"]
    inp = small_year.inputs()
    inp.rank_robustness = pd.DataFrame({
        "zone_code": rk.zone_code, "rank_nominal": rk.national_rank, "rank_median": rk.national_rank,
        "rank_p05": rk.national_rank, "rank_p95": rk.national_rank, "p_top100": 1.0, "p_region_bottom": 0.0,
        "samples": 100, "seed": 1, "method_version": "2021"})
    out = write_year_reports(inp, tmp_path)
    page = parse_html(out.national_report.read_text(encoding="utf-8"))
    assert "robust-candidates" not in page.tables
    card = parse_html((out.cards_dir / f"{rk.zone_code.iloc[0]}.html").read_text(encoding="utf-8"))
    assert "robustness-candidate" not in card.ids and "watch-list" not in card.ids["robustness-sentence"]


# ---------------------------------------------------------------- the real analysis under each shipped catalogue

def _analysed(catalogue, data_year, tmp, per_region, samples=200):
    """A synthetic year scored by the scorer, its rank robustness computed by the real analysis (the earlier
    years of the window as on record), and its reports written."""
    catalogue = dataclasses.replace(catalogue, robustness=dataclasses.replace(catalogue.robustness, samples=samples))
    year = make_year(catalogue, data_year, per_region=per_region, seed=11, years=3)
    earlier = {int(t): g for t, g in year.history.groupby("data_year") if t < data_year}
    rr = rank_robustness(robustness_inputs(data_year, catalogue, year.frames["indicator_scores"],
                                           year.frames["rankings"], earlier))
    inp = year.inputs()
    inp.rank_robustness = rr
    return year, rr.set_index("zone_code"), write_year_reports(inp, tmp)


@pytest.fixture(scope="module")
def analysed_2021(catalogue_2021, tmp_path_factory):
    return _analysed(catalogue_2021, 2023, tmp_path_factory.mktemp("r2021"), {"east": 14, "central": 10, "west": 9})


@pytest.fixture(scope="module")
def analysed_2016(tmp_path_factory):
    catalogue = catalogue_for_year(load_catalogues(), 2019)
    return _analysed(catalogue, 2019, tmp_path_factory.mktemp("r2016"), {"east": 10, "central": 8, "west": 7})


def test_under_2021_the_pages_name_the_indicator_weights_and_normalisation_and_fix_the_category_weights(
        analysed_2021):
    year, rr, out = analysed_2021
    html = out.national_report.read_text(encoding="utf-8")
    page = parse_html(html)
    text = page.ids["robustness-varied"]
    assert f"Re-scored under 200 variants of {TEXT_2021} (03-scoring §3.9, seed 2023); held fixed: the category " \
           "weights (published: 30/30/15/15/10)." in text
    assert "category weights (±" not in html and "一级类别权重（±" not in html  # published: never varied
    settings = {r["attrs"]["data-setting"]: r["cells"][1] for r in page.tables["robustness-settings"]
                if "data-setting" in r["attrs"]}
    assert "±25%" in settings["weights"] and settings["category_weights"].startswith("固定 fixed")
    assert "winsorised at 5/95% or not winsorised" in settings["winsorise"]
    assert "at the median or at 0" in settings["no_base"]
    assert "are the project's reading of the method and were not varied" in page.ids["robustness-not-varied"]
    code = rr.index[len(rr) // 2]
    card = parse_html((out.cards_dir / f"{code}.html").read_text(encoding="utf-8"))
    r = rr.loc[code]
    assert (f"Rank {r.rank_nominal}; under 200 variants of {TEXT_2021}: {r.rank_p05}–{r.rank_p95} (90%), "
            f"top 100 in {pct(r.p_top100)} of them, in its region's bottom 5 in {pct(r.p_region_bottom)}, "
            f"on the downgrade watch-list in {pct(r.p_candidate)}.") in card.ids["robustness-sentence"]


def test_watch_list_shows_p_candidate_beside_each_candidate_in_the_report_and_the_workbook(analysed_2021):
    year, rr, out = analysed_2021
    watch = year.frames["downgrade_watchlist"]
    assert len(watch), "the synthetic history puts zones on the watch-list"
    page = parse_html(out.national_report.read_text(encoding="utf-8"))
    rows = {r["attrs"]["data-zone"]: r["cells"] for r in page.tables["watchlist"] if "data-zone" in r["attrs"]}
    assert set(rows) == set(watch.zone_code)
    for code, cells in rows.items():
        assert cells[-1] == pct(rr.at[code, "p_candidate"])
        assert rr.at[code, "p_candidate"] > 0  # a nominal candidate is one in some variants at least
    # the zones whose downgrade status depends: exactly the rule's zones, with their share
    on = set(watch.zone_code)
    depends = {z for z, p in rr.p_candidate.items() if (z in on and p < 0.95) or (z not in on and p > 0.05)}
    listed = {r["attrs"]["data-zone"]: r["cells"][4] for r in page.tables["robust-candidates"] if "data-zone" in
              r["attrs"]}
    assert set(listed) == depends
    assert all(listed[z] == pct(rr.at[z, "p_candidate"]) for z in listed)
    wb = openpyxl.load_workbook(out.workbook)
    ws = wb["降级预警 Watch-list"]
    head = [c.value for c in ws[1]]
    got = {row[head.index("代码 Code")]: row[head.index("列入预警的组合占比 p_candidate")]
           for row in ws.iter_rows(min_row=2, values_only=True)}
    assert got == {z: pytest.approx(rr.at[z, "p_candidate"]) for z in watch.zone_code}
    national = wb["全国 National"]
    head = [c.value for c in national[1]]
    for row in national.iter_rows(min_row=2, values_only=True):
        assert row[head.index("列入预警的组合占比 p_candidate")] == pytest.approx(rr.at[row[head.index("代码 Code")],
                                                                                     "p_candidate"])


def test_under_2016_the_pages_vary_the_category_weights_too_and_use_the_national_bottom(analysed_2016):
    year, rr, out = analysed_2016
    page = parse_html(out.national_report.read_text(encoding="utf-8"))
    text = page.ids["robustness-varied"]
    assert ("variants of the indicator weights (±25%) and the category weights (±25%, renormalised to sum to 1) and "
            "the normalisation (winsorised at 5/95% or not; a growth indicator without base at the median or at 0)"
            ) in text
    assert "held fixed" not in text
    assert "24 of the official 53 under the 2016 method" in page.ids["robustness-not-varied"]
    code = rr.index[-1]  # the nominal bottom
    card = parse_html((out.cards_dir / f"{code}.html").read_text(encoding="utf-8"))
    sentence = card.ids["robustness-sentence"]
    assert f"in the national bottom 5 in {pct(rr.at[code, 'p_national_bottom'])}" in sentence
    assert "region's bottom" not in sentence


@pytest.mark.parametrize("settings, says, never", [
    (Robustness(weights=0.25, category_weights=0.0, winsorise_options=((0.05, 0.95),)),
     "the indicator weights (±25%)", ["normalisation", "category weights (±", "winsorised at 5/95% or"]),
    (Robustness(weights=0.0, category_weights=0.1, winsorise_options=((0.05, 0.95),),
                no_base_options=("median", "zero")),
     "the category weights (±10%, renormalised to sum to 1) and the normalisation (a growth indicator without base "
     "at the median or at 0)", ["indicator weights (±", "winsorised at 5/95% or"]),
    (Robustness(weights=0.0, category_weights=0.0, winsorise_options=(None, (0.1, 0.9))),
     "the normalisation (not winsorised or winsorised at 10/90%)", ["weights (±", "without base at"]),
    (Robustness(weights=0.0, category_weights=0.0, winsorise_options=((0.05, 0.95),)),
     "nothing (every choice held fixed)", ["±", "normalisation ("]),
])
def test_the_text_names_exactly_what_the_settings_vary(catalogue_2021, settings, says, never):
    what = varied(settings, catalogue_2021)
    assert what["en"] == says
    for phrase in never:
        assert phrase not in what["en"]
    if settings.weights == 0:
        assert "the indicator weights" in what["fixed_en"]
    if settings.category_spread == 0:
        assert "the category weights (published: 30/30/15/15/10)" in what["fixed_en"]
    assert not_varied(catalogue_2021)["en"].startswith("The indicators themselves (")
