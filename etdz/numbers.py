"""The number syntax of submissions (docs/contract/02-inputs.md §2.1, "Values").

Accepted as they are: the usual syntax — sign, decimals, exponent (``-3``, ``12.5``,
``2e-06``) — and numbers as a spreadsheet stores them (int / float cells).

Accepted and normalised *with a warning* (the caller reports ``row.number_normalised``):

* full-width digits, signs, decimal point, comma, percent and exponent letter
  (``１２３．５``, ``－３``), and the minus sign U+2212;
* thousands separators in correct groups of three (``1,234.5``, ``1，234``);
* surrounding spaces (ASCII, no-break, ideographic, tabs);
* a trailing ``%`` where the measure's canonical unit is ``%`` (``12%`` is 12).

Everything else is invalid (``约300``, ``N/A``, ``—``, ``1.2.3``, ``12%`` for a measure not
in ``%``, ``inf``, ``nan``, ``1_000``, ``0x10``, a value too large for a double, a
boolean or date cell). Nothing here guesses: ``1,2`` (a decimal comma?) is invalid.

:func:`parse_value` returns a :class:`Parsed` whose ``text`` is the normalised ASCII
text that the Great Expectations suite checks against :data:`NUMBER_REGEX`; for a
value that is invalid it is the original text prefixed with :data:`INVALID_MARK`,
so the syntax expectation fails for it (and only for it).
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from dataclasses import dataclass

import numpy as np

from etdz.cells import trim

#: The usual number syntax, after normalisation (what GX checks row by row).
NUMBER_REGEX = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"
_NUMBER = re.compile(NUMBER_REGEX)
_THOUSANDS = re.compile(r"^([+-]?)([0-9]{1,3}(?:,[0-9]{3})+)((?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)$")
#: Prefix of ``Parsed.text`` for a value that is not a number (never matches NUMBER_REGEX).
INVALID_MARK = "\u2717"

# full-width ASCII block U+FF01..U+FF5E -> U+0021..U+007E, for the characters a number may hold
_FULLWIDTH = {0xFF10 + i: 0x30 + i for i in range(10)}
_FULLWIDTH.update({0xFF0B: ord("+"), 0xFF0D: ord("-"), 0xFF0E: ord("."), 0xFF0C: ord(","), 0xFF05: ord("%"),
                   0xFF45: ord("e"), 0xFF25: ord("E"), 0x2212: ord("-"), 0xFE63: ord("-"), 0xFE62: ord("+")})

#: The kinds of normalisation, with the Chinese words used in messages.
NORMALISATIONS_ZH = {
    "fullwidth": "全角字符转为半角",
    "thousands": "去掉千位分隔符",
    "spaces": "去掉首尾空格",
    "percent": "去掉末尾的 %",
}


@dataclass(frozen=True)
class Parsed:
    """One parsed cell.

    ``value`` is None when the cell is empty ("not reported") or invalid; ``error`` says
    why it is invalid (Chinese, for messages); ``normalised`` lists what was changed
    (keys of NORMALISATIONS_ZH) for an accepted value.
    """

    text: str | None
    value: float | None
    normalised: tuple[str, ...] = ()
    error: str | None = None

    @property
    def empty(self) -> bool:
        return self.text is None

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None


def _invalid(raw: str, reason: str) -> Parsed:
    return Parsed(INVALID_MARK + raw, None, (), reason)


def parse_value(raw: object, *, percent_ok: bool = False) -> Parsed:
    """Parse one submitted value (a CSV string or an XLSX cell value).

    ``percent_ok``: the measure's canonical unit is ``%``, so a trailing ``%`` is allowed.
    """
    if raw is None:
        return Parsed(None, None)
    if isinstance(raw, bool):
        return _invalid(str(raw), "逻辑值（TRUE/FALSE）不是数值")
    if isinstance(raw, int):
        return Parsed(str(raw), float(raw)) if abs(raw) < 1e308 else _invalid(str(raw), "数值过大")
    if isinstance(raw, float):
        if math.isnan(raw):
            return Parsed(None, None)
        if math.isinf(raw):
            return _invalid(str(raw), "不是有限数值")
        return Parsed(repr(raw), raw)
    if isinstance(raw, (_dt.datetime, _dt.date, _dt.time, _dt.timedelta)):
        return _invalid(str(raw), "日期/时间格式的单元格不是数值")
    if not isinstance(raw, str):
        return _invalid(str(raw), f"无法识别的单元格内容（{type(raw).__name__}）")

    done: list[str] = []
    text = raw
    stripped = trim(text)
    if stripped == "":
        return Parsed(None, None)
    if stripped != text:
        done.append("spaces")
    text = stripped
    translated = text.translate(_FULLWIDTH)
    if translated != text:
        done.append("fullwidth")
    text = translated
    if text.endswith("%"):
        if not percent_ok:
            return _invalid(raw, "带 % 的数值只适用于计量单位为 % 的指标")
        text = trim(text[:-1])
        done.append("percent")
    if "," in text:
        m = _THOUSANDS.match(text)
        if not m:
            return _invalid(raw, "逗号位置不符合千位分隔格式（如 1,234.5）")
        text = m.group(1) + m.group(2).replace(",", "") + m.group(3)
        done.append("thousands")
    if not _NUMBER.match(text):
        return _invalid(raw, "不是数值")
    value = float(text)
    if not math.isfinite(value):
        return _invalid(raw, "数值超出可表示范围")
    return Parsed(text, value, tuple(done))


def whole_gap(value: float | np.ndarray) -> float | np.ndarray:
    """Relative distance to the nearest whole number (``|v - round(v)| / max(|v|, |round(v)|)``; 0 for 0), of one
    value or element-wise of an array (rounding half to even, as Python's ``round``).

    A value is whole when its gap is at most 1e-9 (docs/contract/02-inputs.md §2.1, after unit conversion): the GX suite
    checks this column against :data:`etdz.validation.suite.WHOLE_TOLERANCE`. An infinite value has no gap (NaN).
    """
    v = np.asarray(value, dtype="float64")
    r = np.round(v)
    denom = np.maximum(np.abs(v), np.abs(r))
    with np.errstate(invalid="ignore"):
        gap = np.abs(v - r) / np.where(denom == 0, 1.0, denom)
    return float(gap) if gap.ndim == 0 else gap


def format_number(value: float | None) -> str:
    """A number for messages: no exponent for ordinary magnitudes, no trailing ``.0``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.12g}"
