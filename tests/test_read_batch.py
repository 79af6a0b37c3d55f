"""The batch read path (well-formed CSVs of a year parsed in one pass) gives what the per-file path gives.

Compared: the long frame (`pd.testing.assert_frame_equal`: rows, order, index, dtypes), the issues, the submission
log, the measures and the GX failures, on the faulty-file corpus, the golden example, the demo's years with their
faulty files, and generated fuzz files; plus one test per rule that sends a file back to the per-file path."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from demo import write_demo
from etdz import reading
from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.cells import BLANK, is_blank
from etdz.inbox_state import scan_inbox
from etdz.ingestion import ingest_year, load_file
from etdz.reading import (
    DEFAULT_MAX_BYTES,
    DEFAULT_ROWS_PER_MEASURE,
    pending_csv,
    read_submission,
)
from etdz.registry import load_registry
from etdz.validation import (
    SubmissionFile,
    build_long_frame,
    file_checks,
    gx_module,
    issues_frame,
    read_deferred,
)
from tests.corpus import build_corpus
from tests.fixtures.runs import GOLDEN
from tests.fixtures.submissions import COLUMNS, csv_bytes, rows_for, write_tiny_catalogue, write_tiny_registry

YEAR = 2022


@pytest.fixture(scope="session", autouse=True)
def gx():
    return gx_module()


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    return write_tiny_catalogue(root / "cat"), write_tiny_registry(root / "reg")


# --------------------------------------------------------------------------- comparing the two paths


def _read(named: list[tuple[str, bytes]], catalogue, registry, batch: bool, year: int = YEAR):
    """The files of ``named`` read one way, then their file issues and long frame (what the GX suite checks)."""
    max_rows = DEFAULT_ROWS_PER_MEASURE * len(catalogue.measures)
    files = [SubmissionFile(i, name, f"sha{i}", len(data),
                            read_submission(name, data, len(data), max_rows=max_rows, defer=batch), year)
             for i, (name, data) in enumerate(named)]
    read_deferred(files)
    batched = [f.file_name for f in files if f.read.batch is not None]
    issues = issues_frame([i for f in files for i in file_checks(f, registry)])
    long = build_long_frame(files, catalogue)
    reads = [(f.read.file_format, f.read.encoding, f.read.n_rows, f.read.has_values, f.read.extra_columns,
              f.read.header, f.read.raw_header, f.zone_code, [p.check for p in f.read.problems]) for f in files]
    return batched, issues, long, reads


def same_reading(named, catalogue, registry, year: int = YEAR) -> list[str]:
    """Assert both paths give the same long frame, file issues and reads; the names read in the batch."""
    batched, issues, long, reads = _read(named, catalogue, registry, True, year)
    none, issues0, long0, reads0 = _read(named, catalogue, registry, False, year)
    assert none == []
    pd.testing.assert_frame_equal(long, long0)
    pd.testing.assert_frame_equal(issues, issues0)
    assert reads == reads0
    return batched


def _folder_frames(folder: Path, year: int, catalogue, registry, batch: bool):
    """``ingest_year``'s read steps on a folder (load_file, then the batch), then its file issues and long frame."""
    max_rows = DEFAULT_ROWS_PER_MEASURE * len(catalogue.measures)
    files = [load_file(e, i, year, None, DEFAULT_MAX_BYTES, max_rows=max_rows, defer_csv=batch)
             for i, e in enumerate(scan_inbox(folder))]
    read_deferred(files)
    batched = sum(f.read.batch is not None for f in files)
    issues = issues_frame([i for f in files for i in file_checks(f, registry)])
    return batched, issues, build_long_frame(files, catalogue)


