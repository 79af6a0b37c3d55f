"""etdz.reports.indicators_section: the card's "every indicator" table written in Python is the markup the card's
template wrote (kept here as ``card_indicators_reference.html.j2``), for every status, direction, unit and flag, and
for hostile names."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from etdz.reports.indicators_section import indicator_table_html
from etdz.reports.inputs import IndicatorMeta
from etdz.reports.templating import environment

REFERENCE = (Path(__file__).parent / "card_indicators_reference.html.j2").read_text(encoding="utf-8")
HOSTILE = ["<script>alert(1)</script>", '" onload="x', "\u202e区发开经", "A & B", "<b>'x'</b>", "{{ 7*7 }}"]


def _same(cats, rows_by_cat, metas, better_total=7, n_rows=12) -> str:
    html = indicator_table_html(cats, rows_by_cat, metas, better_total, n_rows)
    assert isinstance(html, Markup)
    groups = [{"cat": c, "rows": [{**r, "meta": metas[r["indicator_code"]]} for r in rows_by_cat.get(c["code"], [])]}
              for c in cats]
    reference = environment().from_string(REFERENCE).render(groups=groups, better_total=better_total, n_rows=n_rows)
    assert str(html) == reference + "\n"  # Jinja drops a template's last newline; the card keeps the line's
    return str(html)


def meta(code, name_zh="外资", unit="亿元", direction="positive", integer=False) -> IndicatorMeta:
    return IndicatorMeta(code, name_zh, "An indicator", "OPEN", direction, "total", 1.0, 0.02, unit, integer)


def cat(code="OPEN", name_zh="对外开放", name_en="Opening up", weight=0.25, score=61.234, better=2, count=3) -> dict:
    return {"code": code, "name_zh": name_zh, "name_en": name_en, "weight": weight, "score": score, "better": better,
            "count": count}


def row(code, value=1234.5, score=55.5, nat=True, reg=False, status="ok", imputed=False, category="OPEN") -> dict:
    return {"indicator_code": code, "category_code": category, "value": value, "score": score,
            "better_than_national_avg": nat, "better_than_regional_avg": reg, "status": status, "imputed": imputed}


METAS = {"OPN01": meta("OPN01"), "OPN02": meta("OPN02", "单位土地产出", "万元/平方公里", "lower"),
         "OPN03": meta("OPN03", "企业数", "个", integer=True), "INN01": meta("INN01", "研发投入强度", "%")}


def test_every_status_flag_and_direction_is_written_as_the_template_wrote_it():
    rows = {"OPEN": [row("OPN01"), row("OPN02", status="missing", value=None, score=0.0, nat=False),
                     row("OPN03", value=12.0, status="no_base", imputed=True, reg=True),
                     row("OPN01", value=-0.001, score=float("nan"), imputed=True)],
            "INNO": [row("INN01", value=float("inf"), score=100.0, category="INNO")]}
    html = _same([cat(), cat("INNO", "创新", None, 0.125, None, 0, 1), cat("EMPTY", "无指标", "Empty", 0.1)], rows,
                 METAS)
    assert html.count("<tr data-indicator=") == 5
    assert '<span class="status-missing">缺失 missing</span>' in html and "↓越低越好" in html
    assert "12.5%" in html and "+∞" in html


def test_no_category_gives_the_empty_table():
    assert "<tbody>\n</tbody>" in _same([], {}, METAS, 0, 0)


def test_hostile_names_are_escaped_as_the_template_escaped_them():
    for bad in HOSTILE:  # as a category, an indicator's code, name and unit
        metas = {bad: meta(bad, bad, bad)}
        html = _same([cat(bad, bad, bad)], {bad: [row(bad, category=bad)]}, metas)
        assert "<script>" not in html and "\u202e" not in html and '" onload' not in html


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(METAS)), st.one_of(st.none(), st.floats(allow_nan=True)),
                          st.one_of(st.none(), st.floats(0, 100)), st.booleans(), st.booleans(),
                          st.sampled_from(["ok", "missing", "no_base"]), st.booleans()), max_size=8),
       st.floats(0, 1), st.integers(0, 40))
def test_any_rows_give_the_template_s_markup(items, weight, better):
    rows = [row(code, value, score, nat, reg, status, imp) for code, value, score, nat, reg, status, imp in items]
    _same([cat(weight=weight, better=better)], {"OPEN": rows}, METAS, better, len(rows))
