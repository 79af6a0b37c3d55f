"""What a submitted cell says as text: the one set of characters trimmed from its ends, blankness, cell → text.

A cell that looks empty in a spreadsheet is blank, whatever invisible characters it holds: users paste from
web pages (NBSP), type with a Chinese input method (the ideographic space U+3000), or get a stray byte-order
mark or zero-width space from another tool. Every reader of a cell (the column names, the blank checks of the
readers and of the batch read, the zone/measure/unit cells, the number parser) trims with :data:`BLANK`, so a
cell is blank to all of them or to none (docs/validation.md, "Blank cells and trimmed characters").
"""

from __future__ import annotations

import math

#: The characters trimmed from both ends of every cell: ASCII whitespace (space, tab, line feed, carriage return,
#: vertical tab, form feed), the Unicode spaces (NBSP U+00A0, NEL U+0085, U+1680, U+2000–U+200A, the line and
#: paragraph separators U+2028/U+2029, narrow NBSP U+202F, U+205F, the ideographic space U+3000) and the invisible
#: zero-width characters (zero-width space U+200B, word joiner U+2060, Mongolian vowel separator U+180E, the
#: byte-order mark / zero-width no-break space U+FEFF). Zero-width (non-)joiners U+200C/U+200D are not trimmed:
#: they are part of the text they join.
BLANK = (" \t\n\r\x0b\x0c\u0085\u00a0\u1680" + "".join(chr(c) for c in range(0x2000, 0x200B))
         + "\u2028\u2029\u202f\u205f\u3000\u200b\u2060\u180e\ufeff")


def trim(text: str) -> str:
    """``text`` without the :data:`BLANK` characters at either end."""
    return text.strip(BLANK)


def is_blank(v: object) -> bool:
    """An empty cell: None, or a string of :data:`BLANK` characters only (a number is never blank)."""
    return v is None or (isinstance(v, str) and trim(v) == "")


def cell_text(v: object) -> str:
    """A cell as text, trimmed: ``""`` for an empty cell (None, NaN), ``"2022"`` for the float 2022.0 that a
    spreadsheet stores for a typed 2022, else ``str(v)`` without its :data:`BLANK` ends."""
    if v is None:
        return ""
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        if v.is_integer():
            return str(int(v))
    return trim(str(v))