def same_year(folder: Path, year: int, catalogue, registry, previous=None):
    """Assert ``ingest_year`` with and without the batch gives the same log, issues, measures, GX failures, and
    that its read steps give the same long frame; returns (the batch run, the number of files batched)."""
    batched, issues, long = _folder_frames(folder, year, catalogue, registry, True)
    _, issues0, long0 = _folder_frames(folder, year, catalogue, registry, False)
    pd.testing.assert_frame_equal(long, long0)
    pd.testing.assert_frame_equal(issues, issues0)
    y = ingest_year(folder, year, catalogue, registry, None, previous=previous)
    y0 = ingest_year(folder, year, catalogue, registry, None, previous=previous, batch_read=False)
    pd.testing.assert_frame_equal(y.log, y0.log)
    pd.testing.assert_frame_equal(y.issues, y0.issues)
    pd.testing.assert_frame_equal(y.measures, y0.measures)
    pd.testing.assert_frame_equal(y.validation.failures, y0.validation.failures)
    assert y.validation.rows_checked == y0.validation.rows_checked
    return y, batched


# --------------------------------------------------------------------------- whole inboxes


def test_corpus_same_results_both_ways(tmp_path):
    cat = catalogue_for_year(load_catalogues(), build_corpus.YEAR)
    reg = load_registry()
    prov = pd.DataFrame([{"zone_code": build_corpus.PROVINCIAL, "name_zh": "示例省级开发区", "province": "江苏",
                          "region": "east", "tier": "provincial", "first_data_year": pd.NA, "exit_data_year": pd.NA}])
    reg = pd.concat([reg, prov.astype({"first_data_year": "Int64", "exit_data_year": "Int64"})], ignore_index=True)
    folder = tmp_path / str(build_corpus.YEAR)
    build_corpus.build(folder)
    y, batched = same_year(folder, build_corpus.YEAR, cat, reg)
    assert batched >= 10 and (y.log.status == "rejected").sum() >= 20  # both paths really ran


def test_golden_example_same_results_both_ways():
    cats = load_catalogues(GOLDEN / "catalogues")
    reg = load_registry(GOLDEN / "registry.csv")
    previous = None
    for year in (2020, 2021):
        y, batched = same_year(GOLDEN / "inbox" / str(year), year, catalogue_for_year(cats, year), reg, previous)
        assert batched >= 8
        previous = y.measures


@pytest.mark.slow
def test_demo_years_and_their_faulty_files_same_results_both_ways(tmp_path):
    layout = write_demo(tmp_path, years=range(2018, 2024), n_zones=40)
    cats, reg = load_catalogues(), load_registry(layout.registry)
    assert len(layout.faulty_files) >= 8
    previous = None
    for year in layout.years:
        y, batched = same_year(layout.inbox / str(year), year, catalogue_for_year(cats, year), reg, previous)
        assert batched >= 20
        previous = y.measures


# --------------------------------------------------------------------------- what goes back to the per-file path

BASE = rows_for("Z1", YEAR)
HEAD = ",".join(COLUMNS)


def _csv(lines: list[str], end: str = "\n") -> bytes:
    return end.join(lines).encode("utf-8") + end.encode()


def _lines(rows=BASE, head: str = HEAD) -> list[str]:
    return [head] + [",".join(str(c) for c in r) for r in rows]


NOT_PENDING = {  # each breaks one rule of pending_csv
    "gb18030": csv_bytes(BASE, encoding="gb18030"),
    "quote": csv_bytes(rows_for("Z1", YEAR, output=("1,120.5", "亿元"))),
    "control": _csv(_lines(rows_for("Z1", YEAR, output=("12\x0c0", "亿元")))),
    "lone_cr": _csv(_lines(), end="\r"),
    "header_only": _csv([HEAD]),
    "bom_inside": _csv(_lines(rows_for("\ufeffZ1", YEAR))),
    "missing_column": _csv([",".join(r[:4]) for r in [COLUMNS] + [[str(c) for c in r] for r in BASE]]),
    "unknown_column": _csv([HEAD + ",备注2"] + [line + ",x" for line in _lines()[1:]]),
    "duplicate_column": _csv([HEAD + ",VALUE"] + [line + ",1" for line in _lines()[1:]]),
    "too_many_rows": _csv(_lines(BASE * 11)),
}

