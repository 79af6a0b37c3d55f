"""Realistic, deterministic demo submissions for ``etdz demo`` (and the generator the synthetic years share).

:func:`write_demo` writes ``<home>/registry.csv`` (the shipped registry plus a few fictional
provincial upgrade candidates) and ``<home>/inbox/<Y>/…`` with one submission file per zone due
in Y (docs/contract/02-inputs.md §2.1/§2.2), in the formats zones really send: UTF-8 CSV (with and without BOM),
GBK CSV, XLSX, file names in mixed styles, money sometimes in 万元, trade in 亿美元 and foreign investment
in 万元 (converted at the year's rate), a few measures left empty, a few files after the deadline — and
per year two to four deliberately faulty files so that a user sees what rejection looks like; in the
year before the last every rejected zone corrects its file, so that year's results are final.
:func:`demo.synthetic.write_synthetic_year` writes a large synthetic registry and
inbox (up to tens of thousands of zones) from the same generator, for benchmarks.

Everything is a function of the seed: the same seed gives byte-identical files and the same
modification times (set with ``os.utime``), so which file supersedes which is reproducible.

The numbers are made up but shaped like the real ones and anchored on public figures (MOFCOM's national
totals, 苏州工业园区's own figures, provincial GDP: :func:`_anchor`, docs/demo.md): GDP from tens to
thousands of 亿元, a zone's host-city figures larger than its own, foreign investment in 万美元, counts whole, energy,
water and CO2 in proportion to industrial value added, growth per zone = trend + noise (mostly
−10 %…+25 % a year, with a dip in 2020), east stronger than west on average, and the zones the
ministry ranked at the top (``demo/data/demo_strength.csv``, from the published rankings) on top
— 苏州工业园区 first in every year, as in every published assessment.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd

from etdz.catalogue import Catalogue, Measure, catalogue_for_year, load_catalogues
from etdz.deadlines import default_deadline
from etdz.registry import COLUMNS as REGISTRY_COLUMNS
from etdz.registry import due_zones, load_registry
from etdz.template import xlsx_bytes

STRENGTH_CSV = Path(__file__).parent / "data" / "demo_strength.csv"
HOST_CITIES_CSV = Path(__file__).parent / "data" / "demo_host_cities.csv"
# A zone's figure and its host city's (the shipped catalogues' consistency rules zone <= city, 5 % tolerance)
CITY_PAIRS = (("gdp", "city_gdp"), ("trade_total", "city_trade_total"), ("tax_revenue", "city_tax_revenue"),
              ("fdi_actual", "city_fdi_actual"), ("hitech_mfg_revenue", "city_hitech_mfg_revenue"))
CITY_FLOOR = 1.2  # a host city's figure is at least 1.2 × the sum of its zones' (the city holds more than its parks)
MANIFEST_NAME = "demo_manifest.json"
CHINA_TZ = timezone(timedelta(hours=8))
SUZHOU_IP = "jiangsu-suzhou-industrial-park"
NEIJIANG = "sichuan-neijiang"

# Fictional provincial zones proposed for upgrading (tier provincial, no first data year).
CANDIDATES: tuple[dict[str, str], ...] = (
    {"zone_code": "prov-jiangsu-yunhu", "name_zh": "云湖省级经济开发区", "province": "江苏省", "region": "east"},
    {"zone_code": "prov-zhejiang-qingxi", "name_zh": "青溪省级经济开发区", "province": "浙江省", "region": "east"},
    {"zone_code": "prov-shandong-zeyuan", "name_zh": "泽源省级经济开发区", "province": "山东省", "region": "east"},
    {"zone_code": "prov-henan-songyang", "name_zh": "嵩阳省级经济开发区", "province": "河南省", "region": "central"},
    {"zone_code": "prov-hubei-chuyuan", "name_zh": "楚源省级经济开发区", "province": "湖北省", "region": "central"},
    {"zone_code": "prov-sichuan-minjiang", "name_zh": "岷江省级经济开发区", "province": "四川省", "region": "west"},
    {"zone_code": "prov-shaanxi-qinchuan", "name_zh": "秦川省级经济开发区", "province": "陕西省", "region": "west"},
)

# Number of decimals of each known measure in its canonical unit (counts: 0).
DECIMALS: dict[str, int] = {
    "fdi_actual": 0, "city_fdi_actual": 0, "built_land_area": 2, "population": 2,
    "energy_consumption": 2, "co2_emissions": 2, "water_consumption": 1, "cod_emissions": 1,
    "ammonia_emissions": 2, "solid_waste_generated": 2, "solid_waste_utilized": 2, "startup_days": 1,
    "large_manufacturers": 0, "listed_companies": 0, "rd_institutions": 0, "hitech_enterprises": 0,
    "incubators": 0, "invention_patents": 0, "new_urban_jobs": 0, "joint_parks": 0, "paired_parks": 0,
    "approval_powers": 0,
}
MONEY = ("trade_total", "city_trade_total", "hitech_trade", "gdp", "city_gdp", "tax_revenue", "city_tax_revenue",
         "industrial_revenue", "industrial_value_added", "hitech_mfg_revenue", "city_hitech_mfg_revenue",
         "rd_expenditure")
# Alternative units some zones use, by file-level habit: measure -> (unit, habit). Only used when the
# year's catalogue accepts that unit for the measure.
ALT_UNITS: dict[str, tuple[str, str]] = {
    **{m: ("万元", "money") for m in MONEY},
    "fdi_actual": ("亿美元", "fdi"), "city_fdi_actual": ("亿美元", "fdi"),
    "built_land_area": ("公顷", "land"), "population": ("人", "people"),
    "energy_consumption": ("吨标准煤", "tonnes"), "co2_emissions": ("吨", "tonnes"),
    "water_consumption": ("立方米", "tonnes"), "solid_waste_generated": ("吨", "tonnes"),
    "solid_waste_utilized": ("吨", "tonnes"), "cod_emissions": ("万吨", "bigtonnes"),
    "ammonia_emissions": ("万吨", "bigtonnes"), "new_urban_jobs": ("万人", "jobs"),
    "large_manufacturers": ("个", "counts"), "listed_companies": ("个", "counts"), "rd_institutions": ("家", "counts"),
    "hitech_enterprises": ("个", "counts"), "incubators": ("家", "counts"),
}
# Amounts in another currency (docs/contract/02-inputs.md §2.3), as statistics offices report them: trade in dollars
# (one zone's 2021 report: 24.7亿美元), foreign investment in yuan. Converted at the data year's rate.
CURRENCY_UNITS: dict[str, tuple[str, str]] = {
    "trade_total": ("亿美元", "usd_trade"), "city_trade_total": ("亿美元", "usd_trade"),
    "hitech_trade": ("万美元", "usd_trade"), "fdi_actual": ("万元", "cny_fdi"), "city_fdi_actual": ("万元", "cny_fdi"),
}
HABITS = {"usd_trade": 0.12, "cny_fdi": 0.06, "money": 0.15, "fdi": 0.10, "land": 0.10, "people": 0.08, "tonnes": 0.08,
          "bigtonnes": 0.05,
          "jobs": 0.05, "counts": 0.20}
NOTES = ("初步统计数", "统计局核定数", "含托管区域", "口径与上年一致", "快报数", "按新口径统计")
REGION_OFFSET = {"east": 0.30, "central": -0.10, "west": -0.40}

LATE_PER_YEAR = 2  # files received after the deadline, per year
# Kinds of fault that leave the zone without an accepted file unless it sends a correction.
UNCORRECTED = ("text_value", "semicolon", "unknown_unit", "negative_count", "title_row", "city_exceeded")
# Kinds of deliberately faulty files, in the order they are handed out over the years.
FAULTS = ("text_value", "semicolon", "corrected", "unknown_unit", "negative_count", "unknown_zone",
          "title_row", "stray_last_year", "city_exceeded")
FAULT_DESCRIPTIONS = {
    "text_value": "a value written as text (约300): invalid value, the file is rejected",
    "semicolon": "a CSV saved with ; as delimiter: the required columns are missing, rejected",
    "corrected": "a first file with a fractional count and N/A (rejected), then a corrected file with a later "
                 "modification time (accepted)",
    "unknown_unit": "GDP given in 千万元, a unit the catalogue does not accept: rejected",
    "negative_count": "a negative count (高新技术企业数 -12): outside the hard bounds, rejected",
    "unknown_zone": "a file whose zone_code (a typo) is not in the registry: rejected; the zone's real file is fine",
    "title_row": "an XLSX with a title row above the header: the required columns are missing, rejected",
    "stray_last_year": "last year's file dropped again into this year's folder: data_year mismatch, rejected; "
                       "the zone's real file is fine",
    "late": "received after the data year's deadline: flagged late in submission_log, accepted on its merits",
    "late_correction": "the corrected file of a zone whose first file was rejected, received after the deadline "
                       "(flagged late): the year's results become final",
    "city_exceeded": "GDP keyed in 万元 but labelled 亿元 (10,000 times the zone's, far above its host city's): the "
                     "consistency rule gdp <= city_gdp broken beyond its 5 % tolerance, rejected",
    "revised": "an accepted file with the zone's GDP on a wider caliber (含托管区域), 3 % above its host city's (a "
               "warning: within the 5 % tolerance of gdp <= city_gdp), then a revised file with a later modification "
               "time: the first is superseded",
}


@dataclass
class DemoLayout:
    """What :func:`write_demo` / :func:`write_synthetic_year` wrote."""

    inbox: Path
    registry: Path
    years: list[int]
    files_written: int
    faulty_files: list[Path]
    superseded_files: list[Path] = field(default_factory=list)
    scenarios: list[dict] = field(default_factory=list)  # one entry per faulty / superseded file


# --------------------------------------------------------------------------- helpers


def sanitise_name(text: str, fallback: str = "submission") -> str:
    """Keep CJK ideographs, ASCII letters and digits, space, - and _ only (safe in any file system)."""
    kept = re.sub(r"[^\u3400-\u4dbf\u4e00-\u9fffA-Za-z0-9 _-]", "", str(text))
    kept = re.sub(r"\s+", " ", kept).strip(" -_")
    return kept[:80].strip() or fallback


def _load_strength() -> dict[str, int]:
    ranks: dict[str, int] = {}
    with open(STRENGTH_CSV, encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        for row in rows:
            ranks[row["zone_code"]] = int(row["best_rank"])
    return ranks


def _fmt(x: float, digits: int) -> str:
    """A number as a zone would type it: fixed decimals, trailing zeros dropped."""
    if digits <= 0:
        return str(int(round(x)))
    s = f"{x:.{digits}f}"
    s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def _digits_for(decimals: int, factor: float) -> int:
    """Decimals needed to express a value with ``decimals`` canonical decimals in a unit of ``factor``."""
    return max(0, decimals + int(round(math.log10(factor))))


def _decimals(code: str, m: Measure) -> int:
    if m.integer:
        return 0
    return DECIMALS.get(code, 2)


def load_host_cities(path: str | Path = HOST_CITIES_CSV) -> dict[str, str]:
    """The demo's zone → host city table (``demo/data/demo_host_cities.csv``; demo only, never an input)."""
    with open(path, encoding="utf-8") as fh:
        rows = csv.DictReader(line for line in fh if not line.startswith("#"))
        return {row["zone_code"]: row["city_zh"] for row in rows}


