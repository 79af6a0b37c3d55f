"""etdz.reports.levers_section: the card's targets and levers written in Python are the markup the Jinja partial
they replaced wrote (kept here as ``card_levers_reference.html.j2``), for every kind of target, lever and
untrusted name."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from etdz.reports.inputs import IndicatorMeta
from etdz.reports.levers_section import levers_section_html
from etdz.reports.targets import Target, ZoneTargets
from etdz.reports.templating import environment
from etdz.scoring.levers import Lever

# The partial as it was, rendered by the pages' environment (autoescape, html_text as finalize).
REFERENCE = (Path(__file__).parent / "card_levers_reference.html.j2").read_text(encoding="utf-8")

HOSTILE = ["<script>alert(1)</script>", '" onload="x', "\u202e区发开经", "A & B", "<b>'x'</b>"]


def _reference(targets: ZoneTargets, metas: dict, bottom_n) -> str:
    return environment().from_string(REFERENCE).render(targets=targets, metas=metas, risk={"bottom_n": bottom_n})


def _same(targets: ZoneTargets, metas: dict, bottom_n=5) -> str:
    html = levers_section_html(targets, metas, bottom_n)
    assert isinstance(html, Markup)
    assert str(html) == _reference(targets, metas, bottom_n)
    return str(html)


def meta(code: str, name_zh: str, name_en: str | None = "An indicator") -> IndicatorMeta:
    return IndicatorMeta(code, name_zh, name_en, "open", "positive", "total", 1.0, 0.02, "亿元", False)


def lever(measure: str, name_zh: str = "进出口总额", unit: str = "亿元", ppu: float = 0.0123, headroom: float = 12.5,
          gains=("OPN01", "OPN02"), falls=(), value: float = 1234.5) -> Lever:
    return Lever(measure, name_zh, unit, value, max(0.01 * value, 1.0), ppu, headroom, ppu * min(headroom, 1e3),
                 tuple(gains), tuple(falls), tuple(gains) + tuple(falls))


def _targets(measures: list[str], rises) -> list[Target]:
    kinds = [("next", "national", 41), ("top", "national", 30), ("region_top10", "regional", 10),
             ("leave_bottom", "regional", 17), ("leave_bottom", "national", 220)]
    out = []
    for i, (kind, group, rank) in enumerate(kinds):
        r = {m: rises[(i + j) % len(rises)] for j, m in enumerate(measures)}
        out.append(Target(kind, rank, group, 61.5 - i, 0.75 * i, r))
    return out


METAS = {"OPN01": meta("OPN01", "外资"), "OPN07": meta("OPN07", "高新技术产品进出口额占比", None),
         "INN02": meta("INN02", "研发投入", "R&D spending")}


def _zone(levers: list[Lever], lowering=(), no_points=(), limit: int = 8, rises=(None, 0.0, 3.25),
          unavailable: str | None = None, with_targets: bool = True) -> ZoneTargets:
    measures = [lv.measure for lv in levers]
    tg = _targets(measures, list(rises)) if with_targets else []
    for t in tg:
        t.best = [lv for lv in levers if t.rises.get(lv.measure) is not None][:3]
    return ZoneTargets(tg, None, list(levers), list(lowering), list(no_points), min(limit, len(levers)), unavailable)


LEVERS = [lever("trade_total"),
          lever("fdi", "实际使用外资", "万美元", 0.00042, math.inf, ("OPN01",), ("OPN07",), 30.0),  # shown in 亿美元
          lever("rd", "研发投入", "亿元", 0.5, 0.0, ("INN02",)),  # at its bound at once
          lever("jobs", "从业人员", "人", 1e-5, 2500.0, ("DEV03",)),
          lever("tax", "税收收入", "亿元", 2e-7, 1e-9, ())]


@pytest.mark.parametrize("limit", [8, 2])
@pytest.mark.parametrize("with_targets", [True, False])
def test_targets_and_levers_are_the_partials_markup(limit, with_targets):
    lowering = [lever("trade_hi", "高新技术进出口", "万美元", -0.003, 0.0, (), ("OPN07", "INN02", "XXX99"))]
    no_points = [lever("land", "土地面积", "平方公里", 0.0, 0.0, ()),
                 lever("area2", "<i>面积</i>", "亿元", 0.0, 0.0, ())]
    html = _same(_zone(LEVERS, lowering, no_points, limit=limit, with_targets=with_targets), METAS)
    assert 'id="levers"' in html and ('另有 3 项' in html) == (limit == 2)


def test_a_zone_without_levers_and_one_whose_levers_are_unavailable():
    _same(_zone([]), METAS)  # every rise adds nothing: the table says so
    _same(_zone([], unavailable="本区无有效报送 <no file> \u202e"), METAS, bottom_n=None)
    _same(_zone([], unavailable="x", with_targets=False), METAS)
    lone = lever("fdi", falls=("OPN07",))
    _same(_zone([], lowering=[lone], no_points=[lever("rd")]), METAS)  # one indicator falls: "falls"


@pytest.mark.parametrize("name", HOSTILE)
def test_untrusted_names_and_codes_are_written_as_the_template_wrote_them(name):
    levers = [lever(name, name, name, gains=(name,), falls=(name,)), lever("ok", name)]
    html = _same(_zone(levers, lowering=[lever(name, name, falls=(name, "OPN01"))], no_points=[lever(name, name)]),
                 {**METAS, name: meta(name, name, name)})
    assert "<script>" not in html and "\u202e" not in html


def test_every_card_of_a_year_is_the_partials_markup(small_year):
    from etdz.reports import prepare
    from etdz.reports.cards import card_targets

    v = prepare(small_year.inputs())
    bottom_n = v.catalogue.downgrade.bottom_n if v.catalogue.downgrade else None
    cards = card_targets(v, v.zones)
    assert any(t.levers for t in cards) and any(t.unavailable for t in cards)
    for t in cards:
        _same(t, v.indicator_by_code, bottom_n)


_finite = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["亿元", "万美元", "%", "人"]), _finite,
                          st.one_of(st.just(math.inf), st.floats(0, 1e5)), st.text(max_size=6)),
                min_size=0, max_size=10),
       st.lists(st.one_of(st.none(), st.just(0.0), st.floats(0, 1e5)), min_size=1, max_size=4),
       st.integers(0, 9), st.booleans())
def test_any_levers_draw_the_partials_markup(specs, rises, limit, with_targets):
    levers = [lever(f"m{i}", name, unit, ppu, headroom, gains=(f"G{i}",) * (i % 3), falls=(name,) * (i % 2))
              for i, (unit, ppu, headroom, name) in enumerate(specs)]
    _same(_zone(levers, lowering=levers[:1], no_points=levers[-1:], limit=limit, rises=rises,
                with_targets=with_targets), METAS)
