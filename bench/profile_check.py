"""A cProfile of the warm check (issue 22): one Checker, the first file checked unprofiled, then the next 60.

    ETDZ_HOME=<a demo home> python bench/profile_check.py [--files 60] [--sort cumulative] [--lines 40]

Run it against another checkout with ``PYTHONPATH=<checkout>``. The profile inflates the times (~2.5x); the shares
and the call counts are what matter (bench/results/profiles/issue22_warm_check_{before,after}.txt).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--lines", type=int, default=40)
    args = ap.parse_args(argv)

    from etdz.checking import Checker
    from etdz.settings import Settings

    settings = Settings.from_env()
    files = sorted(p for p in Path(settings.inbox, str(args.year)).iterdir() if not p.is_dir())
    checker = Checker(settings)
    checker.check(files[0])  # imports GX, reads Y−1 and the inbox: not what a warm check costs
    prof, times = cProfile.Profile(), []
    prof.enable()
    for p in files[1:1 + args.files]:
        t = time.perf_counter()
        checker.check(p)
        times.append(time.perf_counter() - t)
    prof.disable()
    times.sort()
    print(f"{len(times)} checks under the profiler: median {times[len(times) // 2] * 1000:.1f} ms, "
          f"max {times[-1] * 1000:.1f} ms")
    pstats.Stats(prof).sort_stats(args.sort).print_stats(args.lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
