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
from etdz.reports.levers_section import fmt_headroom, fmt_rise, levers_section_html
from etdz.reports.targets import Target, ZoneTargets
from etdz.reports.templating import environment
from etdz.reports.units import per_shown_unit
from etdz.scoring.levers import Lever

# The partial as it was, rendered by the pages' environment (autoescape, html_text as finalize).
REFERENCE = (Path(__file__).parent / "card_levers_reference.html.j2").read_text(encoding="utf-8")

HOSTILE = ["<script>alert(1)</script>", '" onload="x', "\u202e区发开经", "A & B", "<b>'x'</b>"]


def _reference_environment():
    """The pages' environment with the three filters only the partial used, as it had them."""
    env = environment().overlay()
    env.filters = {**env.filters, "rise": fmt_rise, "headroom": fmt_headroom, "per_shown": per_shown_unit}
    return env


def _reference(targets: ZoneTargets, metas: dict, bottom_n) -> str:
    return _reference_environment().from_string(REFERENCE).render(targets=targets, metas=metas,
                                                                 risk={"bottom_n": bottom_n})


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


def test_a_name_passed_as_markup_never_stands_in_for_the_same_text():
    """The escaped catalogue texts are kept (``levers_section._text``): a name given as markup (trusted, written as it
    is) and then the same characters as plain text must each be written as the template wrote them."""
    trusted, plain = Markup("<b>进出口</b>"), "<b>进出口</b>"
    assert "<b>进出口</b>" in _same(_zone([lever("m1", trusted)]), METAS)
    html = _same(_zone([lever("m1", plain)]), METAS)
    assert "<b>" not in html and "&lt;b&gt;进出口&lt;/b&gt;" in html


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


# The levers' rise and headroom as the card wrote them with macros: fmt_rise and fmt_headroom must
# write the same markup.
_LEVER_MACROS = (
    "{% macro rise(lv, r) %}{% if r is none %}<span class=\"muted\">不足</span>{% elif r == 0 %}任意增量 "
    "<span class=\"en\">any rise</span>{% else %}+{{ r|shown(lv.unit) }}{% endif %}{% endmacro %}"
    "{% macro headroom(lv) %}{% if lv.unlimited %}不设限 <span class=\"en\">no limit</span>{% elif lv.headroom <= 0 %}"
    "即达上限 <span class=\"en\">at once</span>{% else %}+{{ lv.headroom|shown(lv.unit) }}{% endif %}{% endmacro %}"
)


def _lever_at(unit: str, headroom: float) -> Lever:
    return Lever("fdi_actual", "实际使用外资金额", unit, 120.0, 1.2, 0.5, headroom, 3.0, ("OPN01",), (), ("OPN01",))


@pytest.mark.parametrize("unit", ["万美元", "亿元", "家"])  # converted to 亿美元 for display, and two as they are
@pytest.mark.parametrize("rise", [None, 0, 0.0, 12345.678, 3.0])
@pytest.mark.parametrize("headroom", [float("inf"), 0.0, -1.0, 250.5])
def test_the_levers_rise_and_headroom_filters_write_what_the_macros_wrote(unit, rise, headroom):
    lv = _lever_at(unit, headroom)
    expected = environment().from_string(_LEVER_MACROS + "{{ rise(lv, r) }}|{{ headroom(lv) }}").render(lv=lv, r=rise)
    assert f"{fmt_rise(rise, lv.unit)}|{fmt_headroom(lv)}" == expected
    assert ("不足" in expected) == (rise is None) and ("不设限" in expected) == (headroom == float("inf"))
