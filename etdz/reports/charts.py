"""Chart geometry for the inline SVG charts, and the markup of the two charts every zone card draws.

The geometry functions compute coordinates only (plain numbers and strings of numbers). The national report's
charts are macros of ``templates/charts.html.j2``, rendered by the pages' autoescaping Jinja2 environment. The
card's rank panels and score bars — four charts per card, ~600 values, 23,000 cards in the largest year — are
written here (:func:`rank_panel_svg`, :func:`score_bars_svg`), a quarter of a card's rendering less: every text
(titles, labels, colours, point lists) goes through :func:`etdz.escape.html_str`, what a template's
``{{ value }}`` writes, as plain text; the coordinates, numbers the geometry functions here compute, are written
as ``str()`` writes them, as markupsafe would; the markup is byte for byte the macros' (a test renders both). Drawing a
chart this way costs microseconds (matplotlib would take ~15 s for 230 cards; ../shared/notes/stack.md).
"""

from __future__ import annotations

import math

import numpy as np
from markupsafe import Markup

from etdz.escape import html_str as _h
from etdz.reports.templating import fmt_score


def _coord(x: float) -> float:
    """An SVG coordinate, rounded to 0.1 px: shorter markup, no visible difference."""
    return round(float(x), 1)


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / max(1, count - 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    ticks, t = [], start
    while t <= hi + 1e-9:
        ticks.append(round(t, 10))
        t += step
    return ticks


def rank_panel(title: str, years: list[int], ranks: list[int | None], sizes: list[int | None],
               colour: str, width: int = 236, height: int = 150, ref_rank: int | None = None) -> dict:
    """A small line chart of one rank over the years, the rank axis inverted (1 at the top).

    ``sizes``: the number of zones ranked in the group each year (the axis runs to the largest);
    ``ref_rank``: an optional dashed reference line (e.g. rank 100).
    """
    ml, mr, mt, mb = 34, 12, 26, 24
    pw, ph = width - ml - mr, height - mt - mb
    n_max = max([s for s in sizes if s] + [r for r in ranks if r] + [2])
    n_years = len(years)

    def x(i: int) -> float:
        return ml + (pw / 2 if n_years == 1 else pw * i / (n_years - 1))

    def y(rank: float) -> float:
        return mt + ph * (rank - 1) / (n_max - 1)

    pts = [{"x": _coord(x(i)), "y": _coord(y(r)), "label": str(r), "year": years[i]}
           for i, r in enumerate(ranks) if r is not None]
    segments, cur = [], []
    for i, r in enumerate(ranks):
        if r is None:
            if len(cur) > 1:
                segments.append(" ".join(cur))
            cur = []
        else:
            cur.append(f"{_coord(x(i))},{_coord(y(r))}")
    if len(cur) > 1:
        segments.append(" ".join(cur))
    yt = sorted({1, n_max} | ({int(round((1 + n_max) / 2))} if n_max > 4 else set()))
    step = max(1, math.ceil(n_years / 6))
    xticks = [{"x": _coord(x(i)), "label": str(yr)} for i, yr in enumerate(years) if i % step == 0 or i == n_years - 1]
    ref = None
    if ref_rank is not None and 1 < ref_rank < n_max:
        ref = {"y": _coord(y(ref_rank)), "label": f"{ref_rank}"}
    return {"title": title, "width": width, "height": height, "left": ml, "right": width - mr, "top": mt,
            "bottom": mt + ph, "colour": colour, "points": pts, "segments": segments,
            "yticks": [{"y": _coord(y(t)), "label": str(t)} for t in yt], "xticks": xticks, "ref": ref,
            "latest": pts[-1] if pts else None}


def rank_panel_svg(c: dict) -> Markup:
    """The SVG of a :func:`rank_panel` (a card's rank over the years)."""
    left, right, colour = c["left"], c["right"], _h(c["colour"])
    title = _h(c["title"])
    out = [f'<svg class="chart" viewBox="0 0 {c["width"]} {c["height"]}" width="{c["width"]}" '
           f'height="{c["height"]}" role="img" aria-label="{title}">\n'
           f'  <text x="{left}" y="14" font-size="12" font-weight="600" fill="#323f4b">{title}</text>\n']
    for t in c["yticks"]:
        out.append(f'  <line x1="{left}" x2="{right}" y1="{t["y"]}" y2="{t["y"]}" stroke="#e4e7eb"/>\n'
                   f'  <text x="{left - 5}" y="{t["y"] + 3.5}" font-size="10" text-anchor="end" '
                   f'fill="#9aa5b1">{_h(t["label"])}</text>\n')
    if ref := c["ref"]:
        label = _h(ref["label"])
        out.append(f'  <line x1="{left}" x2="{right}" y1="{ref["y"]}" y2="{ref["y"]}" stroke="#9f1239" '
                   f'stroke-dasharray="3 3"/>\n'
                   f'  <text x="{left + 3}" y="{ref["y"] + 10}" font-size="9" fill="#9f1239">'
                   f'前{label} top {label}</text>\n')
    for t in c["xticks"]:
        out.append(f'  <text x="{t["x"]}" y="{c["bottom"] + 16}" font-size="10" text-anchor="middle" '
                   f'fill="#616e7c">{_h(t["label"])}</text>\n')
    for seg in c["segments"]:
        out.append(f'  <polyline points="{_h(seg)}" fill="none" stroke="{colour}" stroke-width="2.2" '
                   f'stroke-linejoin="round"/>\n')
    top = c["top"]
    for p in c["points"]:
        x, y, label = p["x"], p["y"], _h(p["label"])
        out.append(f'  <circle cx="{x}" cy="{y}" r="3.6" fill="#fff" stroke="{colour}" stroke-width="2">'
                   f'<title>{_h(p["year"])}: {label}</title></circle>\n'
                   f'  <text x="{x}" y="{y - 7 if y > top + 10 else y + 15}" font-size="10.5" font-weight="600" '
                   f'text-anchor="middle" fill="#1f2933">{label}</text>\n')
    out.append("</svg>\n")
    return Markup("".join(out))


def score_bars(rows: list[dict], colour: str, width: int = 660) -> dict:
    """Horizontal bars 0–100: the zone's score per row, with ticks at the national and regional averages.

    ``rows``: ``{"label", "sub", "value", "nat", "reg"}`` (``sub`` an optional second label line).
    """
    label_w, value_w, row_h, top, bottom_pad = 150, 62, 34, 26, 8
    x0, x1 = label_w, width - value_w
    pw = x1 - x0

    def x(v):
        return _coord(x0 + pw * min(max(v, 0.0), 100.0) / 100.0) if v is not None and math.isfinite(v) else None

    out = []
    for i, r in enumerate(rows):
        yc = top + i * row_h
        v = r.get("value")
        out.append({**r, "y": yc, "bar_y": yc + 7, "bar_h": 14, "text_y": yc + 18,
                    "x_end": x(v) if x(v) is not None else x0,
                    "bar_w": _coord((x(v) or x0) - x0), "x_nat": x(r.get("nat")), "x_reg": x(r.get("reg"))})
    height = top + row_h * len(rows) + bottom_pad
    ticks = [{"x": x(t), "label": f"{t:g}"} for t in (0, 25, 50, 75, 100)]
    return {"width": width, "height": height, "x0": x0, "x1": x1, "top": top, "rows": out, "ticks": ticks,
            "colour": colour, "axis_y": height - bottom_pad, "value_x": width - 4}


def score_bars_svg(c: dict) -> Markup:
    """The SVG of a :func:`score_bars` (a card's scores against the national and regional averages)."""
    top, axis_y, x0, colour = c["top"], c["axis_y"], c["x0"], _h(c["colour"])
    out = [f'<svg class="chart" viewBox="0 0 {c["width"]} {c["height"]}" width="{c["width"]}" '
           f'height="{c["height"]}" role="img" aria-label="scores">\n']
    for t in c["ticks"]:
        out.append(f'  <line x1="{t["x"]}" x2="{t["x"]}" y1="{top - 4}" y2="{axis_y}" stroke="#eef0f3"/>\n'
                   f'  <text x="{t["x"]}" y="{top - 10}" font-size="10" text-anchor="middle" '
                   f'fill="#9aa5b1">{_h(t["label"])}</text>\n')
    full = c["x1"] - x0
    for r in c["rows"]:
        text_y, bar_y, bar_h, sub = r["text_y"], r["bar_y"], r["bar_h"], r["sub"]
        out.append(f'  <text x="{x0 - 8}" y="{text_y - (5 if sub else 0)}" font-size="12" text-anchor="end" '
                   f'fill="#1f2933" font-weight="{700 if r["strong"] else 500}">{_h(r["label"])}</text>\n')
        if sub:
            out.append(f'<text x="{x0 - 8}" y="{text_y + 7}" font-size="9.5" text-anchor="end" '
                       f'fill="#9aa5b1">{_h(sub)}</text>')
        out.append(f'  <rect x="{x0}" y="{bar_y}" width="{full}" height="{bar_h}" fill="#f3f4f6" rx="2"/>\n'
                   f'  <rect x="{x0}" y="{bar_y}" width="{r["bar_w"]}" height="{bar_h}" fill="{colour}" '
                   f'opacity="{1 if r["strong"] else 0.78}" rx="2"/>\n')
        if r["x_nat"] is not None:
            out.append(f'<line x1="{r["x_nat"]}" x2="{r["x_nat"]}" y1="{bar_y - 4}" y2="{bar_y + bar_h + 4}" '
                       f'stroke="#1f2933" stroke-width="2.2"><title>全国平均 {_h(fmt_score(r["nat"]))}</title></line>')
        if r["x_reg"] is not None:
            out.append(f'<line x1="{r["x_reg"]}" x2="{r["x_reg"]}" y1="{bar_y - 4}" y2="{bar_y + bar_h + 4}" '
                       f'stroke="#9f1239" stroke-width="2.2" stroke-dasharray="3 2"><title>区域平均 '
                       f'{_h(fmt_score(r["reg"]))}</title></line>')
        out.append(f'  <text x="{c["value_x"]}" y="{text_y}" font-size="12" text-anchor="end" font-weight="700" '
                   f'fill="#1f2933">{_h(fmt_score(r["value"]))}</text>\n')
    out.append("</svg>\n")
    return Markup("".join(out))


def distribution(groups: list[dict], width: int = 900, row_h: int = 74) -> dict:
    """Strip plot with a box (quartiles, median) and whiskers (min–max) per group, on one total-score axis.

    ``groups``: ``{"key", "label", "colour", "values": [...], "n"}``.
    """
    label_w, right, top, bottom = 120, 24, 12, 34
    all_v = np.concatenate([np.asarray(g["values"], dtype=float) for g in groups]) if groups else np.array([])
    all_v = all_v[np.isfinite(all_v)]
    lo, hi = (float(all_v.min()), float(all_v.max())) if all_v.size else (0.0, 100.0)
    if hi - lo < 1e-9:
        lo, hi = lo - 5, hi + 5
    ticks = nice_ticks(lo, hi, 7)
    step = ticks[1] - ticks[0] if len(ticks) > 1 else 10.0
    lo, hi = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    x0, x1 = label_w, width - right

    def x(v):
        return _coord(x0 + (x1 - x0) * (v - lo) / (hi - lo))

    rows = []
    for i, g in enumerate(groups):
        v = np.asarray(g["values"], dtype=float)
        v = v[np.isfinite(v)]
        yc = top + i * row_h + row_h / 2
        row = {**g, "y": _coord(yc), "y_top": _coord(yc - row_h * 0.22), "box_h": _coord(row_h * 0.44), "dots": []}
        if v.size:
            q1, med, q3 = np.quantile(v, [0.25, 0.5, 0.75])
            row.update(x_min=x(v.min()), x_max=x(v.max()), x_q1=x(q1), x_q3=x(q3), x_med=x(med),
                       x_mean=x(v.mean()), median=float(med), mean=float(v.mean()), box_w=_coord(x(q3) - x(q1)))
            # deterministic jitter: golden-ratio sequence, so the same data draws the same picture
            row["dots"] = [{"x": x(val), "y": _coord(yc + row_h * 0.36 * (((j * 0.618034) % 1.0) - 0.5))}
                           for j, val in enumerate(np.sort(v))]
        rows.append(row)
    height = top + row_h * len(groups) + bottom
    ticks = [{"x": x(t), "label": f"{t:g}"} for t in nice_ticks(lo, hi, 7)]
    return {"width": width, "height": height, "x0": x0, "x1": x1, "top": top, "axis_y": height - bottom + 6,
            "rows": rows, "ticks": ticks, "lo": lo, "hi": hi}


def hbar_counts(rows: list[dict], width: int = 420, row_h: int = 26) -> dict:
    """Stacked horizontal bars of counts (zones per region by submission status).

    ``rows``: ``{"label", "colour", "parts": [{"n", "cls", "title"}]}``.
    """
    label_w, right, top = 110, 48, 6
    n_max = max([sum(p["n"] for p in r["parts"]) for r in rows] + [1])
    pw = width - label_w - right
    out = []
    for i, r in enumerate(rows):
        xpos, parts = label_w, []
        for p in r["parts"]:
            w = pw * p["n"] / n_max
            parts.append({**p, "x": _coord(xpos), "w": _coord(w)})
            xpos += w
        out.append({**r, "y": top + i * row_h, "parts": parts, "total": sum(p["n"] for p in r["parts"]),
                    "end_x": _coord(xpos + 6)})
    return {"width": width, "height": top + row_h * len(rows) + 4, "rows": out, "row_h": row_h}


def rank_intervals(rows: list[dict], n_zones: int, width: int = 1060, height: int = 330,
                   ref_rank: int | None = 100) -> dict:
    """Every zone's nominal rank against its 90% interval, as the JRC's audits of composite indices draw it.

    ``rows``: ``{"zone_code", "name_zh", "colour", "nominal", "median", "p05", "p95"}``, in nominal-rank
    order; zones along the x axis, the rank axis inverted (1 at the top). A vertical bar spans p05–p95,
    a dot marks the nominal rank and a dash the median.
    """
    ml, mr, mt, mb = 44, 12, 16, 30
    pw, ph = width - ml - mr, height - mt - mb
    n_max = max([n_zones, 2] + [r["p95"] for r in rows if r.get("p95") is not None])
    step = pw / max(1, len(rows))

    def y(rank: float) -> float:
        return _coord(mt + ph * (rank - 1) / (n_max - 1))

    out = []
    for i, r in enumerate(rows):
        xc = _coord(ml + step * (i + 0.5))
        out.append({**r, "x": xc, "y_nominal": y(r["nominal"]), "y_median": y(r["median"]), "y_p05": y(r["p05"]),
                    "y_p95": y(r["p95"]), "bar_w": max(1.0, min(4.0, _coord(step * 0.6)))})
    yticks = [{"y": y(t), "label": str(int(t))} for t in nice_ticks(1, n_max, 6) if 1 <= t <= n_max]
    if not yticks or yticks[0]["label"] != "1":
        yticks.insert(0, {"y": y(1), "label": "1"})
    ref = {"y": y(ref_rank), "label": str(ref_rank)} if ref_rank is not None and 1 < ref_rank < n_max else None
    return {"width": width, "height": height, "left": ml, "right": width - mr, "top": mt, "bottom": mt + ph,
            "rows": out, "yticks": yticks, "ref": ref, "dot_r": 2.2 if step < 6 else 3.2}


def interval_strip(nominal: int, p05: int, p95: int, median: int, n_zones: int, colour: str,
                   width: int = 640, height: int = 58, ref_rank: int | None = 100) -> dict:
    """One zone's rank interval on the national axis (1 on the left, N on the right)."""
    ml, mr = 16, 16
    pw = width - ml - mr
    n_max = max(2, n_zones, p95)

    def x(rank: float) -> float:
        return _coord(ml + pw * (rank - 1) / (n_max - 1))

    ticks = [{"x": x(t), "label": str(int(t))} for t in sorted({1, n_max} | set(nice_ticks(1, n_max, 6)))
             if 1 <= t <= n_max]
    ref = {"x": x(ref_rank), "label": str(ref_rank)} if ref_rank is not None and 1 < ref_rank < n_max else None
    return {"width": width, "height": height, "left": ml, "right": width - mr, "axis_y": 34, "colour": colour,
            "x_p05": x(p05), "x_p95": x(p95), "x_nominal": x(nominal), "x_median": x(median),
            "ticks": ticks, "ref": ref, "nominal": nominal, "p05": p05, "p95": p95}
