"""Further years of a multi-year run, in one process: the year's cards shared with the suite worker, or not.

    python bench/bench_further_years.py --home <an etdz demo home> [--reps 6]

Runs 2021 once (the process warms up), then 2022 and 2023 ``--reps`` times each way, alternated, through
``pipelines.runs.run_years`` inside one suite worker (as ``etdz demo`` does). "here" hides the spare process from
the cards (:func:`etdz.processes.spare` answers None), "shared" leaves it. Prints the reports step's
``write_year_reports`` and the whole year, medians and every figure. Run it from outside the checkout (e.g. /tmp)
with ``PYTHONPATH=<checkout>``; the home is re-run in place (its years are replaced, as a re-run does).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--home", required=True, help="an etdz demo home (etdz demo --home DIR)")
    ap.add_argument("--reps", type=int, default=6)
    args = ap.parse_args()
    os.environ["ETDZ_HOME"] = os.path.abspath(args.home)

    from dagster import DagsterInstance

    import assets.reports as asset_reports
    import etdz.processes as processes
    import etdz.reports.cards as cards
    from etdz.settings import Settings
    from etdz.validation.worker import suite_worker
    from pipelines.definitions import build_definitions
    from pipelines.runs import ensure_dagster_home, run_years

    reports_seconds: list[float] = []
    write = asset_reports.write_year_reports

    def timed(*a, **k):
        t = time.perf_counter()
        try:
            return write(*a, **k)
        finally:
            reports_seconds.append(time.perf_counter() - t)

    asset_reports.write_year_reports = timed
    settings = Settings.from_env()
    ensure_dagster_home(settings.dagster_home)
    defs = build_definitions(settings)
    reports: dict[bool, list[float]] = {True: [], False: []}
    years: dict[bool, list[float]] = {True: [], False: []}
    with DagsterInstance.get() as instance, suite_worker(True):
        run_years([2021], settings, defs=defs, instance=instance, quiet=True)
        for rep in range(args.reps):
            for shared in ((True, False) if rep % 2 else (False, True)):
                cards.spare = processes.spare if shared else (lambda: None)
                for year in (2022, 2023):
                    reports_seconds.clear()
                    t = time.perf_counter()
                    run_years([year], settings, defs=defs, instance=instance, quiet=True)
                    years[shared].append(time.perf_counter() - t)
                    reports[shared].append(reports_seconds[0])
    for shared in (False, True):
        print(f"{'shared' if shared else 'here  '}  reports median {statistics.median(reports[shared]):.3f} s  "
              f"year median {statistics.median(years[shared]):.2f} s  reports "
              f"{[round(x, 2) for x in reports[shared]]}  years {[round(x, 2) for x in years[shared]]}")


if __name__ == "__main__":
    main()
