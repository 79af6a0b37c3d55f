"""The warm check of one file (etdz/checking.py) says what the run says about that file.

For every file of a demo year (230-odd files: CSV with and without BOM, GBK, XLSX, the demo's faulty files, a
revised submission that supersedes another) plus a correction that leaves measures empty, the checker's issues
equal the run's ``submission_issues`` for that file — every column, year-on-year band (Y−1) and
``file.measures_dropped`` (the zone's accepted file) included. The fast test compares with the run's own
ingestion code (:func:`etdz.ingestion.ingest_year`, as the ``submissions`` asset calls it, Y−1 read from its
inbox); the slow one with what a Dagster run wrote to the warehouse (Y−1 from the warehouse).
"""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pandas as pd
import pytest

from demo.submissions import write_demo
from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.checking import Checker
from etdz.history import previous_submissions
from etdz.ingestion import ingest_year
from etdz.registry import load_registry
from etdz.settings import Settings
from etdz.storage import Warehouse
from etdz.validation import ISSUE_COLUMNS

YEAR = 2023
YOY_MEASURES = ("fdi_actual", "city_fdi_actual", "trade_total", "city_trade_total", "hitech_trade")  # 5× band


def _settings(home: Path) -> Settings:
    return Settings.from_env({"ETDZ_HOME": str(home), "ETDZ_INBOX": str(home / "inbox"),
                              "ETDZ_REGISTRY": str(home / "registry.csv")})


def _utf8(p: Path) -> str:
    """A demo CSV's text when it is plain UTF-8 (the demo also writes GBK and BOM files), else ""."""
    data = p.read_bytes()
    try:
        return "" if data.startswith(b"\xef\xbb\xbf") else data.decode("utf-8")
    except UnicodeDecodeError:
        return ""


def _correction(home: Path) -> tuple[Path, Path]:
    """A later file for one zone that leaves two measures empty: the run warns ``file.measures_dropped``."""
    folder = home / "inbox" / str(YEAR)
    first = next(p for p in sorted(folder.glob("*.csv")) if "修订" not in p.name and _utf8(p) and ",gdp," in _utf8(p))
    lines = first.read_text(encoding="utf-8").splitlines()
    header = lines[0].split(",")
    vi, mi = header.index("value"), header.index("measure_code")
    out = [lines[0]]
    for line in lines[1:]:
        cells = line.split(",")
        if cells[mi] in ("gdp", "tax_revenue"):
            cells[vi] = ""
        out.append(",".join(cells))
    fixed = folder / (first.stem + "_更正.csv")
    fixed.write_text("\n".join(out) + "\n", encoding="utf-8")
    st = first.stat()
    os.utime(fixed, ns=(st.st_atime_ns, st.st_mtime_ns + 86_400 * 10**9))
    return first, fixed


def _issues_of(frame: pd.DataFrame, name: str, sha: str) -> pd.DataFrame:
    mine = frame.loc[(frame["file_name"] == name) & (frame["sha256"] == sha), ISSUE_COLUMNS]
    return mine.reset_index(drop=True).astype(object).where(mine.reset_index(drop=True).notna(), None)


def _same(checker_issues: pd.DataFrame) -> pd.DataFrame:
    df = checker_issues[ISSUE_COLUMNS].reset_index(drop=True)
    return df.astype(object).where(df.notna(), None)


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("check_demo")
    write_demo(home, years=range(YEAR - 1, YEAR + 1))
    _correction(home)
    return home


def _run_issues(home: Path) -> pd.DataFrame:
    """The run's issues of the year, by the code the ``submissions`` asset calls (Y−1 from its inbox)."""
    s = _settings(home)
    catalogues, registry = load_catalogues(s.methodology), load_registry(s.registry)
    catalogue = catalogue_for_year(catalogues, YEAR)
    prev = previous_submissions(Warehouse(s.warehouse), s.inbox, YEAR, catalogues, catalogue, registry,
                                s.max_file_bytes, max_rows_per_measure=s.max_rows_per_measure)
    assert prev.origin == "inbox"
    return ingest_year(Path(s.inbox) / str(YEAR), YEAR, catalogue, registry, archive=None, previous=prev.measures,
                       max_bytes=s.max_file_bytes, max_rows_per_measure=s.max_rows_per_measure).issues


def _compare_every_file(home: Path, run_issues: pd.DataFrame) -> Checker:
    checker = Checker(_settings(home))
    files = sorted(p for p in (home / "inbox" / str(YEAR)).iterdir() if p.is_file())
    assert len(files) >= 200
    seen_checks: set[str] = set()
    for path in files:
        res = checker.check(path)
        expected = _issues_of(run_issues, path.name, res.sha256)
        pd.testing.assert_frame_equal(_same(res.issues), expected, check_dtype=False, obj=path.name)
        seen_checks |= set(res.issues["check"])
        assert res.data_year == YEAR or res.data_year is None
    # the comparison covers the checks that need Y−1 and the zone's accepted file, and errors
    assert {"row.yoy_change", "file.measures_dropped", "row.number_normalised"} <= seen_checks, seen_checks
    assert any(c.startswith(("file.", "row.")) and c not in ("row.yoy_change",) for c in seen_checks)
    return checker