def _host_cities(values: dict[str, np.ndarray], codes: list[str], lead: int | None) -> None:
    """Every zone of one host city reports the same city figures (in place): those its reference zone's simulation
    gave (苏州工业园区 for 苏州市, whose GDP is anchored; else the zone with the largest GDP), at least
    :data:`CITY_FLOOR` × the sum of the city's zones — so each zone, and all of them together, stay below their
    city, as the catalogues' consistency rules expect. A zone missing from the table is its own city."""
    table = load_host_cities()
    groups: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        groups.setdefault(table.get(code, f"zone:{code}"), []).append(i)
    for members in groups.values():
        if "gdp" in values:
            ref = lead if lead in members else max(members, key=lambda j: float(np.nanmean(values["gdp"][j])))
        else:
            ref = members[0]
        for zone, city in CITY_PAIRS:
            if zone in values and city in values:
                total = values[zone][members].sum(axis=0)
                values[city][members] = np.maximum(values[city][ref], CITY_FLOOR * total)


def _mtime(data_year: int, rng: np.random.Generator) -> int:
    """A submission time in the spring after the data year (minutes, China time)."""
    t0 = datetime(data_year + 1, 3, 1, 9, 0, tzinfo=CHINA_TZ).timestamp()
    return int(t0) + int(rng.integers(0, 75 * 24 * 60)) * 60


def _late_mtime(data_year: int, rng: np.random.Generator) -> int:
    """A submission time 1 to 60 days after the data year's default deadline (China time)."""
    d = default_deadline(data_year)
    t0 = datetime(d.year, d.month, d.day, 10, 0, tzinfo=CHINA_TZ).timestamp()
    return int(t0) + int(rng.integers(1, 61)) * 86400


def _set_mtime(path: Path, t: int) -> None:
    os.utime(path, (t, t))


