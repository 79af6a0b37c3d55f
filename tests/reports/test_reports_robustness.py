"""Rank robustness (docs/contract/03-scoring.md §3.9) as the card and the national report show it, from a small
hand-built ``rank_robustness`` frame with the schema's columns."""

from __future__ import annotations

import pandas as pd
import pytest
from reports_synth import make_year, parse_html

from etdz.reports import write_year_reports
from etdz.schemas import RANK_ROBUSTNESS
from etdz.scoring.downgrade import bottom_flags


@pytest.fixture(scope="module")
def robust_year(catalogue_2021, tmp_path_factory):
    small_year = make_year(catalogue_2021, 2022, per_region={"east": 14, "central": 10, "west": 9}, seed=3)
    rk = small_year.frames["rankings"].sort_values("national_rank").reset_index(drop=True)
    in_bottom = bottom_flags(rk, small_year.catalogue.downgrade.bottom_n, "regional_bottom").to_numpy()
    n = len(rk)
    rr = pd.DataFrame({
        "zone_code": rk.zone_code, "rank_nominal": rk.national_rank,
        "rank_median": rk.national_rank, "rank_p05": (rk.national_rank - 2).clip(lower=1),
        "rank_p95": (rk.national_rank + 3).clip(upper=n),
        "p_top100": 1.0, "p_region_bottom": [0.97 if b else 0.0 for b in in_bottom], "samples": 1000, "seed": 42,
        "method_version": small_year.catalogue.version})
    first, middle = rk.zone_code.iloc[0], rk.zone_code.iloc[n // 2]
    outside = rk.zone_code[~in_bottom].iloc[1]
    inside = rk.zone_code[in_bottom].iloc[0]
    rr.loc[rr.zone_code == first, ["rank_p05", "rank_p95", "rank_median"]] = 1   # firm
    rr.loc[rr.zone_code == middle, "p_top100"] = 0.9      # falls out of the top 100 in 10%: depends
    rr.loc[rr.zone_code == outside, "p_region_bottom"] = 0.3   # not bottom nominally, bottom in 30%: depends
    rr.loc[rr.zone_code == inside, "p_region_bottom"] = 0.96   # bottom in 96%: firm
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
    assert (f"Rank {r.rank_nominal}; under 1,000 variants of the unpublished weights and treatment: "
            f"{r.rank_p05}–{r.rank_p95} (90%), top 100 in 90% of them, in its region's bottom {y['bottom_n']} in "
            f"{round(r.p_region_bottom * 100)}%."
            ) in text
    assert f"全国第 {r.rank_nominal} 名" in text and f"第 {r.rank_p05}–{r.rank_p95} 名" in text
    assert "是否保持前100取决于未公开的方法选择" in page.ids["robustness-verdict"]
    assert "不变" in _card(y, y["first"]).ids["robustness-verdict"]  # one rank in every variant
    assert "会否落入本区域后" in _card(y, y["outside"]).ids["robustness-verdict"]
    assert "在几乎所有组合下均处于本区域后" in _card(y, y["inside"]).ids["robustness-verdict"]


def test_national_report_draws_every_interval_and_lists_the_zones_that_depend(robust_year):
    y = robust_year
    html = y["out"].national_report.read_text(encoding="utf-8")
    section = html[html.index('<section id="robustness">'):html.index('<section id="movers">')]
    assert section.count("<g data-zone=") == len(y["rk"])
    page = parse_html(html)
    listed = [r["attrs"]["data-zone"] for r in page.tables["robust-depending"] if "data-zone" in r["attrs"]]
    assert sorted(listed) == sorted([y["middle"], y["outside"]])
    row = next(r["cells"] for r in page.tables["robust-depending"] if r["attrs"].get("data-zone") == y["middle"])
    r = y["rr"].loc[y["middle"]]
    assert row[2] == str(r.rank_nominal) and row[3] == f"{r.rank_p05}–{r.rank_p95}" and row[4] == "90%"


def test_without_the_dataset_the_reports_say_so(written_year):
    data, out = written_year
    card = (out.cards_dir / f"{data.frames['rankings'].zone_code.iloc[0]}.html").read_text(encoding="utf-8")
    assert "Rank robustness has not been computed for this year." in card
    assert "Rank robustness has not been computed" in out.national_report.read_text(encoding="utf-8")
