"""The zone card's table of categories (得分与平均水平) and its strongest and weakest indicators, written in Python.

Written the way :mod:`etdz.reports.indicators_section` writes the table of every indicator: every value a template
would write as ``{{ value }}`` goes through :func:`etdz.escape.html_str` (the environment's finalize, then autoescape),
and the catalogue's texts through its cached form :func:`etdz.reports.templating.catalogue_html`. The markup is
byte for byte what the card's template wrote: ``tests/reports/test_reports_scores_section.py`` renders those parts
of the template, kept beside it as ``card_scores_reference.html.j2``, and compares. A change of these tables is made
here and in the reference alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from markupsafe import Markup

from etdz.escape import html_str as _h
from etdz.reports.templating import catalogue_html as _text
from etdz.reports.templating import fmt_score, fmt_shown, unit_shown

_CATEGORIES_HEAD = (
    '<table id="categories" style="margin-top:8px"><thead><tr><th>类别 Category</th><th class="num">权重</th>'
    '<th class="num">得分 Score</th><th class="num">全国平均</th><th class="num">区域平均</th>'
    '<th class="num">类别全国名次</th><th class="num">优于全国平均</th></tr></thead><tbody>\n'
)
_NONE = '<tr><td class="muted">—</td></tr>'
_MISSING = '<span class="status-missing">缺失 missing</span>'


def categories_table_html(z: Mapping, cats: Sequence[Mapping], total_avg, total_reg_avg, better_total,
                          n_rows) -> Markup:
    """The card's categories against the national and regional averages: the total's row (zone ``z``'s total
    score and national rank, the averages ``total_avg`` / ``total_reg_avg``, ``better_total`` of ``n_rows``), then
    one row per category of ``cats`` (the card's category rows: code, names, weight, score, nat, reg, rank, better,
    count)."""
    out = [_CATEGORIES_HEAD,
           f'<tr data-category="TOTAL"><td><b>总分 Total</b></td><td class="num">100%</td><td class="num"><b>'
           f'{_h(fmt_score(z["total_score"]))}</b></td><td class="num">{_h(fmt_score(total_avg))}</td>'
           f'<td class="num">{_h(fmt_score(total_reg_avg))}</td><td class="num">{_h(z["national_rank"])}</td>'
           f'<td class="num"><b>{_h(better_total)} of {_h(n_rows)}</b></td></tr>\n']
    w = out.append
    for c in cats:
        rank = c["rank"]
        w(f'<tr data-category="{_h(c["code"])}"><td>{_h(c["name_zh"])} <span class="en">'
          f'{_h(c["name_en"] or c["code"])}</span></td><td class="num">{_h("%g" % (c["weight"] * 100))}%</td>'
          f'<td class="num">{_h(fmt_score(c["score"]))}</td><td class="num">{_h(fmt_score(c["nat"]))}</td>'
          f'<td class="num">{_h(fmt_score(c["reg"]))}</td><td class="num">{_h(rank if rank is not None else "—")}'
          f'</td><td class="num">{_h(c["better"])} of {_h(c["count"])}</td></tr>\n')
    w("</tbody></table>")
    return Markup("".join(out))


def _indicator_rows(rows: Sequence[Mapping], missing_shown: bool) -> str:
    out = []
    for r in rows:
        m = r["meta"]
        code = _text(r["indicator_code"])
        if missing_shown and r["status"] == "missing":
            value = _MISSING
        else:
            value = (f'{_h(fmt_shown(r["value"], m.unit, m.integer))} <span class="muted small">'
                     f"{_text(unit_shown(m.unit))}</span>")
        out.append(f'<tr data-indicator="{code}"><td>{_text(m.name_zh)} <span class="code">{code}</span></td>'
                   f'<td class="num">{value}</td><td class="num"><b>{_h(fmt_score(r["score"]))}</b></td></tr>\n')
    return "".join(out) or _NONE


def strengths_html(strong: Sequence[Mapping], weak: Sequence[Mapping]) -> Markup:
    """The card's two panels of its strongest and weakest indicators (each row the scorer's, with its ``meta``):
    a weak indicator whose figure is missing says so in place of a value."""
    return Markup(
        '<div class="panel"><h3>优势指标 <span class="en">Strongest indicators</span></h3><table id="strongest">'
        f'<tbody>\n{_indicator_rows(strong, False)}</tbody></table></div>\n'
        '<div class="panel"><h3>薄弱指标 <span class="en">Weakest indicators</span></h3><table id="weakest">'
        f'<tbody>\n{_indicator_rows(weak, True)}</tbody></table></div>')