def _previous_files(home: Path) -> list[str]:
    """The files a previous demo run listed in its manifest."""
    manifest = home / MANIFEST_NAME
    if not manifest.is_file():
        return []
    try:
        files = json.loads(manifest.read_text(encoding="utf-8")).get("files", [])
    except (OSError, ValueError):
        return []
    return [str(f) for f in files] if isinstance(files, list) else []


def _remove_stale(home: Path, previous: list[str], written: list[Path]) -> None:
    """Delete the files of a previous run that this run did not write again (never anything else)."""
    now = {os.path.normpath(os.path.abspath(p)) for p in written}
    inbox = os.path.normpath(os.path.abspath(home / "inbox")) + os.sep
    for rel in previous:
        p = os.path.normpath(os.path.abspath(home / rel))
        if p.startswith(inbox) and p not in now:  # only files inside the inbox, whatever the manifest says
            try:
                os.unlink(p)
            except (FileNotFoundError, IsADirectoryError, PermissionError):
                pass


# --------------------------------------------------------------------------- the generator


def _inv_norm(p: np.ndarray) -> np.ndarray:
    nd = NormalDist()
    return np.array([nd.inv_cdf(float(min(max(q, 1e-6), 1 - 1e-6))) for q in p])


def _strengths(codes: list[str], regions: np.ndarray, newcomer: np.ndarray, provincial: np.ndarray,
               rng: np.random.Generator) -> np.ndarray:
    """Latent strength z per zone (≈ standard normal): published ranks on top, then by region."""
    ranks = _load_strength()
    n = len(codes)
    latent = np.array([REGION_OFFSET.get(r, 0.0) for r in regions]) + rng.normal(0, 0.9, n)
    latent -= 0.6 * newcomer + 0.5 * provincial
    known = np.array([c in ranks for c in codes])
    pub = np.array([ranks.get(c, 0) for c in codes], dtype=float)
    # published zones keep their rank; the others fill the ranks below them, strongest latent first
    order_unknown = np.argsort(-latent[~known], kind="stable")
    rank = np.empty(n)
    rank[known] = pub[known]
    fill = np.empty(order_unknown.size)
    fill[order_unknown] = np.arange(known.sum() + 1, known.sum() + 1 + order_unknown.size)
    rank[~known] = fill
    z = _inv_norm(1 - (rank - 0.5) / max(n, 40))
    z += np.where(known, rng.normal(0, 0.04, n), rng.normal(0, 0.15, n))
    return z


