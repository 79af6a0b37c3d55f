"""The national report shows exactly the numbers of the datasets."""

from __future__ import annotations

import math

from reports_synth import num, parse_html


def _page(written_year):
    data, out = written_year
    return data, out, parse_html(out.national_report.read_text(encoding="utf-8"))


def test_top30_totals_and_category_scores_equal_the_data(written_year):
    data, out, page = _page(written_year)
    rk = data.frames["rankings"].set_index("zone_code")
    cs = data.frames["category_scores"].pivot(index="zone_code", columns="category_code", values="score")
    rows = [r for r in page.tables["top30"] if "data-zone" in r["attrs"]]
    expected = rk[rk.national_rank <= 30]
    assert len(rows) == len(expected) > 0
    cats = [k.code for k in data.catalogue.categories]
    for r in rows:
        code = r["attrs"]["data-zone"]
        cells = r["cells"]
        assert int(cells[0]) == rk.at[code, "national_rank"]
        assert rk.at[code, "name_zh"] in cells[1]
        assert num(cells[4]) == round(rk.at[code, "total_score"], 2)
        for j, k in enumerate(cats):
            assert num(cells[5 + j]) == round(cs.at[code, k], 2)
    ranks = [int(r["cells"][0]) for r in rows]
    assert ranks == sorted(ranks)


def test_zones_per_region_and_submission_status(written_year):
    data, out, page = _page(written_year)
    rk = data.frames["rankings"]
    rows = {r["attrs"]["data-region"]: r["cells"] for r in page.tables["status"] if "data-region" in r["attrs"]}
    for region, g in rk.groupby("region"):
        cells = rows[region]
        assert int(cells[1]) == len(g)
        assert int(cells[2]) == (g.submission_status == "accepted").sum()
        assert int(cells[3]) == (g.submission_status == "no_valid_submission").sum()
    assert int(rows["total"][1]) == len(rk)
    assert "provisional" in page.ids  # the synthetic year has a zone without a valid file


def test_region_top10s(written_year):
    data, out, page = _page(written_year)
    rk = data.frames["rankings"]
    for region, g in rk.groupby("region"):
        rows = page.tables[f"region-top-{region}"]
        shown = [(r["attrs"]["data-zone"], int(r["cells"][0]), num(r["cells"][2]))
                 for r in rows if "data-zone" in r["attrs"]]
        exp = g[g.regional_rank <= 10].sort_values(["regional_rank", "zone_code"])
        assert shown == [(z, int(rr), round(t, 2))
                         for z, rr, t in zip(exp.zone_code, exp.regional_rank, exp.total_score)]


def test_single_item_top10s_use_measures_and_the_ministrys_units(written_year):
    """Foreign investment is shown in 亿美元 as the ministry publishes it (the data keep 万美元); trade in 亿元."""
    data, out, page = _page(written_year)
    rk = data.frames["rankings"].set_index("zone_code")
    meas = data.frames["measures"]
    assert data.catalogue.measures["fdi_actual"].unit == "万美元"  # canonical, in the data
    shown = {"fdi_actual": ("亿美元", 1e-4), "trade_total": ("亿元", 1.0)}
    for m in data.catalogue.top_lists:
        rows = [r for r in page.tables[f"toplist-{m}"] if "data-zone" in r["attrs"]]
        head = page.tables[f"toplist-{m}"][0]["cells"]
        unit, factor = shown[m]
        assert head[-1] == unit
        assert 0 < len(rows) <= 10
        values = meas[meas.measure_code == m].set_index("zone_code").value
        assert (meas[meas.measure_code == m].unit == data.catalogue.measures[m].unit).all()
        for r in rows:
            code = r["attrs"]["data-zone"]
            assert int(r["cells"][0]) == rk.at[code, f"rank_{m}"]
            digits = len(r["cells"][3].split(".")[1])
            assert num(r["cells"][3]) == round(values[code] * factor, digits)


