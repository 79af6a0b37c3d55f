"""docs/contract/03-scoring.md §3.8: the targets of a card (hand-computed gaps) and the card's levers by measure."""

from __future__ import annotations

import pytest

from etdz.reports.targets import gap_to_rank, next_rank_up, top_tier, zone_targets


def test_target_rank_rules():
    assert next_rank_up(1) is None and next_rank_up(2) == 1 and next_rank_up(230) == 229
    assert [top_tier(r) for r in (1, 30, 31, 50, 51, 100, 101, 230)] == [None, None, 30, 30, 50, 50, 100, 100]


def zone(rank, total, code="Z", region="east", regional_rank=None):
    return {"zone_code": code, "national_rank": rank, "total_score": total, "region": region,
            "regional_rank": regional_rank if regional_rank is not None else rank}


def test_gaps_hand_computed():
    totals = [90.0, 70.0, 60.0, 52.75]           # z is 4th: next rank up K = 3, T(3rd) = 60; top 30 already
    t = zone_targets(zone(4, 52.75), totals, [], set(), None, None)
    assert [(x.kind, x.rank, x.total_at_rank) for x in t.targets] == [("next", 3, 60.0)]
    assert t.targets[0].gap == pytest.approx(7.25)


def test_below_100_targets_the_next_rank_and_rank_100():
    totals = sorted([100.0 - i * 0.6 for i in range(150)], reverse=True)
    z_total = totals[119]                       # ranked 120th: 20 places of 0.6 below the 100th
    t = zone_targets(zone(120, z_total), totals, [], set(), None, None)
    assert [(x.kind, x.rank) for x in t.targets] == [("next", 119), ("top", 100)]
    assert t.targets[1].gap == pytest.approx(gap_to_rank(z_total, totals, 100)) == pytest.approx(12.0)
    # in the top 100 the next list is the top 50; at 101 the next rank up is the top 100 itself (listed once)
    assert [(x.kind, x.rank) for x in zone_targets(zone(80, totals[79]), totals, [], set(), None, None).targets] == [
        ("next", 79), ("top", 50)]
    assert [(x.kind, x.rank) for x in zone_targets(zone(101, totals[100]), totals, [], set(), None,
                                                   None).targets] == [("top", 100)]
    assert zone_targets(zone(1, 99.0), [99.0, 50.0], [], set(), None, None).targets == []


REGION = [  # east: 12 zones, totals 80, 78, …, 58; the bottom 2 of the region are the last two
    {"zone_code": f"E{i}", "region": "east", "total_score": 80.0 - 2 * i, "national_rank": i + 1,
     "regional_rank": i + 1} for i in range(12)]
BOTTOM = {"E10", "E11"}                         # as bottom_flags gives for bottom_n = 2


def test_region_top10_and_the_danger_line():
    totals = [z["total_score"] for z in REGION]
    e11 = REGION[11]
    t = zone_targets(e11, totals, REGION, BOTTOM, "regional_bottom", 2)
    kinds = {x.kind: x for x in t.targets}
    assert kinds["region_top10"].rank == 10 and kinds["region_top10"].gap == pytest.approx(62.0 - 58.0)
    leave = kinds["leave_bottom"]                # draw level with E9, the lowest zone outside the bottom 2
    assert leave.total_at_rank == 62.0 and leave.gap == pytest.approx(4.0) and leave.rank == 10
    assert t.danger.in_bottom and t.danger.margin is None and t.danger.top_of_bottom_rank == 11
    e7 = REGION[7]                               # 66 points, 3 places above rank 11 (60 points)
    t = zone_targets(e7, totals, REGION, BOTTOM, "regional_bottom", 2)
    assert "leave_bottom" not in {x.kind for x in t.targets}
    assert t.danger.margin == pytest.approx(66.0 - 60.0) and t.danger.places_above == 3
    assert zone_targets(e7, totals, REGION, BOTTOM, None, None).danger is None


@pytest.mark.parametrize("data_year", [2019, 2022])  # national_consecutive, regional_bottom
def test_targets_from_the_shared_groups_are_those_of_each_zone_alone(data_year):
    from reports_synth import make_year

    from etdz.reports import prepare
    from etdz.reports.cards import target_groups

    v = prepare(make_year(data_year=data_year, per_region={"east": 14, "central": 9, "west": 7}, years=3).inputs())
    shared = target_groups(v)
    d = v.catalogue.downgrade
    for z in v.zones:
        alone = zone_targets(z, v.totals_desc, v.zones, shared.bottom, d.rule, d.bottom_n)
        assert zone_targets(z, v.totals_desc, v.zones, shared.bottom, d.rule, d.bottom_n, groups=shared) == alone
    assert any(t.kind == "leave_bottom" for z in v.zones for t in zone_targets(
        z, v.totals_desc, v.zones, shared.bottom, d.rule, d.bottom_n, groups=shared).targets)


# --------------------------------------------------------------------------- levers by measure on the card