def _simulate(z: np.ndarray, regions: np.ndarray, years: list[int], measures: dict[str, Measure],
              rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Canonical values (zones × years) for every measure; rounded to each measure's decimals."""
    Z, T = z.size, len(years)
    east = regions == "east"
    west = regions == "west"
    zc = np.clip(z, -2.5, 3.0)

    # the strongest zones (the top five) draw their zone-level deviations on the favourable side
    lead = z >= np.sort(z)[-min(5, Z)]
    top = int(np.argmax(z))

    def zone(sd: float, good: int = 0, tilt: float = 0.0) -> np.ndarray:
        """A zone's fixed log deviation; ``good`` = the favourable sign (+1 / -1), ``tilt`` × strength."""
        d = rng.normal(0, sd, Z)
        if good:
            d[lead] = good * np.abs(d[lead])
            d[top] = good * max(abs(d[top]), sd)  # the strongest zone: at least one sd on the good side
        return (d + good * tilt * zc)[:, None]

    def walk(sd: float, clip: float | None = None) -> np.ndarray:  # a log random walk starting at 0
        steps = rng.normal(0, sd, (Z, T))
        if clip is not None:
            steps = np.clip(steps, -clip, clip)
        steps[:, 0] = 0
        return np.cumsum(steps, axis=1)

    common = np.array([{2020: -0.05, 2021: 0.03}.get(y, 0.0) for y in years])
    trend = rng.normal(0.065, 0.035, Z) + 0.008 * zc + np.where(west, 0.006, 0.0) + 0.01 * lead
    growth = np.clip(trend[:, None] + rng.normal(0, 0.05, (Z, T)) + common[None, :], -0.15, 0.35)
    growth[:, 0] = 0
    path = np.cumsum(np.log1p(growth), axis=1)
    years_arr = np.array(years, dtype=float)[None, :]

    v: dict[str, np.ndarray] = {}
    gdp = 220 * np.exp(0.9 * zc)[:, None] * np.exp(path)
    v["gdp"] = gdp
    share = np.clip(0.12 * np.exp(zone(0.55, +1, 0.15)), 0.02, 0.65)
    v["city_gdp"] = gdp / np.clip(share * np.exp(walk(0.03)), 0.02, 0.9)
    iva = gdp * np.clip(0.42 * np.exp(zone(0.2)) * np.exp(walk(0.02)), 0.15, 0.75)
    v["industrial_value_added"] = iva
    rev = iva * 4.0 * np.exp(zone(0.15)) * np.exp(walk(0.03))
    v["industrial_revenue"] = rev
    tech = zone(0.5, +1, 0.3)
    hmr = rev * np.clip(0.18 * np.exp(tech) * np.exp(walk(0.05)), 0.01, 0.8)
    v["hitech_mfg_revenue"] = hmr
    v["city_hitech_mfg_revenue"] = hmr / np.clip(0.15 * np.exp(zone(0.6, +1, 0.15)), 0.03, 0.75)
    v["rd_expenditure"] = rev * np.clip(0.016 * np.exp(0.6 * tech + zone(0.25, +1)) * np.exp(walk(0.04)), 0.003, 0.06)
    tax = gdp * np.clip(0.13 * np.exp(zone(0.25, +1, 0.05)) * np.exp(walk(0.04)), 0.04, 0.3)
    v["tax_revenue"] = tax
    v["city_tax_revenue"] = tax / np.clip(0.12 * np.exp(zone(0.6, +1, 0.15)), 0.02, 0.7)
    openness = np.where(east, 0.8, np.where(west, 0.25, 0.35))[:, None] * np.exp(zone(0.6, +1, 0.25))
    trade = gdp * openness * np.exp(walk(0.10, clip=0.5))
    v["trade_total"] = trade
    v["city_trade_total"] = trade / np.clip(0.15 * np.exp(zone(0.6, +1, 0.15)), 0.03, 0.8)
    v["hitech_trade"] = trade * np.clip(0.3 * np.exp(0.5 * tech + zone(0.2, +1)), 0.05, 0.9)
    fdi_int = np.where(east, 45.0, np.where(west, 18.0, 30.0))[:, None] * np.exp(zone(0.6, +1, 0.2))
    fdi = gdp * fdi_int * np.exp(walk(0.2, clip=0.8))
    v["fdi_actual"] = fdi
    v["city_fdi_actual"] = fdi / np.clip(0.15 * np.exp(zone(0.6, +1, 0.15)), 0.03, 0.8)

    def count(base: np.ndarray, sd: float, stock: bool = False) -> np.ndarray:
        c = np.maximum(np.round(base * np.exp(zone(sd, +1)) * np.exp(walk(0.03))), 0)
        if stock:  # a stock (listed companies, patents…) rarely shrinks
            c = np.maximum.accumulate(c, axis=1)
        return c

    scale = gdp / 220.0
    v["large_manufacturers"] = count(rev / np.where(west | ~east, 60.0, 120.0)[:, None] * 0.6, 0.4)
    v["listed_companies"] = count(gdp / 70.0, 0.6, stock=True)
    v["built_land_area"] = 25 * np.exp(zone(0.4, -1)) * scale ** 0.5 * np.exp(0.1 * (path - path[:, :1]))
    v["rd_institutions"] = count(gdp / 5.0 * np.exp(0.5 * tech), 0.3, stock=True)
    v["hitech_enterprises"] = count(gdp / 2.0 * np.exp(0.7 * tech) * np.exp(0.06 * (years_arr - years[0])), 0.3)
    v["incubators"] = count(gdp / 60.0 * np.exp(0.5 * tech), 0.5, stock=True)
    v["invention_patents"] = count(gdp * 6.0 * np.exp(tech) * np.exp(0.08 * (years_arr - years[0])), 0.4, stock=True)
    v["population"] = gdp[:, :1] / 15.0 * np.exp(zone(0.4, -1)) * np.exp(0.25 * path)
    green = np.where(west, 1.5, np.where(east, 0.8, 1.1))[:, None] * np.exp(zone(0.5, -1, 0.15))
    energy = iva * 0.5 * green * np.exp(-0.03 * (years_arr - years[0])) * np.exp(walk(0.04))
    v["energy_consumption"] = energy
    v["co2_emissions"] = energy * 2.3 * np.exp(zone(0.12, -1)) * np.exp(walk(0.03))
    v["water_consumption"] = (iva * 20.0 * np.exp(zone(0.6, -1, 0.1)) * np.exp(-0.02 * (years_arr - years[0]))
                              * np.exp(walk(0.05)))
    cod = iva * 1.5 * np.exp(zone(0.7, -1, 0.1)) * np.exp(-0.04 * (years_arr - years[0])) * np.exp(walk(0.06))
    v["cod_emissions"] = cod
    v["ammonia_emissions"] = cod * 0.1 * np.exp(zone(0.2, -1))
    swg = iva * 0.25 * green * np.exp(zone(0.6, -1)) * np.exp(walk(0.06))
    v["solid_waste_generated"] = swg
    rate = np.clip((rng.beta(6, 1.6, Z) + 0.03 * zc + 0.1 * lead)[:, None] + 0.01 * (years_arr - years[0]), 0.3, 1.0)
    over = rng.random(Z) < 0.015  # reusing stock from earlier years: more utilised than generated
    rate[over] = rng.uniform(1.02, 1.15, (int(over.sum()), 1))
    v["solid_waste_utilized"] = swg * rate
    v["new_urban_jobs"] = count(gdp * 12.0, 0.5)
    v["joint_parks"] = np.round(np.exp(rng.normal(np.log(1.5) + 0.3 * zc, 0.6))[:, None]
                                * (1 + 0.06 * (years_arr - years[0])))
    paired = np.where(rng.random(Z) < np.where(east, 0.55, 0.25), rng.integers(1, 4, Z), 0)
    v["paired_parks"] = np.repeat(paired[:, None], T, axis=1).astype(float)
    v["approval_powers"] = np.round(np.exp(rng.normal(np.log(150) + 0.1 * zc, 0.4))[:, None]
                                    * (1 + 0.05 * (years_arr - years[0])))
    v["startup_days"] = np.clip(12.0 * np.exp(zone(0.3, -1, 0.1)) * np.exp(-0.25 * (years_arr - 2016)),
                                0.5, 30)

    out: dict[str, np.ndarray] = {}
    for code, m in measures.items():
        if code in v:
            x = v[code]
        elif m.integer:  # a measure this generator does not know: a count growing with the zone
            x = np.round(scale * 10 * np.exp(zone(0.5)))
        else:
            x = gdp * 0.1 * np.exp(zone(0.5))
        if m.hard_min is not None or m.hard_max is not None:
            x = np.clip(x, m.hard_min if m.hard_min is not None else -np.inf,
                        m.hard_max if m.hard_max is not None else np.inf)
        d = _decimals(code, m)
        x = np.round(x, d)
        if code not in ("fdi_actual",) and d > 0:  # positive amounts never round to zero (ratios need them)
            floor = 10.0 ** -d
            if m.hard_max is None or m.hard_max >= floor:
                x = np.where(x < floor, floor, x)
        out[code] = x
    return out


# --------------------------------------------------------------------------- public figures the demo matches
# (docs/demo.md, "Which figures are anchored on which public facts")

# All national zones together, canonical units (亿元, 万美元): MOFCOM's releases of the 2020 and 2023
# assessments — 2019: GDP 10.5万亿元, trade 6.4万亿元, foreign investment 547.6亿美元 (218 zones); 2022: GDP
# 14万亿元, trade 10.3万亿元, foreign investment 432亿美元 (230 zones). Other years: the same yearly change.
NATIONAL_TOTALS: dict[str, dict[int, float]] = {
    "gdp": {2019: 105_000.0, 2022: 140_000.0},
    "trade_total": {2019: 64_000.0, 2022: 103_000.0},
    "fdi_actual": {2019: 5_476_000.0, 2022: 4_320_000.0},
}
# The measures that move with each total (a zone's shares, ratios and host-city figures keep their proportions)
ANCHORED_WITH = {
    "gdp": ("gdp", "city_gdp", "tax_revenue", "city_tax_revenue", "industrial_revenue", "industrial_value_added",
            "hitech_mfg_revenue", "city_hitech_mfg_revenue", "rd_expenditure"),
    "trade_total": ("trade_total", "city_trade_total", "hitech_trade"),
    "fdi_actual": ("fdi_actual", "city_fdi_actual"),
}
# 苏州工业园区 in 2020: GDP 2907亿元 (the park's statistics); its trade is reported in dollars (795亿美元 in 2012,
# suzhou.gov.cn), foreign investment about 20亿美元 a year (19.6亿美元 in 2012); 苏州市 GDP about 2.0万亿元 (2020).
SUZHOU_2020 = {"gdp": 2907.0, "trade_total": 900.0 * 6.8976, "fdi_actual": 200_000.0, "city_gdp": 20_170.0}
# Provincial GDP 2020, 亿元 (NBS): a host city is never larger than half its province (the four municipalities:
# the city is the province).
PROVINCE_GDP_2020 = {
    "广东省": 110761, "江苏省": 102719, "山东省": 73129, "浙江省": 64613, "河南省": 54997, "四川省": 48599,
    "福建省": 43904, "湖北省": 43443, "湖南省": 41782, "上海市": 38701, "安徽省": 38681, "河北省": 36207,
    "北京市": 36103, "陕西省": 26182, "江西省": 25692, "辽宁省": 25115, "重庆市": 25003, "云南省": 24522,
    "广西壮族自治区": 22157, "贵州省": 17827, "山西省": 17652, "内蒙古自治区": 17360, "天津市": 14084,
    "新疆维吾尔自治区": 13798, "黑龙江省": 13699, "吉林省": 12311, "甘肃省": 9017, "海南省": 5532,
    "宁夏回族自治区": 3921, "青海省": 3006, "西藏自治区": 1903,
}
MUNICIPALITIES = ("北京市", "上海市", "天津市", "重庆市")


def _yearly_target(points: dict[int, float], year: int) -> float:
    """A total for ``year``: log-linear through the two published years, extended at the same yearly change."""
    (y0, v0), (y1, v1) = sorted(points.items())
    return v0 * (v1 / v0) ** ((year - y0) / (y1 - y0))


def _anchor(values: dict[str, np.ndarray], reg: pd.DataFrame, years: list[int], index: dict[str, int]) -> None:
    """Put the simulated figures on the public ones (in place): 苏州工业园区's level and lead, national totals per
    year (the other zones scaled to make up the rest), host cities within their province."""
    lead = index.get(SUZHOU_IP)
    if lead is not None and 2020 in years:
        t20 = years.index(2020)
        for total, measures in ANCHORED_WITH.items():
            if total in values:
                factor = SUZHOU_2020[total] / values[total][lead, t20]
                for code in measures:
                    if code in values:
                        values[code][lead, :] *= factor
        if "city_gdp" in values:
            values["city_gdp"][lead, :] *= SUZHOU_2020["city_gdp"] / values["city_gdp"][lead, t20]
    if lead is not None:
        _leader_growth(values, lead, years)
    others = np.ones(len(reg), dtype=bool)
    if lead is not None:
        others[lead] = False
    national = (reg.tier == "national").to_numpy()
    for total, measures in ANCHORED_WITH.items():
        if total not in values:
            continue
        for ti, year in enumerate(years):
            due = national & np.isin(reg.zone_code, list(_due_codes(reg, year)))
            rest = _yearly_target(NATIONAL_TOTALS[total], year) - values[total][due & ~others, ti].sum()
            factor = rest / values[total][due & others, ti].sum()
            for code in measures:
                if code in values:
                    values[code][others, ti] *= factor
    if "city_gdp" in values:
        growth = (values["gdp"].sum(axis=0) / values["gdp"][:, years.index(2020)].sum()) if 2020 in years else 1.0
        province = np.array([PROVINCE_GDP_2020.get(p, np.inf) for p in reg.province], dtype=float)
        share = np.where(np.isin(reg.province, MUNICIPALITIES), 1.0, 0.5)
        cap = (province * share)[:, None] * growth
        # never below 1.2 × the zone: the host city always contains more than the zone
        values["city_gdp"] = np.maximum(np.minimum(values["city_gdp"], cap), 1.2 * values["gdp"])


def _due_codes(reg: pd.DataFrame, year: int) -> set[str]:
    return set(due_zones(reg, year).zone_code)


def _leader_growth(values: dict[str, np.ndarray], zi: int, years: list[int]) -> None:
    """苏州工业园区 grows as steadily as the best (the 90th percentile of the year's growth; CO2 at the 10th) and
    co-builds and supports parks as the leading zones do: first in every published assessment 2016–2024."""
    # a national eco-industrial demonstration park: energy and water per unit of value added among the lowest,
    # solid waste reused among the most
    for code, base, q in (("energy_consumption", "industrial_value_added", 0.05),
                          ("water_consumption", "industrial_value_added", 0.05),
                          ("solid_waste_utilized", "solid_waste_generated", 0.95)):
        if code in values and base in values:
            ratio = np.nanquantile(values[code] / values[base], q, axis=0)
            values[code][zi] = values[base][zi] * (np.minimum(ratio, 1.0) if q > 0.5 else ratio)
    pin = years.index(2020) if 2020 in years else None  # the year whose level is anchored (SUZHOU_2020)
    for code, q in (("gdp", 0.6), ("trade_total", 0.75), ("fdi_actual", 0.75), ("hitech_enterprises", 0.97),
                    ("co2_emissions", 0.1)):
        if code not in values:
            continue
        x = values[code]
        level = x[zi, pin] if pin is not None else None
        for ti in range(1, len(years)):
            with np.errstate(divide="ignore", invalid="ignore"):
                g = x[:, ti] / x[:, ti - 1]
            x[zi, ti] = x[zi, ti - 1] * float(np.nanquantile(g[np.isfinite(g)], q))
        if level is not None:
            x[zi] *= level / x[zi, pin]
        if code == "hitech_enterprises":
            x[zi] = np.round(x[zi])
    for zone, city in (("trade_total", "city_trade_total"), ("fdi_actual", "city_fdi_actual"),
                       ("tax_revenue", "city_tax_revenue")):
        if city in values and zone in values:  # a share of its host city among the highest (never above 60 %)
            top_share = np.minimum(np.nanquantile(values[zone] / values[city], 0.95, axis=0), 0.6)
            values[city][zi] = values[zone][zi] / top_share
    if "hitech_trade" in values and "trade_total" in values:  # electronics and biomedicine: a high-tech share
        share = np.minimum(np.nanquantile(values["hitech_trade"] / values["trade_total"], 0.95, axis=0), 0.9)
        values["hitech_trade"][zi] = values["trade_total"][zi] * share
    if "city_gdp" in values and "gdp" in values:
        values["city_gdp"][zi] = np.maximum(values["city_gdp"][zi], 1.2 * values["gdp"][zi])
    for code in ("paired_parks", "approval_powers", "joint_parks"):
        if code in values:
            values[code][zi] = np.maximum(values[code][zi], np.nanquantile(values[code], 0.97, axis=0).round())


# --------------------------------------------------------------------------- writing files


@dataclass
class _Row:
    measure: str
    value: str  # as typed; "" = not reported
    unit: str
    note: str = ""


def _csv_bytes(header: list[str], rows: list[list[str]], encoding: str, delimiter: str = ",",
               lineterminator: str = "\n") -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=lineterminator)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode(encoding)




