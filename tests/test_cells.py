"""The one set of trimmed characters (etdz/cells.py) and every reader of a cell agreeing on it."""

from __future__ import annotations

import pyarrow as pa
import pytest

from etdz import reading
from etdz.cells import BLANK, cell_text, is_blank, trim
from etdz.numbers import parse_value
from etdz.reading import normalise_column

# what a spreadsheet user expects to read as nothing (docs/validation.md, "Blank cells and trimmed characters")
TRIMMED = {
    " ": "space", "\t": "tab", "\n": "line feed", "\r": "carriage return", "\x0b": "vertical tab",
    "\x0c": "form feed", "\u00a0": "no-break space (pasted from a web page)", "\u0085": "next line",
    "\u1680": "ogham space", "\u2000": "en quad", "\u2001": "em quad", "\u2002": "en space", "\u2003": "em space",
    "\u2004": "three-per-em space", "\u2005": "four-per-em space", "\u2006": "six-per-em space",
    "\u2007": "figure space", "\u2008": "punctuation space", "\u2009": "thin space",
    "\u200a": "hair space", "\u2028": "line separator", "\u2029": "paragraph separator",
    "\u202f": "narrow no-break space", "\u205f": "medium mathematical space",
    "\u3000": "ideographic space (Chinese input method)", "\u200b": "zero-width space",
    "\u2060": "word joiner", "\u180e": "Mongolian vowel separator", "\ufeff": "byte-order mark",
}
KEPT = {"\u200c": "zero-width non-joiner", "\u200d": "zero-width joiner", "a": "a letter", "0": "a digit",
        "_": "underscore", "\u00ad": "soft hyphen (visible where it breaks)"}


def test_the_set_is_exactly_the_table():
    assert set(BLANK) == set(TRIMMED)
    assert not set(BLANK) & set(KEPT)


@pytest.mark.parametrize("ch", list(TRIMMED), ids=list(TRIMMED.values()))
def test_a_trimmed_character_is_nothing_to_every_reader(ch):
    assert trim(f"{ch}Z1{ch}{ch}") == "Z1" and is_blank(ch * 3) and cell_text(f"{ch}Z1{ch}") == "Z1"
    assert normalise_column(f"{ch}Value{ch}") == "value"
    assert reading._blank(pa.chunked_array([pa.array([ch * 2, f"{ch}x"])])).tolist() == [True, False]
    p = parse_value(f"{ch}12{ch}")
    assert p.value == 12.0 and "spaces" in p.normalised
    assert parse_value(ch * 2).empty  # a cell of invisible characters is a value left empty, not an invalid one


@pytest.mark.parametrize("ch", list(KEPT), ids=list(KEPT.values()))
def test_a_kept_character_stays(ch):
    assert trim(f"{ch}Z1{ch}") == f"{ch}Z1{ch}" and not is_blank(ch)
    assert reading._blank(pa.chunked_array([pa.array([ch])])).tolist() == [False]


@pytest.mark.parametrize("v,text", [(None, ""), (float("nan"), ""), (2022.0, "2022"), (12.5, "12.5"), (7, "7"),
                                    ("\u3000Z1 ", "Z1"), ("a b", "a b")])
def test_cell_text(v, text):
    assert cell_text(v) == text


def test_inner_spaces_are_kept_and_a_number_is_never_blank():
    assert trim(" a\u3000b ") == "a\u3000b"
    assert not is_blank(0) and not is_blank(0.0)
