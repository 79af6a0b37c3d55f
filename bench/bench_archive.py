"""What archiving a year's files costs its ingestion, and how often a run lists each inbox folder.

    python bench/bench_archive.py [--zones 23000] [--repeat 3] [--data DIR] [--code CHECKOUT] [--threads N]
                                  [--listings]

Writes a synthetic year of ``--zones`` zones (:func:`demo.write_synthetic_year`; ``--data`` keeps it,
so that another checkout can be measured on the same files), then runs the in-process ``ingest_year`` of that
year alternately with the archive on (a fresh folder beside the data, so on the same file system) and off, after
one warm-up of each: wall min / median of each, and their difference — what the archive costs the year. The
archive is checked byte for byte against the inbox. ``--code``: the checkout whose ``etdz`` is imported
(default: this one), to measure before / after on one machine. ``--threads``: the archive's writer threads.

``--listings``: one in-process ``etdz run --data-year Y`` of a 230-zone synthetic year (Y−1 never run, read
from its inbox), counting every ``os.scandir`` / ``os.listdir`` of the two year folders per phase (the
launcher, the definitions, each Dagster step).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
YEAR = 2023


def _ingest_times(args, layout) -> dict:
    import etdz.ingestion.archive as archive_mod
    from etdz.catalogue import catalogue_for_year, load_catalogues
    from etdz.ingestion import ingest_year
    from etdz.registry import load_registry

    if args.threads:
        archive_mod._ARCHIVE_THREADS = args.threads
    cat = catalogue_for_year(load_catalogues(), YEAR)
    reg = load_registry(layout.registry)
    folder = layout.inbox / str(YEAR)
    times: dict[str, list[float]] = {"on": [], "off": []}
    archive = Path(args.data) / "archive"
    for i in range(args.repeat + 1):
        for mode in ("on", "off"):
            shutil.rmtree(archive, ignore_errors=True)
            t0 = time.perf_counter()
            y = ingest_year(folder, YEAR, cat, reg, str(archive) if mode == "on" else None)
            elapsed = time.perf_counter() - t0
            if i:  # the first round warms the page cache and the imports
                times[mode].append(elapsed)
            if mode == "on":
                for r in y.log.itertuples():
                    stored = archive / r.sha256[:2] / r.sha256
                    assert hashlib.sha256(stored.read_bytes()).hexdigest() == r.sha256, stored
            print(f"  {mode:>3}: {elapsed:6.2f} s  ({len(y.log)} files)", flush=True)
            del y
    shutil.rmtree(archive, ignore_errors=True)
    return times


def _listings(args) -> Counter:
    from demo import write_synthetic_year
    from pipelines.cli import main

    home = Path(tempfile.mkdtemp(prefix="etdz-bench-listings-"))
    try:
        layout = write_synthetic_year(home / "data", YEAR, 230, seed=7)
        for key, value in {"ETDZ_HOME": home, "ETDZ_INBOX": layout.inbox, "ETDZ_REGISTRY": layout.registry,
                           "ETDZ_WAREHOUSE": home / "warehouse", "ETDZ_REPORTS": home / "reports",
                           "DAGSTER_HOME": home / "dagster_home"}.items():
            os.environ[key] = str(value)
        folders = {str(layout.inbox / str(y)): str(y) for y in (YEAR - 1, YEAR)}
        seen: Counter = Counter()
        real_scandir, real_listdir = os.scandir, os.listdir

        def phase() -> str:
            from dagster import OpExecutionContext
            from dagster._core.errors import DagsterInvariantViolationError
            try:
                return str(OpExecutionContext.get().op_handle)
            except DagsterInvariantViolationError:
                frame = sys._getframe()
                while frame is not None:
                    if frame.f_code.co_name == "data_year_partitions":
                        return "definitions"
                    frame = frame.f_back
                return "launcher"

        def count(path) -> None:
            folder = os.path.abspath(os.fsdecode(path))
            if folder in folders:
                seen[(phase(), folders[folder])] += 1

        os.scandir = lambda path=".": (count(path), real_scandir(path))[1]
        os.listdir = lambda path=".": (count(path), real_listdir(path))[1]
        try:
            assert main(["run", "--data-year", str(YEAR)]) == 0
        finally:
            os.scandir, os.listdir = real_scandir, real_listdir
        return seen
    finally:
        shutil.rmtree(home, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, default=23000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", help="keep the synthetic year here (reused when it exists)")
    ap.add_argument("--code", default=str(ROOT), help="the checkout to import etdz from")
    ap.add_argument("--threads", type=int, default=0, help="the archive's writer threads (default: the code's)")
    ap.add_argument("--listings", action="store_true")
    args = ap.parse_args(argv)
    sys.path[:0] = [args.code]
    os.environ["PYTHONPATH"] = args.code
    print(f"code: {args.code}; load: {os.getloadavg()}", flush=True)
    if args.listings:
        seen = _listings(args)
        for (phase, year), n in sorted(seen.items()):
            print(f"  {phase:<14} {year}: listed {n}×")
        print(f"  total: {sum(seen.values())} listings of the two year folders")
        return 0

    from demo import DemoLayout, write_synthetic_year

    temporary = args.data is None
    args.data = args.data or tempfile.mkdtemp(prefix="etdz-bench-archive-")
    data = Path(args.data)
    if (data / "inbox" / str(YEAR)).is_dir():
        layout = DemoLayout(inbox=data / "inbox", registry=data / "registry.csv", years=[YEAR - 1, YEAR],
                            files_written=0, faulty_files=[])
    else:
        layout = write_synthetic_year(data, YEAR, args.zones, seed=7)
    try:
        times = _ingest_times(args, layout)
    finally:
        if temporary:
            shutil.rmtree(data, ignore_errors=True)
    on, off = times["on"], times["off"]
    print(f"ingest_year, archive on : min {min(on):.2f} s, median {statistics.median(on):.2f} s")
    print(f"ingest_year, archive off: min {min(off):.2f} s, median {statistics.median(off):.2f} s")
    print(f"the archive costs       : min {min(on) - min(off):.2f} s, "
          f"median {statistics.median(on) - statistics.median(off):.2f} s; load after: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
