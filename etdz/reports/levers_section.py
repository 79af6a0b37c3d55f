"""The zone card's targets and levers by measure (docs/contract/03-scoring.md §3.8), written in Python.

A card lists up to four targets and eight levers, each lever with its rise for every target: ~150 values per card,
23,000 cards in the largest year — about half of a card's rendering when it was a Jinja partial. Written here the
way :mod:`etdz.reports.charts` writes the card's charts: every value a template would write as ``{{ value }}``
(names, codes, formatted numbers, the reason levers are unavailable) goes through :func:`etdz.escape.html_str`
(the environment's finalize, then autoescape), and :func:`fmt_rise` / :func:`fmt_headroom` escape the amounts they
write. The markup is byte for byte what the partial wrote: ``tests/reports/test_reports_levers_section.py`` renders
that partial, kept beside it as ``card_levers_reference.html.j2``, for every kind of target and lever and for hostile
names, and compares. A change of this panel is made here and in the reference alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from markupsafe import Markup

from etdz.escape import html_str as _h
from etdz.reports.targets import Target, ZoneTargets
from etdz.reports.templating import catalogue_html as _text
from etdz.reports.templating import fmt_score, fmt_shown, unit_shown
from etdz.reports.units import per_shown_unit
from etdz.scoring.levers import Lever

_TARGETS_HEAD = (
    '<table id="targets"><thead><tr><th>目标 Target</th><th class="num">目标位置总分<br><span class="en">Total at K'
    '</span></th><th class="num">差距<br><span class="en">Gap (points)</span></th><th>单独即可追平的填报指标（按每单位'
    '得分）<br><span class="en">Measures that alone close it (most points per unit first)</span></th></tr></thead>'
    "<tbody>\n"
)
_FIRST = ('<p class="bignum">全国第一 <span class="en" style="font-size:13px">Ranked 1st nationally and in its region: '
          "no gap to close.</span></p>")
_METHOD = (
    '<p class="muted small" style="margin-top:8px">每项填报数据单独提高 δ = max(1%, 1 个计量单位)，'
    "其余数据、全部边界 L、U 与其他经开区均不变，按本年评分方法重算总分：每单位得分 = 总分变化 ÷ δ；"
    "提升空间为其所涉指标均达边界前可提高的量。插补（无基期）指标不随数值变化，不计分。\n"
    '<span class="en">Each reported figure raised alone by δ = max(1%, one unit of its canonical unit), every other '
    "figure, every bound L, U and every other zone held fixed, the zone re-scored by the year's method: points per "
    "unit = the change of the total ÷ δ; headroom = how far it can rise before none of the indicators it feeds gains "
    "(each at its bound). Imputed (no-base) indicators do not follow the value and give no points.</span></p>\n"
)
_LEVERS_HEAD = (
    '<table id="levers"><thead><tr><th>填报指标 Measure</th><th class="num">当前值 Value</th><th>单位 Unit</th>'
    '<th class="num">每单位得分<br><span class="en">Points / unit</span></th><th class="num">提升空间<br>'
    '<span class="en">Headroom</span></th><th class="num">最多可得分<br><span class="en">Points, most</span></th>'
    '<th>带动指标<br><span class="en">Via</span></th>'
)
_NO_LEVER = ('<tr><td colspan="7" class="muted">任何单项填报数据的提高都不再增加总分 '
             "No single reported figure adds points any more.</td></tr>")
_LOWERING_HEAD = ('<div id="lowering"><p class="small"><b>单独提高会降低得分 Raising alone lowers the score</b>'
                  '（不作为提分建议 never offered as a lever）：</p><ul class="small">\n')
_NO_POINTS_HEAD = ('<p class="muted small" id="no-points">提高后不增加得分（所涉指标已达边界、插补或缺失） '
                   "No points from a rise (its indicators at their bounds, imputed or missing): ")


def fmt_rise(r: float | None, unit: str) -> Markup:
    """A rise of a measure in ``unit`` that closes a gap (§3.8): 不足 (none within the headroom), any rise (0), or
    +amount in its display unit."""
    if r is None:
        return Markup('<span class="muted">不足</span>')
    if r == 0:
        return Markup('任意增量 <span class="en">any rise</span>')
    return Markup("+" + _h(fmt_shown(r, unit)))


def fmt_headroom(lever: Lever) -> Markup:
    """How far a lever's measure can rise and still gain (§3.8): no limit, at once (at its bound), or +amount."""
    if lever.unlimited:
        return Markup('不设限 <span class="en">no limit</span>')
    if lever.headroom <= 0:
        return Markup('即达上限 <span class="en">at once</span>')
    return Markup("+" + _h(fmt_shown(lever.headroom, lever.unit)))


def _target_name(t: Target, bottom_n: int | None) -> str:
    if t.kind == "next":
        return f'上升一位：全国第 {_h(t.rank)} 名 <span class="en">the next rank up</span>'
    if t.kind == "top":
        return f'进入全国前{_h(t.rank)} <span class="en">into the top {_h(t.rank)}</span>'
    if t.kind == "region_top10":
        return '进入区域前10 <span class="en">into the region\'s top 10</span>'
    where = "区域" if t.group == "regional" else "全国"
    return f'退出{where}后{_h(bottom_n)}名 <span class="en">out of the bottom {_h(bottom_n)}</span>'


