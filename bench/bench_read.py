"""The read path of one year at scale: the batch (well-formed CSVs in one pyarrow pass) against the per-file read.

    python bench/bench_read.py [--zones 23000] [--year 2023] [--repeat 3] [--workdir DIR] [--archive]

Writes a synthetic year once (``demo.write_synthetic_year``; ``--workdir`` keeps and reuses it), then,
for each path, ``--repeat`` fresh child processes (so each peak RSS is that run's alone; imports and the GX import
are done before the clock starts):

* ``read``: what the batch replaces — ``load_file`` for every file, the batch read, the file checks and the long
  frame (``build_long_frame``), with the time of each part;
* ``ingest``: the whole ``ingest_year`` (read, GX, decisions, measures); ``--archive`` also archives every file
  (its fsyncs dominate then).

Prints min / median wall (and the process CPU of the whole part, less sensitive to a loaded machine) and the peak
RSS (``ru_maxrss``) per path and part; the long frames of both paths are checked equal in one more child.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

PATHS = {"batch": True, "per-file": False}


def _setup(workdir: Path, year: int):
    from etdz.catalogue import catalogue_for_year, load_catalogues
    from etdz.registry import load_registry
    from etdz.validation import gx_module

    gx_module()  # imported before the clock starts, by both paths alike
    return catalogue_for_year(load_catalogues(), year), load_registry(workdir / "registry.csv")


def _read(workdir: Path, year: int, batch: bool):
    """The read part: (timings, long frame)."""
    from etdz.inbox_state import scan_inbox
    from etdz.ingestion import load_file
    from etdz.reading import DEFAULT_MAX_BYTES, DEFAULT_ROWS_PER_MEASURE
    from etdz.validation import build_long_frame, file_checks, read_deferred, registry_lookup

    cat, reg = _setup(workdir, year)
    max_rows = DEFAULT_ROWS_PER_MEASURE * len(cat.measures)
    cpu = time.process_time()
    t = {"start": time.perf_counter()}
    files = [load_file(e, i, year, None, DEFAULT_MAX_BYTES, max_rows=max_rows, defer_csv=batch)
             for i, e in enumerate(scan_inbox(workdir / "inbox" / str(year)))]
    t["load"] = time.perf_counter()
    read_deferred(files)
    t["batch"] = time.perf_counter()
    lookup = registry_lookup(reg)
    for f in files:
        file_checks(f, reg, lookup)
    t["file_checks"] = time.perf_counter()
    long = build_long_frame(files, cat)
    t["long_frame"] = time.perf_counter()
    names = list(t)
    out = {n: t[n] - t[p] for p, n in zip(names, names[1:])}
    out["total"] = t["long_frame"] - t["start"]
    out["total_cpu"] = time.process_time() - cpu
    out["batched_files"] = sum(f.read.batch is not None for f in files)
    return out, long


def child(mode: str, workdir: Path, year: int, batch: bool, archive: bool) -> dict:
    if mode == "read":
        out, _ = _read(workdir, year, batch)
    else:
        from etdz.ingestion import ingest_year

        cat, reg = _setup(workdir, year)
        with tempfile.TemporaryDirectory(prefix="etdz-bench-read-archive-", dir=workdir) as arch:
            t0, cpu = time.perf_counter(), time.process_time()
            y = ingest_year(workdir / "inbox" / str(year), year, cat, reg, arch if archive else None,
                            batch_read=batch)
            out = {"total": time.perf_counter() - t0, "total_cpu": time.process_time() - cpu,
                   "accepted": int((y.log.status == "accepted").sum())}
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def same_frames(workdir: Path, year: int) -> bool:
    import pandas as pd

    _, a = _read(workdir, year, True)
    _, b = _read(workdir, year, False)
    pd.testing.assert_frame_equal(a, b)
    return True


def _run_child(*args: str) -> dict:
    proc = subprocess.run([sys.executable, __file__, *args], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, default=23000)
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None, help="keep (and reuse) the synthetic year here")
    ap.add_argument("--archive", action="store_true", help="ingest: archive every file too")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "WORKDIR", "PATH"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        mode, workdir, path = a.child
        if mode == "same":
            print(json.dumps({"same": same_frames(Path(workdir), a.year)}))
        else:
            print(json.dumps(child(mode, Path(workdir), a.year, PATHS[path], a.archive)))
        return 0
    workdir = a.workdir or Path(tempfile.mkdtemp(prefix="etdz-bench-read-"))
    try:
        return _bench(a, workdir)
    finally:
        if a.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def _bench(a: argparse.Namespace, workdir: Path) -> int:
    if not (workdir / "registry.csv").exists() or len(list((workdir / "inbox" / str(a.year)).iterdir())) != a.zones:
        from demo import write_synthetic_year

        t0 = time.perf_counter()
        write_synthetic_year(workdir, a.year, a.zones, a.seed)
        print(f"wrote {a.zones} zones × 2 years in {time.perf_counter() - t0:.1f} s: {workdir}")
    extra = ["--year", str(a.year)] + (["--archive"] if a.archive else [])
    for mode in ("read", "ingest"):
        for path in PATHS:
            runs = [_run_child("--child", mode, str(workdir), path, *extra) for _ in range(a.repeat)]
            parts = [k for k in runs[0] if k not in ("peak_rss_mb", "batched_files", "accepted")]
            times = "  ".join(f"{k} {min(r[k] for r in runs):.2f}/{statistics.median(r[k] for r in runs):.2f}"
                              for k in parts)
            rss = max(r["peak_rss_mb"] for r in runs)
            note = {k: runs[0][k] for k in ("batched_files", "accepted") if k in runs[0]}
            print(f"{mode:6} {path:8} s (min/median of {a.repeat}): {times}  peak RSS {rss:.0f} MB  {note}")
    print(f"long frames of both paths equal: {_run_child('--child', 'same', str(workdir), 'batch', *extra)['same']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
