"""The one Jinja2 environment of the reports and number formatting; files are written by etdz.commit.

Every template is rendered with ``autoescape=True`` and :func:`etdz.escape.html_text` as the finalize
hook (bidi controls removed from every value): zone names, file names and notes come from submissions and
the registry and are untrusted. Names set inside running text use the ``isolate`` filter (``<bdi>``).
Templates and the stylesheet are package data (``etdz/reports/templates/*.j2``, ``etdz/reports/static/*``),
found through the package loader so they work from an installed wheel as well as from the source tree.
"""

from __future__ import annotations

import contextlib
import math
from functools import lru_cache
from importlib import resources

from jinja2 import Environment, FileSystemBytecodeCache, PackageLoader, StrictUndefined
from markupsafe import Markup

from etdz.escape import html_text, html_value, isolate
from etdz.reports import fictitious
from etdz.reports.units import decimals_for, display_unit

REGION_LABELS = {"east": "东部 East", "central": "中部 Central", "west": "西部 West"}
REGION_ZH = {"east": "东部", "central": "中部", "west": "西部"}
REGION_COLOURS = {"east": "#2563eb", "central": "#d97706", "west": "#059669"}
REGION_ORDER = ("east", "central", "west")
DASH = "—"


def is_missing(x) -> bool:
    if x is None:
        return True
    try:
        return bool(x != x)  # NaN, pd.NA raises TypeError
    except TypeError:
        return True


def fmt_score(x, digits: int = 2) -> str:
    """A score or other real number with ``digits`` decimals; — for missing, ±∞ for infinities."""
    if is_missing(x):
        return DASH
    x = float(x)
    if math.isinf(x):
        return "+∞" if x > 0 else "−∞"
    s = f"{x:,.{digits}f}"
    return "0.00" if s == "-0.00" and digits == 2 else s


def fmt_value(x, integer: bool = False) -> str:
    """A measure or indicator value: whole numbers for counts, else 2 decimals; thousands separated."""
    if is_missing(x):
        return DASH
    x = float(x)
    if math.isinf(x):
        return "+∞" if x > 0 else "−∞"
    if integer and float(x).is_integer():
        return f"{x:,.0f}"
    s = f"{x:,.2f}"
    return s[1:] if s in ("-0.00",) else s


def fmt_shown(x, unit, integer: bool = False) -> str:
    """An amount in the canonical ``unit`` as it is shown: in its display unit (:mod:`etdz.reports.units`)."""
    du = display_unit(unit)
    if not du.converted or is_missing(x):
        return fmt_value(x, integer)
    v = float(x) * du.factor
    if math.isinf(v):
        return fmt_value(v)
    return f"{v:,.{decimals_for(v, True)}f}"


def unit_shown(unit) -> str:
    """The unit an amount in the canonical ``unit`` is shown in."""
    return display_unit(unit).unit


def fmt_int(x) -> str:
    return DASH if is_missing(x) else f"{int(x):,}"


def fmt_change(x) -> Markup:
    """A rank change: ▲3 (moved up), ▼2, – (no change), — (no previous rank)."""
    if is_missing(x):
        return Markup('<span class="chg none">—</span>')
    x = int(x)
    if x > 0:
        return Markup(f'<span class="chg up">▲{x}</span>')
    if x < 0:
        return Markup(f'<span class="chg down">▼{-x}</span>')
    return Markup('<span class="chg same">–</span>')


def region_label(r) -> str:
    return REGION_LABELS.get(str(r), str(r))


def region_colour(r) -> str:
    return REGION_COLOURS.get(str(r), "#6b7280")


@lru_cache(maxsize=1)
def stylesheet() -> Markup:
    """The shared CSS, inlined into every page (the pages must be self-contained)."""
    css = resources.files("etdz.reports").joinpath("static/report.css").read_text(encoding="utf-8")
    return Markup(css.replace("</", "<\\/"))


#: A catalogue's text (a measure's or indicator's code and name, a unit) as a template's ``{{ value }}`` writes it,
#: for markup built in Python (:mod:`etdz.reports.levers_section`, :mod:`etdz.reports.indicators_section`). These
#: texts recur on every card, so each is escaped once (the same escaper, its results kept; a catalogue has a few
#: hundred). ``typed``: markup and the plain text equal to it are different keys, so text is never answered with
#: markup that was passed as safe.
catalogue_html = lru_cache(maxsize=4096, typed=True)(html_value)

_DICT_ATTRIBUTES = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja2's environment, with ``{{ row.key }}`` on a plain dict answered from the key when no attribute can
    be meant: the value :meth:`Environment.getattr` returns anyway (a dict's attributes are its class's), without
    the AttributeError it raises and catches first — thousands of times per card, most of a card's lookups."""

    def getattr(self, obj, attribute: str):
        if type(obj) is dict and attribute not in _DICT_ATTRIBUTES:
            try:
                return obj[attribute]
            except KeyError:
                pass  # Jinja's own lookup: the undefined value for a missing key
        return super().getattr(obj, attribute)


class _CompiledTemplates(FileSystemBytecodeCache):
    """Jinja's cache of compiled templates in its per-user folder of the temp directory, so a new process does not
    compile them again (~0.4 s of a cold run). Jinja keys each entry by the template's source checksum and the
    Python version, so a changed template or interpreter compiles afresh. Best effort: a folder that cannot be
    read or written only means compiling, as without the cache."""

    def load_bytecode(self, bucket) -> None:
        with contextlib.suppress(OSError):
            super().load_bytecode(bucket)

    def dump_bytecode(self, bucket) -> None:
        with contextlib.suppress(OSError):
            super().dump_bytecode(bucket)


def _bytecode_cache() -> FileSystemBytecodeCache | None:
    try:
        return _CompiledTemplates()
    except (OSError, RuntimeError):  # no usable temp folder (Jinja refuses one another user owns)
        return None


@lru_cache(maxsize=1)
def environment() -> Environment:
    """The one Jinja2 environment of every HTML page the project writes (the reports and validation.html)."""
    env = _Environment(loader=PackageLoader("etdz.reports", "templates"), autoescape=True, finalize=html_text,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      # package data, fixed while the process runs: no stat of the file for every page
                      auto_reload=False, bytecode_cache=_bytecode_cache())
    env.filters.update(score=fmt_score, value=fmt_value, int=fmt_int, change=fmt_change, shown=fmt_shown,
                       unit_shown=unit_shown,
                       region=region_label, colour=region_colour, isolate=isolate)
    env.globals.update(css=stylesheet, REGION_LABELS=REGION_LABELS, REGION_ZH=REGION_ZH, fictitious=fictitious)
    return env

