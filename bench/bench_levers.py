"""Time the cards' levers by measure (03-scoring.md §3.8) on a demo-sized synthetic year (230 zones).

    python bench/bench_levers.py [--repeat 5] [--scale 1]

Prints, per card (CPU time of this process, the least of ``--repeat`` runs): the targets' gaps alone
(``zone_targets``), the gaps with the levers (``card_targets``: every reported measure raised and the zone
re-scored on the year's bounds, the rises that close each gap, a card chunk scored together) and a whole card
rendered (``render_cards``, serial). Target: the levers under 5 ms a card, so 230 cards stay within the reports'
5 s (bench/bench_reports.py).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reports")]

from reports_synth import make_year  # noqa: E402

from etdz.catalogue import catalogue_for_year, load_catalogues  # noqa: E402
from etdz.reports import prepare  # noqa: E402
from etdz.reports.cards import _CHUNK, card_targets, render_cards, target_groups  # noqa: E402
from etdz.reports.targets import zone_targets  # noqa: E402

TARGET_MS = 5.0


def best_of(repeat: int, fn) -> float:
    """The least CPU time of this process over ``repeat`` runs (on a shared machine the wall clock measures the
    others' load; the CPU time is this code's, contention aside)."""
    times = []
    for _ in range(repeat):
        t = time.process_time()
        fn()
        times.append(time.process_time() - t)
    return min(times)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--years", type=int, default=3)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=int, default=1, help="zones per region x K")
    a = ap.parse_args(argv)
    cat = catalogue_for_year(load_catalogues(), a.year)
    data = make_year(cat, a.year, per_region={"east": 112 * a.scale, "central": 68 * a.scale,
                                              "west": 50 * a.scale}, years=a.years)
    v = prepare(data.inputs())
    groups = target_groups(v)
    d = cat.downgrade
    n = len(v.zones)

    def gaps():
        for z in v.zones:
            zone_targets(z, v.totals_desc, v.zones, groups.bottom, d.rule if d else None, d.bottom_n if d else None,
                         groups=groups)

    def levers():
        for start in range(0, n, _CHUNK):
            card_targets(v, v.zones[start:start + _CHUNK], groups)

    def cards():
        for _ in render_cards(v, "bench"):
            pass

    t_gaps, t_levers, t_cards = (best_of(a.repeat, f) for f in (gaps, levers, cards))
    per = 1000.0 / n
    lever_ms = (t_levers - t_gaps) * per
    print(f"{n} zones, {len(cat.measures)} measures, {len(cat.indicators)} indicators; least CPU time of "
          f"{a.repeat} runs, load {os.getloadavg()[0]:.2f}")
    print(f"gaps alone:        {t_gaps * per:7.3f} ms a card  ({t_gaps:.3f} s)")
    print(f"gaps + levers:     {t_levers * per:7.3f} ms a card  ({t_levers:.3f} s): the levers {lever_ms:.3f} ms")
    print(f"whole card render: {t_cards * per:7.3f} ms a card  ({t_cards:.3f} s, levers included)")
    ok = lever_ms < TARGET_MS
    print(f"target: levers under {TARGET_MS:g} ms a card: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
