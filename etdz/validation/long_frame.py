"""The long frame: every data row of every structurally readable file of the year in ONE frame (``file_idx``,
``row`` = the Excel row number, the header being row 1), plus one synthetic row per required measure a file
does not list. The catalogue is joined onto it *as columns*: each row carries its measure's ``hard_min``,
``hard_max``, ``soft_min``, ``soft_max`` (±inf when unbounded), the whole-number gap for ``integer`` measures,
the value of its ``not_above`` measure in the same file, and the ratio to the zone's previous accepted value
with the ``soft_max_yoy_factor`` band. Currency units are converted here (02-inputs.md §2.3)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue
from etdz.numbers import NORMALISATIONS_ZH, parse_value, whole_gap
from etdz.reading import EXTRA_KEY, REQUIRED_COLUMNS, ROW_KEY, Formula
from etdz.validation.checks import cell_text
from etdz.validation.files import SubmissionFile

UNIT_KEY_SEP = "\u241f"  # SYMBOL FOR UNIT SEPARATOR: joins measure and unit into the key GX checks


def _measure_table(catalogue: Catalogue) -> pd.DataFrame:
    inf = math.inf
    rows = []
    required = set(catalogue.required_measures)
    for code, m in catalogue.measures.items():
        rows.append({
            "measure_code": code, "canonical_unit": m.unit,
            "hard_min": -inf if m.hard_min is None else m.hard_min,
            "hard_max": inf if m.hard_max is None else m.hard_max,
            "soft_min": -inf if m.soft_min is None else m.soft_min,
            "soft_max": inf if m.soft_max is None else m.soft_max,
            "is_integer": m.integer, "yoy_factor": np.nan if m.soft_max_yoy_factor is None else m.soft_max_yoy_factor,
            "not_above": m.not_above, "is_required": code in required,
        })
    return pd.DataFrame(rows).set_index("measure_code")


def _append_row(columns: list[list], *values) -> None:
    """Append one row's ``values`` to the per-column lists, in column order."""
    for column, v in zip(columns, values):
        column.append(v)


