"""Rank robustness in words and pictures (docs/contract/03-scoring.md §3.9): what the ``rank_robustness`` dataset means
for a zone, and which zones' status depends on the ministry's unpublished choices.

A status *depends on the unpublished choices* when at least 5% of the variants give the other answer than
the nominal ranking does — the same 5% cut-off as the 90% interval's ends: a zone in the top 100 that
falls out of it in ≥ 5% of the variants (``p_top100`` < 0.95), a zone outside that enters it in ≥ 5%
(``p_top100`` > 0.05), and the same for its region's bottom n with ``p_region_bottom``.
"""

from __future__ import annotations

from etdz.reports import charts

TOP = 100
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


def zone_robustness(r: dict | None, z: dict, n_zones: int, bottom_n: int | None, in_bottom: bool,
                    colour: str) -> dict | None:
    """The card's view of one zone's row (None when the year has no row for it)."""
    if r is None or r.get("rank_p05") is None:
        return None
    nominal = r["rank_nominal"] if r["rank_nominal"] is not None else z["national_rank"]
    p_bottom = r["p_region_bottom"] if bottom_n else None
    return {
        "nominal": nominal, "median": r["rank_median"], "p05": r["rank_p05"], "p95": r["rank_p95"],
        "samples": r["samples"], "seed": r["seed"], "p_top100": pct(r["p_top100"]), "p_region_bottom": pct(p_bottom),
        "bottom_n": bottom_n, "has_bottom": p_bottom is not None,
        "top100_depends": depends(nominal <= TOP, r["p_top100"]),
        "bottom_depends": depends(in_bottom, p_bottom), "in_top100": nominal <= TOP, "in_bottom": in_bottom,
        "firm": r["rank_p05"] == r["rank_p95"],
        "strip": charts.interval_strip(nominal, r["rank_p05"], r["rank_p95"], r["rank_median"], n_zones, colour),
    }
