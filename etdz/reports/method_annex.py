"""The national report's method annex (03-scoring.md §3.1–3.6): normalisation, weights, the missing and no-base rules,
ranks and lists — every figure read from the year's catalogue and robustness settings, never written into a
template — and what of it is the project's reading of the ministry's method (05-indicators.md provenance P/R/A).
"""

from __future__ import annotations

from etdz.catalogue import Catalogue, Indicator
from etdz.reports.robustness import not_varied
from etdz.scoring.ranks import DECIMALS, TOP100

KIND_ZH = {"value": "数值", "ratio": "比值", "growth": "增速"}
KIND_EN = {"value": "value", "ratio": "ratio", "growth": "growth"}
SOURCE_ZH = {"P": "已公布", "R": "报道", "A": "本项目假设"}
SOURCE_EN = {"P": "published", "R": "reported", "A": "assumed"}


def provenance(source: str | None) -> str:
    """The provenance letter of a catalogue entry's ``source`` (P published, R reported, A assumed; none: A)."""
    letter = str(source or "A").strip()[:1]
    return letter if letter in SOURCE_ZH else "A"


def _definition(i: Indicator, cat: Catalogue) -> str:
    def name(code):
        m = cat.measures.get(code)
        return f"{m.name_zh if m else code}"
    if i.kind == "ratio":
        scale = "" if float(i.scale) == 1.0 else f" × {i.scale:g}"
        return f"{name(i.numerator)} ÷ {name(i.denominator)}{scale}"
    if i.kind == "growth":
        return f"{name(i.measure)}较上年增长 (x − p)/|p| × 100"
    return name(i.measure)


def _pct(x: float) -> str:
    return f"{x * 100:g}%"


def annex(cat: Catalogue, indicators_meta: list, imputed_n: int, missing_n: int) -> dict:
    """What ``_method_annex.html.j2`` renders for the year's catalogue ``cat``.

    ``indicators_meta``: the year's :class:`etdz.reports.inputs.IndicatorMeta` (effective weights, units);
    ``imputed_n`` / ``missing_n``: the year's imputed and missing indicator values (the data-quality counts)."""
    w = cat.winsorise
    if w is None:
        norm_zh = "各指标以参评经开区中状态为 ok 的有限值的最小值、最大值为下界 L、上界 U（不缩尾）；"
        norm_en = ("Each indicator's bounds L and U are the minimum and maximum of the cohort's finite ok values "
                   "(no winsorising); ")
    else:
        norm_zh = (f"各指标以参评经开区中状态为 ok 的有限值的 {_pct(w[0])} 与 {_pct(w[1])} 分位数（线性插值）"
                   f"为下界 L、上界 U，数值截断到 [L, U]（缩尾）；")
        norm_en = (f"Each indicator's bounds L and U are the {_pct(w[0])} and {_pct(w[1])} quantiles (linear "
                   f"interpolation) of the cohort's finite ok values, and values are clipped to [L, U] (winsorised); ")
    norm_zh += ("正向指标得分 100·(c − L)/(U − L)，逆向指标 100·(U − c)/(U − L)；U = L 时得 100；"
                "从零基数增长的 +∞ 截为 U、−∞ 截为 L；没有有限值时所有 ok 的经开区得 100。")
    norm_en += ("a higher-is-better indicator scores 100·(c − L)/(U − L), a lower-is-better one 100·(U − c)/(U − L); "
                "U = L scores 100; growth from a zero base (+∞ / −∞) is clipped to U / L; with no finite value every "
                "ok zone scores 100.")

    metas = {m.code: m for m in indicators_meta}
    categories, indicators = [], []
    for k in cat.categories:
        inds = cat.indicators_of(k.code)
        wsum = sum(float(i.weight) for i in inds) or 1.0
        src = provenance(k.source)
        categories.append({"code": k.code, "name_zh": k.name_zh, "name_en": k.name_en,
                           "weight": _pct(float(k.weight)), "n": len(inds), "source": src,
                           "source_zh": SOURCE_ZH[src], "source_en": SOURCE_EN[src]})
        for i in inds:
            src_i = provenance(i.source)
            m = metas.get(i.code)
            indicators.append({
                "code": i.code, "name_zh": i.name_zh or i.code, "category": k.code,
                "kind_zh": KIND_ZH.get(i.kind, i.kind),
                "kind_en": KIND_EN.get(i.kind, i.kind), "definition": _definition(i, cat),
                "direction": i.direction, "weight": f"{float(i.weight):g}",
                "in_category": f"{float(i.weight) / wsum * 100:.1f}%",
                "in_total": f"{(m.eff_weight if m else float(k.weight) * float(i.weight) / wsum) * 100:.2f}%",
                "source": src_i, "source_zh": SOURCE_ZH[src_i], "source_en": SOURCE_EN[src_i]})

    rob = cat.robustness
    category_published = bool(cat.categories) and all(c["source"] == "P" for c in categories)
    reading_zh = [
        f"一级类别及其权重：{'已公布' if category_published else '本项目假设（未见公布）'}"
        f"（{'/'.join(c['weight'].rstrip('%') for c in categories)}）。",
        "二级指标权重：未公布，本项目按目录取值"
        + (f"；稳健性分析中在 ±{rob.weights * 100:g}% 内变动。" if rob.weights > 0 else "；稳健性分析中未变动。"),
        "标准化公式（缩尾与线性映射）：未公布，为本项目按综合指数通行做法"
        "（OECD/JRC《综合指标构建手册》，2008）的选择"
        + ("；稳健性分析中变动了缩尾方式。" if len(rob.winsorise_options) > 1 else "。"),
        "无基期增速指标的处理：本项目的选择"
        + ("；稳健性分析中比较了取中位数与取 0。" if len(rob.no_base_options) > 1 else "。"),
        not_varied(cat)["zh"],
    ]
    reading_en = [
        f"The categories and their weights ({'/'.join(c['weight'].rstrip('%') for c in categories)}): "
        f"{'published' if category_published else 'the project’s assumption (not seen published)'}.",
        "The indicator weights: not published, as the catalogue sets them"
        + (f"; varied by ±{rob.weights * 100:g}% in the robustness analysis." if rob.weights > 0 else
           "; not varied in the robustness analysis."),
        "The normalisation (winsorising and min–max scaling): not published, the project’s choice after the standard "
        "practice for composite indicators (OECD/JRC Handbook, 2008)"
        + ("; the winsorising is varied in the robustness analysis." if len(rob.winsorise_options) > 1 else "."),
        "A growth indicator without base: the project’s choice"
        + ("; the median and 0 are compared in the robustness analysis." if len(rob.no_base_options) > 1 else "."),
        not_varied(cat)["en"],
    ]
    d = cat.downgrade
    return {
        "version": cat.version, "name_zh": cat.name_zh, "normalisation_zh": norm_zh, "normalisation_en": norm_en,
        "winsorise": w, "categories": categories, "indicators": indicators, "imputed_n": imputed_n,
        "missing_n": missing_n, "downgrade": d, "summons_n": cat.summons_bottom_n, "top_lists": [
            cat.measures[m].name_zh if m in cat.measures else m for m in cat.top_lists],
        "reading_zh": reading_zh, "reading_en": reading_en, "top_n": TOP100, "decimals": DECIMALS,
    }