def build_long_frame(files: list[SubmissionFile], catalogue: Catalogue,
                     previous: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per data row of every file without file-level reading problems (plus one synthetic row
    per absent required measure), with the catalogue's rules joined on as columns."""
    df = _rows_frame(files, catalogue)
    mt = _measure_table(catalogue)
    known = df["measure_code"].isin(mt.index)
    rules = mt.reindex(df["measure_code"].where(known))  # each row's measure rules (NaN for an unknown measure)
    rules.index = df.index
    _join_values(df, files, catalogue, rules, known)
    _join_not_above(df, rules, known)
    _join_previous(df, previous, rules, known)
    # required measures: missing only when the value is truly empty or the row is absent
    req = rules["is_required"].fillna(False).astype(bool) & known
    df["required_filled"] = np.where(req & df["value_text"].isna() & df["formula_col"].isna(), np.nan, 1.0)
    return df


def _rows_frame(files: list[SubmissionFile], catalogue: Catalogue) -> pd.DataFrame:
    """The rows as read, one per data row and one per absent required measure, values parsed; no rules yet."""
    cols = ["file_idx", "row", "origin", "measure_code", "unit", "value_raw", "unit_raw", "value_text", "normalised",
            "reported", "formula_col", "overflow", "unit_checked"]
    # one list per column, not one dict per row: at 23,000 files a dict per row peaks at ~0.9 GB
    data: dict[str, list] = {c: [] for c in cols}
    columns = [data[c] for c in cols]

    measures = catalogue.measures
    required = catalogue.required_measures
    for f in files:
        if f.read.problems or not f.read.has_values:
            continue  # nothing to check row by row (a blank template is one file error, not 30 warnings)
        listed: set[str] = set()
        for rec in f.read.rows:
            formula_col = next((c for c in REQUIRED_COLUMNS if isinstance(rec.get(c), Formula)), None)
            m_raw = rec.get("measure_code")
            measure = None if isinstance(m_raw, Formula) else cell_text(m_raw)
            unit_raw = rec.get("unit")
            unit = None if isinstance(unit_raw, Formula) else cell_text(unit_raw)
            v = rec.get("value")
            known = measure in measures
            if isinstance(v, Formula):
                reported, normalised = np.nan, None
                value_text = None
            else:
                p = parse_value(v, percent_ok=known and measures[measure].unit == "%")
                value_text = p.text
                reported = np.nan if p.value is None else p.value
                normalised = "、".join(NORMALISATIONS_ZH[n] for n in p.normalised) or None
            if measure:
                listed.add(measure)
            extra = rec.get(EXTRA_KEY)
            _append_row(columns, f.idx, rec[ROW_KEY], "row", measure, unit,
                   cell_text(v) if not isinstance(v, Formula) else str(v),  # value_raw
                   cell_text(unit_raw) if not isinstance(unit_raw, Formula) else str(unit_raw),  # unit_raw
                   value_text, normalised, reported, formula_col,
                   None if not extra else ", ".join(extra),  # overflow
                   # unit_checked: every row of a known measure names an accepted unit (02-inputs.md: "An unknown
                   # unit is an error"), even when its value is left empty
                   unit if (known and formula_col is None) else None)
        for code in required:
            if code not in listed:
                _append_row(columns, f.idx, None, "absent", code, None, None, None, None, None, np.nan, None, None,
                            None)
    df = pd.DataFrame(data, columns=cols)
    del data, columns  # the frame holds copies: free the lists before the joins
    df["file_idx"] = df["file_idx"].astype("int64")
    df["row"] = df["row"].astype("Int64")
    df["reported"] = df["reported"].astype("float64")
    for c in ("origin", "measure_code", "unit", "value_raw", "unit_raw", "value_text", "normalised", "formula_col",
              "overflow", "unit_checked"):
        df[c] = df[c].astype("str")  # pandas 3 string dtype; None stays missing
    zone_of = {f.idx: f.zone_code for f in files}
    df["zone_code"] = df["file_idx"].map(zone_of).astype("str")
    return df


def _join_values(df: pd.DataFrame, files: list[SubmissionFile], catalogue: Catalogue, rules: pd.DataFrame,
                 known: pd.Series) -> None:
    """The canonical value (unit factor or exchange rate), the bounds, the whole-number gap and the key of the
    duplicate check, as columns of ``df``."""
    measures = catalogue.measures
    factors = {(code, u): fac for code, m in measures.items() for u, fac in m.accepted_units.items()}
    df["factor"] = [factors.get((m, u), np.nan)
                    for m, u in zip(df["measure_code"].tolist(), df["unit_checked"].tolist())]
    df["value"] = df["reported"] * df["factor"]
    df["unit_key"] = (df["measure_code"] + UNIT_KEY_SEP + df["unit_checked"]).astype("str")
    _convert_currencies(df, files, catalogue)
    for c in ("hard_min", "hard_max", "soft_min", "soft_max"):
        df[c] = rules[c].astype("float64").where(known)
    df["canonical_unit"] = rules["canonical_unit"].astype("str")
    is_int = rules["is_integer"].fillna(False).astype(bool) & known
    gap = np.full(len(df), np.nan)
    check = (is_int & df["value"].notna()).to_numpy()
    gap[check] = [whole_gap(x) for x in df["value"].to_numpy()[check].tolist()]  # only the integer measures' rows
    df["whole_gap"] = gap
    df["dup_measure"] = df["measure_code"].where(df["origin"].eq("row") & df["measure_code"].fillna("").ne(""))


def _join_not_above(df: pd.DataFrame, rules: pd.DataFrame, known: pd.Series) -> None:
    """``not_above_code`` / ``not_above_value``: the measure a row's value should not exceed, and its value in the
    same file."""
    # left joins, not Python dicts of 800,000 tuple keys: faster and ~0.3 GB less at 23,000 files
    vals = (df.loc[df["origin"].eq("row") & df["value"].notna(), ["file_idx", "measure_code", "value"]]
            .drop_duplicates(["file_idx", "measure_code"]).rename(columns={"measure_code": "not_above_code",
                                                                           "value": "not_above_value"}))
    targets = rules["not_above"].where(known)
    df["not_above_code"] = targets.astype("str")
    found = df[["file_idx", "not_above_code"]].merge(vals, how="left", on=["file_idx", "not_above_code"],
                                                     validate="many_to_one")["not_above_value"].to_numpy("float64")
    df["not_above_value"] = np.where(df["not_above_code"].notna().to_numpy(), found, np.nan)


def _join_previous(df: pd.DataFrame, previous: pd.DataFrame | None, rules: pd.DataFrame, known: pd.Series) -> None:
    """Year on year against the zone's previous accepted value: ``yoy_ratio`` = value / previous and its band
    [1/f, f] (a negative ratio is below 1/f); skipped when the previous value is 0 (no ratio) or absent."""
    df["previous"] = np.nan
    if previous is not None and len(previous):
        prev = (previous[["zone_code", "measure_code", "value"]].dropna()
                .drop_duplicates(["zone_code", "measure_code"], keep="last")
                .astype({"zone_code": "str", "measure_code": "str", "value": "float64"})
                .rename(columns={"value": "previous"}))
        found = df[["zone_code", "measure_code"]].merge(prev, how="left", on=["zone_code", "measure_code"],
                                                        validate="many_to_one")["previous"].to_numpy("float64")
        keyed = (df["zone_code"].notna() & df["measure_code"].notna()).to_numpy()
        df["previous"] = np.where(keyed, found, np.nan)
    factor = rules["yoy_factor"].astype("float64").where(known)
    applies = factor.notna() & df["previous"].notna() & (df["previous"] != 0) & df["value"].notna()
    df["yoy_ratio"] = (df["value"] / df["previous"]).where(applies)
    df["yoy_low"] = (1.0 / factor).where(applies)
    df["yoy_high"] = factor.where(applies)


def _convert_currencies(df: pd.DataFrame, files: list[SubmissionFile], catalogue: Catalogue) -> None:
    """Rows in a currency unit (02-inputs.md §2.3): converted at the rate of the file's data year (``rate``,
    ``value``); without a rate for that year, ``no_rate`` holds the currency (``row.no_exchange_rate``).
    Rows in a plain unit keep ``value = reported × factor`` and a null ``rate``."""
    df["rate"] = np.nan
    df["no_rate"] = pd.Series(None, index=df.index, dtype="str")
    keys = [f"{code}{UNIT_KEY_SEP}{u}" for code, m in catalogue.measures.items() for u in m.currency_units]
    hit = df["unit_key"].isin(keys).to_numpy() if keys else np.zeros(len(df), dtype=bool)
    if not hit.any():
        return
    year_of = {f.idx: f.expected_year for f in files}
    rows = df.loc[hit, ["file_idx", "measure_code", "unit_checked", "reported"]]
    factor, rate, value, missing = [], [], [], []
    for fi, code, unit, x in zip(rows["file_idx"].tolist(), rows["measure_code"].tolist(),
                                 rows["unit_checked"].tolist(), rows["reported"].tolist()):
        conv = catalogue.conversion(code, unit, year_of[fi])
        if conv is None:
            factor.append(np.nan), rate.append(np.nan), value.append(np.nan)
            missing.append(catalogue.measures[code].currency_units[unit].currency)
        else:
            factor.append(conv.factor), rate.append(conv.rate), value.append(conv.apply(x))
            missing.append(None)
    df.loc[hit, "factor"] = factor
    df.loc[hit, "rate"] = rate
    df.loc[hit, "value"] = value
    df.loc[hit, "no_rate"] = missing


def conversion_note(catalogue: Catalogue, measure: str, unit: str, data_year: int, reported: float) -> str:
    """How a reported value in a currency unit became canonical, for messages: ``24.7 亿美元 × 6.4515 =
    159.35 亿元，按 2021 年 USD 年平均汇率，来源：…``; empty for a plain unit or a year without a rate."""
    m = catalogue.measures.get(measure)
    conv = catalogue.conversion(measure, unit, data_year) if m else None
    if conv is None or conv.rate is None or catalogue.exchange_rates is None or math.isnan(reported):
        return ""
    currency = m.currency_units[unit].currency  # type: ignore[union-attr]
    return (f"{conv.explain(reported, unit, m.unit)}，按 {data_year} 年 {currency} 年平均汇率，"  # type: ignore[union-attr]
            f"来源：{catalogue.exchange_rates.source}")


# --------------------------------------------------------------------------- the suite
