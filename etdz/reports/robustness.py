"""Rank robustness in words and pictures (docs/contract/03-scoring.md §3.9): what the ``rank_robustness`` dataset means
for a zone, and which zones' status depends on the ministry's unpublished choices.

A status *depends on the unpublished choices* when at least 5% of the variants give the other answer than
the nominal ranking does — the same 5% cut-off as the 90% interval's ends: a zone in the top 100 that
falls out of it in ≥ 5% of the variants (``p_top100`` < 0.95), a zone outside that enters it in ≥ 5%
(``p_top100`` > 0.05), and the same for its region's bottom n with ``p_region_bottom`` and for the
downgrade watch-list with ``p_candidate`` (§3.9 step 5: on the list with < 0.95, off it with > 0.05).

What the pages say was varied is read from the year's robustness settings (:func:`varied`), never
written into a template: a spread of 0 or a single option is named as held fixed, never as varied.
"""

from __future__ import annotations

from etdz.catalogue import Catalogue, Robustness
from etdz.reports import charts
from etdz.scoring.downgrade import in_bottom as rule_in_bottom
from etdz.scoring.ranks import in_top100

# Official indicator counts where 05-indicators.md gives them (§5.3: the 2016 list has 53); a catalogue of
# another version names only its own count.
OFFICIAL_INDICATORS = {"2016": 53}

CUTOFF = 0.05


def pct(p: float | None) -> str:
    """A share as a whole percentage; never rounds a rare event to 0% or an almost certain one to 100%."""
    if p is None:
        return "—"
    if p <= 0:
        return "0%"
    if p >= 1:
        return "100%"
    return f"{min(99, max(1, round(p * 100)))}%"


def depends(nominal_in: bool, p: float | None) -> bool:
    """Whether at least 5% of the variants disagree with the nominal status."""
    if p is None:
        return False
    return p < 1 - CUTOFF if nominal_in else p > CUTOFF


def zone_robustness(r: dict | None, z: dict, n_zones: int, downgrade, in_bottom: bool, on_watch: bool,
                    colour: str, what: dict) -> dict | None:
    """The card's view of one zone's row (None when the year has no row for it).

    ``downgrade``: the catalogue's section (None: no bottom-n or watch-list figures); ``in_bottom``: the zone
    is nominally in its region's bottom n; ``on_watch``: it is on the nominal watch-list; ``what``:
    :func:`varied` of the year's settings. Under ``national_consecutive`` the bottom-n share is the national
    one (``p_national_bottom``), as the rule is.
    """
    if r is None or r.get("rank_p05") is None:
        return None
    nominal = r["rank_nominal"] if r["rank_nominal"] is not None else z["national_rank"]
    bottom_n = downgrade.bottom_n if downgrade else None
    national_rule = downgrade is not None and downgrade.rule == "national_consecutive"
    p_bottom = (r.get("p_national_bottom") if national_rule else r["p_region_bottom"]) if downgrade else None
    in_bottom_rule = bool(rule_in_bottom(nominal, n_zones, bottom_n)) if national_rule else in_bottom
    p_cand = r.get("p_candidate") if downgrade else None
    return {
        "nominal": nominal, "median": r["rank_median"], "p05": r["rank_p05"], "p95": r["rank_p95"],
        "samples": r["samples"], "seed": r["seed"], "p_top100": pct(r["p_top100"]), "p_region_bottom": pct(p_bottom),
        "bottom_n": bottom_n, "has_bottom": p_bottom is not None, "national_rule": national_rule,
        "top100_depends": depends(in_top100(nominal), r["p_top100"]), "in_top100": in_top100(nominal),
        "bottom_depends": depends(in_bottom_rule, p_bottom), "in_bottom": in_bottom_rule,
        "has_candidate": p_cand is not None, "p_candidate": pct(p_cand), "on_watch": on_watch,
        "candidate_depends": depends(on_watch, p_cand),
        "firm": r["rank_p05"] == r["rank_p95"], "what": what,
        "strip": charts.interval_strip(nominal, r["rank_p05"], r["rank_p95"], r["rank_median"], n_zones, colour),
    }


def _spread(p: float) -> str:
    return f"±{p * 100:g}%"


def _winsorise_en(option: tuple[float, float] | None) -> str:
    return "not winsorised" if option is None else f"winsorised at {option[0] * 100:g}/{option[1] * 100:g}%"


def _winsorise_zh(option: tuple[float, float] | None) -> str:
    return "不缩尾" if option is None else f"按 {option[0] * 100:g}%/{option[1] * 100:g}% 分位缩尾"


NO_BASE_EN = {"median": "at the median", "zero": "at 0"}
NO_BASE_ZH = {"median": "取中位数", "zero": "取0"}


def _published(catalogue: Catalogue) -> bool:
    """Whether the catalogue records every category weight as published (``source`` starting with P)."""
    return bool(catalogue.categories) and all(str(k.source or "").startswith("P") for k in catalogue.categories)


