"""etdz.reports.charts: the card's charts written in Python are the markup the pages' Jinja environment writes
for the same chart, hostile labels included."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import Markup

from etdz.reports import charts
from etdz.reports.templating import environment

# The charts as Jinja macros, rendered by the pages' environment (autoescape, html_text as finalize): the markup
# written in Python must equal theirs, byte for byte.
REFERENCE = (Path(__file__).parent / "card_charts_reference.html.j2").read_text(encoding="utf-8")

HOSTILE = ["<script>alert(1)</script>", '" onload="x', "\u202e区发开经", "A & B", "<b>'x'</b>"]


def _reference(macro: str, chart: dict) -> str:
    return environment().from_string(REFERENCE + f"{{{{ {macro}(c) }}}}").render(c=chart)


@pytest.mark.parametrize("title", ["全国名次 National", *HOSTILE])
@pytest.mark.parametrize("ranks, sizes, ref", [
    ([1, 1, 1, 2, 1], [7, 7, 7, 7, 7], 100),        # no reference line inside a small axis
    ([150, None, 90, 120, None, 230], [230] * 6, 100),  # gaps split the line; the top-100 line drawn
    ([3], [5], None),                                  # one year
    ([None, None], [10, 12], 5),                       # never ranked
])
def test_rank_panel_is_the_templates_markup(title, ranks, sizes, ref):
    years = list(range(2024 - len(ranks), 2024))
    chart = charts.rank_panel(title, years, ranks, sizes, "#1f2933", ref_rank=ref)
    svg = charts.rank_panel_svg(chart)
    assert isinstance(svg, Markup)
    assert str(svg) == _reference("rank_panel", chart)


def _bar_rows(labels: list[str], values: list[float | None]) -> list[dict]:
    rows = [{"label": "总分", "sub": "Total", "value": values[0], "nat": 40.0, "reg": None, "strong": True}]
    rows += [{"label": lab, "sub": None if i % 2 else f"{lab} · 30%", "value": v, "nat": None if i == 2 else 33.3,
              "reg": 47.25, "strong": False} for i, (lab, v) in enumerate(zip(labels, values[1:]))]
    return rows


@pytest.mark.parametrize("labels", [["对外开放", "发展质量", "科技创新"], HOSTILE[:3]])
def test_score_bars_are_the_templates_markup(labels):
    chart = charts.score_bars(_bar_rows(labels, [58.83, 0.0, float("nan"), 100.0]), "#2563eb")
    assert str(charts.score_bars_svg(chart)) == _reference("score_bars", chart)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(st.none(), st.integers(1, 400)), min_size=1, max_size=12), st.text(max_size=12),
       st.one_of(st.none(), st.integers(1, 400)))
def test_any_rank_history_draws_the_templates_markup(ranks, title, ref):
    years = list(range(2024 - len(ranks), 2024))
    chart = charts.rank_panel(title, years, ranks, [400] * len(ranks), "#9f1239", ref_rank=ref)
    assert str(charts.rank_panel_svg(chart)) == _reference("rank_panel", chart)


def test_hostile_labels_are_inert():
    chart = charts.rank_panel(HOSTILE[0] + HOSTILE[2], [2022, 2023], [1, 2], [3, 3], "#1f2933")
    svg = str(charts.rank_panel_svg(chart))
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert "\u202e" not in svg
    bars = str(charts.score_bars_svg(charts.score_bars(_bar_rows([HOSTILE[1]], [1.0, 2.0]), "#2563eb")))
    assert '" onload="x' not in bars and "&#34; onload=&#34;x" in bars
