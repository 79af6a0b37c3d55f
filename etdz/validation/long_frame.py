"""The long frame: every data row of every structurally readable file of the year in ONE frame (``file_idx``,
``row`` = the Excel row number, the header being row 1), plus one synthetic row per required measure a file
does not list. The catalogue is joined onto it *as columns*: each row carries its measure's ``hard_min``,
``hard_max``, ``soft_min``, ``soft_max`` (±inf when unbounded), the whole-number gap for ``integer`` measures,
the value of its ``not_above`` measure in the same file, the other side of each consistency rule it is the left
side of (:class:`ConsistencySlot`), and the ratio to the zone's previous accepted value with the
``soft_max_yoy_factor`` band. Currency units are converted here (docs/contract/02-inputs.md §2.3)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etdz.catalogue import Catalogue, ConsistencyRule, convert
from etdz.cells import cell_text
from etdz.numbers import INVALID_MARK, NORMALISATIONS_ZH, parse_value, whole_gap
from etdz.reading import EXTRA_KEY, REQUIRED_COLUMNS, ROW_KEY, CsvBatch, Formula
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


#: Y−1's accepted measures for the year-on-year band (MEASURES columns ``zone_code``, ``measure_code``, ``value``),
#: or None when there are none
Previous = pd.DataFrame | None


def build_long_frame(files: list[SubmissionFile], catalogue: Catalogue,
                     previous: Previous = None) -> pd.DataFrame:
    """One row per data row of every file without file-level reading problems (plus one synthetic row
    per absent required measure), with the catalogue's rules joined on as columns (``previous``: :data:`Previous`)."""
    df = _rows_frame(files, catalogue)
    mt = _measure_table(catalogue)
    known = df["measure_code"].isin(mt.index)
    rules = mt.reindex(df["measure_code"].where(known))  # each row's measure rules (NaN for an unknown measure)
    rules.index = df.index
    _join_values(df, files, catalogue, rules, known)
    _join_not_above(df, rules, known)
    _join_consistency(df, catalogue)
    _join_previous(df, previous, rules, known)
    # required measures: missing only when the value is truly empty or the row is absent
    req = rules["is_required"].fillna(False).astype(bool) & known
    df["required_filled"] = np.where(req & df["value_text"].isna() & df["formula_col"].isna(), np.nan, 1.0)
    return df


_COLUMNS = ["file_idx", "row", "origin", "measure_code", "unit", "value_raw", "unit_raw", "value_text", "normalised",
            "reported", "formula_col", "overflow", "unit_checked"]
_STRINGS = ("origin", "measure_code", "unit", "value_raw", "unit_raw", "value_text", "normalised", "formula_col",
            "overflow", "unit_checked")
#: a value that parse_value leaves as it is (no space, sign, separator, exponent or %): its text and float()
_PLAIN_NUMBER = r"^[+-]?[0-9]+(\.[0-9]+)?$"


def _rows_frame(files: list[SubmissionFile], catalogue: Catalogue) -> pd.DataFrame:
    """The rows as read, one per data row and one per absent required measure, values parsed; no rules yet.

    Files read one by one are framed row by row (:func:`_file_rows`), files read in a batch column by column
    (:func:`_batch_rows`); the parts are put in the order of ``files``, each file's rows (in row order) before its
    absent measures (in catalogue order), whichever way the file was read."""
    parts = [_file_rows(files, catalogue)]
    batches = {id(f.read.batch): f.read.batch for f in files if f.read.batch is not None}
    for batch in batches.values():
        parts += _batch_rows(batch, files, catalogue)  # type: ignore[arg-type]
    order = np.argsort(np.concatenate([p["_key"] for p in parts]), kind="stable")
    data: dict[str, object] = {
        "file_idx": np.concatenate([p["file_idx"] for p in parts]).astype("int64")[order],
        # float with NaN for an absent measure's row: exact for row numbers, and becomes <NA> in Int64
        "row": pd.array(np.concatenate([p["row"] for p in parts]).astype("float64")[order], dtype="Int64"),
        "reported": np.concatenate([p["reported"] for p in parts]).astype("float64")[order],
    }
    take = pa.array(order)
    for c in _STRINGS:
        # pandas 3 string dtype; None stays missing
        data[c] = pd.Series(pa.concat_arrays([p[c] for p in parts]).take(take), dtype="str")
    df = pd.DataFrame({c: data[c] for c in _COLUMNS})
    del data, parts  # the frame holds copies: free the parts before the joins
    zone_of = {f.idx: f.zone_code for f in files}
    df["zone_code"] = df["file_idx"].map(zone_of).astype("str")
    return df