@pytest.mark.slow
def test_checker_equals_the_run_for_every_demo_file(demo_home):
    run_issues = _run_issues(demo_home)
    assert (run_issues["severity"] == "error").any()  # the demo's faulty files are rejected
    checker = _compare_every_file(demo_home, run_issues)
    # the correction names the file it replaces and the measures it leaves empty
    correction = next((demo_home / "inbox" / str(YEAR)).glob("*_更正.csv"))
    res = checker.check(correction)
    dropped = res.issues.loc[res.issues["check"] == "file.measures_dropped"]
    assert len(dropped) == 1 and "gdp（地区生产总值）" in dropped["message"].iloc[0]
    assert res.supersedes == correction.name.replace("_更正", "")


def test_an_upload_is_checked_as_if_placed_in_the_inbox_now(demo_home, tmp_path):
    """Bytes with a name: the newest file of its zone, so it supersedes the zone's accepted file of the inbox."""
    checker = Checker(_settings(demo_home))
    correction = next((demo_home / "inbox" / str(YEAR)).glob("*_更正.csv"))
    original = correction.with_name(correction.name.replace("_更正", ""))
    # the original uploaded again (bytes) under a new name: newest, nothing dropped, supersedes the correction
    res = checker.check(original.read_bytes(), "again.csv", data_year=YEAR)
    assert res.supersedes == correction.name and "file.measures_dropped" not in set(res.issues["check"])
    # the correction uploaded after the original: dropped measures, as the run would say
    res = checker.check(correction.read_bytes(), correction.name, data_year=YEAR)
    assert "file.measures_dropped" in set(res.issues["check"]) and res.supersedes == original.name
    # an upload for a year without a folder yet: nothing to supersede
    res = checker.check(original.read_bytes(), "x.csv")
    assert res.data_year == YEAR and res.zone_code


@pytest.mark.slow
def test_the_inbox_and_previous_year_are_read_again_when_they_change(tmp_path):
    home = tmp_path / "home"
    write_demo(home, years=range(YEAR - 1, YEAR + 1), n_zones=12)
    checker = Checker(_settings(home))
    folder = home / "inbox" / str(YEAR)
    def zone(p: Path) -> str:
        return _utf8(p).splitlines()[1].split(",")[0]

    last_year = [p for p in sorted((home / "inbox" / str(YEAR - 1)).iterdir()) if ",fdi_actual," in _utf8(p)]
    path, last = next((p, q) for p in sorted(folder.glob("*.csv")) if ",gdp," in _utf8(p)
                      and ",fdi_actual," in _utf8(p) and not checker.check(p).rejected
                      for q in last_year if zone(q) == zone(p))
    before = checker.check(path)
    yoy_before = int(before.issues["check"].eq("row.yoy_change").sum())
    # Y−1: the zone's file of last year now reports its trade and FDI figures 50 times smaller -> the year-on-year
    # band (5×) fires
    text = _utf8(last)
    rows = [r.split(",") for r in text.splitlines()]
    h = rows[0]
    for r in rows[1:]:
        if r[h.index("measure_code")] in YOY_MEASURES and r[h.index("value")] not in ("", "0"):
            r[h.index("value")] = str(float(r[h.index("value")]) / 50)
    last.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    after = checker.check(path)
    assert int(after.issues["check"].eq("row.yoy_change").sum()) > yoy_before, after.issues[["check", "message"]]
    # the inbox: a later file of the zone without gdp -> checking it warns; removing it -> the warning goes
    fixed = folder / "later.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    fixed.write_text("\n".join(x for x in lines if ",gdp," not in x) + "\n", encoding="utf-8")
    st = path.stat()
    os.utime(fixed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert "file.measures_dropped" in set(checker.check(fixed).issues["check"])
    outside = tmp_path / "later.csv"
    shutil.move(fixed, outside)
    assert "file.measures_dropped" not in set(checker.check(path).issues["check"])


@pytest.mark.slow
def test_one_checker_shared_by_threads_gives_each_thread_its_answer(demo_home):
    checker = Checker(_settings(demo_home))
    files = sorted((demo_home / "inbox" / str(YEAR)).glob("*"))[:12]
    alone = {p.name: _same(checker.check(p).issues) for p in files}
    got: dict[str, pd.DataFrame] = {}
    errors: list[BaseException] = []

    def work(chunk: list[Path]) -> None:
        try:
            for p in chunk:
                got[p.name] = _same(checker.check(p).issues)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(files[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for name, frame in alone.items():
        pd.testing.assert_frame_equal(got[name], frame)


@pytest.mark.slow
def test_checker_equals_what_a_dagster_run_wrote(tmp_path):
    """Both years run through Dagster (Y−1 then read from the warehouse); the issues of every file of Y equal
    the warehouse's ``submission_issues``."""
    from pipelines.runs import run_years

    home = tmp_path / "home"
    write_demo(home, years=range(YEAR - 1, YEAR + 1))
    _correction(home)
    s = _settings(home)
    run_years([YEAR - 1, YEAR], s, quiet=True)
    run_issues = Warehouse(s.warehouse).read("submission_issues", YEAR).to_pandas()
    _compare_every_file(home, run_issues)
