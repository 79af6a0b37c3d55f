"""Time the reports of one synthetic demo-sized year (230 zones: 112 east, 68 central, 50 west).

    python bench/bench_reports.py [--years 5] [--repeat 3] [--out DIR] [--screenshots docs/screenshots]
                                  [--scale 1] [--card-workers N]

Builds the year with the report tests' builder (tests/reports/reports_synth.py), writes the national
report, 230 cards and the workbook inside a step's commit (as the run's reports step: staged, one flush at the
end), and prints the time per output (target: under 5 s in all) and the memory (RSS and PSS of the process tree).
``--screenshots`` also renders, with headless Chromium, the year after one zone's corrected file (so the
national report has its "changes since the previous run") and with its rank robustness (when the tree has
``etdz.scoring.robustness``): national_report.png, zone_card.png and close-ups of the new sections.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import sys
import tempfile
import threading
import time
from importlib.util import find_spec
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reports"), str(ROOT / "bench")]

from reports_synth import SynthYear, chromium_screenshot, corrected, make_year  # noqa: E402
from run import _peak_pss, _sample_rss  # noqa: E402 — the process-tree sampler of bench/run.py (one home)

from etdz.catalogue import catalogue_for_year, load_catalogues  # noqa: E402
from etdz.commit import YearScope, step_commit  # noqa: E402
from etdz.reports import write_year_reports  # noqa: E402

CLOSE_UPS = {  # picture -> (page, sections shown alone, width, height)
    "national_robustness.png": ("national", ("robustness",), 1200, 1400),
    "national_changes.png": ("national", ("changes", "quality"), 1200, 2300),
    "zone_card_robustness.png": ("card", ("robustness", "risk", "target"), 940, 1500),
}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--years", type=int, default=5, help="years of history on record")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None, help="reports root (default: a temp folder)")
    ap.add_argument("--scale", type=int, default=1, help="zones per region x K (K = 10: 2,300 zones)")
    ap.add_argument("--card-workers", type=int, default=None, help="processes rendering the cards")
    ap.add_argument("--screenshots", type=Path, default=None, help="folder for national_report.png / zone_card.png")
    a = ap.parse_args(argv)

    cat = catalogue_for_year(load_catalogues(), a.year)
    t = time.perf_counter()
    data = make_year(
        cat, a.year, per_region={"east": 112 * a.scale, "central": 68 * a.scale, "west": 50 * a.scale}, years=a.years
    )
    print(
        f"synthetic year {a.year}: {len(data.frames['rankings'])} zones, {a.years} years on record, "
        f"built in {time.perf_counter() - t:.2f} s"
    )
    root = a.out or Path(tempfile.mkdtemp(prefix="etdz-bench-reports-"))
    best = None
    page_mb = os.sysconf("SC_PAGE_SIZE") / 2**20
    for i in range(a.repeat):
        with open("/proc/self/statm") as fh:
            before_mb = int(fh.read().split()[1]) * page_mb
        samples: list = []
        stop = threading.Event()
        sampler = threading.Thread(target=_sample_rss, args=(os.getpid(), samples, stop), daemon=True)
        sampler.start()
        t, c = time.perf_counter(), time.process_time()
        kids0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # inside a step's commit, as the run's reports step writes: staged files, one flush at the commit
        scope = YearScope(a.year, str(root / "_warehouse"), str(root / str(a.year)))
        with step_commit(root / "_journal", scope, "bench"):
            out = write_year_reports(data.inputs(), root, card_workers=a.card_workers)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
        kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        stop.set()
        sampler.join()
        kids_cpu = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
        parts = "  ".join(f"{k}={v:.3f}s" for k, v in out.seconds.items())
        own, tree = max((s[1] for s in samples), default=0.0), max((s[2] for s in samples), default=0.0)
        pss = _peak_pss(samples) or 0.0
        print(
            f"run {i + 1}: {wall:.3f} s wall, {cpu:.3f} s CPU of this process + {kids_cpu:.3f} s of ended card "
            f"workers  ({parts})  cards={out.cards}  load {os.getloadavg()[0]:.2f}\n"
            f"       RSS before {before_mb:.0f} MB; sampled peak: this process {own:.0f} MB, "
            f"process tree {tree:.0f} MB (+{tree - before_mb:.0f} MB), its PSS {pss:.0f} MB"
        )
        best = wall if best is None else min(best, wall)
    print(f"best: {best:.3f} s for national report + workbook + {out.cards} cards -> {root / str(a.year)}")
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"this process: {me.ru_utime + me.ru_stime:.2f} s CPU in all, peak RSS {me.ru_maxrss / 1024:.0f} MB; "
        f"card workers: {kids.ru_utime + kids.ru_stime:.2f} s CPU, largest peak RSS {kids.ru_maxrss / 1024:.0f} MB"
    )
    if a.screenshots:
        screenshots(data, root, a.screenshots)
    return 0 if best is not None and best < 5.0 else 1


def screenshots(data: SynthYear, root: Path, folder: Path) -> None:
    """The year after a corrected file, with its robustness when available, rendered to PNGs in ``folder``."""
    rk = data.frames["rankings"].sort_values("national_rank")
    after = corrected(data, rk.zone_code.iloc[130], "trade_total", 6.0)  # its trade had been sent in the wrong unit
    if find_spec("etdz.scoring.robustness") is not None:
        from etdz.scoring.robustness import rank_robustness, robustness_inputs

        t = time.perf_counter()
        hist = after.history  # the earlier years on record, for p_candidate (§3.9 step 5)
        earlier = {int(y): g for y, g in hist.groupby("data_year") if y < after.data_year}
        after.frames["rank_robustness"] = rank_robustness(
            robustness_inputs(
                after.data_year, after.catalogue, after.frames["indicator_scores"], after.frames["rankings"], earlier
            )
        )
        print(f"rank robustness: {time.perf_counter() - t:.2f} s")
    else:
        print("this tree has no etdz.scoring.robustness: screenshots without rank robustness")
    out = write_year_reports(after.inputs(), root)
    rk = after.frames["rankings"].sort_values("national_rank")
    code = rk[rk.national_rank > 100].zone_code.iloc[0]  # a zone with a "top 100" target
    pages = {"national": out.national_report, "card": out.cards_dir / f"{code}.html"}
    folder.mkdir(parents=True, exist_ok=True)
    shots = [(pages["national"], "national_report.png", 1200, 9600), (pages["card"], "zone_card.png", 940, 4300)]
    tmp = Path(tempfile.mkdtemp(prefix="etdz-closeups-"))
    for name, (page, keep, w, h) in CLOSE_UPS.items():
        html = pages[page].read_text(encoding="utf-8")
        hide = "section" + "".join(f":not(#{k})" for k in keep)  # the page's own sections, shown alone
        html = re.sub(r"</style>", f"{hide}, .tiles {{ display: none; }}\n</style>", html, count=1)
        (tmp / name.replace(".png", ".html")).write_text(html, encoding="utf-8")
        shots.append((tmp / name.replace(".png", ".html"), name, w, h))
    for src, name, w, h in shots:
        r = chromium_screenshot(src, folder / name, w, h)
        print(
            f"{folder / name}: exit {r['returncode']}, {r['png_bytes']} bytes, "
            f"page requests {r['requests']}, console {r['console']}"
        )


if __name__ == "__main__":
    sys.exit(main())