def _parsed(v: object, percent_ok: bool) -> tuple[str | None, float, str | None]:
    """``value_text``, ``reported`` and ``normalised`` of one value cell (not a formula)."""
    p = parse_value(v, percent_ok=percent_ok)
    return p.text, np.nan if p.value is None else p.value, "、".join(NORMALISATIONS_ZH[n] for n in p.normalised) or None


def _file_rows(files: list[SubmissionFile], catalogue: Catalogue) -> dict:
    """The part of the files read one by one (row dicts), as arrays by column plus ``_key`` (2 × the file's
    position in ``files``: its rows and absent measures are already in order)."""
    # one list per column, not one dict per row: a dict per row costs several times the memory
    data: dict[str, list] = {c: [] for c in _COLUMNS}
    columns = [data[c] for c in _COLUMNS]
    key: list[int] = []
    measures = catalogue.measures
    required = catalogue.required_measures
    for pos, f in enumerate(files):
        if f.read.problems or not f.read.has_values or f.read.batch is not None:
            continue  # nothing to check row by row (a blank template is one file error, not 30 warnings)
        before = len(columns[0])
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
                value_text, reported, normalised = None, np.nan, None
            else:
                value_text, reported, normalised = _parsed(v, known and measures[measure].unit == "%")
            if measure:
                listed.add(measure)
            extra = rec.get(EXTRA_KEY)
            _append_row(columns, f.idx, rec[ROW_KEY], "row", measure, unit,
                   cell_text(v) if not isinstance(v, Formula) else str(v),  # value_raw
                   cell_text(unit_raw) if not isinstance(unit_raw, Formula) else str(unit_raw),  # unit_raw
                   value_text, normalised, reported, formula_col,
                   None if not extra else ", ".join(extra),  # overflow
                   # unit_checked: every row of a known measure names an accepted unit (docs/contract/02-inputs.md:
                   # "An unknown unit is an error"), even when its value is left empty
                   unit if (known and formula_col is None) else None)
        for code in required:
            if code not in listed:
                _append_row(columns, f.idx, None, "absent", code, None, None, None, None, None, np.nan, None, None,
                            None)
        key.extend([2 * pos] * (len(columns[0]) - before))
    part: dict = {c: pa.array(data[c], pa.string()) for c in _STRINGS}
    part["_key"] = np.array(key, dtype="int64")
    part["file_idx"] = np.array(data["file_idx"], dtype="int64")
    part["row"] = np.array([np.nan if r is None else r for r in data["row"]], dtype="float64")
    part["reported"] = np.array(data["reported"], dtype="float64")
    return part


def _cells(column: pa.ChunkedArray) -> tuple[np.ndarray, list[str]]:
    """A batch column's cells as :func:`cell_text` reads them: (per row, the index of its text; the texts).
    Each distinct cell is trimmed once."""
    enc = column.combine_chunks().dictionary_encode()
    return enc.indices.to_numpy(zero_copy_only=False), [cell_text(v) for v in enc.dictionary.to_pylist()]


