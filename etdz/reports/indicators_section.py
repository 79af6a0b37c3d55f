"""The zone card's "every indicator" table (全部指标), written in Python.

The table has a row for each of the catalogue's indicators (29 in the 2023 method), seven cells each. With 23,000
cards in the largest year, it was the largest part of a card's template. It is written here the way
:mod:`etdz.reports.levers_section` writes the targets: every value a template would write as ``{{ value }}`` goes
through :func:`etdz.escape.html_str` (the environment's finalize, then autoescape), and the catalogue's texts
through its cached form :func:`etdz.reports.templating.catalogue_html`. The markup is byte for byte what the
template wrote: ``tests/reports/test_reports_indicators_section.py`` renders that part of the template, kept beside
it as ``card_indicators_reference.html.j2``, and compares. A change of this table is made here and in the reference
alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup

from etdz.escape import html_str as _h
from etdz.reports.templating import catalogue_html as _text
from etdz.reports.templating import fmt_score, fmt_shown, unit_shown

_HEAD = (
    '<table id="indicator-table"><thead><tr><th>指标 Indicator</th><th class="num">数值 Value</th><th>单位 Unit</th>'
    '<th class="num">得分 Score</th><th class="c">优于全国平均<br><span class="en">&gt; national avg</span></th>'
    '<th class="c">优于区域平均<br><span class="en">&gt; regional avg</span></th><th>状态 Status</th></tr></thead>\n'
    "<tbody>\n"
)
_YES = '<td class="c"><span class="yes">✓</span></td>\n'
_NO = '<td class="c"><span class="no">·</span></td>\n'
_LOWER = ' <span class="muted small">↓越低越好</span>'
_MISSING = '<span class="status-missing">缺失 missing</span>'
_NO_BASE = '<span class="status-no_base">无基期·插补 no base, imputed</span>'


def _status(r: Mapping) -> str:
    if r["status"] == "missing":
        return _MISSING
    if r["status"] == "no_base":
        return _NO_BASE
    return "插补 imputed" if r["imputed"] else ""


def indicator_table_html(cats: Sequence[Mapping], rows_by_cat: Mapping[str, Sequence[Mapping]], metas: Mapping,
                         better_total, n_rows) -> Markup:
    """The card's table of every indicator, grouped by category: ``cats`` the card's category rows (code, names,
    weight, score, better, count) in the catalogue's order, ``rows_by_cat`` category code -> the zone's indicator
    rows (the scorer's, each with its ``indicator_code`` in ``metas``), ``metas`` indicator code ->
    IndicatorMeta; ``better_total`` of ``n_rows`` in the footer."""
    out = [_HEAD]
    w = out.append
    for c in cats:
        w(f'<tr class="cat-head" data-category="{_h(c["code"])}"><td colspan="3">{_h(c["name_zh"])} <span class="en">'
          f'{_h(c["name_en"] or c["code"])} · {_h("%g" % (c["weight"] * 100))}%</span></td><td class="num">'
          f'{_h(fmt_score(c["score"]))}</td><td class="c" colspan="2">{_h(c["better"])} of {_h(c["count"])}</td>'
          "<td></td></tr>\n")
        for r in rows_by_cat.get(c["code"], ()):
            m = metas[r["indicator_code"]]
            code = _text(r["indicator_code"])
            w(f'<tr data-indicator="{code}"><td>{_text(m.name_zh)} <span class="code">{code}</span>'
              f'{_LOWER if m.direction == "lower" else ""}</td>\n<td class="num">'
              f'{_h(fmt_shown(r["value"], m.unit, m.integer))}</td><td class="small">{_text(unit_shown(m.unit))}'
              f'</td><td class="num">{_h(fmt_score(r["score"]))}</td>\n')
            w(_YES if r["better_than_national_avg"] else _NO)
            w(_YES if r["better_than_regional_avg"] else _NO)
            w(f'<td class="small">{_status(r)}</td></tr>\n')
    w(f'</tbody>\n<tfoot><tr><td colspan="4"><b>合计 Total</b></td><td class="c" colspan="2"><b id="better-count">'
      f"{_h(better_total)} of {_h(n_rows)}</b></td><td></td></tr></tfoot>\n</table>\n")
    return Markup("".join(out))