def varied(settings: Robustness, catalogue: Catalogue) -> dict:
    """What the year's variants vary and by how much, and what they hold fixed, in both languages.

    ``en`` / ``zh``: the phrase after "under N variants of …" ("the indicator weights (±25%) and the
    normalisation (winsorised at 5/95% or not; a growth indicator without base at the median or at 0)");
    ``fixed_en`` / ``fixed_zh``: what stays as the catalogue has it; ``items``: the keys varied
    (``weights``, ``category_weights``, ``winsorise``, ``no_base``) for tests and metadata.
    """
    items, en, zh, fixed_en, fixed_zh = [], [], [], [], []
    p, c = settings.weights, settings.category_spread
    if p > 0:
        items.append("weights")
        en.append(f"the indicator weights ({_spread(p)})")
        zh.append(f"二级指标权重（{_spread(p)}）")
    else:
        fixed_en.append("the indicator weights")
        fixed_zh.append("二级指标权重")
    weights_k = "/".join(f"{k.weight * 100:g}" for k in catalogue.categories)
    if c > 0:
        items.append("category_weights")
        en.append(f"the category weights ({_spread(c)}, renormalised to sum to 1)")
        zh.append(f"一级类别权重（{_spread(c)}，再归一化）")
    else:
        origin_en, origin_zh = ("published", "已公布") if _published(catalogue) else ("as the catalogue has them",
                                                                                   "按办法目录")
        fixed_en.append(f"the category weights ({origin_en}: {weights_k})")
        fixed_zh.append(f"一级类别权重（{origin_zh}：{weights_k}）")
    norm_en, norm_zh = [], []
    w_opts, q_opts = settings.winsorise_options, settings.no_base_options
    if len(w_opts) > 1:
        items.append("winsorise")
        if len(w_opts) == 2 and w_opts[1] is None and w_opts[0] is not None:
            norm_en.append(f"{_winsorise_en(w_opts[0])} or not")
        else:
            norm_en.append(" or ".join(_winsorise_en(o) for o in w_opts))
        norm_zh.append("或".join(_winsorise_zh(o) for o in w_opts))
    if len(q_opts) > 1:
        items.append("no_base")
        norm_en.append("a growth indicator without base " + " or ".join(NO_BASE_EN[q] for q in q_opts))
        norm_zh.append("无基期的增速指标" + "或".join(NO_BASE_ZH[q] for q in q_opts))
    if norm_en:
        en.append(f"the normalisation ({'; '.join(norm_en)})")
        zh.append(f"标准化方法（{'；'.join(norm_zh)}）")
    if len(w_opts) == 1:
        fixed_en.append(f"the outlier treatment ({_winsorise_en(w_opts[0])})")
        fixed_zh.append(f"异常值处理（{_winsorise_zh(w_opts[0])}）")
    if len(q_opts) == 1:
        fixed_en.append(f"a growth indicator without base {NO_BASE_EN[q_opts[0]]}")
        fixed_zh.append(f"无基期的增速指标{NO_BASE_ZH[q_opts[0]]}")
    return {"items": items, "any": bool(items),
            "en": " and ".join(en) if en else "nothing (every choice held fixed)",
            "zh": "和".join(zh) if zh else "无（所有选择均固定）",
            "fixed_en": ", ".join(fixed_en), "fixed_zh": "、".join(fixed_zh),
            "winsorise_en": [_winsorise_en(o) for o in w_opts], "winsorise_zh": [_winsorise_zh(o) for o in w_opts],
            "no_base_en": [NO_BASE_EN[q] for q in q_opts], "no_base_zh": [NO_BASE_ZH[q] for q in q_opts],
            "weights": _spread(p) if p > 0 else None, "category_weights": _spread(c) if c > 0 else None}


def not_varied(catalogue: Catalogue) -> dict:
    """The sentence that the indicators themselves are the project's reading of the method and were not
    varied: their number, the official count where 05-indicators.md gives it, and their provenance."""
    n = len(catalogue.indicators)
    official = OFFICIAL_INDICATORS.get(catalogue.version)
    by_source = {"P": 0, "R": 0, "A": 0}
    for i in catalogue.indicators:
        letter = str(i.source or "A").strip()[:1]
        by_source[letter if letter in by_source else "A"] += 1
    of_en = f"{n} of the official {official}" if official else f"{n}"
    of_zh = f"官方 {official} 项中的 {n} 项" if official else f"{n} 项"
    src_en = f"{by_source['P']} published, {by_source['R']} reported, {by_source['A']} assumed"
    src_zh = f"已公布 {by_source['P']} 项、报道 {by_source['R']} 项、假设 {by_source['A']} 项"
    return {"en": f"The indicators themselves ({of_en} under the {catalogue.version} method; {src_en}) are the "
                  f"project's reading of the method and were not varied.",
            "zh": f"指标本身（{catalogue.version} 年版办法：{of_zh}；{src_zh}）是本项目对办法的解读，未参与变动。"}