def _batch_rows(batch: CsvBatch, files: list[SubmissionFile], catalogue: Catalogue) -> list[dict]:
    """The parts (data rows; absent required measures) of the files of ``files`` read in ``batch``, computed by
    column with the same result as :func:`_file_rows` row by row: measure and unit trimmed by :func:`cell_text`
    once per distinct cell; a plain number (:data:`_PLAIN_NUMBER`) is its own text and ``float()``; an empty value
    is not reported; any other value goes through :func:`parse_value` as in :func:`_file_rows`."""
    measures = catalogue.measures
    pos_of = np.full(len(batch.readable), -1, dtype="int64")
    idx_of = np.zeros(len(batch.readable), dtype="int64")
    for pos, f in enumerate(files):
        if f.read.batch is batch:
            pos_of[f.read.batch_pos], idx_of[f.read.batch_pos] = pos, f.idx
    sel = pos_of[batch.owner] >= 0
    table, owner = batch.table.filter(pa.array(sel)), batch.owner[sel]
    n = len(owner)
    null = pa.nulls(n, pa.string())

    m_idx, m_names = _cells(table["measure_code"])
    measure = pa.array(m_names, pa.string()).take(pa.array(m_idx))
    known = np.array([m in measures for m in m_names], dtype=bool)[m_idx]
    percent = np.array([m in measures and measures[m].unit == "%" for m in m_names], dtype=bool)[m_idx]
    u_idx, u_names = _cells(table["unit"])
    unit = pa.array(u_names, pa.string()).take(pa.array(u_idx))

    value = table["value"].combine_chunks()
    plain = pc.match_substring_regex(value, _PLAIN_NUMBER).to_numpy(zero_copy_only=False)
    reported = np.full(n, np.nan)
    # Arrow's parse of a decimal string is correctly rounded, as float()'s (bit for bit: tests/test_read_batch.py)
    reported[plain] = pc.cast(value.filter(pa.array(plain)), pa.float64()).to_numpy(zero_copy_only=False)
    plain &= np.isfinite(reported)  # too large for a double: parse_value's to reject
    other = ~plain & (pc.binary_length(value).to_numpy(zero_copy_only=False) > 0)  # empty: not reported
    value_text, value_raw, normalised = pc.if_else(pa.array(plain), value, null), value, null
    if other.any():
        cells = value.filter(pa.array(other)).to_pylist()
        parsed = [_parsed(v, pct) for v, pct in zip(cells, percent[other].tolist())]
        mask = pa.array(other)
        value_text = pc.replace_with_mask(value_text, mask, pa.array([p[0] for p in parsed], pa.string()))
        reported[other] = [p[1] for p in parsed]
        normalised = pc.replace_with_mask(normalised, mask, pa.array([p[2] for p in parsed], pa.string()))
        value_raw = pc.replace_with_mask(value_raw, mask, pa.array([cell_text(v) for v in cells], pa.string()))
    rows = {"_key": 2 * pos_of[owner], "file_idx": idx_of[owner], "row": batch.row[sel].astype("float64"),
            "origin": pa.repeat(pa.scalar("row", pa.string()), n), "measure_code": measure, "unit": unit,
            "value_raw": value_raw, "unit_raw": unit, "value_text": value_text, "normalised": normalised,
            "reported": reported, "formula_col": null, "overflow": null,
            "unit_checked": pc.if_else(pa.array(known), unit, null)}

    # absent: the required measures a file does not list, per file in catalogue order
    required = list(catalogue.required_measures)
    where = {code: j for j, code in enumerate(required)}
    req = np.array([where.get(m, -1) for m in m_names], dtype="int64")[m_idx]
    listed = np.zeros((len(pos_of), len(required)), dtype=bool)
    listed[owner[req >= 0], req[req >= 0]] = True
    listed[pos_of < 0] = True  # not a file of this frame
    fi, j = np.nonzero(~listed)  # by file, then catalogue order
    m = len(fi)
    none = pa.nulls(m, pa.string())
    absent = {"_key": 2 * pos_of[fi] + 1, "file_idx": idx_of[fi], "row": np.full(m, np.nan),
              "origin": pa.repeat(pa.scalar("absent", pa.string()), m),
              "measure_code": pa.array([required[k] for k in j.tolist()], pa.string()), "unit": none,
              "value_raw": none, "unit_raw": none, "value_text": none, "normalised": none,
              "reported": np.full(m, np.nan), "formula_col": none, "overflow": none, "unit_checked": none}
    return [rows, absent]


def _join_values(df: pd.DataFrame, files: list[SubmissionFile], catalogue: Catalogue, rules: pd.DataFrame,
                 known: pd.Series) -> None:
    """The canonical value (unit factor or exchange rate), the bounds, the whole-number gap and the key of the
    duplicate check, as columns of ``df``."""
    measures = catalogue.measures
    # the key is unambiguous: unit_checked is set only for a catalogue measure, and no code or unit holds the separator
    key = (df["measure_code"] + UNIT_KEY_SEP + df["unit_checked"]).astype("str")
    factors = {f"{code}{UNIT_KEY_SEP}{u}": fac for code, m in measures.items() for u, fac in m.accepted_units.items()}
    df["factor"] = key.map(factors).astype("float64")
    df["value"] = convert(df["reported"], df["factor"])  # plain units; currency units below
    df["unit_key"] = key
    _convert_currencies(df, files, catalogue)
    # a finite report that its unit's factor or exchange rate takes beyond a double (1e305 万人): no number to
    # check or score, so the row is an invalid value (row.invalid_value), never an infinite measure
    beyond = np.isfinite(df["reported"].to_numpy("float64")) & np.isinf(df["value"].to_numpy("float64"))
    if beyond.any():
        df.loc[beyond, "value"] = np.nan
        df.loc[beyond, "value_text"] = INVALID_MARK + df.loc[beyond, "value_raw"]
    for c in ("hard_min", "hard_max", "soft_min", "soft_max"):
        df[c] = rules[c].astype("float64").where(known)
    df["canonical_unit"] = rules["canonical_unit"].astype("str")
    is_int = rules["is_integer"].fillna(False).astype(bool) & known
    gap = np.full(len(df), np.nan)
    check = (is_int & df["value"].notna()).to_numpy()
    gap[check] = whole_gap(df["value"].to_numpy()[check])  # only the integer measures' rows
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


