"""Display units: the one home of the units the reports show an amount in, where it differs from the canonical one.

The data keep the catalogue's canonical unit (``measures.value``, ``measures.unit``: 02-inputs.md §2.1); only what a
person reads is converted. The ministry publishes foreign investment (实际使用外资) in 亿美元, while the catalogues
store it in 万美元 (the unit zones report it in), so every amount in 万美元 is shown in 亿美元 — in the national report,
the cards (indicator values, levers by measure) and the workbook. Keyed by the canonical unit, so a catalogue that adds
a measure in 万美元 shows it the same way; units not listed here (亿元, %, ratios such as 万美元/人) are shown as they
are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class DisplayUnit:
    unit: str            # the unit shown
    factor: float        # shown value = canonical value × factor

    @property
    def converted(self) -> bool:
        return self.factor != 1.0


#: canonical unit -> how it is published
DISPLAY_UNITS: dict[str, DisplayUnit] = {
    "万美元": DisplayUnit("亿美元", 1e-4),
}


@lru_cache(maxsize=256)  # a card asks ~140 times for a handful of units
def display_unit(canonical: str | None) -> DisplayUnit:
    """How an amount in ``canonical`` is shown (itself, factor 1, when it is not converted)."""
    return DISPLAY_UNITS.get(str(canonical), DisplayUnit(str(canonical or ""), 1.0))


def shown_value(x: float | None, canonical: str | None) -> float | None:
    """``x`` (in ``canonical``) in its display unit; None and NaN stay as they are, ±inf stays ±inf."""
    if x is None:
        return None
    return float(x) * display_unit(canonical).factor


def per_shown_unit(points_per_unit: float, canonical: str | None) -> float:
    """A rate per canonical unit (points per 万美元) per display unit (points per 亿美元)."""
    return float(points_per_unit) / display_unit(canonical).factor


def decimals_for(x: float, converted: bool) -> int:
    """The decimals of a displayed amount: 2, and for a converted amount below 1 enough to keep three significant
    digits (a zone's 30 万美元 is 0.00300 亿美元, never 0.00), at most 6."""
    if not converted or x == 0 or not math.isfinite(x) or abs(x) >= 1:
        return 2
    return min(6, max(2, 2 - math.floor(math.log10(abs(x)))))
