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


def test_a_check_lists_each_inbox_folder_once_and_joins_only_its_zone_s_previous_figures(demo_home, monkeypatch):
    """A correction is checked with the file it replaces in one GX validation; the year's and Y−1's inbox folders
    are listed once per check (not once per look-up), and the year-on-year band joins the Y−1 figures of the zone
    the file names, not the whole year's."""
    from etdz import checking
    from etdz.validation import SuiteRunner, long_frame

    checker = Checker(_settings(demo_home))
    folder = demo_home / "inbox" / str(YEAR)
    correction = next(folder.glob("*_更正.csv"))
    checker.warm([YEAR])  # Y−1 read (and validated: it was never run), the inbox listed
    runs = []
    run = SuiteRunner.run
    monkeypatch.setattr(SuiteRunner, "run", lambda self, df: runs.append(len(df)) or run(self, df))
    res = checker.check(correction)  # the first check reads Y−1 and the inbox
    # ONE validation for the correction and the zone's file it replaces (whose measures "measures dropped" needs)
    assert res.supersedes and "file.measures_dropped" in set(res.issues["check"]) and len(runs) == 1
    listed, joined = [], []
    scan, join = checking.scan_inbox, long_frame._join_previous
    monkeypatch.setattr(checking, "scan_inbox", lambda p: listed.append(Path(p).name) or scan(p))
    monkeypatch.setattr(long_frame, "_join_previous",
                        lambda df, prev, *a: joined.append(prev) or join(df, prev, *a))
    original = correction.with_name(correction.name.replace("_更正", ""))
    res = checker.check(original.read_bytes(), "again.csv", data_year=YEAR)
    assert res.supersedes == correction.name
    assert sorted(n for n in listed if n.isdigit()) == [str(YEAR - 1), str(YEAR)]  # (+ the methodology folder)
    with_previous = [p for p in joined if p is not None]  # (the inbox entries' own rows are checked without Y−1)
    assert len(with_previous) == 1 and set(with_previous[0]["zone_code"]) == {res.zone_code}


def test_a_zone_s_file_that_vanishes_during_a_check_is_not_superseded_and_the_check_answers(demo_home, tmp_path,
                                                                                            monkeypatch):
    """The zone's accepted file is listed, then removed before the check reads it again: the check still answers,
    as the run would with that file gone (nothing superseded, no "measures dropped")."""
    home = tmp_path / "home"
    shutil.copytree(demo_home, home, symlinks=True)
    folder = home / "inbox" / str(YEAR)
    correction = next(folder.glob("*_更正.csv"))
    original = correction.with_name(correction.name.replace("_更正", ""))
    checker = Checker(_settings(home))
    listed = Checker._inbox_year

    def list_then_remove(self, *a, **k):
        state = listed(self, *a, **k)
        original.unlink(missing_ok=True)  # gone after the listing, before its rows are read
        return state

    monkeypatch.setattr(Checker, "_inbox_year", list_then_remove)
    res = checker.check(correction)
    assert not original.exists()
    assert res.supersedes is None and "file.measures_dropped" not in set(res.issues["check"])
    assert res.zone_code and res.data_year == YEAR


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


# ------------------------------------------------------------------ micro-batching and reuse


def _hold_first_batch(checker: Checker, monkeypatch, waiting: int) -> None:
    """The first batch's leader waits (≤ 60 s) until ``waiting`` more checks are queued: they then run as ONE
    batch, whatever the threads' timing on a loaded machine."""
    real = checker._current_rules
    state = {"held": False}

    def held():
        if not state["held"]:
            state["held"] = True
            deadline = 60 + __import__("time").monotonic()
            while len(checker._queue) < waiting and __import__("time").monotonic() < deadline:
                __import__("time").sleep(0.005)
        return real()

    monkeypatch.setattr(checker, "_current_rules", held)


def _burst(checker: Checker, items: list[tuple[bytes, str]]) -> dict[str, object]:
    """Every (bytes, name) checked by its own thread, all released at once: name → result or exception."""
    got: dict[str, object] = {}
    barrier = threading.Barrier(len(items))

    def work(data: bytes, name: str) -> None:
        barrier.wait()
        try:
            got[name] = checker.check(data, name, data_year=YEAR, received_at_ns=NOW_NS)
        except Exception as exc:  # noqa: BLE001 - compared below
            got[name] = exc

    threads = [threading.Thread(target=work, args=item) for item in items]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return got


NOW_NS = 1_900_000_000 * 10**9  # later than every demo file: each upload is its zone's newest


def _batch_sample(home: Path) -> list[Path]:
    """A dozen demo files: good ones, warned ones and at least one the run rejects."""
    import json

    files = sorted(p for p in (home / "inbox" / str(YEAR)).iterdir() if p.is_file())
    scenarios = json.loads((home / "demo_manifest.json").read_text(encoding="utf-8"))["scenarios"]
    rejected = sorted({home / s["file"] for s in scenarios
                       if s["year"] == YEAR and s["file"] and s["status"] == "rejected"})
    return files[:10] + [p for p in rejected if p.is_file() and p not in files[:10]][:2]