def test_watchlist_summons_upgrades_and_movers(written_year):
    data, out, page = _page(written_year)
    wl = data.frames["downgrade_watchlist"].set_index("zone_code")
    rows = [r for r in page.tables["watchlist"] if "data-zone" in r["attrs"]]
    assert {r["attrs"]["data-zone"] for r in rows} == set(wl.index)
    for r in rows:
        code = r["attrs"]["data-zone"]
        assert int(r["cells"][1]) == wl.at[code, "region_candidate_rank"]
        assert r["cells"][4] == ", ".join(str(y) for y in wl.at[code, "bottom_years"])
        assert num(r["cells"][5]) == round(wl.at[code, "mean_score"], 2)
    rk = data.frames["rankings"]
    summoned = [r["attrs"]["data-zone"] for r in page.tables["summons"] if "data-zone" in r["attrs"]]
    assert summoned == list(rk[rk.summoned].sort_values(["national_rank", "zone_code"]).zone_code)
    up = data.frames["upgrade_candidates"].set_index("zone_code")
    rows = [r for r in page.tables["upgrade"] if "data-zone" in r["attrs"]]
    assert {r["attrs"]["data-zone"] for r in rows} == set(up.index)
    for r in rows:
        code = r["attrs"]["data-zone"]
        assert int(r["cells"][0]) == up.at[code, "candidate_rank"]
        assert num(r["cells"][4]) == round(up.at[code, "total_score"], 2)
        assert int(r["cells"][5]) == up.at[code, "equivalent_national_rank"]
    ups = [r for r in page.tables["movers-up"] if "data-zone" in r["attrs"]]
    best = rk.rank_change.max()
    assert int(ups[0]["cells"][0].lstrip("▲")) == best


def test_a_zone_without_a_valid_submission_is_no_performance_drop(written_year):
    data, out, page = _page(written_year)
    rk = data.frames["rankings"]
    gone = rk[(rk.submission_status != "accepted") & (rk.rank_change < 0)]
    assert len(gone), "the synthetic year has a zone that fell for lack of a valid file"
    down = {r["attrs"]["data-zone"] for r in page.tables["movers-down"] if "data-zone" in r["attrs"]}
    apart = [r for r in page.tables["movers-no-submission"] if "data-zone" in r["attrs"]]
    assert not down & set(gone.zone_code)
    assert {r["attrs"]["data-zone"] for r in apart} == set(gone.zone_code)
    assert all("本年无有效报送" in r["cells"][2] and r["attrs"]["data-reason"] == "missing" for r in apart)
    performed = rk[(rk.submission_status == "accepted") & (rk.rank_change < 0)]
    assert down == set(performed.sort_values(["rank_change", "national_rank"]).zone_code.head(10))


def test_data_quality(written_year):
    data, out, page = _page(written_year)
    log = data.frames["submission_log"]
    files = [r for r in page.tables["files"][1:]]
    bad = log[log.status.isin(["rejected", "superseded"]) | log.late]
    assert sorted(r["cells"][1] for r in files) == sorted(bad.file_name)
    late = log[log.late]
    assert len(late) == 1 and late.status.iloc[0] == "accepted"  # accepted on its merits, still listed
    assert {r["cells"][1] for r in files if r["attrs"]["data-late"] == "yes"} == set(late.file_name)
    assert "逾期 late" in next(r["cells"][0] for r in files if r["cells"][1] == late.file_name.iloc[0])
    assert "(received after the deadline; accepted or rejected on their merits): 1." in page.ids["late-count"]
    iss = data.frames["submission_issues"]
    shown = {r["attrs"]["data-check"]: int(r["cells"][2]) for r in page.tables["issues"] if "data-check" in r["attrs"]}
    assert shown == iss.groupby("check").size().to_dict()
    ind = data.frames["indicator_scores"]
    imp = {r["attrs"]["data-indicator"]: (int(r["cells"][1]), int(r["cells"][2]))
           for r in page.tables["imputed"] if "data-indicator" in r["attrs"]}
    for code, g in ind.groupby("indicator_code"):
        n_imp, n_miss = int(g.imputed.sum()), int((g.status == "missing").sum())
        assert imp.get(code, (0, 0)) == (n_imp, n_miss)