def _as_number(s: str):
    if s == "":
        return None
    try:
        f = float(s)
    except ValueError:
        return s  # faulty text stays text
    return int(f) if re.fullmatch(r"-?\d+", s) else f


def _xlsx_file(header: list[str], rows: list[list[str]], title: str | None = None) -> bytes:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "数据"
    if title:
        ws.append([title])
    ws.append(header)
    num_cols = {i for i, h in enumerate(header) if h.lower() in ("value", "data_year")}
    for r in rows:
        ws.append([_as_number(x) if i in num_cols else (x or None) for i, x in enumerate(r)])
    for col, width in zip("ABCDEF", (32, 10, 26, 14, 12, 18)):
        ws.column_dimensions[col].width = width
    return xlsx_bytes(wb)


class _Writer:
    """Writes the files of one inbox year, remembers them and their modification times."""

    def __init__(self, home: Path, folder: Path):
        self.home, self.folder = home, folder
        self.names: set[str] = set()
        self.written: list[Path] = []

    def unique(self, stem: str, ext: str) -> Path:
        name, n = f"{stem}{ext}", 2
        while name in self.names:
            name, n = f"{stem}_{n}{ext}", n + 1
        self.names.add(name)
        return self.folder / name

    def write(self, stem: str, ext: str, data: bytes, mtime: int) -> Path:
        path = self.unique(stem, ext)
        path.write_bytes(data)
        _set_mtime(path, mtime)
        self.written.append(path)
        return path