def _lever_facts(t):
    """What a card shows of its levers, comparable: numbers to 9 significant digits (zones scored together go
    through one matrix product, whose float rounding may differ in the last bits from one zone's alone)."""
    def r(x):
        return None if x is None else float(f"{x:.9g}")

    def facts(lv):
        return (lv.measure, r(lv.points_per_unit), r(lv.headroom), r(lv.points_left), lv.gains, lv.falls)

    return ([facts(lv) for lv in t.levers], [facts(lv) for lv in t.lowering], [facts(lv) for lv in t.no_points],
            [(tg.kind, r(tg.gap), {m: r(x) for m, x in tg.rises.items()}, [lv.measure for lv in tg.best])
             for tg in t.targets], t.unavailable)


def test_the_levers_of_a_chunk_of_cards_are_those_of_each_card_alone(small_year):
    from etdz.reports import prepare
    from etdz.reports.cards import card_targets

    v = prepare(small_year.inputs())
    together = card_targets(v, v.zones)
    assert [_lever_facts(t) for t in together] == [_lever_facts(card_targets(v, [z])[0]) for z in v.zones]
    offered = [t for t, z in zip(together, v.zones) if z["submission_status"] == "accepted"]
    assert offered and all(t.unavailable is None and t.levers for t in offered)
    for t in offered:  # offered by points per unit; never a measure whose rise lowers the total
        assert [lv.points_per_unit for lv in t.levers] == sorted((lv.points_per_unit for lv in t.levers), reverse=True)
        assert all(lv.points_per_unit > 0 for lv in t.levers) and all(lv.points_per_unit < 0 for lv in t.lowering)
        for tg in t.targets:
            assert {lv.measure for lv in tg.best} <= {lv.measure for lv in t.levers}
    silent = [t for t, z in zip(together, v.zones) if z["submission_status"] != "accepted"]
    assert silent and all(t.unavailable and not t.levers for t in silent)


HOSTILE = "进出口总额<script>alert(1)</script>\u202e"


def test_the_card_names_a_rise_that_lowers_the_total_and_never_offers_it(small_year, tmp_path):
    """A zone whose trade (and high-tech trade) are 20 times the others': its trade total, growth and share of the
    city's trade are at their upper bounds, so raising trade alone only lowers the high-tech share of trade."""
    import dataclasses

    from reports_synth import corrected, parse_html

    from etdz.reports import write_year_reports

    rk = small_year.frames["rankings"]
    code = rk[rk.submission_status == "accepted"].sort_values("national_rank").zone_code.iloc[len(rk) // 2]
    data = corrected(corrected(small_year, code, "trade_total", 20.0), code, "hitech_trade", 20.0)
    cat = data.catalogue
    hostile = dataclasses.replace(cat, measures={**cat.measures, "trade_total": dataclasses.replace(
        cat.measures["trade_total"], name_zh=HOSTILE)})
    out = write_year_reports(dataclasses.replace(data, catalogue=hostile).inputs(), tmp_path,
                             generated="2026-01-01 00:00 UTC")
    html = (out.cards_dir / f"{code}.html").read_text(encoding="utf-8")
    page = parse_html(html)
    lowering = page.ids["lowering"]
    said = lowering.replace(" ", "")
    # named, as text: "raising trade alone lowers the score: the high-tech share of trade falls" …
    assert "提高进出口总额<script>alert(1)</script>单独会降低得分：高新技术产品进出口额占比OPN07下降" in said
    assert ("Raising 进出口总额<script>alert(1)</script> alone lowers the score: 高新技术产品进出口额占比 falls."
            in lowering)
    offered = {r["attrs"]["data-measure"] for r in page.tables["levers"] if "data-measure" in r["attrs"]}
    assert offered and "trade_total" not in offered                          # … and never offered
    best = " ".join(" ".join(r["cells"]) for r in page.tables["targets"])
    assert HOSTILE[:5] + "<" not in best
    # the untrusted text is inert: escaped by the environment, its bidi override removed (etdz.escape.html_text)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "\u202e" not in html


def test_no_advice_on_other_figures_than_the_scorer_read(small_year):
    """Given no Y−1 submissions (the scorer had them), the re-scored totals of zones with growth rates differ from
    the published ones: the card says so instead of offering levers computed on other figures."""
    import dataclasses

    from etdz.reports import prepare
    from etdz.reports.cards import card_targets

    inputs = small_year.inputs()
    v = prepare(dataclasses.replace(inputs, prev_measures=None, prev_accepted=None))
    cards = {z["zone_code"]: t for z, t in zip(v.zones, card_targets(v, v.zones))}
    had_base = v.accepted & set(inputs.prev_accepted)
    assert had_base and all("differs from the published" in cards[c].unavailable and not cards[c].levers
                            for c in had_base)
    # a zone new this year had no base either way: its growth rates are imputed, its levers the same
    new = v.accepted - set(inputs.prev_accepted)
    assert new and all(cards[c].unavailable is None and cards[c].levers for c in new)
