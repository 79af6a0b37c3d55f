"""What the catalogue's consistency rules cost the validation of a year (issue 19, "Consistency rules").

    python bench/bench_consistency.py                    # 2,300 synthetic zones, 3 alternated pairs
    python bench/bench_consistency.py --zones 23000 --pairs 2

One synthetic year (:func:`demo.write_synthetic_year`, every file valid) is ingested by
:func:`etdz.ingestion.ingest_year` with the shipped 2021 catalogue and with the same catalogue without its
``consistency`` rules, alternated in one process (Great Expectations imported before the first run). Printed per
run: the whole ingestion, its validation part (``validation.duration_s``: the long frame and the GX suite), the
rows checked and the expectations of the suite, and the 1-minute load average (this machine is shared). No
target is asserted here.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

from demo import write_synthetic_year
from etdz.catalogue import catalogue_for_year, load_catalogues
from etdz.ingestion import ingest_year
from etdz.registry import load_registry
from etdz.validation import gx_module


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, default=2300)
    ap.add_argument("--pairs", type=int, default=3)
    args = ap.parse_args()
    gx_module()
    home = Path(tempfile.mkdtemp(prefix="bench_consistency_"))
    layout = write_synthetic_year(home, 2022, args.zones, 5)
    registry = load_registry(layout.registry)
    with_rules = catalogue_for_year(load_catalogues(), 2022)
    without = dataclasses.replace(with_rules, consistency=())
    times: dict[str, list[float]] = {"with rules": [], "without": []}
    for _ in range(args.pairs):
        for label, cat in (("with rules", with_rules), ("without", without)):
            load = os.getloadavg()[0]
            t0 = time.perf_counter()
            y = ingest_year(layout.inbox / "2022", 2022, cat, registry, None)
            wall = time.perf_counter() - t0
            times[label].append(y.validation.duration_s)
            print(f"{label:10s}  ingest {wall:6.2f} s  validation {y.validation.duration_s:6.2f} s  "
                  f"rows {y.validation.rows_checked}  expectations {len(y.validation.expectations)}  "
                  f"row.inconsistent {int((y.issues.check == 'row.inconsistent').sum())}  load {load:.1f}")
    for label, xs in times.items():
        print(f"median validation {label}: {statistics.median(xs):.2f} s")


if __name__ == "__main__":
    main()