BACK_TO_FILE = {  # pending, but the batch sends each back to the per-file read
    "short_line": _csv(_lines() + ["Z1,2022,output"]),
    "overflow": _csv(_lines(rows_for("Z1", YEAR, output=("1,120.5", "亿元")))),
    "two_final_newlines": _csv(_lines()) + b"\n",
    "empty_line": _csv(_lines()[:3] + [""] + _lines()[3:]),
    "blank_row": _csv(_lines()[:3] + [",,, ,\u3000"] + _lines()[3:]),
    "several_zones": _csv(_lines(BASE[:3] + rows_for("Z2", YEAR)[3:])),
    "zone_empty_in_a_row": _csv(_lines(BASE[:3] + rows_for("", YEAR)[3:])),
    "no_zone": _csv(_lines(rows_for("", YEAR))),
    "wrong_year": _csv(_lines(BASE[:2] + rows_for("Z1", YEAR - 1)[2:])),
    "year_not_a_number": _csv(_lines(rows_for("Z1", "二〇二二"))),
    "blank_template": _csv(_lines(rows_for("Z1", YEAR, **{m: ("", u) for _, _, m, _, u in BASE}))),
}


@pytest.mark.parametrize("name", sorted(NOT_PENDING))
def test_a_file_breaking_an_eligibility_rule_is_read_on_its_own(tiny, name):
    data = NOT_PENDING[name]
    assert pending_csv(data, max_rows=60) is None
    assert same_reading([("ok.csv", _csv(_lines())), (f"{name}.csv", data)], *tiny) == ["ok.csv"]


@pytest.mark.parametrize("name", sorted(BACK_TO_FILE))
def test_a_file_failing_a_batch_rule_is_read_on_its_own(tiny, name):
    data = BACK_TO_FILE[name]
    assert pending_csv(data, max_rows=60) is not None
    assert same_reading([("ok.csv", _csv(_lines())), (f"{name}.csv", data)], *tiny) == ["ok.csv"]


def test_a_batch_of_misshapen_files_only_is_read_file_by_file(tiny):
    named = [(f"{k}.csv", BACK_TO_FILE[k]) for k in ("empty_line", "overflow", "short_line", "two_final_newlines")]
    assert same_reading(named, *tiny) == []


def test_what_the_batch_takes_crlf_bom_spaces_note_any_header_order_and_case(tiny):
    cols = [" UNIT", "Value ", "measure_code", "DATA_YEAR", "\u3000zone_code", "note"]
    reordered = [[r[4], r[3], r[2], r[1], r[0], "备注：无"] for r in BASE]
    named = [
        ("crlf_bom.csv", b"\xef\xbb\xbf" + _csv(_lines(), end="\r\n")),
        ("order.csv", _csv(_lines(reordered, ",".join(cols)))),
        ("no_final_newline.csv", _csv(_lines())[:-1]),
        ("spaces.csv", _csv(_lines(rows_for(" Z1\u3000", f" {YEAR} ", output=(" 120.5", " 亿元 "),
                                            share=("12.5%", "%"), firms=("１２", "家"), jobs=("", "人"),
                                            extra_info=("3e0", "项 "))))),
        ("unknown_zone.csv", _csv(_lines(rows_for("Z9", YEAR)))),
        ("not_due.csv", _csv(_lines(rows_for("ZN", YEAR)))),
        ("bad_values.csv", _csv(_lines(rows_for("Z3", YEAR, output=("约300", "亿元"), firms=("-3", "个"),
                                                 share=("80%", "万元"), jobs=("1" * 400, "人"))
                                       + [["Z3", YEAR, " output ", "1", "亿元"], ["Z3", YEAR, "", "2", ""]]))),
        ("absent.csv", _csv(_lines(rows_for("Z2", YEAR, output=None, jobs=None)))),
        ("xlsx_beside.xlsx", b"not a zip"),
    ]
    assert same_reading(named, *tiny) == [n for n, _ in named[:-1]]


