"""Hostile names through a real run: every output shows them as inert text (issue 11, "untrusted text is inert").

The golden example is run end to end (``etdz run``, Dagster in-process, into ``tmp_path``) with a registry whose
zone names are attacks on each output kind, a catalogue with a formula-like measure name, and inbox files whose
*names* are attacks. Then every output is read back: the Parquet keeps the names as they are (data is data), and
the UI's markdown (read from the Dagster instance's event log), the HTML reports, validation.html, the rejection
notices, the workbook and the submission template show them without markup, links, formulas or bidi overrides.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import unicodedata
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pyarrow.dataset as pads
import pytest

from etdz.escape import BIDI_CONTROLS, FORMULA_STARTS
from tests.safety.markdown_view import ACTIVE, table_rows

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
pytestmark = pytest.mark.slow

SCRIPT = "<script>alert(1)</script>"
LINK = "[x](javascript:alert(1))"
HYPERLINK = '=HYPERLINK("http://x","y")'
LONG = "很长的名字" * 120
HOSTILE_NAMES = {  # zone code: name in the registry
    "E1": SCRIPT,
    "E2": LINK,
    "E3": HYPERLINK,
    "E4": "  =1+1",  # the registry strips the spaces; the name arrives as "=1+1"
    "E5": "＝1+1",
    "C1": "\u202e区发开经",  # right-to-left override: would show the rest of the line reversed
    "C2": "a|b",
    "C3": "第一行\n# 第二行",
    "W1": LONG,
    "W2": "\u200b@SUM(A1)",  # a zero-width space before the formula sign (not stripped by the registry)
    "W3": "\x1b[31m红\x07区",  # a terminal escape and a bell: no XLSX can store them, no HTML allows them
}
MEASURE_NAME = "  =1+1 外资\u202e"  # a catalogue measure name: the template's notes start with it
HOSTILE_FILES = [  # names of files dropped in the 2021 inbox (content: garbage, so they are rejected); no "/"
    "<script>alert(1)<\\script>.csv", f"{LINK}.csv", '=HYPERLINK("x","y").csv', "  =1+1.csv", "＝1+1.csv",
    "\u202evsc.exe.csv",
    "a|b.csv", "two\nlines.csv", "x" * 200 + ".csv", "bell\x07\x1b[2J.csv",
]
SUPERSEDED = "<img src=x onerror=alert(2)>.csv"  # a copy of E2's good file, older: it is superseded
EXPECTED_TEXT = {code: name.strip() for code, name in HOSTILE_NAMES.items()}  # as the registry reads them


def _visible(text: str) -> str:
    """A name as the HTML pages and spreadsheets show it: without bidi controls and the control characters
    neither allows (tab, LF and CR stay)."""
    return "".join(ch for ch in text
                   if ch not in BIDI_CONTROLS and (ch in "\t\n\r" or unicodedata.category(ch) != "Cc"))


def _one_line(text: str, cut: int | None = None) -> str:
    """A name as plain text (notices) and, with ``cut`` = 200, a markdown table cell (trimmed) shows it."""
    line = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in text if ch not in BIDI_CONTROLS)
    if cut is None:
        return line
    return (line if len(line) <= cut else line[:cut - 1] + "…").strip()


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    reg = pd.read_csv(GOLDEN / "registry.csv", dtype=str, keep_default_na=False)
    reg["name_zh"] = [HOSTILE_NAMES.get(c, n) for c, n in zip(reg.zone_code, reg.name_zh)]
    reg.to_csv(root / "registry.csv", index=False)
    shutil.copytree(GOLDEN / "catalogues", root / "catalogues")
    cat = root / "catalogues" / "g1.yaml"
    cat.write_text(cat.read_text(encoding="utf-8").replace("name_zh: 实际使用外资金额", f'name_zh: "{MEASURE_NAME}"'),
                   encoding="utf-8")
    inbox = root / "inbox"
    shutil.copytree(GOLDEN / "inbox", inbox)
    for i, name in enumerate(HOSTILE_FILES):  # different bytes each: rejection notices are named by the hash
        (inbox / "2021" / name).write_bytes(b"\x00garbage\xff" * (10 + i))
    (inbox / "2021" / SUPERSEDED).write_bytes((inbox / "2021" / "E2.csv").read_bytes())
    os.utime(inbox / "2021" / SUPERSEDED, (1_600_000_000, 1_600_000_000))
    env = {**os.environ, "ETDZ_REGISTRY": str(root / "registry.csv"), "ETDZ_METHODOLOGY": str(root / "catalogues"),
           "ETDZ_INBOX": str(inbox), "ETDZ_WAREHOUSE": str(root / "warehouse"), "ETDZ_REPORTS": str(root / "reports"),
           "DAGSTER_HOME": str(root / "dagster_home"), "ETDZ_HOME": str(root)}
    for args in (["run", "--from", "2020", "--to", "2021"],
                 ["template", "--data-year", "2021", "--zone", "E3", "--out", str(root / "template")]):
        proc = subprocess.run([sys.executable, "-m", "pipelines.cli", *args], env=env, cwd=root, capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    return root


def _dataset(root: Path, name: str) -> pd.DataFrame:
    return pads.dataset(str(root / "warehouse" / name), partitioning="hive", format="parquet").to_table().to_pandas()


def test_the_parquet_keeps_the_names_as_data(hostile_run):
    rankings = _dataset(hostile_run, "rankings")
    names = rankings[rankings.data_year == 2021].set_index("zone_code").name_zh
    for code, name in EXPECTED_TEXT.items():
        assert names[code] == name, code
    log = _dataset(hostile_run, "submission_log")
    statuses = log[log.data_year == 2021].set_index("file_name").status
    for name in HOSTILE_FILES:
        assert statuses[name] == "rejected", name
    assert statuses[SUPERSEDED] == "superseded"


def test_no_output_path_carries_an_untrusted_name(hostile_run):
    for path in hostile_run.rglob("*"):
        rel = path.relative_to(hostile_run)
        if rel.parts[0] in ("inbox", "registry.csv", "catalogues"):
            continue
        assert not set(str(rel)) & set("<>|＝\n\u202e\u200b[]") and "HYPERLINK" not in str(rel), rel


# ------------------------------------------------------------------------------------------------ the Dagster UI

def _event_log(root: Path) -> list:
    from tests.instances import open_instance

    with open_instance(root / "dagster_home") as instance:
        return [e for run in instance.get_runs() for e in instance.all_logs(run.run_id)]


def _metadata_of(entry) -> tuple[str, dict]:
    """("<asset key or check>@<data year>", metadata) of a materialization or check evaluation; ("", {}) otherwise."""
    ev = entry.dagster_event
    if ev is None:
        return "", {}
    data = ev.event_specific_data
    if ev.event_type_value == "ASSET_MATERIALIZATION":
        m = data.materialization
        return f"{m.asset_key.to_user_string()}@{ev.partition}", dict(m.metadata)
    if ev.event_type_value == "ASSET_CHECK_EVALUATION":
        return f"check:{data.check_name}@{data.partition}", dict(data.metadata)
    return "", {}


# The UI's renderer (react-markdown + GFM) allows raw HTML in some Dagster releases: parse with HTML on, the
# strictest setting, so any markup that got through shows up as an html token.
def _assert_inert_markdown(where: str, text: str) -> list[list[str]]:
    """No raw HTML, link, image or code in ``text``; returns the rendered table's rows as text cells."""
    assert not set(text) & BIDI_CONTROLS, where
    return table_rows(text, ACTIVE + ("heading_open", "blockquote_open", "bullet_list_open", "ordered_list_open"))