@dataclass
class ConsistencySlot:
    """Consistency rules that share columns of the long frame: the same direction (``upper``: ``<=`` / ``<``) and
    strictness, at most one rule per left measure — so each row carries at most one rule of the slot, that of its
    measure. The shipped catalogues' five zone ≤ city rules fill one slot: three columns, whatever their number.

    Columns, set on the rows of each rule's left measure only (NaN elsewhere, and where the right measure is not
    reported in the same file): :attr:`right_col` (the right figure, canonical), :attr:`limit_col` (what the left
    figure may reach within the tolerance, :meth:`ConsistencyRule.limit`), :attr:`right_row_col` (its row)."""

    index: int
    upper: bool
    strict: bool
    rules: dict[str, int] = field(default_factory=dict)  # left measure → index of its rule in catalogue.consistency

    @property
    def right_col(self) -> str:
        return f"consistency_{self.index}_right"

    @property
    def limit_col(self) -> str:
        return f"consistency_{self.index}_limit"

    @property
    def right_row_col(self) -> str:
        return f"consistency_{self.index}_right_row"


def consistency_slots(catalogue: Catalogue) -> list[ConsistencySlot]:
    """The catalogue's consistency rules placed in slots (:class:`ConsistencySlot`), in catalogue order."""
    slots: list[ConsistencySlot] = []
    for k, rule in enumerate(catalogue.consistency):
        slot = next((s for s in slots if (s.upper, s.strict) == (rule.upper, rule.strict)
                     and rule.left not in s.rules), None)
        if slot is None:
            slot = ConsistencySlot(index=len(slots), upper=rule.upper, strict=rule.strict)
            slots.append(slot)
        slot.rules[rule.left] = k
    return slots


def _join_consistency(df: pd.DataFrame, catalogue: Catalogue) -> None:
    """Per :class:`ConsistencySlot`, the right figure of the rule of each row's measure (the value of the right
    measure in the same file, canonical), its row and the limit within the tolerance, as columns. A rule with
    either side not reported is not checked: its columns stay NaN there (GX ignores the row).

    By integer keys (file × measure), not a merge on text columns: a third of the time at 78,000 rows."""
    slots = consistency_slots(catalogue)
    if not slots:
        return
    codes, names = pd.factorize(df["measure_code"])  # -1: no measure code
    width = len(names) + 1
    file_idx = df["file_idx"].to_numpy("int64")
    value = df["value"].to_numpy("float64")
    given = df["origin"].eq("row").to_numpy() & ~np.isnan(value) & (codes >= 0)
    # the first reported row of each (file, measure): a measure listed twice is an error of its own
    keys = pd.Index(file_idx[given] * width + codes[given])
    first = ~keys.duplicated()
    lookup = keys[first]
    found_value = value[given][first]
    found_row = df["row"].to_numpy("float64", na_value=np.nan)[given][first]
    position = {name: i for i, name in enumerate(names)}
    for slot in slots:
        rules: dict[str, ConsistencyRule] = {left: catalogue.consistency[k] for left, k in slot.rules.items()}
        right_of = np.full(width, -1, dtype="int64")  # measure id → id of its rule's right measure (-1: none)
        for left, rule in rules.items():
            if left in position:
                right_of[position[left]] = position.get(rule.right, -1)
        target = right_of[codes]  # codes == -1 reads the last slot: -1
        applies = target >= 0
        at = np.full(len(df), -1, dtype="int64")
        at[applies] = lookup.get_indexer(file_idx[applies] * width + target[applies])
        hit = at >= 0
        right = np.full(len(df), np.nan)
        right[hit] = found_value[at[hit]]
        right_row = np.full(len(df), np.nan)
        right_row[hit] = found_row[at[hit]]
        limit = np.full(len(df), np.nan)
        for left, rule in rules.items():
            if left in position:
                mine = hit & (codes == position[left])
                limit[mine] = rule.limit(right[mine])
        df[slot.right_col] = right
        df[slot.limit_col] = limit
        df[slot.right_row_col] = right_row


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
    """Rows in a currency unit (docs/contract/02-inputs.md §2.3): converted at the rate of the file's data year
    (``rate``, ``value``); without a rate for that year, ``no_rate`` holds the currency (``row.no_exchange_rate``).
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