_NAME_STYLES = (
    "{name} {year}年 统计报表", "{code}_{year}", "{year}年{name}考核数据", "{name}-{year}",
    "附件2 {name}{year}年度指标数据", "{code} {year} submission", "{province}{name} {year}", "{year}_{code}_data",
    "{name}{year}年考核评价数据表 终版", "{code}",
)


def _rows_for(codes: list[str], values: dict[str, np.ndarray], zi: int, ti: int, cat: Catalogue, year: int,
              habits: dict[str, bool], rng: np.random.Generator, empty: set[str],
              thousands: bool) -> list[_Row]:
    rows: list[_Row] = []
    for code in codes:
        m = cat.measures[code]
        x = float(values[code][zi, ti])
        unit, factor = m.unit, 1.0
        alt = ALT_UNITS.get(code)
        if alt and habits.get(alt[1]) and alt[0] in m.accepted_units:
            unit, factor = alt[0], m.accepted_units[alt[0]]
        money = CURRENCY_UNITS.get(code)  # trade in dollars, investment in yuan, where the year has a rate
        conv = cat.conversion(code, money[0], year) if money and habits.get(money[1]) and \
            money[0] in m.currency_units else None
        if conv is not None:
            unit, factor = money[0], conv.apply(1.0)  # type: ignore[index]
        if code in empty:
            rows.append(_Row(code, "", unit, "暂无统计"))
            continue
        digits = _digits_for(_decimals(code, m), factor)
        s = _fmt(x / factor, digits)
        if thousands and abs(x / factor) >= 1000:
            whole, _, frac = s.partition(".")
            s = f"{int(whole):,}" + (f".{frac}" if frac else "")
        note = NOTES[int(rng.integers(len(NOTES)))] if rng.random() < 0.08 else ""
        rows.append(_Row(code, s, unit, note))
    return rows


def _gdp_rule(cat: Catalogue) -> bool:
    """Whether ``cat`` has the rule gdp <= city_gdp the scenarios ``city_exceeded`` and ``revised`` are about."""
    return any((r.left, r.op, r.right) == ("gdp", "<=", "city_gdp") for r in cat.consistency)


def _with_gdp(rows: list[_Row], gdp: str, note: str, values: dict[str, np.ndarray], zi: int, ti: int,
              cat: Catalogue) -> list[_Row]:
    """``rows`` with GDP written as ``gdp`` 亿元 and the city's GDP reported (a measure the file left empty is filled
    in): a scenario about the rule gdp <= city_gdp needs both sides."""
    out = []
    for r in rows:
        if r.measure == "gdp":
            r = _Row("gdp", gdp, "亿元", note)
        elif r.measure == "city_gdp" and not r.value:
            m = cat.measures["city_gdp"]
            r = _Row("city_gdp", _fmt(float(values["city_gdp"][zi, ti]), _decimals("city_gdp", m)), m.unit, "")
        out.append(r)
    return out


def _file_bytes(fmt: str, zone_code: str, year: int, rows: list[_Row], with_note: bool,
                header_case: bool = False, delimiter: str = ",", title: str | None = None) -> tuple[str, bytes]:
    header = ["zone_code", "data_year", "measure_code", "value", "unit"] + (["note"] if with_note else [])
    if header_case:
        header = [h.title() if h != "note" else "Note" for h in header]
    table = [[zone_code, str(year), r.measure, r.value, r.unit] + ([r.note] if with_note else []) for r in rows]
    if fmt == "xlsx":
        return ".xlsx", _xlsx_file(header, table, title)
    if fmt == "gbk":
        return ".csv", _csv_bytes(header, table, "gb18030", delimiter, "\r\n")
    if fmt == "utf8bom":
        return ".csv", _csv_bytes(header, table, "utf-8-sig", delimiter, "\r\n")
    return ".csv", _csv_bytes(header, table, "utf-8", delimiter)


# --------------------------------------------------------------------------- the demo


def _demo_registry(base: pd.DataFrame, n_zones: int | None, rng: np.random.Generator) -> pd.DataFrame:
    reg = base.copy()
    national = reg[reg.tier == "national"]
    if n_zones is not None and n_zones < len(national):
        if n_zones < 1:
            raise ValueError(f"n_zones must be at least 1, found {n_zones}")
        pick = np.sort(rng.choice(len(national), size=n_zones, replace=False))
        keep = set(national.zone_code.iloc[pick])
        if SUZHOU_IP in set(national.zone_code) and SUZHOU_IP not in keep:
            keep.discard(national.zone_code.iloc[pick[-1]])
            keep.add(SUZHOU_IP)
        reg = reg[(reg.tier != "national") | reg.zone_code.isin(keep)]
    cands = pd.DataFrame([c for c in CANDIDATES if c["zone_code"] not in set(reg.zone_code)])
    if not cands.empty:
        cands["tier"] = "provincial"
        cands["first_data_year"] = pd.array([pd.NA] * len(cands), dtype="Int64")
        cands["exit_data_year"] = pd.array([pd.NA] * len(cands), dtype="Int64")
        reg = pd.concat([reg, cands[REGISTRY_COLUMNS]], ignore_index=True)
    return reg.reset_index(drop=True)