def test_a_mixed_year_fast_and_per_file_files_interleaved_same_results_end_to_end(tiny, tmp_path):
    cat, reg = tiny
    folder = tmp_path / str(YEAR)
    folder.mkdir()
    files = {"a_ok.csv": _csv(_lines()), "b_gbk.csv": csv_bytes(rows_for("Z2", YEAR), encoding="gb18030"),
             "c_ok.csv": _csv(_lines(rows_for("Z2", YEAR, output=("150", "亿元")))),
             "d_blank_row.csv": BACK_TO_FILE["blank_row"], "e_quoted.csv": NOT_PENDING["quote"],
             "f_ok.csv": _csv(_lines(rows_for("Z3", YEAR, firms=("2.5", "家")))),
             "g_wrong_year.csv": BACK_TO_FILE["wrong_year"], "h_absent.csv": _csv(_lines(rows_for("P1", YEAR)[:2]))}
    for name, data in files.items():
        (folder / name).write_bytes(data)
    previous = pd.DataFrame({"zone_code": ["Z1", "Z2"], "measure_code": ["output", "output"], "value": [10.0, 20.0]})
    y, batched = same_year(folder, YEAR, cat, reg, previous)
    assert batched == 4 and not y.issues.empty and (y.log.status == "superseded").any()


def test_a_failing_batch_parse_reads_every_file_on_its_own(tiny, monkeypatch):
    def broken(pendings):
        raise pa.ArrowInvalid("simulated")

    monkeypatch.setattr("etdz.validation.files.read_csv_batch", broken)
    named = [("a.csv", _csv(_lines())), ("b.csv", _csv(_lines(rows_for("Z2", YEAR))))]
    assert same_reading(named, *tiny) == []


def test_the_batch_keeps_no_row_dicts_and_releases_its_table(tiny):
    cat, reg = tiny
    files = [SubmissionFile(0, "a.csv", "s", 1, read_submission("a.csv", _csv(_lines()), 1, defer=True), YEAR)]
    assert files[0].read.pending is not None and files[0].read.rows == []
    read_deferred(files)
    r = files[0].read
    assert r.pending is None and r.rows == [] and r.batch is not None and r.n_rows == len(BASE) and r.zone == "Z1"
    r.release_rows()
    assert r.batch is None and r.n_rows == len(BASE)


@given(st.text(alphabet=BLANK + "\u200c\u200da0,", max_size=8))
def test_blank_cell_of_a_column_is_the_blank_cell_of_the_per_file_reader(text):
    assert reading._blank(pa.chunked_array([pa.array([text])]))[0] == is_blank(text)


# --------------------------------------------------------------------------- fuzz: mutations of a valid file

_CELL = st.text(alphabet="0123456789１２.,-+eE% \t\u3000\u00a0\ufeff\"'\r\nZ1亿元\x01\x0c", max_size=6)


def _set(rows: list[list[str]], r: int, c: int, value: str) -> None:
    """rows[r][c] = value, when the row has that cell (earlier mutations may have shortened it)."""
    if r < len(rows) and c < len(rows[r]):
        rows[r][c] = value


def _mutate(rng: random.Random, kind: str, lines: list[list[str]], cell: str) -> tuple[list[list[str]], dict]:
    """One mutation of a file given as rows of cells (the header first); ``cell``: arbitrary text."""
    out = [list(row) for row in lines]
    opts: dict = {}
    r = rng.randrange(1, len(out)) if len(out) > 1 else 0
    c = rng.randrange(max(len(out[0]), 1))
    if kind == "cell":
        _set(out, r, c, cell)
    elif kind == "value":
        _set(out, r, 3, rng.choice(["１２３", "12%", "1,234", "1,234.5", "1e5", "-0", "+5", "0.1", "007", "1" * 400,
                                    "9" * 310 + ".5", "", " ", "\u3000", "N/A", "1.2.3", ".5", "5.", "-", "1_000"]))
    elif kind == "quote" and c < len(out[r]):
        out[r][c] = f'"{out[r][c]}"'
    elif kind == "zone":
        _set(out, r, 0, rng.choice(["Z2", "", " Z1", "Z9", "ZN", "P1"]))
    elif kind == "year":
        _set(out, r, 1, rng.choice([str(YEAR - 1), "２０２２", f" {YEAR} ", f"{YEAR}.0", "", "2022e0", "二〇二二"]))
    elif kind == "measure":
        _set(out, r, 2, rng.choice(["", " output", "OUTPUT", "nope", "share", "firms"]))
    elif kind == "unit":
        _set(out, r, 4, rng.choice(["", "万元", " 亿元", "%", "个", "人 "]))
    elif kind == "blank_row":
        out.insert(r, [rng.choice(["", " ", "\u3000"]) for _ in out[0]])
    elif kind == "empty_line":
        out.insert(r, [])
    elif kind == "extra_column":
        out = [row + [rng.choice(["", "备注", "note", "x"]) if i == 0 else cell] for i, row in enumerate(out)]
    elif kind == "drop_column":
        out = [row[:c] + row[c + 1:] for row in out]
    elif kind == "short_row":
        out[r] = out[r][:-1]
    elif kind == "header":
        _set(out, 0, c, rng.choice(["VALUE", " Zone_Code ", "", "Unit\u3000", "note", "measure_code"]))
    elif kind == "duplicate_rows":
        out = out + out[1:] * rng.randrange(1, 12)
    elif kind == "all_values_empty":
        for i in range(1, len(out)):
            _set(out, i, 3, "")
    elif kind in ("bom", "crlf", "cr", "gb18030", "no_final_newline", "control"):
        opts[kind] = True  # encoding and line ends: applied when the file is written
    return out, opts


