"""Zone report cards: one per ranked zone, showing exactly the numbers of the datasets."""

from __future__ import annotations

import numpy as np
import pytest
from reports_synth import num, parse_html

from etdz.catalogue import indicator_unit
from etdz.reports.units import display_unit


def _card(out, code):
    return parse_html((out.cards_dir / f"{code}.html").read_text(encoding="utf-8"))


def test_one_card_per_ranked_zone(written_year):
    data, out = written_year
    rk = data.frames["rankings"]
    assert out.cards == len(rk)
    assert sorted(p.stem for p in out.cards_dir.glob("*.html")) == sorted(rk.zone_code)
    assert not list(out.cards_dir.glob("_*"))  # no temp files left behind


@pytest.mark.parametrize("pick", ["first", "middle", "last", "no_submission"])
def test_card_numbers_equal_the_data(written_year, pick):
    data, out = written_year
    rk = data.frames["rankings"].sort_values("national_rank").reset_index(drop=True)
    z = {"first": rk.iloc[0], "middle": rk.iloc[len(rk) // 2], "last": rk.iloc[-1],
         "no_submission": rk[rk.submission_status != "accepted"].iloc[0]}[pick]
    code = z.zone_code
    page = _card(out, code)
    assert page.ids["zone-name"] == z.name_zh
    assert num(page.ids["total-score"]) == round(z.total_score, 2)
    assert page.ids["national-rank"].split("/")[0].strip() == str(z.national_rank)
    assert page.ids["regional-rank"].split("/")[0].strip() == str(z.regional_rank)
    assert page.ids["provincial-rank"].split("/")[0].strip() == str(z.provincial_rank)
    assert int(page.ids["national-rank"].split("/")[1]) == len(rk)
    assert int(page.ids["regional-rank"].split("/")[1]) == (rk.region == z.region).sum()

    ind = data.frames["indicator_scores"]
    mine = ind[ind.zone_code == code].set_index("indicator_code")
    n_better = int(mine.better_than_national_avg.sum())
    assert n_better == z.indicators_better_than_avg
    assert page.ids["better-count"] == f"{n_better} of {len(data.catalogue.indicators)}"
    rows = {r["attrs"]["data-indicator"]: r["cells"] for r in page.tables["indicator-table"]
            if "data-indicator" in r["attrs"]}
    assert set(rows) == {i.code for i in data.catalogue.indicators}
    units = {i.code: indicator_unit(i, data.catalogue) for i in data.catalogue.indicators}
    for icode, cells in rows.items():
        # shown in its display unit (FDI in 亿美元): the dataset's canonical value × the display factor
        v, s = mine.at[icode, "value"] * display_unit(units[icode]).factor, mine.at[icode, "score"]
        assert cells[2] == display_unit(units[icode]).unit
        if np.isnan(v):
            assert cells[1] == "—"
        elif np.isinf(v):
            assert cells[1] == ("+∞" if v > 0 else "−∞")
        else:
            whole = "," in cells[1] and "." not in cells[1]
            digits = len(cells[1].split(".")[1]) if "." in cells[1] else 0
            assert num(cells[1]) == pytest.approx(round(v, digits), abs=0.5 if whole else 1e-9)
        assert num(cells[3]) == round(s, 2)
        assert ("✓" in cells[4]) == bool(mine.at[icode, "better_than_national_avg"])
        assert ("✓" in cells[5]) == bool(mine.at[icode, "better_than_regional_avg"])
    # per-category counts "x of y"
    cats = {r["attrs"]["data-category"]: r["cells"] for r in page.tables["indicator-table"]
            if "data-category" in r["attrs"]}
    for k in data.catalogue.categories:
        sub = mine[mine.category_code == k.code]
        assert cats[k.code][-2] == f"{int(sub.better_than_national_avg.sum())} of {len(sub)}"
    # category scores and averages
    cs = data.frames["category_scores"]
    cs = cs.merge(data.frames["rankings"][["zone_code", "region"]], on="zone_code")
    crow = {r["attrs"]["data-category"]: r["cells"] for r in page.tables["categories"] if "data-category" in r["attrs"]}
    for k in data.catalogue.categories:
        mine_k = cs[(cs.zone_code == code) & (cs.category_code == k.code)].iloc[0]
        assert num(crow[k.code][2]) == round(mine_k.score, 2)
        assert num(crow[k.code][3]) == round(cs[cs.category_code == k.code].score.mean(), 2)
        reg = cs[(cs.category_code == k.code) & (cs.region == z.region)].score.mean()
        assert num(crow[k.code][4]) == round(reg, 2)
        assert int(crow[k.code][5]) == mine_k.national_rank
    assert num(crow["TOTAL"][3]) == round(rk.total_score.mean(), 2)


def test_rank_trend_covers_every_year_on_record(written_year):
    data, out = written_year
    code = data.frames["rankings"].zone_code.iloc[0]
    page = _card(out, code)
    h = data.history[data.history.zone_code == code].sort_values("data_year")
    rows = [r for r in page.tables["rank-history"] if "data-year" in r["attrs"]]
    assert [int(r["attrs"]["data-year"]) for r in rows] == list(h.data_year)
    for r, (_, e) in zip(rows, h.iterrows()):
        assert int(r["cells"][2].split("/")[0]) == e.national_rank
        assert int(r["cells"][3]) == e.regional_rank
        assert int(r["cells"][4]) == e.provincial_rank
    html = (out.cards_dir / f"{code}.html").read_text(encoding="utf-8")
    assert html.count("<polyline") >= 3  # three rank panels drawn as lines


def test_downgrade_risk_status(year_builder, catalogue_2021, tmp_path):
    from etdz.reports import write_year_reports

    data = year_builder(catalogue_2021, 2022, per_region={"east": 14, "central": 10, "west": 9}, seed=3)
    out = write_year_reports(data.inputs(), tmp_path)
    wl = data.frames["downgrade_watchlist"]
    assert len(wl), "the synthetic year should have watch-list zones"
    code = wl.zone_code.iloc[0]
    page = _card(out, code)
    assert "已列入降级预警名单" in page.ids["risk-status"]
    years = [int(y) for y in wl.bottom_years.iloc[0]]
    text = page.ids["risk-years"]
    assert f"{'、'.join(map(str, years))}年，共 {len(years)} 次" in text
    en = ", ".join(map(str, years[:-1])) + " and " + str(years[-1]) if len(years) > 1 else str(years[0])
    assert f": in {en}: {len(years)} time" in text
    assert f"{data.catalogue.downgrade.times} make a candidate (reached)" in text
    assert "of" not in text.split("(reached)")[0].split("within")[-1]  # no "(3 of 2)"
    # a zone that was never in its region's bottom n is clear (or merely near the line)
    h = data.history
    nR = h.groupby(["data_year", "region"]).zone_code.transform("count")
    bottom = h[h.regional_rank >= nR - data.catalogue.downgrade.bottom_n + 1].zone_code
    safe = data.frames["rankings"].sort_values("national_rank")
    safe = safe[~safe.zone_code.isin(bottom)].zone_code.iloc[0]
    page = _card(out, safe)
    assert "无降级风险" in page.ids["risk-status"]


def test_target_gaps_on_every_card(written_year):
    data, out = written_year
    rk = data.frames["rankings"]
    totals = np.sort(rk.total_score.to_numpy())[::-1]
    for _, z in rk.iterrows():
        page = _card(out, z.zone_code)
        if z.national_rank == 1:
            assert "target-gap-next" not in page.ids
            continue
        assert num(page.ids["target-gap-next"]) == round(totals[z.national_rank - 2] - z.total_score, 2)
        top = next((k for k in (100, 50, 30) if z.national_rank > k), None)
        assert ("target-gap-top" in page.ids) == (top is not None)  # a small year: every zone is in the top 30


def test_no_base_indicators_are_not_offered_as_points(written_year):
    data, out = written_year
    ind = data.frames["indicator_scores"]
    no_base = ind[ind.status == "no_base"]
    assert len(no_base), "the synthetic year has growth indicators without a base"
    code = no_base.zone_code.iloc[0]
    imputed = set(no_base[no_base.zone_code == code].indicator_code)
    # levers by measure (§3.8): the measures offered, each with the indicators it gains on ("Via", 7th cell)
    offered = {r["attrs"]["data-measure"]: r["cells"][6].split() for r in _card(out, code).tables["levers"]
               if "data-measure" in r["attrs"]}
    assert offered
    assert not imputed & {c for via in offered.values() for c in via}  # a no_base indicator gives no points


def test_margin_above_the_danger_line(written_year):
    from etdz.scoring.downgrade import bottom_flags

    data, out = written_year
    rk = data.frames["rankings"]
    d = data.catalogue.downgrade
    flags = bottom_flags(rk, d.bottom_n, d.rule)
    for _, z in rk[~flags.to_numpy()].iterrows():
        region = rk[rk.region == z.region]
        inside = region[flags.loc[region.index].to_numpy()]
        if inside.empty:
            continue
        page = _card(out, z.zone_code)
        assert num(page.ids["danger-margin"]) == round(z.total_score - inside.total_score.max(), 2)


def test_the_risk_panel_is_at_risk_when_one_more_bottom_year_would_make_a_candidate():
    # §3.6 regional_bottom, bottom 1, 2 times in 3 years, Y = 2021: next year's window is 2020–2022
    from types import SimpleNamespace

    from etdz.catalogue import Downgrade
    from etdz.reports.cards import _risk

    def status(years, times=2):
        v = SimpleNamespace(catalogue=SimpleNamespace(downgrade=Downgrade("regional_bottom", 1, 3, times)),
                            data_year=2021, bottom_years={"Z": years}, n_total=5, n_region={"east": 5},
                            watch_by_zone={})
        z = {"zone_code": "Z", "summoned": False, "national_rank": 5, "regional_rank": 5, "region": "east",
             "downgrade_candidate": False}
        return _risk(v, z, None)["status"]

    assert status([2021]) == "at_risk"  # 2021 stays in 2022's window: bottom again in 2022 → candidate
    assert status([2020]) == "at_risk"
    assert status([2019]) == "clear"  # 2019 leaves the window: one bottom year in 2022 is not enough
    assert status([]) == "clear"
    assert status([2021], times=3) == "clear" and status([2020, 2021], times=3) == "at_risk"