def _assert_same(a, b) -> None:
    pd.testing.assert_frame_equal(_same(a.issues), _same(b.issues))
    assert (a.sha256, a.zone_code, a.data_year, a.supersedes, a.conversions) == \
        (b.sha256, b.zone_code, b.data_year, b.supersedes, b.conversions)


@pytest.mark.slow  # two dozen warm checks
def test_a_batch_gives_each_file_what_it_gets_alone(demo_home, monkeypatch):
    files = _batch_sample(demo_home)
    alone = {p.name: Checker(_settings(demo_home)).check(p.read_bytes(), p.name, data_year=YEAR,
                                                         received_at_ns=NOW_NS) for p in files}
    assert any(r.rejected for r in alone.values()) and any(not r.rejected for r in alone.values())
    checker = Checker(_settings(demo_home))
    _hold_first_batch(checker, monkeypatch, waiting=len(files) - 1)
    got = _burst(checker, [(p.read_bytes(), p.name) for p in files])
    assert checker.rounds == 2  # the first check alone, then the other eleven in one validation
    for name, res in alone.items():
        _assert_same(got[name], res)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_file_whose_check_raises_fails_alone_and_its_batch_gets_its_answers(demo_home, monkeypatch):
    import etdz.checking as checking

    files = _batch_sample(demo_home)[:6]
    alone = {p.name: Checker(_settings(demo_home)).check(p.read_bytes(), p.name, data_year=YEAR,
                                                         received_at_ns=NOW_NS) for p in files}
    real = checking.received_file

    def reader(name, *a, **k):
        if name == "boom.csv":
            raise OSError("the disk went away while reading boom.csv")
        return real(name, *a, **k)

    monkeypatch.setattr(checking, "received_file", reader)
    checker = Checker(_settings(demo_home))
    items = [(p.read_bytes(), p.name) for p in files] + [(files[0].read_bytes(), "boom.csv")]
    _hold_first_batch(checker, monkeypatch, waiting=len(items) - 1)
    got = _burst(checker, items)
    assert isinstance(got["boom.csv"], OSError) and "boom.csv" in str(got["boom.csv"])
    for name, res in alone.items():
        _assert_same(got[name], res)  # type: ignore[arg-type]


@pytest.mark.slow
def test_a_check_is_reused_until_what_it_read_changes(tmp_path):
    """The same bytes checked again are answered from the kept check — unless the zone's inbox files, Y−1 or the
    rules changed; another zone's new file does not matter."""
    home = tmp_path / "home"
    write_demo(home, years=range(YEAR - 1, YEAR + 1), n_zones=12)
    checker = Checker(_settings(home))
    folder = home / "inbox" / str(YEAR)
    good = [p for p in sorted(folder.glob("*.csv")) if _utf8(p) and ",gdp," in _utf8(p)
            and not checker.check(p).rejected]
    path, other = good[0], next(p for p in good if _utf8(p).splitlines()[1].split(",")[0]
                                != _utf8(good[0]).splitlines()[1].split(",")[0])
    data = path.read_bytes()
    first = checker.check(data, "upload.csv", data_year=YEAR)
    assert first.supersedes == path.name
    before = checker.reused
    again = checker.check(data, "upload.csv", data_year=YEAR)
    assert checker.reused == before + 1
    _assert_same(again, first)
    # another zone's new file: still reused
    (folder / "other_zone_new.csv").write_bytes(other.read_bytes())
    _assert_same(checker.check(data, "upload.csv", data_year=YEAR), first)
    assert checker.reused == before + 2
    # the zone's own later file without gdp: checked again; the upload is still newer, so it supersedes that one
    lines = path.read_text(encoding="utf-8").splitlines()
    (folder / "later.csv").write_text("\n".join(x for x in lines if ",gdp," not in x) + "\n", encoding="utf-8")
    third = checker.check(data, "upload.csv", data_year=YEAR)
    assert checker.reused == before + 2 and third.supersedes == "later.csv"
    # Y−1's inbox changed (a file more): Y−1's accepted figures may have changed, checked again
    checker.check(data, "upload.csv", data_year=YEAR)
    reused = checker.reused
    assert reused == before + 3
    last_year = home / "inbox" / str(YEAR - 1)
    last = next(p for p in sorted(last_year.iterdir()) if p.is_file())
    (last_year / ("again_" + last.name)).write_bytes(last.read_bytes())
    checker.check(data, "upload.csv", data_year=YEAR)
    assert checker.reused == reused
    # the same bytes under another name, or for another year, are another check
    checker.check(data, "renamed.csv", data_year=YEAR)
    assert checker.reused == reused
