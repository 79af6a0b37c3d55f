"""Untrusted text comes out inert: no markup or bidi override in the HTML, no formula in the workbook, no
markup in the UI's markdown, no network."""

from __future__ import annotations

import re
import zipfile
from html.parser import HTMLParser

import openpyxl
import pytest
from markdown_it import MarkdownIt
from reports_synth import parse_html

from etdz.escape import BIDI_CONTROLS
from etdz.escape import spreadsheet_text as neutralise
from etdz.reports import write_year_reports

SCRIPT = "<script>alert(1)</script>东部经开区"
FORMULA = '=HYPERLINK("http://evil.example/x","点击")'
PLUS = "+1 区"
RLO = "\u202e区发开经"  # a right-to-left override: would reverse the rest of its line
FULLWIDTH = "＝1+1"
SPACED = "  =1+1"
LINK = "[x](javascript:alert(1))"


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, catalogue_2021):
    from reports_synth import make_year

    data = make_year(catalogue_2021, 2022, names={"E001": SCRIPT, "E002": FORMULA, "C001": PLUS, "W001": "@SUM(A1)",
                                                   "E003": RLO, "E004": FULLWIDTH, "E005": SPACED, "C002": LINK})
    # the watch-list carries names too; and a rejected file name with markup
    wl = data.frames["downgrade_watchlist"]
    wl.loc[wl.zone_code == "E001", "name_zh"] = SCRIPT
    log = data.frames["submission_log"]
    log.loc[log.status == "rejected", "file_name"] = '<img src=x onerror=alert(2)>.csv'
    out = write_year_reports(data.inputs(), tmp_path_factory.mktemp("hostile"))
    return data, out


class _Refs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs = []
        self.tags = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k in ("src", "href", "xlink:href", "srcset", "poster", "data", "action", "formaction", "background"):
                self.refs.append((tag, k, v))
            if k.startswith("on"):
                self.refs.append((tag, k, v))  # no event handlers either (no script at all)


def _references(html: str) -> list:
    p = _Refs()
    p.feed(html)
    bad = [t for t in p.tags if t in ("script", "link", "img", "iframe", "object", "embed", "image", "use", "base")]
    return p.refs + bad


def _inside(page, out, ref) -> bool:
    """A link (``<a href>``) that stays inside the year's reports folder: relative, no scheme, no host, no way out."""
    if not (isinstance(ref, tuple) and ref[:2] == ("a", "href")):
        return False
    href = ref[2]
    if href.startswith("#"):
        return True
    if "://" in href or href.startswith(("/", "\\")) or ":" in href.split("/")[0]:
        return False
    year = out.national_report.parent.resolve()
    target = (page.parent / href.split("#")[0]).resolve()
    return target == year or year in target.parents


def _all_html(out):
    yield out.national_report
    yield from sorted(out.cards_dir.glob("*.html"))


def test_markup_in_names_is_escaped(hostile):
    data, out = hostile
    for path in _all_html(out):
        html = path.read_text(encoding="utf-8")
        assert "<script" not in html.lower()
        assert "<img" not in html.lower()
        assert "onerror=" not in html or "&lt;img src=x onerror=alert(2)&gt;" in html
    card = (out.cards_dir / "E001.html").read_text(encoding="utf-8")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in card
    assert parse_html(card).ids["zone-name"] == SCRIPT  # shown as text, exactly
    nat = out.national_report.read_text(encoding="utf-8")
    assert "&lt;img src=x onerror=alert(2)&gt;.csv" in nat


def test_no_external_references(hostile):
    data, out = hostile
    for path in _all_html(out):
        html = path.read_text(encoding="utf-8")
        refs = [r for r in _references(html) if not _inside(path, out, r)]
        assert refs == [], (path.name, refs)
        assert not re.search(r"url\(\s*['\"]?(?:https?:)?//", html)
        assert "@import" not in html
        assert "default-src 'none'" in html  # and the page forbids every fetch anyway
        # the only http(s) text allowed is inert, escaped data (the hostile name), never markup
        for m in re.finditer(r"https?://", html):
            assert "evil.example" in html[m.start():m.start() + 40]


def test_formulas_in_names_are_neutralised(hostile):
    data, out = hostile
    wb = openpyxl.load_workbook(out.workbook)
    seen = {}
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                if isinstance(c.value, str) and c.value.lstrip("'") in (FORMULA, PLUS, "@SUM(A1)", SCRIPT):
                    seen.setdefault(c.value.lstrip("'"), c.value)
    assert seen[FORMULA] == "'" + FORMULA
    assert seen[PLUS] == "'" + PLUS
    assert seen["@SUM(A1)"] == "'@SUM(A1)"
    assert seen[SCRIPT] == SCRIPT  # not a formula prefix: kept as it is (a spreadsheet shows text)
    for cell in (FULLWIDTH, SPACED):
        assert "'" + cell in {c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row}, cell
    with zipfile.ZipFile(out.workbook) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                assert "<f>" not in z.read(name).decode("utf-8")


def test_top30_markdown_escapes_pipes(year_builder, catalogue_2021, tmp_path):
    data = year_builder(catalogue_2021, 2022, names={"E001": "a|b", "E002": "a|b", "E003": "a|b", "E004": "a|b",
                                                      "E005": "a|b", "E006": "a|b"})
    out = write_year_reports(data.inputs(), tmp_path)
    for line in out.top30_markdown.splitlines()[2:]:
        assert line.count(" | ") == 4 + len(data.catalogue.categories)


@pytest.mark.parametrize("text,expected", [("=1+1", "'=1+1"), ("+x", "'+x"), ("-x", "'-x"), ("@x", "'@x"),
                                           ("\tx", "'\tx"), ("ok", "ok"), ("经开区", "经开区"), (SPACED, "'" + SPACED),
                                           (FULLWIDTH, "'" + FULLWIDTH), ("\u202e=1", "'=1")])
def test_neutralise(text, expected):
    assert neutralise(text) == expected


def test_bidi_controls_never_reach_the_pages_or_the_workbook(hostile):
    data, out = hostile
    for path in _all_html(out):
        assert not set(path.read_text(encoding="utf-8")) & BIDI_CONTROLS, path.name
    assert parse_html((out.cards_dir / "E003.html").read_text(encoding="utf-8")).ids["zone-name"] == RLO[1:]
    wb = openpyxl.load_workbook(out.workbook)
    texts = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert RLO[1:] in texts and not any(set(t) & BIDI_CONTROLS for t in texts)


def test_names_in_running_text_are_isolated(hostile):
    data, out = hostile
    nat = out.national_report.read_text(encoding="utf-8")
    assert '<span class="name"><bdi>&lt;script&gt;alert(1)&lt;/script&gt;东部经开区</bdi></span>' in nat


def test_top30_markdown_is_inert(hostile):
    data, out = hostile
    md = MarkdownIt("commonmark", {"html": True}).enable("table")  # the UI may let raw HTML through
    names, previous = [], None
    for tok in md.parse(out.top30_markdown):
        assert tok.type != "html_block", tok
        for child in tok.children or ():
            assert child.type not in ("html_inline", "link_open", "image", "code_inline"), child
        if tok.type == "inline" and previous == "td_open":  # a table cell
            names.append("".join(c.content for c in tok.children if c.type in ("text", "text_special")))
        previous = tok.type
    assert not set(out.top30_markdown) & BIDI_CONTROLS
    for name in (SCRIPT, LINK, FORMULA, FULLWIDTH, RLO[1:]):
        assert name in names, name
