"""Small, readable datasets for the scoring rules."""

from __future__ import annotations

import pandas as pd
import pytest

from etdz.catalogue import catalogue_from_dict
from etdz.scoring import YearInputs, score_year


def make_catalogue(indicators, categories=None, measures=None, winsorise=None, downgrade=None, summons=10,
                   top_lists=(), version="T1", years=(2000, None), robustness=None):
    """A catalogue from a list of indicator dicts; measures default to every measure they use."""
    categories = categories or [{"code": "A", "weight": 1.0}]
    if measures is None:
        used = []
        for i in indicators:
            for k in ("measure", "numerator", "denominator"):
                if k in i and i[k] not in used:
                    used.append(i[k])
        for m in top_lists:
            if m not in used:
                used.append(m)
        measures = [{"code": m, "unit": "u"} for m in used]
    doc = {"version": version, "data_years": {"from": years[0], "to": years[1]},
           "normalisation": {"winsorise": list(winsorise) if winsorise else None},
           "summons_bottom_n": summons, "top_lists": list(top_lists),
           "categories": categories, "measures": measures, "indicators": indicators}
    if downgrade:
        doc["downgrade"] = downgrade
    if robustness is not None:
        doc["robustness"] = robustness
    return catalogue_from_dict(doc)


def make_registry(zones):
    """zones: list of (code, region, province[, tier, first, exit])."""
    rows = []
    for z in zones:
        code, region, province, *rest = z
        tier = rest[0] if len(rest) > 0 else "national"
        first = rest[1] if len(rest) > 1 else (2000 if tier == "national" else None)
        exit_ = rest[2] if len(rest) > 2 else None
        rows.append({"zone_code": code, "name_zh": f"{code}区", "province": province, "region": region, "tier": tier,
                     "first_data_year": first, "exit_data_year": exit_})
    df = pd.DataFrame(rows)
    for c in ("first_data_year", "exit_data_year"):
        df[c] = df[c].astype("Int64")
    return df


def long_measures(values: dict[str, dict[str, float | None]]) -> pd.DataFrame:
    """{zone: {measure: value}} → the long measures frame (None = left empty, so no row)."""
    rows = [{"zone_code": z, "measure_code": m, "value": float(v)} for z, ms in values.items() for m, v in ms.items()
            if v is not None]
    return pd.DataFrame(rows, columns=["zone_code", "measure_code", "value"])


def run(catalogue, registry, year, current, previous=None, history=None, accepted=None, prev_accepted=None):
    """Score one year from {zone: {measure: value}} dictionaries."""
    return score_year(YearInputs(
        data_year=year, catalogue=catalogue, registry=registry, measures=long_measures(current),
        accepted=set(current) if accepted is None else set(accepted),
        prev_measures=long_measures(previous) if previous is not None else None,
        prev_accepted=((set(previous) if previous is not None else set()) if prev_accepted is None
                        else set(prev_accepted)),
        history=history or {},
    ))


@pytest.fixture
def score():
    return run