def test_ui_markdown_shows_the_names_as_text(hostile_run):
    entries = _event_log(hostile_run)
    tables: dict[str, list[list[str]]] = {}
    for entry in entries:
        key, metadata = _metadata_of(entry)
        for label, value in metadata.items():
            if type(value).__name__ == "MarkdownMetadataValue":
                tables[f"{key}/{label}"] = _assert_inert_markdown(f"{key}/{label}", value.md_str or "")
        ev = entry.dagster_event
        description = getattr(getattr(ev, "event_specific_data", None), "description", None) if ev else None
        for text in (entry.user_message, description or ""):  # log lines and check descriptions: plain text
            assert not set(text) & BIDI_CONTROLS and SCRIPT not in text, text
    # the top 30 of rankings and of national_report: every hostile name as one cell, exactly as text
    for key, name_col in (("rankings@2021/top30", 2), ("national_report@2021/top30", 1)):
        rows = tables[key]
        assert all(len(r) == len(rows[0]) for r in rows), key  # no | or newline broke a row
        shown = {r[name_col] for r in rows[1:]}
        for code, name in EXPECTED_TEXT.items():
            assert _one_line(name, 200) in shown, (key, code, shown)
    # file names in the ingestion metadata and in the checks' failing rows
    files = {r[0] for r in tables["submission_log@2021/files_preview"][1:]}
    failing = {r[0] for k, t in tables.items() if k.endswith("@2021/failing_rows") for r in t[1:]}
    for name in [*HOSTILE_FILES, SUPERSEDED]:
        shown = _one_line(name, 200)
        assert shown in files, name
        if name != SUPERSEDED:
            assert shown in failing, name


# ------------------------------------------------------------------------------------------------ HTML

class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[str] = []
        self.bad_attrs: list[tuple] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for k, v in attrs:
            if k.startswith("on") or (v or "").strip().lower().startswith(("javascript:", "data:text/html")):
                self.bad_attrs.append((tag, k, v))

    def handle_data(self, data):
        self.text.append(data)


