"""The one escaper per output kind for untrusted text (zone names, provinces, notes, file names, values).

Data stays raw where it is data (the Parquet datasets, the archive); text is made inert only where it is
*shown*, by the function of the output it goes to:

========================  =======================  ==========================================================
output                    function                 what it defends against
========================  =======================  ==========================================================
Dagster UI markdown       :func:`markdown_text`,   markup, links, images, raw HTML, entities and table breaks
(asset / check metadata)  :func:`markdown_table`   in the UI's markdown renderer
HTML reports, validation  :func:`html_text` (the   bidirectional overrides that reorder the page (Jinja's
page (Jinja2)             environment's finalize)  autoescape does the markup); :func:`isolate` for ``<bdi>``,
                                                   :func:`html_value` for markup built in Python
spreadsheets (XLSX, CSV)  :func:`spreadsheet_text` formulas (``=HYPERLINK(…)``, DDE), bidi overrides and
                                                   control characters an XLSX cannot store
plain text (notices, CLI) :func:`plain_text`       bidi overrides, control characters and line breaks that
                                                   forge lines of the notice or drive a terminal
========================  =======================  ==========================================================

Bidirectional controls (the "Trojan Source" characters, CVE-2021-42574) are removed everywhere text is shown:
U+202A–U+202E (embeddings, overrides, pop), U+2066–U+2069 (isolates) and the marks U+200E, U+200F, U+061C.
A zone name with U+202E would otherwise show the rest of a line — its rank, score, the next name —
reversed. Zone names are Chinese; none of these characters belongs in one.
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Iterable, Sequence
from typing import Any

from markupsafe import Markup, escape

#: The bidirectional formatting characters of Unicode's UAX #9 (explicit embeddings, overrides, isolates, marks)
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")
_BIDI = re.compile("[" + "".join(sorted(BIDI_CONTROLS)) + "]")
# C0 and C1 control characters, DEL and the Unicode line / paragraph separators (line breaks and tabs
# included: they forge lines or table rows)
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# what HTML pages and spreadsheets never show: the bidi controls, and the control characters HTML forbids
# and XLSX cannot store (openpyxl refuses the cell): all of C0 but tab, LF and CR (layout whitespace), DEL, C1
_UNSHOWABLE_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f" + "".join(sorted(BIDI_CONTROLS))
_UNSHOWABLE = re.compile(f"[{_UNSHOWABLE_CHARS}]")
# text that HTML shows as it is: no markup character and nothing _UNSHOWABLE removes (html_str's fast path)
_PLAIN_HTML = re.compile(f"[^&<>\"'{_UNSHOWABLE_CHARS}]*")


def strip_bidi(text: str) -> str:
    """``text`` without bidirectional formatting characters (:data:`BIDI_CONTROLS`)."""
    return _BIDI.sub("", text)


def plain_text(value: Any) -> str:
    """One line of plain text (rejection notices, log lines) from an untrusted value.

    Defends against: bidi overrides that reverse what follows on screen; line breaks, tabs and other
    control characters that start a forged line ("## 已接收" under a rejected file's name) or hide text
    in a terminal (ANSI escapes start with ESC). Each control character becomes a space.
    """
    return _CONTROLS.sub(" ", strip_bidi(str(value)))


# ------------------------------------------------------------------------------------------------ markdown

# Every ASCII punctuation character may be backslash-escaped in CommonMark and then renders as itself.
# The ones escaped here are all that start or end markdown or HTML syntax: emphasis * _ ~, code `, links and
# images [ ] ( ) !, raw HTML and autolinks < >, entities &, headings #, quotes >, lists - + and digits with
# ). or a dot, tables |, math $, footnotes ^, braces { } of attribute extensions, quotes " ' of link titles,
# = of setext headings. Escaping also those that are inert in one position keeps one rule for every position.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&$^\"'=:@])")


def markdown_text(value: Any, max_len: int = 200) -> str:
    """Untrusted text as inert markdown for the Dagster UI's metadata (``MetadataValue.md``).

    The web UI of dagster-webserver 1.13 bundles two markdown renderers: react-markdown with remark-gfm
    (tables, autolinks) and rehype-sanitize, and markdown-to-jsx, which turns inline HTML into elements.
    No escaper may rely on a sanitizer downstream:
    a zone name ``<script>…``, ``<img onerror=…>``, ``[x](javascript:…)``, ``![](http://tracker/)``, an
    entity such as ``&lt;`` that would decode into markup, a ``|`` that splits a table cell, a newline that
    starts a heading (``#``), quote (``>``) or list (``-``), or a backtick that opens code must show as the
    characters it is. So: bidi controls removed, control characters (newlines included) become spaces,
    every markdown / HTML metacharacter is backslash-escaped, and the text is cut to ``max_len`` characters
    (before escaping, so an escape is never cut in half) with "…" — a very long name must not push the rest
    of a table out of view.
    """
    text = plain_text(value)
    if len(text) > max_len:
        text = text[:max_len - 1] + "…"
    return _MD_SPECIAL.sub(r"\\\1", text)


def _md_cell(value: Any, floatfmt: str, missing: str) -> str:
    if isinstance(value, numbers.Integral):  # int, bool, numpy integers: as they print
        return str(value)
    if isinstance(value, numbers.Real):  # float, numpy floats
        return missing if math.isnan(value) else floatfmt.format(float(value))
    if value is None or type(value).__name__ in ("NAType", "NaTType"):  # pandas' missing markers
        return missing
    return markdown_text(value)


def markdown_table(columns: Sequence[Any], rows: Iterable[Sequence[Any]], align: Sequence[str] | None = None,
                   floatfmt: str = "{:.2f}", missing: str = "") -> str:
    """A GFM markdown table for the Dagster UI: every header and text cell goes through :func:`markdown_text`.

    ``rows``: sequences of cell values — floats shown with ``floatfmt``, integers and booleans as they print,
    None / NaN / NA as ``missing``, anything else as escaped text. ``align``: ``"left"`` or ``"right"`` per
    column (default left). No rows: ``_(no rows)_``.
    """
    body = ["| " + " | ".join(_md_cell(v, floatfmt, missing) for v in row) + " |" for row in rows]
    if not body:
        return "_(no rows)_"
    head = "| " + " | ".join(markdown_text(c) for c in columns) + " |"
    marks = ["---:" if a == "right" else "---" for a in (align or ["left"] * len(columns))]
    return "\n".join([head, "|" + "|".join(marks) + "|", *body])


def markdown_frame(df, max_rows: int = 30, floatfmt: str = "{:.2f}") -> str:
    """A DataFrame's first ``max_rows`` rows as a :func:`markdown_table` (column names as the header)."""
    if df is None or len(df) == 0:
        return "_(no rows)_"
    return markdown_table(list(df.columns), df.head(max_rows).itertuples(index=False), floatfmt=floatfmt)


# ------------------------------------------------------------------------------------------------ HTML


def html_text(value: Any) -> Any:
    """The Jinja2 ``finalize`` hook of every HTML page: each ``{{ … }}`` value passes here before autoescape.

    Defends against bidi overrides and isolates (a zone name with U+202E reverses the rest of its line,
    the ranks and scores around it included) and control characters that are invalid in HTML, in every
    context a template puts a value — text, attributes, ``<title>``, inline SVG ``<text>`` — which is why
    they are removed rather than wrapped. Markup and HTML metacharacters are left to the environment's
    autoescape (``autoescape=True``): this hook never turns text into markup. Values that are not plain
    text pass unchanged: numbers, None, and :class:`markupsafe.Markup` — the output of the templates' own
    macros and filters, whose untrusted parts already passed here (a macro's ``{{ … }}`` are finalized too).
    """
    if type(value) is str:  # not Markup (a str subclass)
        if value.isascii() and value.isprintable():  # no control character, no bidi control: nothing to remove
            return value
        return _UNSHOWABLE.sub("", value)
    return value


def html_value(value: Any) -> Markup:
    """What a template's ``{{ value }}`` writes, for markup built in Python (a filter's, a chart's): the value through
    :func:`html_text` (the environment's finalize), then escaped by markupsafe (its autoescape)."""
    return escape(html_text(value))


def html_str(value: Any) -> str:
    """:func:`html_value` as a plain ``str`` (the same characters), for markup that a Python writer joins itself and
    wraps in one Markup (the cards' charts, tables and levers: a few hundred values a card). Text with nothing to
    escape or remove, and integers, come back as they are, without a Markup built for each. Joined only with
    markup, never added to a Markup (``Markup + str`` would escape it again)."""
    t = type(value)
    if t is str:
        if _PLAIN_HTML.fullmatch(value):
            return value
    elif t is int:
        return str(value)
    return str(html_value(value))


def isolate(value: Any) -> Markup:
    """Untrusted text escaped and wrapped in ``<bdi>`` (a Jinja filter), for names set inside running text.

    Even without override characters, a name written in a right-to-left script moves the neutral characters
    next to it (a code, a comma, a number) to its side; ``<bdi>`` lets the name keep its own direction without
    touching the text around it. Only for element content — not for attributes, ``<title>`` or SVG.
    """
    return Markup("<bdi>") + html_value(str(value)) + Markup("</bdi>")


# ------------------------------------------------------------------------------------------------ spreadsheets

#: Characters that make Excel, LibreOffice or WPS read a cell as a formula (or a DDE command), full-width
#: forms included: WPS and Excel with an East Asian input method accept ＝ ＋ － ＠ as the formula sign.
FORMULA_STARTS = frozenset("=+-@＝＋－＠")


def _formula_like(text: str) -> bool:
    if text[:1] in ("\t", "\r"):  # a tab or CR first is the classic CSV-injection separator trick
        return True
    for ch in text:  # the first character that is neither whitespace nor a control / format character
        if ch.isspace() or unicodedata.category(ch) in ("Cc", "Cf"):
            continue
        return ch in FORMULA_STARTS
    return False


def spreadsheet_text(value: Any) -> str:
    """Untrusted text for a spreadsheet cell (XLSX or CSV) that no spreadsheet will evaluate.

    Defends against formula injection (OWASP "CSV injection"): a text that starts — after any leading
    whitespace, control or format characters, which spreadsheets skip — with ``=``, ``+``, ``-``, ``@``
    or their full-width forms ＝ ＋ － ＠, or starts with a tab or CR, gets a leading apostrophe ``'``: it is
    then always shown as text, in Excel, LibreOffice and WPS alike, and stays inert when exported to CSV
    and opened again. The apostrophe is visible on purpose. Bidi controls are removed (a name with U+202E
    would reverse the cells' text on screen), and so are the control characters an XLSX cannot store (one
    such name would otherwise fail the whole workbook). Only for text: write numbers as numbers.
    """
    text = _UNSHOWABLE.sub("", str(value))
    return "'" + text if text and _formula_like(text) else text