def write_demo(home: str | Path, years: range = range(2018, 2024), seed: int = 20240101,
               registry_path: str | Path | None = None, catalogues_dir: str | Path | None = None,
               n_zones: int | None = None) -> DemoLayout:
    """Write the demo registry and inbox under ``home``; see the module docstring and docs/demo.md.

    Files a previous demo run wrote (listed in ``<home>/demo_manifest.json``) are removed first;
    nothing else in ``home`` is touched.
    """
    home = Path(home)
    years = sorted(int(y) for y in years)
    if not years:
        raise ValueError("write_demo needs at least one data year")
    rng = np.random.default_rng(seed)
    catalogues = load_catalogues(catalogues_dir)
    year_cats = {y: catalogue_for_year(catalogues, y) for y in years}
    measures: dict[str, Measure] = {}
    for y in years:
        for code, m in year_cats[y].measures.items():
            measures.setdefault(code, m)

    reg = _demo_registry(load_registry(registry_path), n_zones, rng)
    home.mkdir(parents=True, exist_ok=True)
    previous = _previous_files(home)
    registry_file = home / "registry.csv"
    reg.to_csv(registry_file, index=False, encoding="utf-8", lineterminator="\n")

    codes = reg.zone_code.tolist()
    regions = reg.region.to_numpy()
    provincial = (reg.tier == "provincial").to_numpy()
    first = reg.first_data_year.fillna(0).astype(int).to_numpy()
    newcomer = (first > 2016) & ~provincial
    z = _strengths(codes, regions, newcomer, provincial, rng)
    values = _simulate(z, regions, years, measures, rng)
    index = {c: i for i, c in enumerate(codes)}
    _anchor(values, reg, years, index)
    for code, m in measures.items():  # back to the decimals a zone reports; a positive amount stays positive
        d = _decimals(code, m)
        rounded = np.round(values[code], d)
        values[code] = np.where((values[code] > 0) & (rounded == 0) & (d > 0), 10.0 ** -d, rounded)
    best = _load_strength()

    # zones going from zero foreign investment to some (as 内江 did: 0 -> 3303 万美元)
    scenarios: list[dict] = []
    T = len(years)
    zero_fdi: dict[str, int] = {}
    if T >= 2 and "fdi_actual" in values:
        always_due = set.intersection(*(set(due_zones(reg, y).zone_code) for y in years))
        weak_west = [c for c in codes if reg.region.iloc[index[c]] in ("west", "central") and c not in best
                     and not provincial[index[c]] and c != NEIJIANG and c in always_due]
        chosen = [NEIJIANG] if NEIJIANG in always_due else []
        if weak_west:
            chosen += [weak_west[i] for i in rng.choice(len(weak_west), size=min(2, len(weak_west)), replace=False)]
        for code in chosen:
            zi = index[code]
            switch = min(3, T - 1) if code == NEIJIANG else int(rng.integers(1, T))
            first_val = 3303.0 if code == NEIJIANG else float(rng.integers(800, 6000))
            fdi = values["fdi_actual"][zi]
            later = fdi[switch:] / fdi[switch] * first_val
            fdi[:switch] = 0.0
            fdi[switch:] = np.round(later)
            if "city_fdi_actual" in values:
                values["city_fdi_actual"][zi] = np.maximum(values["city_fdi_actual"][zi], np.round(fdi * 3 + 5000))
            zero_fdi[code] = years[switch]
            scenarios.append({"year": years[switch], "file": None, "zone_code": code, "kind": "fdi_from_zero",
                              "status": "accepted",
                              "description": f"foreign investment 0 until {years[switch] - 1}, "
                                             f"{int(first_val)} 万美元 in {years[switch]}: growth +inf"})

    _host_cities(values, codes, index.get(SUZHOU_IP))  # after every change of a zone's figures
    for _, city in CITY_PAIRS:
        if city in measures:
            values[city] = np.round(values[city], _decimals(city, measures[city]))

    # provincial candidates submit in some years: from a start year on, skipping a year now and then
    cand_years: dict[str, set[int]] = {}
    for c in codes:
        if provincial[index[c]]:
            start = int(rng.integers(0, max(1, T - 1)))
            cand_years[c] = {y for k, y in enumerate(years) if k >= start and rng.random() < 0.85}

    protected = {c for c, r in best.items() if r <= 30} | set(zero_fdi)
    inbox = home / "inbox"
    faulty: list[Path] = []
    superseded: list[Path] = []
    all_files: list[Path] = []
    fault_ptr = 0
    used: set[str] = set()

    # one year is complete (results final), the last one still in its cycle (provisional), as in a real cycle
    complete_year = years[-2] if len(years) >= 2 else years[-1]
    for ti, year in enumerate(years):
        cat = year_cats[year]
        mcodes = list(cat.measures)
        folder = inbox / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        writer = _Writer(home, folder)
        due = set(due_zones(reg, year).zone_code)
        submitters = [c for c in codes if c in due or year in cand_years.get(c, set())]

        # this year's faults: 2-4 rejected files, kinds handed out in turn over the years
        n_faults = int(rng.integers(2, 5))
        kinds: list[str] = []
        while len(kinds) < n_faults:
            kind = FAULTS[fault_ptr % len(FAULTS)]
            fault_ptr += 1
            if (kind == "stray_last_year" and ti == 0) or (kind == "city_exceeded" and not _gdp_rule(cat)):
                continue
            kinds.append(kind)
        eligible = [c for c in submitters if c in due and c not in protected and c not in used]
        if len(eligible) < n_faults + 1:
            eligible = [c for c in submitters if c in due and c not in protected]
        targets = [eligible[i] for i in rng.choice(len(eligible), size=min(len(kinds) + 1, len(eligible)),
                                                   replace=False)] if eligible else []
        fault_of = dict(zip(targets, kinds))
        used.update(targets)
        revised_zone = targets[len(kinds)] if len(targets) > len(kinds) and ti % 2 == 1 else None
        # a few zones send their file after the deadline (flagged late, accepted on its merits)
        punctual = [c for c in submitters
                    if c in due and c not in protected and c not in fault_of and c != revised_zone]
        late_zones = {punctual[i] for i in rng.choice(len(punctual), size=min(LATE_PER_YEAR, len(punctual)),
                                                      replace=False)} if punctual else set()

        for code in submitters:
            zi = index[code]
            row = reg.iloc[zi]
            u = rng.random()
            fmt = "gbk" if u < 0.15 else "xlsx" if u < 0.30 else ("utf8bom" if rng.random() < 0.3 else "utf8")
            habits = {h: bool(rng.random() < p) for h, p in HABITS.items()}
            empty = {mcodes[int(rng.integers(len(mcodes)))]} if rng.random() < 0.04 else set()
            thousands = fmt in ("utf8", "utf8bom") and rng.random() < 0.04
            with_note = rng.random() < 0.25 or bool(empty)
            header_case = rng.random() < 0.05
            style = _NAME_STYLES[int(rng.integers(len(_NAME_STYLES)))]
            stem = sanitise_name(style.format(name=row["name_zh"], code=code, year=year, province=row["province"]),
                                 fallback=f"{code}_{year}")
            mtime = _mtime(year, rng)
            rows = _rows_for(mcodes, values, zi, ti, cat, year, habits, rng, empty, thousands)

            kind = fault_of.get(code)
            good_ext, good = _file_bytes(fmt, code, year, rows, with_note, header_case)

            def record(path: Path, kind: str, status: str, year: int = year, code: str = code) -> None:
                scenarios.append({"year": year, "file": str(path.relative_to(home)), "zone_code": code, "kind": kind,
                                  "status": status, "description": FAULT_DESCRIPTIONS[kind]})

            if kind is None and code != revised_zone:
                if code in late_zones:
                    record(writer.write(stem, good_ext, good, _late_mtime(year, rng)), "late", "accepted")
                else:
                    writer.write(stem, good_ext, good, mtime)
                continue
            if code == revised_zone:  # a wider caliber: 3 % above the city's, within the rule's tolerance
                bad_rows = _with_gdp(rows, _fmt(float(values["city_gdp"][zi, ti]) * 1.03, 2), "含托管区域",
                                     values, zi, ti, cat) if _gdp_rule(cat) else rows
                ext, data = _file_bytes(fmt, code, year, bad_rows, with_note)
                p = writer.write(stem, ext, data, mtime)
                superseded.append(p)
                record(p, "revised", "superseded")
                writer.write(stem + " 修订版", good_ext, good, mtime + int(rng.integers(3, 20)) * 86400)
                continue
            if kind == "text_value":
                target = next((m for m in ("hitech_enterprises", "rd_institutions", "gdp") if m in mcodes), mcodes[0])
                bad_rows = [_Row(r.measure, f"约{max(10, int(round(float(values[target][zi, ti]), -1)))}"
                                 if r.measure == target else r.value, r.unit if r.measure != target else
                                 cat.measures[target].unit, r.note) for r in rows]
                ext, data = _file_bytes(fmt, code, year, bad_rows, with_note)
                p = writer.write(stem, ext, data, mtime)
            elif kind == "semicolon":
                ext, data = _file_bytes("utf8", code, year, rows, with_note, delimiter=";")
                p = writer.write(stem, ext, data, mtime)
            elif kind == "unknown_unit":
                target = "gdp" if "gdp" in mcodes else mcodes[0]
                bad_rows = [_Row(r.measure, _fmt(float(values[target][zi, ti]) / 0.1, 1), "千万元", r.note)
                            if r.measure == target else r for r in rows]
                ext, data = _file_bytes(fmt, code, year, bad_rows, with_note)
                p = writer.write(stem, ext, data, mtime)
            elif kind == "negative_count":
                target = next((m for m in ("hitech_enterprises", "rd_institutions") if m in mcodes), mcodes[0])
                bad_rows = [_Row(r.measure, "-12", cat.measures[target].unit, "比上年减少")
                            if r.measure == target else r for r in rows]
                ext, data = _file_bytes(fmt, code, year, bad_rows, True)
                p = writer.write(stem, ext, data, mtime)
            elif kind == "city_exceeded":  # 万元 typed, 亿元 written: 10,000 times the zone's, above its city's
                bad_rows = _with_gdp(rows, _fmt(float(values["gdp"][zi, ti]) * 10000, 0), "", values, zi, ti, cat)
                ext, data = _file_bytes(fmt, code, year, bad_rows, with_note)
                p = writer.write(stem, ext, data, mtime)
            elif kind == "title_row":
                ext, data = _file_bytes("xlsx", code, year, rows, with_note,
                                        title=f"{row['name_zh']}{year}年度考核评价统计数据表")
                p = writer.write(stem, ext, data, mtime)
            elif kind == "corrected":
                target = next((m for m in ("rd_institutions", "hitech_enterprises") if m in mcodes), None)
                bad_rows = []
                for r in rows:
                    if r.measure == target:
                        bad_rows.append(_Row(r.measure, f"{float(values[target][zi, ti]) + 0.5:.1f}",
                                             cat.measures[target].unit, r.note))
                    elif r.measure == "incubators":
                        bad_rows.append(_Row(r.measure, "N/A", r.unit, r.note))
                    else:
                        bad_rows.append(r)
                ext, data = _file_bytes(fmt, code, year, bad_rows, with_note)
                p = writer.write(stem, ext, data, mtime)
                later = mtime + int(rng.integers(3, 20)) * 86400
                writer.write(stem + " 更正", good_ext, good, later)
            elif kind in ("unknown_zone", "stray_last_year"):
                writer.write(stem, good_ext, good, mtime)  # the zone's real file
                if kind == "unknown_zone":
                    typo = code.replace("-", "_", 1) if "-" in code else code + "x"
                    ext, data = _file_bytes("utf8", typo, year, rows, False)
                    p = writer.write(sanitise_name(f"{typo} {year}"), ext, data, mtime + 3600)
                else:
                    prev_rows = _rows_for(list(year_cats[years[ti - 1]].measures), values, zi, ti - 1,
                                          year_cats[years[ti - 1]], years[ti - 1], {}, rng, set(), False)
                    ext, data = _file_bytes("utf8", code, years[ti - 1], prev_rows, False)
                    p = writer.write(sanitise_name(f"{row['name_zh']} {years[ti - 1]}年 统计报表 副本"), ext, data,
                                     mtime - 86400)
            else:  # pragma: no cover - every kind is handled above
                raise AssertionError(kind)
            faulty.append(p)
            record(p, kind, "rejected")
            if year == complete_year and kind in UNCORRECTED:  # the year closes: every zone corrects its file
                fixed = writer.write(stem + " 更正", good_ext, good, _late_mtime(year, rng))
                record(fixed, "late_correction", "accepted")
        all_files.extend(writer.written)

    _remove_stale(home, previous, all_files)
    manifest = {
        "seed": seed, "years": years, "registry": "registry.csv",
        "files": [str(p.relative_to(home)) for p in all_files],
        "scenarios": scenarios,
    }
    (home / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return DemoLayout(inbox=inbox, registry=registry_file, years=years, files_written=len(all_files),
                      faulty_files=faulty, superseded_files=superseded, scenarios=scenarios)
