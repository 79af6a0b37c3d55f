"""The methodology catalogue: loading, checking every rule of docs/contract/02-inputs.md §2.3.

A catalogue is data, not code: any YAML file in this format must run. A file that
breaks a rule is refused with a :class:`CatalogueError` naming the file, the entry
and the rule, so the analyst who edited it knows what to fix.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from etdz.numbers import format_number

SHIPPED_DIR = Path(__file__).parent / "catalogues"

_TOP_KEYS = {
    "version", "name_zh", "name_en", "data_years", "normalisation", "downgrade",
    "summons_bottom_n", "top_lists", "categories", "measures", "indicators", "exchange_rates", "robustness",
    "consistency",
}
_CURRENCY_UNIT_KEYS = {"currency", "factor", "invert"}
_CATEGORY_KEYS = {"code", "name_zh", "name_en", "weight", "source"}
_MEASURE_KEYS = {
    "code", "name_zh", "name_en", "unit", "accepted_units", "hard_min", "hard_max",
    "integer", "soft_min", "soft_max", "soft_max_yoy_factor", "not_above", "source",
}
_INDICATOR_KEYS = {
    "code", "name_zh", "name_en", "category", "weight", "direction", "kind", "measure",
    "numerator", "denominator", "scale", "source",
}
# `scale` is tolerated (and unused) on value and growth indicators; naming the wrong measures is refused
_KIND_KEYS = {"value": {"measure", "scale"}, "growth": {"measure", "scale"},
              "ratio": {"numerator", "denominator", "scale"}}
_KIND_REQUIRED = {"value": {"measure"}, "growth": {"measure"}, "ratio": {"numerator", "denominator"}}
_DOWNGRADE_KEYS = {"rule", "bottom_n", "window", "times"}
_CONSISTENCY_KEYS = {"left", "op", "right", "tolerance"}
_DOWNGRADE_RULES = ("regional_bottom", "national_consecutive")


class CatalogueError(ValueError):
    """A catalogue file breaks a rule of docs/contract/02-inputs.md §2.3."""

    def __init__(self, path: str | Path, entry: str, rule: str):
        self.path, self.entry, self.rule = str(path), entry, rule
        super().__init__(f"methodology catalogue {path}: {entry}: {rule}")


class MethodologyError(RuntimeError):
    """No catalogue, or more than one, applies to a data year."""


@dataclass(frozen=True)
class Category:
    code: str
    weight: float
    name_zh: str
    name_en: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class CurrencyUnit:
    """A unit in another currency (docs/contract/02-inputs.md §2.3): ``value × rate × factor`` in the canonical unit, or
    ``value ÷ rate × factor`` with ``invert`` (the canonical unit is in that currency, the value in CNY)."""

    currency: str
    factor: float = 1.0
    invert: bool = False


@dataclass(frozen=True)
class ExchangeRates:
    """``exchange_rates``: CNY per unit of each currency, annual average of the data year, with its source."""

    source: str
    rates: dict[str, dict[int, float]]

    def rate(self, currency: str, data_year: int) -> float | None:
        """The rate of ``currency`` for ``data_year``, None when the catalogue has none for that year."""
        return self.rates.get(currency, {}).get(int(data_year))


@dataclass(frozen=True)
class Conversion:
    """How a reported value becomes canonical: ``value × factor`` for a plain unit; with a ``rate``,
    ``value × rate × factor`` or (``invert``) ``value ÷ rate × factor``."""

    factor: float
    rate: float | None = None
    invert: bool = False

    def apply(self, value: float) -> float:
        """The canonical value of ``value`` reported in this unit (:func:`convert`)."""
        return convert(value, self.factor, self.rate, self.invert)

    def explain(self, value: float, unit: str, canonical_unit: str) -> str:
        """The conversion as a reader checks it: ``24.7 亿美元 × 6.4515 = 159.35 亿元`` (the result rounded for
        reading; the stored value is exact)."""
        steps = [f"{format_number(value)} {unit}"]
        if self.rate is not None:
            steps.append(f"{'÷' if self.invert else '×'} {format_number(self.rate)}")
        if self.factor != 1.0 or self.rate is None:
            steps.append(f"× {format_number(self.factor)}")
        return f"{' '.join(steps)} = {_rounded(self.apply(value))} {canonical_unit}"


def convert(value, factor, rate=None, invert: bool = False):
    """§2.3's conversion to the canonical unit, its one home: ``value × factor`` for a plain unit; with an exchange
    ``rate``, ``value × rate × factor`` or (``invert``) ``value ÷ rate × factor``. Numbers, arrays or Series
    (element-wise: the validation converts a whole column of plain units at once)."""
    if rate is None:
        return value * factor
    return (value / rate if invert else value * rate) * factor


def _rounded(x: float) -> str:
    """Two decimals from 1 on, four significant digits below (0.002131, not 0.00)."""
    text = f"{x:.2f}" if abs(x) >= 1 or x == 0 else f"{x:.4g}"
    return text.rstrip("0").rstrip(".") if "." in text and "e" not in text else text


@dataclass(frozen=True)
class Measure:
    code: str
    unit: str
    name_zh: str
    name_en: str | None = None
    accepted_units: dict[str, float] = field(default_factory=dict)
    hard_min: float | None = None
    hard_max: float | None = None
    integer: bool = False
    soft_min: float | None = None
    soft_max: float | None = None
    soft_max_yoy_factor: float | None = None
    not_above: str | None = None
    source: str | None = None
    currency_units: dict[str, CurrencyUnit] = field(default_factory=dict)

    @property
    def units(self) -> tuple[str, ...]:
        """Every accepted unit: the plain ones (canonical first), then the currency units."""
        return tuple(self.accepted_units) + tuple(self.currency_units)


#: the operators of a consistency rule, and the words for a left figure that breaks each
CONSISTENCY_OPS = {"<=": "大于", "<": "大于或等于", ">=": "小于", ">": "小于或等于"}


@dataclass(frozen=True)
class ConsistencyRule:
    """``left op right`` between two measures of one submission (docs/contract/02-inputs.md §2.3 "Consistency
    rules"), both in canonical units: broken beyond ``tolerance`` an error, within it a warning.

    The tolerance is relative to the right figure: for ``<=`` / ``<`` the left may reach ``right × (1 +
    tolerance)`` before the rule is broken beyond it, for ``>=`` / ``>`` it may fall to ``right × (1 −
    tolerance)`` (:meth:`limit`; for a negative right figure the factors swap, so that the tolerance always widens
    the band — the contract's formula is written for the non-negative figures the shipped rules compare)."""

    left: str
    op: str  # one of CONSISTENCY_OPS
    right: str
    tolerance: float

    @property
    def upper(self) -> bool:
        """Whether the rule bounds the left figure from above (``<=``, ``<``)."""
        return self.op in ("<=", "<")

    @property
    def strict(self) -> bool:
        """Whether equality breaks the rule (``<``, ``>``)."""
        return self.op in ("<", ">")

    def limit(self, right):
        """The figure the left one may reach within the tolerance (numbers or numpy arrays): for ``<=`` / ``<``
        ``right × (1 + tolerance)`` (the contract's formula, computed as written so that a figure exactly at the
        tolerance is within it), ``right × (1 − tolerance)`` for a negative right; the mirror for ``>=`` / ``>``."""
        right = np.asarray(right, dtype="float64")
        wider, narrower = right * (1 + self.tolerance), right * (1 - self.tolerance)
        up = np.where(right >= 0, wider, narrower)
        out = up if self.upper else np.where(right >= 0, narrower, wider)
        return out if out.ndim else float(out)

    @property
    def text(self) -> str:
        """The rule as written in messages: ``gdp <= city_gdp（容差 5%）``."""
        return f"{self.left} {self.op} {self.right}（容差 {format_number(self.tolerance * 100)}%）"


@dataclass(frozen=True)
class Indicator:
    code: str
    category: str
    direction: str  # "higher" | "lower"
    kind: str  # "value" | "ratio" | "growth"
    weight: float = 1.0
    name_zh: str = ""
    name_en: str | None = None
    measure: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    scale: float = 1.0
    source: str | None = None

    @property
    def measures_used(self) -> tuple[str, ...]:
        """The measure codes this indicator reads, in definition order."""
        if self.kind == "ratio":
            return (self.numerator, self.denominator)  # type: ignore[return-value]
        return (self.measure,)  # type: ignore[return-value]


@dataclass(frozen=True)
class Downgrade:
    rule: str
    bottom_n: int
    window: int
    times: int


@dataclass(frozen=True)
class Robustness:
    """The rank-robustness analysis of docs/contract/03-scoring.md §3.9 (docs/contract/02-inputs.md §2.3 "Robustness
    analysis").

    ``seed`` None means the data year (resolved per year by the scorer, not here); ``category_weights`` None
    means "= weights" (the default of 02-inputs.md), read through :attr:`category_spread`.
    """

    samples: int = 1000
    seed: int | None = None
    weights: float = 0.25
    winsorise_options: tuple[tuple[float, float] | None, ...] = (None,)
    no_base_options: tuple[str, ...] = ("median",)
    category_weights: float | None = None

    @property
    def category_spread(self) -> float:
        """``c`` of §3.9 step 2: each category weight × U(1 − c, 1 + c); the indicator spread when not set."""
        return self.weights if self.category_weights is None else self.category_weights


@dataclass(frozen=True)
class Catalogue:
    version: str
    name_zh: str
    name_en: str | None
    year_from: int
    year_to: int | None
    winsorise: tuple[float, float] | None
    downgrade: Downgrade | None
    summons_bottom_n: int
    top_lists: tuple[str, ...]
    categories: tuple[Category, ...]
    measures: dict[str, Measure]
    indicators: tuple[Indicator, ...]
    path: str = ""
    sha256: str = ""
    exchange_rates: ExchangeRates | None = None
    robustness: Robustness = field(default_factory=Robustness)
    consistency: tuple[ConsistencyRule, ...] = ()

    def conversion(self, measure: str, unit: str, data_year: int) -> Conversion | None:
        """How a value of ``measure`` in ``unit`` for ``data_year`` converts to the canonical unit; None when
        ``unit`` is not accepted, or is a currency unit without a rate for that year (``row.no_exchange_rate``)."""
        m = self.measures[measure]
        if unit in m.accepted_units:
            return Conversion(m.accepted_units[unit])
        cu = m.currency_units.get(unit)
        if cu is None or self.exchange_rates is None:
            return None
        rate = self.exchange_rates.rate(cu.currency, data_year)
        return None if rate is None else Conversion(cu.factor, rate, cu.invert)

    def units_for_year(self, measure: str, data_year: int) -> tuple[str, ...]:
        """The units a submission for ``data_year`` may use for ``measure``: currency units only with a rate."""
        m = self.measures[measure]
        return tuple(u for u in m.units if self.conversion(measure, u, data_year) is not None)

    def applies_to(self, data_year: int) -> bool:
        return self.year_from <= data_year and (self.year_to is None or data_year <= self.year_to)

    @property
    def required_measures(self) -> tuple[str, ...]:
        """Measures an indicator uses (docs/contract/02-inputs.md §2.3: those are required), in catalogue order."""
        used = {m for ind in self.indicators for m in ind.measures_used}
        return tuple(code for code in self.measures if code in used)

    def indicators_of(self, category_code: str) -> tuple[Indicator, ...]:
        return tuple(i for i in self.indicators if i.category == category_code)


# --------------------------------------------------------------------------- parsing


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


class _Checker:
    """Helpers that raise CatalogueError with the file and entry filled in."""

    def __init__(self, path: Path):
        self.path = path

    def fail(self, entry: str, rule: str) -> None:
        raise CatalogueError(self.path, entry, rule)

    def mapping(self, obj: Any, entry: str) -> dict:
        if not isinstance(obj, dict):
            self.fail(entry, f"must be a mapping, found {type(obj).__name__}")
        return obj

    def keys(self, obj: dict, allowed: set[str], required: set[str], entry: str) -> None:
        unknown = sorted(set(map(str, obj)) - allowed)
        if unknown:
            self.fail(entry, f"unknown key(s) {unknown} (allowed: {sorted(allowed)}); a typo must not pass silently")
        missing = sorted(required - set(obj))
        if missing:
            self.fail(entry, f"missing required key(s) {missing}")

    def code(self, obj: dict, entry: str) -> str:
        code = obj.get("code")
        if isinstance(code, (int, float)) and not isinstance(code, bool):
            code = str(code)
        if not isinstance(code, str) or not code.strip():
            self.fail(entry, "`code` must be a non-empty string")
        return code

    def text(self, obj: dict, key: str, entry: str, default: str | None = None) -> str | None:
        value = obj.get(key, default)
        if value is None:
            return default
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            self.fail(entry, f"`{key}` must be text")
        return value

    def number(self, obj: dict, key: str, entry: str, default: float | None = None, *, positive: bool = False,
               non_negative: bool = False) -> float | None:
        value = obj.get(key, default)
        if value is None:
            return None
        if not _is_number(value):
            self.fail(entry, f"`{key}` must be a finite number or null, found {value!r}")
        if positive and value <= 0:
            self.fail(entry, f"`{key}` must be > 0, found {value!r}")
        if non_negative and value < 0:
            self.fail(entry, f"`{key}` must be >= 0, found {value!r}")
        return float(value)

    def integer(self, obj: dict, key: str, entry: str, default: int | None = None, minimum: int = 1) -> int | None:
        value = obj.get(key, default)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(entry, f"`{key}` must be an integer >= {minimum}, found {value!r}")
        return value


def _parse(raw: Any, path: Path, sha256: str) -> Catalogue:
    """Check a parsed YAML document section by section and build the catalogue."""
    c = _Checker(path)
    doc = c.mapping(raw, "(top level)")
    c.keys(doc, _TOP_KEYS, {"version", "data_years", "categories", "measures", "indicators"}, "(top level)")
    version = c.text(doc, "version", "version")
    if not version or not version.strip():
        c.fail("version", "must be a non-empty string")
    year_from, year_to = _parse_data_years(c, doc["data_years"])
    winsorise = _parse_normalisation(c, doc.get("normalisation"))
    downgrade = _parse_downgrade(c, doc.get("downgrade"))
    summons = c.integer(doc, "summons_bottom_n", "summons_bottom_n", default=10, minimum=0)
    categories = _parse_categories(c, doc["categories"])
    rates = _parse_exchange_rates(c, doc.get("exchange_rates"))
    measures = _parse_measures(c, doc["measures"], rates)
    indicators = _parse_indicators(c, doc["indicators"], categories, measures)
    top_lists = _parse_top_lists(c, doc.get("top_lists"), measures)
    robustness = _parse_robustness(c, doc.get("robustness"), winsorise)
    consistency = _parse_consistency(c, doc.get("consistency"), measures)
    return Catalogue(
        version=version, name_zh=c.text(doc, "name_zh", "name_zh", version), name_en=c.text(doc, "name_en", "name_en"),  # type: ignore[arg-type]
        year_from=year_from, year_to=year_to, winsorise=winsorise, downgrade=downgrade,
        summons_bottom_n=summons, top_lists=top_lists, categories=categories,  # type: ignore[arg-type]
        measures=measures, indicators=indicators, path=str(path), sha256=sha256, exchange_rates=rates,
        robustness=robustness, consistency=consistency,
    )


def _parse_data_years(c: _Checker, raw: Any) -> tuple[int, int | None]:
    years = c.mapping(raw, "data_years")
    c.keys(years, {"from", "to"}, {"from"}, "data_years")
    year_from = c.integer(years, "from", "data_years", minimum=1900)
    year_to = c.integer(years, "to", "data_years", minimum=1900)
    if year_to is not None and year_to < year_from:  # type: ignore[operator]
        c.fail("data_years", f"`to` ({year_to}) is before `from` ({year_from})")
    return year_from, year_to  # type: ignore[return-value]


def _winsorise(c: _Checker, w: Any, entry: str) -> tuple[float, float] | None:
    """A winsorisation setting: null (plain min/max) or two quantiles ``[a, b]`` with 0 <= a <= b <= 1."""
    if w is None:
        return None
    if not (isinstance(w, list) and len(w) == 2 and all(_is_number(q) for q in w)):
        c.fail(entry, "must be null or a list of two quantiles [a, b]")
    a, b = float(w[0]), float(w[1])
    if not (0 <= a <= b <= 1):
        c.fail(entry, f"quantiles must satisfy 0 <= a <= b <= 1, found [{a}, {b}]")
    return (a, b)


def _parse_normalisation(c: _Checker, raw: Any) -> tuple[float, float] | None:
    if raw is None:
        return None
    norm = c.mapping(raw, "normalisation")
    c.keys(norm, {"winsorise"}, set(), "normalisation")
    return _winsorise(c, norm.get("winsorise"), "normalisation.winsorise")


def _parse_downgrade(c: _Checker, raw: Any) -> Downgrade | None:
    if raw is None:
        return None
    d = c.mapping(raw, "downgrade")
    c.keys(d, _DOWNGRADE_KEYS, {"rule", "bottom_n"}, "downgrade")
    if d["rule"] not in _DOWNGRADE_RULES:
        c.fail("downgrade.rule", f"must be one of {list(_DOWNGRADE_RULES)}, found {d['rule']!r}")
    bottom_n = c.integer(d, "bottom_n", "downgrade")
    if d["rule"] == "regional_bottom":
        if "window" not in d or "times" not in d:
            c.fail("downgrade", "rule regional_bottom needs `window` and `times`")
        # times > window is allowed (the contract sets no such rule): the watch-list is then always empty
        window, times = c.integer(d, "window", "downgrade"), c.integer(d, "times", "downgrade")
    else:  # national_consecutive: window and times are ignored (the rule is two consecutive years)
        window, times = 2, 2
    return Downgrade(d["rule"], bottom_n, window, times)  # type: ignore[arg-type]


def _parse_categories(c: _Checker, raw: Any) -> tuple[Category, ...]:
    if not isinstance(raw, list) or not raw:
        c.fail("categories", "must be a non-empty list")
    categories: list[Category] = []
    for n, item in enumerate(raw, 1):
        entry = f"categories[{n}]"
        item = c.mapping(item, entry)
        code = c.code(item, entry)
        entry = f"category {code}"
        c.keys(item, _CATEGORY_KEYS, {"code", "weight"}, entry)
        if any(k.code == code for k in categories):
            c.fail(entry, "duplicate category code (codes are unique within categories)")
        weight = c.number(item, "weight", entry, non_negative=True)
        categories.append(Category(code, weight, c.text(item, "name_zh", entry, code), c.text(item, "name_en", entry),  # type: ignore[arg-type]
                                   c.text(item, "source", entry)))
    total = sum(k.weight for k in categories)
    if abs(total - 1.0) > 1e-9:
        c.fail("categories", f"category weights must sum to 1 (±1e-9), they sum to {total!r}")
    return tuple(categories)


def _parse_exchange_rates(c: _Checker, raw: Any) -> ExchangeRates | None:
    """``exchange_rates``: a ``source`` and, per currency, year → CNY per unit with no gap between the first and
    the last year (never judged against today's date: a catalogue stays valid as years pass)."""
    if raw is None:
        return None
    entry = "exchange_rates"
    doc = c.mapping(raw, entry)
    if "source" not in doc:
        c.fail(entry, "missing required key ['source'] (where the rates come from, e.g. 国家统计局统计公报)")
    source = c.text(doc, "source", entry)
    if not source or not source.strip():
        c.fail(entry, "`source` must be a non-empty text")
    rates: dict[str, dict[int, float]] = {}
    for currency, table in doc.items():
        if currency == "source":
            continue
        where = f"{entry}.{currency}"
        if not isinstance(currency, str) or not re.fullmatch(r"[A-Z]{3}", currency):
            c.fail(where, f"a currency must be a three-letter ISO 4217 code such as USD, found {currency!r}")
        if currency == "CNY":
            c.fail(where, "rates are CNY per unit of another currency; CNY itself needs none")
        table = c.mapping(table, where)
        if not table:
            c.fail(where, "lists no year (give year: rate pairs, e.g. 2021: 6.4515)")
        years: dict[int, float] = {}
        for year, rate in table.items():
            if isinstance(year, bool) or not isinstance(year, int) or year < 1900:
                c.fail(where, f"years must be whole numbers >= 1900 (unquoted), found {year!r}")
            if not _is_number(rate) or rate <= 0:
                c.fail(where, f"the rate of {year} must be a number > 0 (CNY per 1 {currency}), found {rate!r}")
            years[year] = float(rate)
        missing = sorted(set(range(min(years), max(years) + 1)) - set(years))
        if missing:
            c.fail(where, f"no rate for {', '.join(map(str, missing))}: the years between the first ({min(years)}) "
                          f"and the last ({max(years)}) must all have a rate")
        rates[currency] = dict(sorted(years.items()))
    if not rates:
        c.fail(entry, "lists no currency (e.g. USD: {2021: 6.4515})")
    return ExchangeRates(source=source, rates=rates)  # type: ignore[arg-type]


def _parse_units(c: _Checker, raw: Any, unit: str, entry: str,
                 rates: ExchangeRates | None) -> tuple[dict[str, float], dict[str, CurrencyUnit]]:
    """A measure's ``accepted_units``: a plain factor (a number > 0), or a currency unit
    ``{currency, factor, invert}`` converted at the data year's rate."""
    units: dict[str, float] = {unit: 1.0}
    currency_units: dict[str, CurrencyUnit] = {}
    if raw is None:
        return units, currency_units
    where = f"{entry}.accepted_units"
    acc = c.mapping(raw, where)
    for u, spec in acc.items():
        name = str(u)
        if isinstance(spec, dict):
            if name == unit:
                c.fail(where, f"the canonical unit {unit!r} cannot be a currency unit (it must have factor 1)")
            c.keys(spec, _CURRENCY_UNIT_KEYS, {"currency"}, f"{where}.{name}")
            currency = spec["currency"]
            if rates is None or currency not in rates.rates:
                c.fail(f"{where}.{name}", f"names currency {currency!r}, which has no rates in `exchange_rates` "
                                          f"(add them there, with their source)")
            factor = c.number(spec, "factor", f"{where}.{name}", default=1.0, positive=True)
            invert = spec.get("invert", False)
            if not isinstance(invert, bool):
                c.fail(f"{where}.{name}", f"`invert` must be true or false, found {invert!r}")
            currency_units[name] = CurrencyUnit(currency=currency, factor=factor, invert=invert)  # type: ignore[arg-type]
            continue
        if not _is_number(spec) or spec <= 0:
            c.fail(where, f"factor of unit {u!r} must be a number > 0 or a currency unit "
                          f"{{currency, factor, invert}}, found {spec!r}")
        if name == unit and float(spec) != 1.0:
            c.fail(where, f"the canonical unit {unit!r} must have factor 1, found {spec!r}")
        units[name] = float(spec)
    return units, currency_units


def _parse_measures(c: _Checker, raw: Any, rates: ExchangeRates | None) -> dict[str, Measure]:
    if not isinstance(raw, list) or not raw:
        c.fail("measures", "must be a non-empty list")
    measures: dict[str, Measure] = {}
    for n, item in enumerate(raw, 1):
        entry = f"measures[{n}]"
        item = c.mapping(item, entry)
        code = c.code(item, entry)
        entry = f"measure {code}"
        c.keys(item, _MEASURE_KEYS, {"code", "unit"}, entry)
        if code in measures:
            c.fail(entry, "duplicate measure code (codes are unique within measures)")
        unit = c.text(item, "unit", entry)
        if not unit or not unit.strip():
            c.fail(entry, "`unit` (the canonical unit) must be a non-empty string")
        units, currency_units = _parse_units(c, item.get("accepted_units"), unit, entry, rates)  # type: ignore[arg-type]
        integer = item.get("integer", False)
        if not isinstance(integer, bool):
            c.fail(entry, f"`integer` must be true or false, found {integer!r}")
        m = Measure(
            code=code, unit=unit, name_zh=c.text(item, "name_zh", entry, code), name_en=c.text(item, "name_en", entry),  # type: ignore[arg-type]
            accepted_units=units, currency_units=currency_units,
            hard_min=c.number(item, "hard_min", entry), hard_max=c.number(item, "hard_max", entry), integer=integer,
            soft_min=c.number(item, "soft_min", entry), soft_max=c.number(item, "soft_max", entry),
            soft_max_yoy_factor=c.number(item, "soft_max_yoy_factor", entry, positive=True),
            not_above=c.text(item, "not_above", entry), source=c.text(item, "source", entry),
        )
        for lo, hi in (("hard_min", "hard_max"), ("soft_min", "soft_max")):
            if getattr(m, lo) is not None and getattr(m, hi) is not None and getattr(m, lo) > getattr(m, hi):
                c.fail(entry, f"`{lo}` ({getattr(m, lo)}) is greater than `{hi}` ({getattr(m, hi)})")
        measures[code] = m
    for m in measures.values():
        if m.not_above is not None and m.not_above not in measures:
            c.fail(f"measure {m.code}", f"`not_above` names {m.not_above!r}, which is not a measure of this catalogue")
    return measures


def _parse_indicators(c: _Checker, raw: Any, categories: tuple[Category, ...],
                      measures: dict[str, Measure]) -> tuple[Indicator, ...]:
    if not isinstance(raw, list) or not raw:
        c.fail("indicators", "must be a non-empty list")
    indicators: list[Indicator] = []
    cat_codes = {k.code for k in categories}
    for n, item in enumerate(raw, 1):
        entry = f"indicators[{n}]"
        item = c.mapping(item, entry)
        code = c.code(item, entry)
        entry = f"indicator {code}"
        c.keys(item, _INDICATOR_KEYS, {"code", "category", "direction", "kind"}, entry)
        if any(i.code == code for i in indicators):
            c.fail(entry, "duplicate indicator code (codes are unique within indicators)")
        kind = item["kind"]
        if kind not in _KIND_KEYS:
            c.fail(entry, f"`kind` must be one of value, ratio, growth, found {kind!r}")
        wrong = sorted((set(item) & {"measure", "numerator", "denominator", "scale"}) - _KIND_KEYS[kind])
        if wrong:
            c.fail(entry, f"key(s) {wrong} do not apply to kind {kind}")
        missing = sorted(_KIND_REQUIRED[kind] - set(item))
        if missing:
            c.fail(entry, f"kind {kind} needs key(s) {missing}")
        if item["direction"] not in ("higher", "lower"):
            c.fail(entry, f"`direction` must be higher or lower, found {item['direction']!r}")
        category = c.text(item, "category", entry)
        if category not in cat_codes:
            c.fail(entry, f"`category` names {category!r}, which is not a category of this catalogue")
        ind = Indicator(
            code=code, category=category, direction=item["direction"], kind=kind,  # type: ignore[arg-type]
            weight=c.number(item, "weight", entry, default=1.0, non_negative=True),  # type: ignore[arg-type]
            name_zh=c.text(item, "name_zh", entry, code), name_en=c.text(item, "name_en", entry),  # type: ignore[arg-type]
            measure=c.text(item, "measure", entry), numerator=c.text(item, "numerator", entry),
            denominator=c.text(item, "denominator", entry),
            scale=c.number(item, "scale", entry, default=1.0),  # type: ignore[arg-type]
            source=c.text(item, "source", entry),
        )
        for m in ind.measures_used:
            if m not in measures:
                c.fail(entry, f"uses measure {m!r}, which is not a measure of this catalogue")
        indicators.append(ind)
    for k in categories:
        if not any(i.category == k.code for i in indicators):
            c.fail(f"category {k.code}", "has no indicator (every category needs at least one)")
        if sum(i.weight for i in indicators if i.category == k.code) <= 0:
            c.fail(f"category {k.code}", "its indicators' weights sum to 0 (the category score would be undefined)")
    return tuple(indicators)


def _parse_top_lists(c: _Checker, raw: Any, measures: dict[str, Measure]) -> tuple[str, ...]:
    top_lists = raw or []
    if not isinstance(top_lists, list):
        c.fail("top_lists", "must be a list of measure codes")
    for m in top_lists:
        if str(m) not in measures:
            c.fail("top_lists", f"names {m!r}, which is not a measure of this catalogue")
    if len(set(map(str, top_lists))) != len(top_lists):
        c.fail("top_lists", "lists a measure twice")
    return tuple(map(str, top_lists))


def _parse_consistency(c: _Checker, raw: Any, measures: dict[str, Measure]) -> tuple[ConsistencyRule, ...]:
    """The optional ``consistency`` list (docs/contract/02-inputs.md §2.3 "Consistency rules"): every rule
    ``{left, op, right, tolerance}`` between two measures of this catalogue."""
    if raw is None:
        return ()
    if not isinstance(raw, list):
        c.fail("consistency", "must be a list of rules {left, op, right, tolerance}")
    rules: list[ConsistencyRule] = []
    for n, item in enumerate(raw, 1):
        entry = f"consistency[{n}]"
        item = c.mapping(item, entry)
        c.keys(item, _CONSISTENCY_KEYS, _CONSISTENCY_KEYS, entry)
        left, right = c.text(item, "left", entry), c.text(item, "right", entry)
        op = item["op"]
        entry = f"consistency[{n}] ({left} {op} {right})"
        for side, code in (("left", left), ("right", right)):
            if code not in measures:
                c.fail(entry, f"`{side}` names {code!r}, which is not a measure of this catalogue")
        if left == right:
            c.fail(entry, "`left` and `right` name the same measure (a rule compares two measures)")
        if op not in CONSISTENCY_OPS:
            c.fail(entry, f"`op` must be one of {list(CONSISTENCY_OPS)} (quoted in YAML: op: \"<=\"), found {op!r}")
        tolerance = c.number(item, "tolerance", entry, non_negative=True)
        if tolerance is None:
            c.fail(entry, "`tolerance` must be a number >= 0 (0: any excess is an error), found null")
        rule = ConsistencyRule(left=left, op=op, right=right, tolerance=tolerance)  # type: ignore[arg-type]
        if any((r.left, r.op, r.right) == (left, op, right) for r in rules):
            c.fail(entry, "the same rule is declared twice")
        rules.append(rule)
    return tuple(rules)


_ROBUSTNESS_KEYS = {"samples", "seed", "weights", "category_weights", "winsorise_options", "no_base_options"}
NO_BASE_OPTIONS = ("median", "zero")  # §3.2 step 5 imputes the median; §3.9 also tries 0


def _parse_robustness(c: _Checker, raw: Any, own_winsorise: tuple[float, float] | None) -> Robustness:
    """The optional ``robustness`` section; absent keys take the defaults of docs/contract/02-inputs.md §2.3."""
    if raw is None:
        return Robustness(winsorise_options=(own_winsorise,))
    entry = "robustness"
    r = c.mapping(raw, entry)
    c.keys(r, _ROBUSTNESS_KEYS, set(), entry)
    samples = c.integer(r, "samples", entry, default=1000)
    seed = c.integer(r, "seed", entry, minimum=0)  # numpy's default_rng takes a non-negative integer
    weights = c.number(r, "weights", entry, default=0.25, non_negative=True)
    if weights >= 1:  # U(1 − p, 1 + p) must keep every weight positive, or a category's weights could sum to 0
        c.fail(entry, f"`weights` must be >= 0 and < 1, found {weights!r}")
    # absent or null: = weights (Robustness.category_spread); below 1, so no category weight reaches 0
    category_weights = c.number(r, "category_weights", entry, non_negative=True)
    if category_weights is not None and category_weights >= 1:
        c.fail(entry, f"`category_weights` must be >= 0 and < 1, found {category_weights!r}")
    options: list[tuple[float, float] | None] = []
    raw_options = r.get("winsorise_options", [list(own_winsorise) if own_winsorise else None])
    if not isinstance(raw_options, list) or not raw_options:
        c.fail(f"{entry}.winsorise_options", "must be a non-empty list of [a, b] quantile pairs or null")
    for n, w in enumerate(raw_options, 1):
        options.append(_winsorise(c, w, f"{entry}.winsorise_options[{n}]"))
    no_base = r.get("no_base_options", ["median"])
    if not isinstance(no_base, list) or not no_base or any(q not in NO_BASE_OPTIONS for q in no_base):
        c.fail(f"{entry}.no_base_options", f"must be a non-empty list of {list(NO_BASE_OPTIONS)}, found {no_base!r}")
    return Robustness(samples=samples, seed=seed, weights=weights,  # type: ignore[arg-type]
                      winsorise_options=tuple(options), no_base_options=tuple(no_base),
                      category_weights=category_weights)


# Parsed catalogues by (path, SHA-256 of the bytes): a run loads the catalogues from the CLI, the definitions and
# every step (7 times a year); the file is still read each time, so an edited file is parsed again. A Catalogue
# is frozen and never changed in place (variants are dataclasses.replace copies), so sharing one is safe.
_PARSED: dict[tuple[str, str], Catalogue] = {}


def load_catalogue(path: str | Path) -> Catalogue:
    """Load one catalogue YAML file, refusing it with a CatalogueError if it breaks a rule."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(path, "(file)", f"cannot be read: {exc}") from exc
    key = (str(path), hashlib.sha256(data).hexdigest())
    hit = _PARSED.get(key)
    if hit is None:
        if len(_PARSED) >= 64:  # bounded: a long-lived process whose catalogues are edited keeps no history
            _PARSED.clear()
        hit = _PARSED[key] = _load(path, data, key[1])
    return hit


def _load(path: Path, data: bytes, sha256: str) -> Catalogue:
    try:
        # the C loader when libyaml is there (same documents, ~10x faster); the pure-Python one otherwise
        raw = yaml.load(data.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogueError(path, "(file)", f"is not valid UTF-8 YAML: {exc}") from exc
    return _parse(raw, path, sha256)


def load_catalogues(folder: str | Path | None = None) -> list[Catalogue]:
    """Load every ``*.yaml`` / ``*.yml`` catalogue of a folder (default: the shipped ones), sorted by first year."""
    folder = Path(folder) if folder else SHIPPED_DIR
    if not folder.is_dir():
        raise MethodologyError(f"methodology folder {folder} does not exist "
                               f"(set ETDZ_METHODOLOGY to a folder of catalogue YAML files)")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith((".", "_")))
    if not files:
        raise MethodologyError(f"methodology folder {folder} holds no catalogue (*.yaml)")
    catalogues = [load_catalogue(p) for p in files]
    seen: dict[str, str] = {}
    for catalogue in catalogues:
        if catalogue.version in seen:
            raise CatalogueError(catalogue.path, "version",
                                 f"version {catalogue.version!r} is also declared by {seen[catalogue.version]}")
        seen[catalogue.version] = catalogue.path
    return sorted(catalogues, key=lambda c: (c.year_from, c.version))


def indicator_unit(ind: Indicator, catalogue: Catalogue) -> str:
    """The unit an indicator's value is in: its measure's canonical unit, % for growth rates and ratios
    scaled by 100, otherwise numerator unit / denominator unit. The one home of the rule (the reports
    and any other caller use it)."""
    if ind.kind == "value":
        return catalogue.measures[ind.measure].unit
    if ind.kind == "growth":
        return "%"
    if float(ind.scale) == 100.0:
        return "%"
    num, den = catalogue.measures[ind.numerator].unit, catalogue.measures[ind.denominator].unit
    unit = f"{num}/{den}"
    return unit if float(ind.scale) == 1.0 else f"{unit} ×{ind.scale:g}"


def catalogue_for_year(catalogues: Iterable[Catalogue], data_year: int) -> Catalogue:
    """The one catalogue whose ``data_years`` contains ``data_year`` (docs/contract/03-scoring.md: exactly one must)."""
    matches = [c for c in catalogues if c.applies_to(data_year)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise MethodologyError(
            f"no methodology catalogue applies to data year {data_year}: add a catalogue whose data_years "
            f"contains {data_year} to ETDZ_METHODOLOGY, or run another year")
    names = ", ".join(f"{c.version} ({c.path})" for c in matches)
    raise MethodologyError(f"data year {data_year} is matched by more than one catalogue: {names}; "
                           f"make their data_years disjoint")


def catalogue_from_dict(doc: dict, name: str = "<inline>") -> Catalogue:
    """Check and build a catalogue from an already-parsed document (tests, tools)."""
    return _parse(doc, Path(name), hashlib.sha256(yaml.safe_dump(doc, allow_unicode=True).encode()).hexdigest())