def test_method_note(written_year):
    data, out, _ = _page(written_year)
    html = out.national_report.read_text(encoding="utf-8")
    assert data.catalogue.name_zh in html and "project's reading" in html
    assert f"v{data.catalogue.version}" in html


def test_top30_markdown(written_year):
    data, out = written_year
    lines = out.top30_markdown.splitlines()
    rk = data.frames["rankings"]
    assert len(lines) == 2 + (rk.national_rank <= 30).sum()
    first = rk.sort_values("national_rank").iloc[0]
    assert first["name_zh"] in lines[2] and f"{first.total_score:.2f}" in lines[2]
    assert not math.isnan(first.total_score)


def test_changes_since_the_previous_run(small_year, tmp_path):
    import pandas as pd

    from etdz.reports import write_year_reports

    rk = small_year.frames["rankings"].sort_values("national_rank")
    a, b, c = rk.iloc[3], rk.iloc[1], rk.iloc[5]  # a climbed two places with its corrected file; b and c did not
    y = small_year.data_year
    changes = pd.DataFrame({
        "zone_code": [b.zone_code, a.zone_code, c.zone_code], "name_zh": [b.name_zh, a.name_zh, c.name_zh],
        "prev_total_score": [b.total_score + 1, a.total_score - 3, c.total_score + 0.004],
        "total_score": [b.total_score, a.total_score, c.total_score],
        "prev_national_rank": [b.national_rank - 1, a.national_rank + 2, c.national_rank],
        "national_rank": [b.national_rank, a.national_rank, c.national_rank],
        "changed_files": [[], [{"data_year": y, "file_name": "更正.csv", "sha256": "1" * 64,
                                "previous_status": None, "status": "accepted"},
                               {"data_year": y, "file_name": "旧.csv", "sha256": "2" * 64,
                                "previous_status": "accepted", "status": "superseded"}], []],
        "previous_run_at": pd.Timestamp("2026-03-02 08:00", tz="UTC"), "method_version": "x",
        "changed_measures": [[], ["trade_total: 0.0945 → 945", "hitech_enterprises: — → 12"], []],
        "status_changes": [["left_region_top10"], ["entered_top30"], []],
        "prev_regional_rank": [b.regional_rank - 1, a.regional_rank + 2, c.regional_rank],
        "regional_rank": [b.regional_rank, a.regional_rank, c.regional_rank]})
    inp = small_year.inputs()
    inp.ranking_changes = changes
    page = parse_html(write_year_reports(inp, tmp_path).national_report.read_text(encoding="utf-8"))
    # status changes first: every zone that entered or left a list, in national-rank order, old → new ranks
    status = {r["attrs"]["data-zone"]: r for r in page.tables["changes-status"] if "data-zone" in r["attrs"]}
    assert list(status) == [b.zone_code, a.zone_code]
    assert status[a.zone_code]["attrs"]["data-status"] == "entered_top30"
    cells = status[a.zone_code]["cells"]
    assert "进入全国前30" in cells[2] and cells[3] == f"{a.national_rank + 2} → {a.national_rank}"
    assert cells[4] == f"{a.regional_rank + 2} → {a.regional_rank}" and "本区数据更正" in cells[5]
    assert "跌出区域前10" in status[b.zone_code]["cells"][2] and "其他经开区的修订" in status[b.zone_code]["cells"][5]
    # then the zones whose own figures changed, old → new as the dataset has them
    own = [r for r in page.tables["changes-figures"] if "data-zone" in r["attrs"]]
    assert [r["attrs"]["data-zone"] for r in own] == [a.zone_code]
    cells = own[0]["cells"]
    assert cells[1] == f"{a.national_rank + 2} → {a.national_rank}" and cells[2] == "▲2"
    assert cells[3] == f"{a.total_score - 3:.2f} → {a.total_score:.2f}"
    assert "trade_total：0.0945 → 945 亿元" in cells[4] and "hitech_enterprises：— → 12" in cells[4]
    assert "更正.csv：新收到 new → 受理 accepted" in cells[5]
    assert "旧.csv：受理 accepted → 被替换 superseded" in cells[5]
    # then one line for the zones that only moved because others did
    assert page.ids["changes-others"].startswith("另有 1 个经开区仅因其他经开区的修订而变化")

    inp.ranking_changes = changes.iloc[:0]
    page = parse_html(write_year_reports(inp, tmp_path).national_report.read_text(encoding="utf-8"))
    assert "changes-status" not in page.tables and "No zone's total score" in page.ids["changes-none"]

    # a dataset written before status_changes / changed_measures existed: no flip claimed, said so
    inp.ranking_changes = changes.drop(columns=["changed_measures", "status_changes", "prev_regional_rank",
                                                "regional_rank"])
    page = parse_html(write_year_reports(inp, tmp_path).national_report.read_text(encoding="utf-8"))
    assert "changes-status" not in page.tables and "no entry or exit is claimed" in page.ids["changes-status-unknown"]
    assert [r["attrs"]["data-zone"] for r in page.tables["changes-figures"] if "data-zone" in r["attrs"]] == [
        a.zone_code]  # its files still say why it moved


