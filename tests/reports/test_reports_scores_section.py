"""etdz.reports.scores_section: the card's categories table and its strongest / weakest panels written in Python are
the markup the card's template wrote (kept here as ``card_scores_reference.html.j2``), for missing scores and ranks,
missing figures, converted units, empty panels, and hostile names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from etdz.reports.scores_section import categories_table_html, strengths_html
from etdz.reports.templating import environment
from tests.reports.test_reports_indicators_section import HOSTILE, METAS, cat, meta, row

REFERENCE = environment().from_string((Path(__file__).parent / "card_scores_reference.html.j2")
                                      .read_text(encoding="utf-8"))


def zone(total=61.5, rank=12) -> dict:
    return {"total_score": total, "national_rank": rank}


def category(code="OPEN", rank=3, nat=55.0, reg=None, **kw) -> dict:
    return {**cat(code, **kw), "rank": rank, "nat": nat, "reg": reg}


def shown(code, metas=METAS, **kw) -> dict:
    return {**row(code, **kw), "meta": metas[code]}


def _same_categories(z, cats, total_avg=50.0, total_reg_avg=None, better_total=7, n_rows=12) -> str:
    html = categories_table_html(z, cats, total_avg, total_reg_avg, better_total, n_rows)
    assert isinstance(html, Markup)
    assert str(html) == REFERENCE.render(part="categories", z=z, cats=cats, total_avg=total_avg,
                                         total_reg_avg=total_reg_avg, better_total=better_total, n_rows=n_rows)
    return str(html)


def _same_strengths(strong, weak) -> str:
    html = strengths_html(strong, weak)
    assert isinstance(html, Markup)
    assert str(html) == REFERENCE.render(part="strengths", strong=strong, weak=weak)
    return str(html)


def test_the_categories_table_as_the_template_wrote_it():
    html = _same_categories(zone(), [category(), category("INNO", None, None, 40.25, name_en=None, weight=0.125,
                                                          score=float("nan")), category("X", np.int64(7))])
    assert html.count("<tr data-category=") == 4  # the total and three categories
    assert "12.5%" in html and "—" in html


def test_a_zone_without_categories_has_the_total_only():
    assert _same_categories(zone(float("inf"), 1), [], float("nan"), 3.0, 0, 0).count("<tr data-category=") == 1


def test_the_strongest_and_weakest_as_the_template_wrote_them():
    strong = [shown("OPN01"), shown("OPN03", value=12.0), shown("INN01", value=float("inf"))]
    weak = [shown("OPN02", status="missing", value=None, score=0.0), shown("OPN01", value=-0.001, score=None)]
    html = _same_strengths(strong, weak)
    assert html.count("<tr data-indicator=") == 5 and "缺失 missing" in html


def test_empty_panels_say_so():
    assert _same_strengths([], []).count('<td class="muted">—</td>') == 2
    # a missing figure among the strongest is shown as its value (only "ok" rows are strongest: the template's rule)
    _same_strengths([shown("OPN02", status="missing", value=None)], [])


def test_hostile_names_are_escaped_as_the_template_escaped_them():
    for bad in HOSTILE:
        metas = {bad: meta(bad, bad, bad)}
        html = _same_categories(zone(), [category(bad, bad, name_zh=bad, name_en=bad)]) + _same_strengths(
            [shown(bad, metas)], [shown(bad, metas, status="missing")])
        assert "<script>" not in html and "\u202e" not in html and '" onload' not in html


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(METAS)), st.one_of(st.none(), st.floats(allow_nan=True)),
                          st.one_of(st.none(), st.floats(allow_nan=True)),
                          st.sampled_from(["ok", "missing", "no_base"])), max_size=6),
       st.lists(st.tuples(st.one_of(st.none(), st.integers(1, 300)), st.one_of(st.none(), st.floats(allow_nan=True)),
                          st.floats(0, 1)), max_size=6))
def test_any_rows_give_the_template_s_markup(items, cat_items):
    rows = [shown(code, value=value, score=score, status=status) for code, value, score, status in items]
    _same_strengths(rows[:3], rows[3:])
    _same_categories(zone(), [category(f"C{i}", rank, reg, score=reg, weight=w) for i, (rank, reg, w)
                              in enumerate(cat_items)])