_KINDS = ["cell", "value", "quote", "zone", "year", "measure", "unit", "blank_row", "empty_line", "extra_column",
          "drop_column", "short_row", "header", "duplicate_rows", "all_values_empty", "bom", "crlf",
          "cr", "gb18030", "no_final_newline", "control"]


def _write(lines: list[list[str]], opts: dict, rng: random.Random) -> bytes:
    end = "\r" if opts.get("cr") else "\r\n" if opts.get("crlf") else "\n"
    text = end.join(",".join(row) for row in lines) + ("" if opts.get("no_final_newline") else end)
    if opts.get("control"):
        at = rng.randrange(len(text) + 1)
        text = text[:at] + rng.choice(["\x00", "\x01", "\x0b", "\x7f", "\x85"]) + text[at:]
    if opts.get("gb18030"):
        data = text.encode("gb18030", errors="replace")
    else:
        data = text.encode("utf-8", errors="strict")
    return (b"\xef\xbb\xbf" + data) if opts.get("bom") else data


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.lists(st.sampled_from(_KINDS), max_size=4), _CELL), min_size=1, max_size=5),
       st.integers(0, 2**32 - 1))
@pytest.mark.slow
def test_fuzz_both_paths_same_frames_issues_and_reads(tiny, mutations, seed):
    rng = random.Random(seed)
    base = [COLUMNS] + [[str(c) for c in r] for r in BASE]
    named = [("valid.csv", _write(base, {}, rng))]
    for i, (kinds, cell) in enumerate(mutations):
        lines, opts = base, {}
        for kind in kinds:
            lines, more = _mutate(rng, kind, lines, cell)
            opts.update(more)
        named.append((f"m{i}.csv", _write(lines, opts, rng)))
    batched = same_reading(named, *tiny)
    assert "valid.csv" in batched


_PLAIN = st.from_regex(r"\A[+-]?[0-9]{1,40}(\.[0-9]{1,40})?\Z") | st.sampled_from(
    ["9007199254740993", "9007199254740993.5", "0." + "0" * 330 + "1", "1" * 400, "-0", "+0.0", "007"])


@given(st.lists(_PLAIN, min_size=1, max_size=50))
def test_a_plain_number_is_parse_values_own_text_and_arrows_float_is_pythons_bit_for_bit(texts):
    from etdz.numbers import parse_value
    from etdz.validation.long_frame import _PLAIN_NUMBER

    arrow = pc.cast(pa.array(texts), pa.float64()).to_numpy(zero_copy_only=False)
    python = np.array([float(s) for s in texts])
    assert (arrow.view(np.int64) == python.view(np.int64)).all()
    assert pc.match_substring_regex(pa.array(texts), _PLAIN_NUMBER).to_pylist() == [True] * len(texts)
    for s, f in zip(texts, python.tolist()):
        p = parse_value(s)
        if np.isfinite(f):  # what the batch writes for it: text s, value float(s), nothing normalised
            assert (p.text, p.value, p.normalised) == (s, f, ()) and np.signbit(p.value) == np.signbit(f)
        else:  # too large: the batch leaves it to parse_value
            assert p.value is None and p.error
