"""Time the reports of one synthetic demo-sized year (230 zones: 112 east, 68 central, 50 west).

    python bench/bench_reports.py [--years 5] [--repeat 3] [--out DIR] [--screenshots docs/screenshots]

Builds the year with the report tests' builder (tests/reports/reports_synth.py), writes the national
report, 230 cards and the workbook, and prints the time per output (target: under 5 s in all).
``--screenshots`` also renders national_report.png and zone_card.png with headless Chromium.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reports")]

from etdz.catalogue import catalogue_for_year, load_catalogues  # noqa: E402
from etdz.reports import write_year_reports  # noqa: E402
from reports_synth import chromium_screenshot, make_year  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--years", type=int, default=5, help="years of history on record")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="reports root (default: a temp folder)")
    ap.add_argument("--screenshots", type=Path, default=None, help="folder for national_report.png / zone_card.png")
    a = ap.parse_args(argv)

    cat = catalogue_for_year(load_catalogues(), a.year)
    t = time.perf_counter()
    data = make_year(cat, a.year, per_region={"east": 112, "central": 68, "west": 50}, years=a.years)
    print(f"synthetic year {a.year}: {len(data.frames['rankings'])} zones, {a.years} years on record, "
          f"built in {time.perf_counter() - t:.2f} s")
    root = a.out or Path(tempfile.mkdtemp(prefix="etdz-bench-reports-"))
    best = None
    for i in range(a.repeat):
        t = time.perf_counter()
        out = write_year_reports(data.inputs(), root)
        wall = time.perf_counter() - t
        parts = "  ".join(f"{k}={v:.3f}s" for k, v in out.seconds.items())
        print(f"run {i + 1}: {wall:.3f} s wall  ({parts})  cards={out.cards}")
        best = wall if best is None else min(best, wall)
    print(f"best: {best:.3f} s for national report + workbook + {out.cards} cards -> {root / str(a.year)}")
    if a.screenshots:
        a.screenshots.mkdir(parents=True, exist_ok=True)
        rk = data.frames["rankings"].sort_values("national_rank")
        code = rk[rk.national_rank > 100].zone_code.iloc[0]  # a zone with a "top 100" target
        for src, name, w, h in ((out.national_report, "national_report.png", 1200, 5600),
                                (out.cards_dir / f"{code}.html", "zone_card.png", 940, 3900)):
            r = chromium_screenshot(src, a.screenshots / name, w, h)
            print(f"{a.screenshots / name}: exit {r['returncode']}, {r['png_bytes']} bytes, "
                  f"page requests {r['requests']}, console {r['console']}")
    return 0 if best is not None and best < 5.0 else 1


if __name__ == "__main__":
    sys.exit(main())
