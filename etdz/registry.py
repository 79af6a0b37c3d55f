"""The zone registry (docs/contract/02-inputs.md §2.2): who is due in a year, who is a candidate."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

SHIPPED_REGISTRY = Path(__file__).parent / "data" / "registry.csv"
COLUMNS = ["zone_code", "name_zh", "province", "region", "tier", "first_data_year", "exit_data_year"]
REGIONS = ("east", "central", "west")
TIERS = ("national", "provincial")
_CODE = re.compile(r"[A-Za-z0-9_-]{1,40}")


class RegistryError(ValueError):
    """The registry file breaks the format of docs/contract/02-inputs.md §2.2."""


# Checked registries by (path, SHA-256 of the bytes): a multi-year run loads the registry from the CLI and four
# steps of every year (~7 ms each, its row-by-row checks); the file is still read each time, so an edited file is
# checked again. Callers get their own copy: a frame can be changed in place.
_CHECKED: dict[tuple[str, str], pd.DataFrame] = {}


def load_registry(path: str | Path | None = None) -> pd.DataFrame:
    """Read and check a registry CSV (UTF-8); the shipped one when ``path`` is None.

    Returns one row per zone with ``first_data_year`` / ``exit_data_year`` as nullable
    Int64. Raises RegistryError naming the file, the row and the column. The file is read every call; a
    content already checked in this process is not checked again (a copy of that frame is returned).
    """
    path = Path(path) if path else SHIPPED_REGISTRY
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    key = (str(path), hashlib.sha256(data).hexdigest())
    hit = _CHECKED.get(key)
    if hit is None:
        if len(_CHECKED) >= 16:  # bounded: a long-lived process whose registry is edited keeps no history
            _CHECKED.clear()
        hit = _CHECKED[key] = _check(path, data)
    return hit.copy()


def _unreadable(path: Path, exc: Exception) -> RegistryError:
    return RegistryError(f"zone registry {path}: cannot be read as a UTF-8 CSV ({exc}); "
                         f"set ETDZ_REGISTRY to a valid file")


def _check(path: Path, data: bytes) -> pd.DataFrame:
    """The registry ``data`` (the bytes of ``path``) parsed and checked: :func:`load_registry`'s work."""
    try:
        df = pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise _unreadable(path, exc) from exc
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise RegistryError(f"zone registry {path}: missing column(s) {missing}; expected {COLUMNS}")
    df = df[COLUMNS].apply(lambda s: s.str.strip())
    problems: list[str] = []
    for i, row in enumerate(df.itertuples(index=False), start=2):  # row 1 is the header
        where = f"row {i}"
        if not _CODE.fullmatch(row.zone_code):
            problems.append(f"{where}, column zone_code: {row.zone_code!r} is not [A-Za-z0-9_-]{{1,40}}")
        if row.region not in REGIONS:
            problems.append(f"{where}, column region: {row.region!r} is not one of {list(REGIONS)}")
        if row.tier not in TIERS:
            problems.append(f"{where}, column tier: {row.tier!r} is not one of {list(TIERS)}")
        for col in ("first_data_year", "exit_data_year"):
            v = getattr(row, col)
            if v and not re.fullmatch(r"\d{4}(\.0)?", v):
                problems.append(f"{where}, column {col}: {v!r} is not a year")
        if row.tier == "national" and not row.first_data_year:
            problems.append(f"{where}, column first_data_year: a national zone needs its first data year")
    dup = df.loc[df.zone_code.duplicated(), "zone_code"].tolist()
    if dup:
        problems.append(f"column zone_code: duplicate code(s) {dup[:10]}")
    if problems:
        shown = "; ".join(problems[:20]) + (f"; … {len(problems) - 20} more" if len(problems) > 20 else "")
        raise RegistryError(f"zone registry {path}: {shown}")
    for col in ("first_data_year", "exit_data_year"):
        df[col] = pd.to_numeric(df[col].replace("", None)).astype("Int64")
    return df.reset_index(drop=True)


def is_due(tier: str, first_data_year: object, exit_data_year: object, data_year: int) -> bool:
    """The due rule of §2.2, its one home: a ``national`` zone with ``first_data_year <= Y`` and
    (``exit_data_year`` empty or ``exit_data_year >= Y``). Missing years are None / NA / NaN."""
    if tier != "national" or pd.isna(first_data_year) or int(first_data_year) > data_year:
        return False
    return pd.isna(exit_data_year) or int(exit_data_year) >= data_year


def may_submit(zone: Mapping, data_year: int) -> bool:
    """Whether a registry row (a mapping with ``tier``, ``first_data_year``, ``exit_data_year``) may submit for
    ``data_year``: a due zone, or a provincial zone (an upgrade candidate in any year it submits, §2.2)."""
    return zone["tier"] == "provincial" or is_due(zone["tier"], zone["first_data_year"], zone["exit_data_year"],
                                                 data_year)


def due_zones(registry: pd.DataFrame, data_year: int) -> pd.DataFrame:
    """National zones assessed in ``data_year`` (the cohort): the rows :func:`is_due` keeps."""
    r = registry
    mask = [is_due(t, f, e, data_year) for t, f, e in zip(r.tier, r.first_data_year, r.exit_data_year)]
    return r[np.array(mask, dtype=bool)].reset_index(drop=True)


def provincial_zones(registry: pd.DataFrame) -> pd.DataFrame:
    """Provincial zones: scored as upgrade candidates when they submit."""
    return registry[registry.tier == "provincial"].reset_index(drop=True)


def build_from_reference(reference_csv: str | Path) -> pd.DataFrame:
    """Build the shipped registry from ../shared/reference/etdz_registry.csv with the mapping of §2.2."""
    ref = pd.read_csv(reference_csv, dtype=str, keep_default_na=False)
    exits = {"酒泉经济技术开发区": 2018, "石嘴山经济技术开发区": 2019}
    out = pd.DataFrame({
        "zone_code": ref["code"], "name_zh": ref["name_zh"], "province": ref["province_zh"], "region": ref["region"],
        "tier": "national",
        "first_data_year": ref["approval_year"].astype(int) + 1,
        "exit_data_year": ref["name_zh"].map(exits).astype("Int64"),
    })
    out.loc[ref["status"] == "added_2024", "first_data_year"] = 2025
    return out
