"""The methodology catalogue: loading, checking every rule of 02-inputs.md §2.3.

A catalogue is data, not code: any YAML file in this format must run. A file that
breaks a rule is refused with a :class:`CatalogueError` naming the file, the entry
and the rule, so the analyst who edited it knows what to fix.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

import yaml

SHIPPED_DIR = Path(__file__).parent / "catalogues"

_TOP_KEYS = {
    "version", "name_zh", "name_en", "data_years", "normalisation", "downgrade",
    "summons_bottom_n", "top_lists", "categories", "measures", "indicators",
    "robustness",
}
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
_KIND_KEYS = {"value": {"measure", "scale"}, "growth": {"measure", "scale"}, "ratio": {"numerator", "denominator", "scale"}}
_KIND_REQUIRED = {"value": {"measure"}, "growth": {"measure"}, "ratio": {"numerator", "denominator"}}
_DOWNGRADE_KEYS = {"rule", "bottom_n", "window", "times"}
_DOWNGRADE_RULES = ("regional_bottom", "national_consecutive")


class CatalogueError(ValueError):
    """A catalogue file breaks a rule of 02-inputs.md §2.3."""

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
    """The rank-robustness analysis of 03-scoring.md §3.9 (02-inputs.md §2.3 "Robustness analysis").

    ``seed`` None means the data year (resolved per year by the scorer, not here).
    """

    samples: int = 1000
    seed: int | None = None
    weights: float = 0.25
    winsorise_options: tuple[tuple[float, float] | None, ...] = (None,)
    no_base_options: tuple[str, ...] = ("median",)


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
    robustness: Robustness = field(default_factory=Robustness)

    def applies_to(self, data_year: int) -> bool:
        return self.year_from <= data_year and (self.year_to is None or data_year <= self.year_to)

    @property
    def required_measures(self) -> tuple[str, ...]:
        """Measures an indicator uses (02-inputs.md §2.3: those are required), in catalogue order."""
        used = {m for ind in self.indicators for m in ind.measures_used}
        return tuple(code for code in self.measures if code in used)

    def category(self, code: str) -> Category:
        return next(c for c in self.categories if c.code == code)

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


def _parse(raw: Any, path: Path, sha256: str) -> Catalogue:
    c = _Checker(path)
    doc = c.mapping(raw, "(top level)")
    c.keys(doc, _TOP_KEYS, {"version", "data_years", "categories", "measures", "indicators"}, "(top level)")
    version = c.text(doc, "version", "version")
    if not version or not version.strip():
        c.fail("version", "must be a non-empty string")

    years = c.mapping(doc["data_years"], "data_years")
    c.keys(years, {"from", "to"}, {"from"}, "data_years")
    year_from = c.integer(years, "from", "data_years", minimum=1900)
    year_to = c.integer(years, "to", "data_years", minimum=1900)
    if year_to is not None and year_to < year_from:  # type: ignore[operator]
        c.fail("data_years", f"`to` ({year_to}) is before `from` ({year_from})")

    winsorise: tuple[float, float] | None = None
    if doc.get("normalisation") is not None:
        norm = c.mapping(doc["normalisation"], "normalisation")
        c.keys(norm, {"winsorise"}, set(), "normalisation")
        winsorise = _winsorise(c, norm.get("winsorise"), "normalisation.winsorise")

    downgrade: Downgrade | None = None
    if doc.get("downgrade") is not None:
        d = c.mapping(doc["downgrade"], "downgrade")
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
        downgrade = Downgrade(d["rule"], bottom_n, window, times)  # type: ignore[arg-type]

    summons = c.integer(doc, "summons_bottom_n", "summons_bottom_n", default=10, minimum=0)

    # categories
    cats_raw = doc["categories"]
    if not isinstance(cats_raw, list) or not cats_raw:
        c.fail("categories", "must be a non-empty list")
    categories: list[Category] = []
    for n, item in enumerate(cats_raw, 1):
        entry = f"categories[{n}]"
        item = c.mapping(item, entry)
        code = c.code(item, entry)
        entry = f"category {code}"
        c.keys(item, _CATEGORY_KEYS, {"code", "weight"}, entry)
        if any(k.code == code for k in categories):
            c.fail(entry, "duplicate category code (codes are unique within categories)")
        weight = c.number(item, "weight", entry, non_negative=True)
        categories.append(Category(code, weight, c.text(item, "name_zh", entry, code), c.text(item, "name_en", entry),
                                   c.text(item, "source", entry)))
    total = sum(k.weight for k in categories)
    if abs(total - 1.0) > 1e-9:
        c.fail("categories", f"category weights must sum to 1 (±1e-9), they sum to {total!r}")

    # measures
    meas_raw = doc["measures"]
    if not isinstance(meas_raw, list) or not meas_raw:
        c.fail("measures", "must be a non-empty list")
    measures: dict[str, Measure] = {}
    for n, item in enumerate(meas_raw, 1):
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
        units: dict[str, float] = {unit: 1.0}  # type: ignore[dict-item]
        if item.get("accepted_units") is not None:
            acc = c.mapping(item["accepted_units"], f"{entry}.accepted_units")
            for u, factor in acc.items():
                if not _is_number(factor) or factor <= 0:
                    c.fail(f"{entry}.accepted_units", f"factor of unit {u!r} must be a number > 0, found {factor!r}")
                if str(u) == unit and float(factor) != 1.0:
                    c.fail(f"{entry}.accepted_units", f"the canonical unit {unit!r} must have factor 1, found {factor!r}")
                units[str(u)] = float(factor)
        integer = item.get("integer", False)
        if not isinstance(integer, bool):
            c.fail(entry, f"`integer` must be true or false, found {integer!r}")
        m = Measure(
            code=code, unit=unit, name_zh=c.text(item, "name_zh", entry, code), name_en=c.text(item, "name_en", entry),
            accepted_units=units,
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

    # indicators
    inds_raw = doc["indicators"]
    if not isinstance(inds_raw, list) or not inds_raw:
        c.fail("indicators", "must be a non-empty list")
    indicators: list[Indicator] = []
    cat_codes = {k.code for k in categories}
    for n, item in enumerate(inds_raw, 1):
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

    top_lists = doc.get("top_lists") or []
    if not isinstance(top_lists, list):
        c.fail("top_lists", "must be a list of measure codes")
    for m in top_lists:
        if str(m) not in measures:
            c.fail("top_lists", f"names {m!r}, which is not a measure of this catalogue")
    if len(set(map(str, top_lists))) != len(top_lists):
        c.fail("top_lists", "lists a measure twice")

    robustness = _parse_robustness(c, doc.get("robustness"), winsorise)

    return Catalogue(
        version=version, name_zh=c.text(doc, "name_zh", "name_zh", version), name_en=c.text(doc, "name_en", "name_en"),  # type: ignore[arg-type]
        year_from=year_from, year_to=year_to, winsorise=winsorise, downgrade=downgrade,  # type: ignore[arg-type]
        summons_bottom_n=summons, top_lists=tuple(map(str, top_lists)), categories=tuple(categories),  # type: ignore[arg-type]
        measures=measures, indicators=tuple(indicators), path=str(path), sha256=sha256,
        robustness=robustness,
    )


_ROBUSTNESS_KEYS = {"samples", "seed", "weights", "winsorise_options", "no_base_options"}
NO_BASE_OPTIONS = ("median", "zero")  # §3.2 step 5 imputes the median; §3.9 also tries 0


def _parse_robustness(c: _Checker, raw: Any, own_winsorise: tuple[float, float] | None) -> Robustness:
    """The optional ``robustness`` section; absent keys take the defaults of 02-inputs.md §2.3."""
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
                      winsorise_options=tuple(options), no_base_options=tuple(no_base))


def load_catalogue(path: str | Path) -> Catalogue:
    """Load one catalogue YAML file, refusing it with a CatalogueError if it breaks a rule."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CatalogueError(path, "(file)", f"cannot be read: {exc}") from exc
    try:
        # the C loader when libyaml is there (same documents, ~10x faster); the pure-Python one otherwise
        raw = yaml.load(data.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (UnicodeDecodeError, yaml.YAMLError) as exc:
        raise CatalogueError(path, "(file)", f"is not valid UTF-8 YAML: {exc}") from exc
    return _parse(raw, path, hashlib.sha256(data).hexdigest())


def load_catalogues(folder: str | Path | None = None) -> list[Catalogue]:
    """Load every ``*.yaml`` / ``*.yml`` catalogue of a folder (default: the shipped ones), sorted by first year."""
    folder = Path(folder) if folder else SHIPPED_DIR
    if not folder.is_dir():
        raise MethodologyError(f"methodology folder {folder} does not exist (set ETDZ_METHODOLOGY to a folder of catalogue YAML files)")
    files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and not p.name.startswith((".", "_")))
    if not files:
        raise MethodologyError(f"methodology folder {folder} holds no catalogue (*.yaml)")
    cats = [load_catalogue(p) for p in files]
    seen: dict[str, str] = {}
    for cat in cats:
        if cat.version in seen:
            raise CatalogueError(cat.path, "version", f"version {cat.version!r} is also declared by {seen[cat.version]}")
        seen[cat.version] = cat.path
    return sorted(cats, key=lambda k: (k.year_from, k.version))


def catalogue_for_year(catalogues: Iterable[Catalogue], data_year: int) -> Catalogue:
    """The one catalogue whose ``data_years`` contains ``data_year`` (03-scoring.md: exactly one must)."""
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