def _assert_inert_html(path: Path) -> str:
    html = path.read_text(encoding="utf-8")
    assert not set(html) & BIDI_CONTROLS, path
    page = _Page()
    page.feed(html)
    assert not {"script", "img", "iframe", "object", "embed", "base", "link"} & set(page.tags), (path, set(page.tags))
    assert page.bad_attrs == [], (path, page.bad_attrs)
    return "".join(page.text)


def test_html_reports_show_the_names_as_text(hostile_run):
    reports = hostile_run / "reports" / "2021"
    national = _assert_inert_html(reports / "national_report.html")
    for code, name in EXPECTED_TEXT.items():
        assert _visible(name) in national, code
        card = _assert_inert_html(reports / "zones" / f"{code}.html")
        assert _visible(name) in card, code
    html = (reports / "national_report.html").read_text(encoding="utf-8")
    assert "<bdi>&lt;script&gt;alert(1)&lt;/script&gt;</bdi>" in html  # isolated from the code beside it
    assert "&lt;img src=x onerror=alert(2)&gt;.csv" in html  # the superseded file in the data-quality table


def test_validation_page_shows_the_file_names_as_text(hostile_run):
    text = _assert_inert_html(hostile_run / "reports" / "2021" / "validation.html")
    for name in [*HOSTILE_FILES, SUPERSEDED]:
        assert _visible(name) in text, name


def test_rejection_notices_are_plain_lines(hostile_run):
    notices = sorted((hostile_run / "reports" / "2021" / "rejections").glob("*.txt"))
    names = []
    for path in notices:
        text = path.read_text(encoding="utf-8")
        assert not set(text) & BIDI_CONTROLS, path
        assert not any(ord(ch) < 32 and ch != "\n" or 0x7f <= ord(ch) <= 0x9f for ch in text), path
        lines = text.splitlines()
        assert lines[0] == "# 报送文件退回通知"  # nothing forged a line above or inside the header
        names += [line.removeprefix("文件名：") for line in lines if line.startswith("文件名：")]
    for name in HOSTILE_FILES:
        assert _one_line(name) in names, name


def test_validate_prints_plain_lines(hostile_run):
    from etdz.catalogue import load_catalogues
    from etdz.ingestion import validate_files
    from etdz.registry import load_registry

    inbox = hostile_run / "inbox" / "2021"
    text, status = validate_files([inbox / name for name in HOSTILE_FILES], load_catalogues(hostile_run / "catalogues"),
                                  load_registry(hostile_run / "registry.csv"))
    assert status == 1
    assert not set(text) & BIDI_CONTROLS and "\x1b" not in text and "\x07" not in text  # nothing drives the terminal
    assert sum(line.startswith("== ") for line in text.splitlines()) == len(HOSTILE_FILES)  # no forged file line


# ------------------------------------------------------------------------------------------------ spreadsheets

def _formula_like(text: str) -> bool:
    first = text.lstrip(" \t\r\n\u200b\u3000")[:1]
    return first in FORMULA_STARTS or text[:1] in ("\t", "\r")


def _assert_inert_workbook(path: Path) -> list[str]:
    wb = openpyxl.load_workbook(path)
    texts = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (path.name, ws.title, c.coordinate, c.value)
                if isinstance(c.value, str):
                    assert not set(c.value) & BIDI_CONTROLS, (path.name, c.coordinate)
                    assert not _formula_like(c.value), (path.name, c.coordinate, c.value)
                    texts.append(c.value)
    return texts


def test_workbook_cells_are_text_never_formulas(hostile_run):
    texts = set(_assert_inert_workbook(hostile_run / "reports" / "2021" / "rankings.xlsx"))
    for code in ("E3", "E4", "E5", "W2"):
        assert "'" + EXPECTED_TEXT[code] in texts, code  # neutralised with a visible apostrophe
    assert SCRIPT in texts and LONG in texts
    assert _visible(EXPECTED_TEXT["C1"]) in texts and _visible(EXPECTED_TEXT["W3"]) in texts
    wb = openpyxl.load_workbook(hostile_run / "reports" / "2021" / "rankings.xlsx")
    ranks = [c.value for c in wb.worksheets[0]["A"][1:]]
    assert all(isinstance(r, int) for r in ranks if r is not None)  # numbers stay numbers


def test_submission_template_is_inert(hostile_run):
    folder = hostile_run / "template"
    [xlsx] = folder.glob("*.xlsx")
    texts = _assert_inert_workbook(xlsx)
    assert any(t.startswith("'  =1+1 外资") for t in texts)
    [csv_path] = folder.glob("*.csv")
    with open(csv_path, encoding="utf-8-sig", newline="") as fh:
        cells = [c for row in csv.reader(fh) for c in row]
    assert cells and not any(_formula_like(c) or set(c) & BIDI_CONTROLS for c in cells)
    assert any(c.startswith("'  =1+1 外资") for c in cells)