def _per_unit(lever: Lever) -> str:
    return _h(format(per_shown_unit(lever.points_per_unit, lever.unit), ".4g"))


def _indicator_name(code: str, metas: Mapping) -> str:
    m = metas.get(code)
    return f'{_text(m.name_zh if m else code)} <span class="code">{_text(code)}</span>'


def _indicator_name_en(code: str, metas: Mapping) -> Markup:
    m = metas.get(code)
    return _text((m.name_en or m.name_zh) if m else code)


def levers_section_html(targets: ZoneTargets, metas: Mapping, bottom_n: int | None) -> Markup:
    """The card's "目标名次差距 / every target" panel: each target's gap and the measures that alone close it, the
    levers by measure with their rise for each target, the measures whose rise would lower the score and those that
    give no points (``targets`` from :func:`etdz.reports.cards.card_targets`, ``metas`` indicator code ->
    IndicatorMeta, ``bottom_n`` the downgrade rule's n)."""
    T = targets
    out = ['<div class="panel" id="target-box">\n']
    w = out.append
    if T.targets:
        w(_TARGETS_HEAD)
        for t in T.targets:
            kind = _h(t.kind)
            w(f'<tr data-target="{kind}" data-rank="{_h(t.rank)}"><td>{_target_name(t, bottom_n)}</td>'
              f'<td class="num">{_h(fmt_score(t.total_at_rank))}</td><td class="num"><b id="target-gap-{kind}">'
              f'{_h(fmt_score(t.gap))}</b></td>\n<td class="small">')
            if t.best:
                w("；".join(f'<span data-measure="{_text(lv.measure)}">{_text(lv.name_zh)} '
                           f"{fmt_rise(t.rises[lv.measure], lv.unit)} {_text(unit_shown(lv.unit))}</span>"
                           for lv in t.best))
            else:
                w('<span class="muted">' + ("—" if T.unavailable else "无单项可单独追平 no single measure is enough")
                  + "</span>")
            w("</td></tr>\n")
        w("</tbody></table>\n")
    else:
        w(_FIRST)
    if T.unavailable:
        w(f'<p class="muted small" id="levers-unavailable">{_h(T.unavailable)}</p>\n')
    else:
        w(_METHOD)
        w(_LEVERS_HEAD)
        w("".join(f'<th class="num">→ {_h(t.rank)}{"区域" if t.group == "regional" else ""}</th>' for t in T.targets))
        w("</tr></thead><tbody>\n")
        shown = T.levers[:T.levers_shown]
        for lv in shown:
            unit = lv.unit
            measure = _text(lv.measure)
            via = " ".join(_text(c) for c in lv.gains)
            if lv.falls:
                via += ' <span class="muted">（' + " ".join(_text(c) for c in lv.falls) + " ↓）</span>"
            w(f'<tr data-measure="{measure}"><td>{_text(lv.name_zh)} <span class="code">{measure}</span></td>'
              f'<td class="num">{_h(fmt_shown(lv.value, unit))}</td><td>{_text(unit_shown(unit))}</td>\n'
              f'<td class="num">{_per_unit(lv)} <span class="muted small">每增1</span></td><td class="num">'
              f'{fmt_headroom(lv)}</td><td class="num">{_h(fmt_score(lv.points_left))}</td><td class="small">{via}'
              "</td>\n")
            w("".join(f'<td class="num">{fmt_rise(t.rises.get(lv.measure), unit)}</td>' for t in T.targets))
            w("</tr>\n")
        if not shown:
            w(_NO_LEVER)
        w("</tbody></table>\n")
        more = len(T.levers) - T.levers_shown
        if more > 0:
            w(f'<p class="muted small">另有 {_h(more)} 项填报数据可增加得分（每单位得分较低）。'
              f'<span class="en">{_h(more)} more figures add points, fewer per unit.</span></p>')
        if T.lowering:
            w(_LOWERING_HEAD)
            for lv in T.lowering:
                falls_zh = "、".join(_indicator_name(c, metas) for c in lv.falls)
                falls_en = ", ".join(_indicator_name_en(c, metas) for c in lv.falls)
                verb = "falls" if len(lv.falls) == 1 else "fall"
                name = _text(lv.name_zh)
                w(f'<li data-measure="{_text(lv.measure)}">提高{name}单独会降低得分：{falls_zh}下降（每'
                  f'{_text(unit_shown(lv.unit))} {_per_unit(lv)} 分）。<span class="en">Raising {name} alone lowers '
                  f"the score: {falls_en} {verb}.</span></li>\n")
            w("</ul></div>")
        if T.no_points:
            w(_NO_POINTS_HEAD)
            w("、".join(f'<span data-measure="{_text(lv.measure)}">{_text(lv.name_zh)}</span>' for lv in T.no_points))
            w("。</p>")
    w("</div>")
    return Markup("".join(out))
