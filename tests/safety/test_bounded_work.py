"""Bounded work from small hostile files (issue 23, item 6).

Each hostile file (generated here, see hostile_files.py) is received as a run receives it — opened, hashed, read,
its file-level issues made — in a child process forked from a measuring process that has imported everything: the
child's own wall time and peak RSS (``os.wait4``) must stay within 10 s and 500 MB, and every issue's ``value`` and
``message`` within their bounds. Under ``ulimit -v`` a command still ends (native thread pools are sized to one
thread before numpy loads).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from etdz.reading import MAX_CELL_CHARS, read_submission
from etdz.validation.checks import MAX_MESSAGE_CHARS, MAX_VALUE_CHARS, bounded
from tests.safety import hostile_files as hostile

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
SECONDS, MEGABYTES = 10, 500

FILES = {  # name → (generator, the file-level check it is answered with, or None: read, no file problem)
    "far_row.xlsx": (hostile.far_row, None),
    "blank_rows_xfd.xlsx": (hostile.blank_rows_far_column, "file.too_many_rows"),
    "value_in_xfd.xlsx": (hostile.far_column_value, "file.too_wide"),
    "shared_strings_bomb.xlsx": (hostile.shared_strings_bomb, "file.zip_bomb"),  # by size (92 MB uncompressed)
    "shared_strings_count.xlsx": (lambda: hostile.shared_strings_bomb(300_000), "file.zip_bomb"),  # by count
    "wide_header.csv": (hostile.wide_csv_header, "file.too_wide"),
    "huge_note.csv": (hostile.huge_cell_csv, "file.cell_too_long"),
    "huge_value.csv": (hostile.huge_value_csv, "file.cell_too_long"),
}

MEASURE = textwrap.dedent("""
    import json, os, resource, sys, time
    from etdz.ingestion.opening import load_file
    from etdz.registry import load_registry
    from etdz.validation.files import file_checks
    registry = load_registry(sys.argv[1])
    for path in sys.argv[2:]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child receives one file, as the run would
            os.close(r)
            signal_after = 60
            import signal
            signal.alarm(signal_after)  # a hang ends the child (the parent then reports it)
            t0 = time.perf_counter()
            f = load_file(path, 0, 2021, None, 20 * 2**20, max_rows=100)
            issues = file_checks(f, registry)
            out = {"seconds": time.perf_counter() - t0, "checks": [i["check"] for i in issues],
                   "value": max([len(i["value"] or "") for i in issues], default=0),
                   "message": max([len(i["message"] or "") for i in issues], default=0), "rows": f.read.n_rows}
            os.write(w, json.dumps(out).encode())
            os._exit(0)
        os.close(w)
        with os.fdopen(r, "rb") as fh:
            body = fh.read()
        _, status, usage = os.wait4(pid, 0)
        result = json.loads(body) if body else {"died": status}
        result["rss_mb"] = usage.ru_maxrss / 1024
        print(json.dumps({os.path.basename(path): result}), flush=True)
""")


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hostile")
    paths = []
    for name, (make, _) in FILES.items():
        (folder / name).write_bytes(make())
        paths.append(str(folder / name))
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(GOLDEN / "registry.csv"), *paths], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    out = {}
    for line in proc.stdout.splitlines():
        out.update(json.loads(line))
    return folder, out


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FILES))
def test_each_hostile_file_is_answered_within_10_s_and_500_mb(measured, name):
    folder, results = measured
    size = (folder / name).stat().st_size
    r = results[name]
    assert "died" not in r, r
    print(f"{name}: {size} bytes, {r['seconds']:.2f} s, peak RSS {r['rss_mb']:.0f} MB, {r['checks']}")
    assert r["seconds"] < SECONDS and r["rss_mb"] < MEGABYTES, r
    expected = FILES[name][1]
    assert (r["checks"][:1] == [expected]) if expected else r["checks"] == [], r
    assert r["value"] <= MAX_VALUE_CHARS + 40 and r["message"] <= MAX_MESSAGE_CHARS + 40


def test_a_row_number_of_a_trillion_is_just_a_row():
    data = hostile.far_row()
    assert len(data) < 8000
    result = read_submission("far.xlsx", data, len(data))
    assert result.ok and [r["__row__"] for r in result.rows] == [2, 999_999_999_999]


def test_a_long_cell_never_reaches_the_batch_reader():
    data = hostile.huge_value_csv(MAX_CELL_CHARS + 1)  # under the csv module's own limit
    result = read_submission("v.csv", data, len(data), defer=True)
    assert result.pending is None and [p.check for p in result.problems] == ["file.cell_too_long"]
    assert "第 2 行第 4 列" in result.problems[0].message


def test_every_issue_value_and_message_is_bounded():
    from etdz.validation.checks import issue
    from etdz.validation.files import SubmissionFile

    f = SubmissionFile(0, "x.csv", "", 0, None, 2021)
    i = issue(f, "row.invalid_value", "「" + "9" * 10**6 + "」不是数值", value="9" * 10**6, row=2, column="value")
    assert len(i["value"]) <= MAX_VALUE_CHARS + 40 and len(i["message"]) <= MAX_MESSAGE_CHARS + 40
    assert i["value"].endswith("共 1000000 个字符）") and bounded("短", 10) == "短"


@pytest.mark.slow
def test_a_command_under_ulimit_v_ends_and_blas_runs_one_thread(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                              "MKL_NUM_THREADS")}
    env.update({"ETDZ_REGISTRY": str(GOLDEN / "registry.csv"), "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues")})
    probe = subprocess.run([sys.executable, "-c", "import os, pipelines.cli, numpy; "
                            "print(os.environ['OPENBLAS_NUM_THREADS'], os.environ['OMP_NUM_THREADS'])"],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert probe.stdout.split() == ["1", "1"], probe.stderr
    mine = subprocess.run([sys.executable, "-c", "import os, pipelines.cli; print(os.environ['OPENBLAS_NUM_THREADS'])"],
                          cwd=ROOT, env={**env, "OPENBLAS_NUM_THREADS": "4"}, capture_output=True, text=True,
                          timeout=120)
    assert mine.stdout.strip() == "4"  # the operator's value wins
    files = [str(p) for p in sorted((GOLDEN / "inbox" / "2021").glob("*.csv"))[:3]]
    command = f"ulimit -v 3000000; exec {sys.executable} -m pipelines.cli validate " + " ".join(files)
    run = subprocess.run(["bash", "-c", command], cwd=ROOT, env={**env, "ETDZ_HOME": str(tmp_path)},
                         capture_output=True, text=True, timeout=240)
    assert run.returncode in (0, 1) and "合计：3 个文件" in run.stdout, run.stdout + run.stderr