def test_a_real_correction_shows_the_zone_its_figures_and_its_file(small_year, tmp_path):
    from reports_synth import corrected

    from etdz.reports import write_year_reports

    rk = small_year.frames["rankings"].sort_values("national_rank")
    code = rk.zone_code.iloc[-2]
    after = corrected(small_year, code, "trade_total", 20.0)  # the first file had the trade in the wrong unit
    changes = after.frames["ranking_changes"].set_index("zone_code")
    assert code in changes.index and changes.at[code, "national_rank"] < changes.at[code, "prev_national_rank"]
    meas = small_year.frames["measures"].set_index(["zone_code", "measure_code"])
    old = float(meas.at[(code, "trade_total"), "value"])
    assert list(changes.at[code, "changed_measures"]) == [f"trade_total: {old!r} → {old * 20!r}"]  # reads back
    page = parse_html(write_year_reports(after.inputs(), tmp_path).national_report.read_text(encoding="utf-8"))
    own = {r["attrs"]["data-zone"]: r["cells"] for r in page.tables["changes-figures"] if "data-zone" in r["attrs"]}
    assert list(own) == [code]  # the only zone whose own figures changed
    assert f"trade_total：{old!r} → {old * 20!r}" in own[code][4]
    assert f"{code}_{small_year.data_year} 更正.csv：新收到 new → 受理 accepted" in own[code][5]
    assert f"{code}_{small_year.data_year}.csv：受理 accepted → 被替换 superseded" in own[code][5]
    flipped = {z for z, s in changes.status_changes.items() if len(s)}
    status = {r["attrs"]["data-zone"] for r in page.tables["changes-status"] if "data-zone" in r["attrs"]}
    assert status == flipped
    rest = len(changes) - len(flipped | {code})
    assert rest and page.ids["changes-others"].startswith(f"另有 {rest} 个经开区仅因其他经开区的修订而变化")


def test_a_rise_after_a_year_without_a_valid_submission_is_listed_apart(small_year, tmp_path):
    from etdz.reports import write_year_reports

    rk = small_year.frames["rankings"]
    riser = rk[(rk.submission_status == "accepted") & (rk.rank_change > 0)].zone_code.iloc[0]
    inp = small_year.inputs()
    h = inp.history.copy()
    last_year = (h.zone_code == riser) & (h.data_year == small_year.data_year - 1)
    h.loc[last_year, "submission_status"] = "no_valid_submission"  # it had sent nothing valid the year before
    inp.history = h
    page = parse_html(write_year_reports(inp, tmp_path).national_report.read_text(encoding="utf-8"))
    up = {r["attrs"]["data-zone"] for r in page.tables["movers-up"] if "data-zone" in r["attrs"]}
    apart = {r["attrs"]["data-zone"]: r for r in page.tables["movers-no-submission"] if "data-zone" in r["attrs"]}
    assert riser not in up and apart[riser]["attrs"]["data-reason"] == "back"
    assert f"{small_year.data_year - 1}年无有效报送" in apart[riser]["cells"][2]
