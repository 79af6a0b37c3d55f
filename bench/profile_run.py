"""Where a cold ``etdz run --data-year Y`` spends its CPU: a cProfile on CPU time, bucketed.

    python bench/profile_run.py [--zones 230] [--year 2023] [--out bench/results/profile_run.txt]
                                [--home DIR] [--keep-instance] [--years 2022,2023]

Writes a synthetic registry and the CSVs of Y and Y − 1 (``demo.write_synthetic_year``, seed 7) into a temp
home (or ``--home``), then runs ``pipelines.cli.main(["run", ...])`` in a fresh interpreter under cProfile
(wall clock: a CPU-time timer would be a system call per function call and swamp the figures; on a loaded
machine every figure grows with the load, and the profiler's own overhead inflates Python-heavy parts such
as imports by ~1.5–3x: the shares are what matter). Imports are profiled too (the interpreter starts the profiler before
importing anything of ours). The summary names the buckets a run's fixed cost is made of: imports (Dagster,
the code location, Great Expectations), the instance, building the definitions, creating the run, each
step, the event log writes, the data version look-ups. ``--keep-instance`` runs twice in one DAGSTER_HOME and
profiles the second run (a user's usual case: the SQLite schema exists). ``--years`` runs several years in
one ``etdz run --from A --to B``. Run it against another checkout with ``PYTHONPATH=<checkout>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import cProfile, sys, time
prof = cProfile.Profile()  # wall clock: process_time is a system call per function call
t0 = time.perf_counter()
prof.enable()
from pipelines.cli import main
code = main(sys.argv[2:])
prof.disable()
print(f"PROFILED exit={code} cpu={time.perf_counter() - t0:.3f}")
prof.dump_stats(sys.argv[1])
"""

# (label, function name as pstats shows it: (file suffix, function)) — cumulative CPU of each
BUCKETS = [
    ("import dagster", ("dagster/__init__.py", "<module>")),
    ("import pipelines.cli (the code location's modules, Dagster included)", ("pipelines/cli.py", "<module>")),
    ("import great_expectations (lazily, in the first validation)", ("great_expectations/__init__.py", "<module>")),
    ("build_definitions", ("pipelines/definitions.py", "build_definitions")),
    ("data_year_partitions", ("pipelines/partitions.py", "data_year_partitions")),
    ("load_catalogues", ("etdz/catalogue.py", "load_catalogues")),
    ("DagsterInstance.get", ("dagster/_core/instance/instance.py", "get")),
    ("report_runless_asset_event (the inbox observation)", ("dagster/_core/instance/methods/asset_methods.py",
                                                            "_report_runless_asset_event")),
    ("create_run_for_job (incl. the planned events)", ("dagster/_core/instance/runs/run_domain.py",
                                                       "create_run_for_job")),
    ("create_execution_plan", ("dagster/_core/execution/api.py", "create_execution_plan")),
    ("execute_partition (the run)", ("pipelines/runs.py", "execute_partition")),
    ("  step inbox", ("assets/inbox.py", "inbox")),
    ("  step submissions (ingest + validate)", ("assets/ingestion.py", "submissions")),
    ("    ingest_year", ("etdz/ingestion/year.py", "ingest_year")),
    ("    previous_submissions (Y-1)", ("etdz/history.py", "previous_submissions")),
    ("  step scores", ("assets/scoring.py", "scores")),
    ("  step rank_robustness", ("assets/robustness.py", "rank_robustness")),
    ("  step ranking_changes", ("assets/changes.py", "ranking_changes")),
    ("  step reports", ("assets/reports.py", "reports")),
    ("  store_event (every event written)", ("dagster/_core/storage/event_log/sqlite/sqlite_event_log.py",
                                             "store_event")),
    ("  fetch_external_input_asset_version_info (data versions)", ("dagster/_core/execution/context/system.py",
                                                                   "fetch_external_input_asset_version_info")),
    ("  compute log capture", ("dagster/_core/execution/plan/execute_plan.py", "_capture_logs")),
    ("release_memory (gc)", ("etdz/memory.py", "release_memory")),
]


def _find(stats, suffix: str, name: str):
    hits = [(k, v) for k, v in stats.stats.items() if k[0].endswith(suffix) and k[2] == name]
    if not hits:
        return None
    # cumulative time of the outermost entry (recursion counts once in pstats' cumulative)
    return max(hits, key=lambda kv: kv[1][3])


def summary(prof_path: Path, cpu: float, title: str) -> str:
    import pstats

    stats = pstats.Stats(str(prof_path))
    lines = [title, f"{'the whole process, profiled (wall)':74s} {cpu:8.2f} s", ""]
    for label, (suffix, name) in BUCKETS:
        hit = _find(stats, suffix, name)
        if hit is None:
            lines.append(f"{label:74s} {'-':>8s}")
            continue
        (_, _, _), (cc, nc, tt, ct, _) = hit
        lines.append(f"{label:74s} {ct:8.2f} s  {100 * ct / cpu:5.1f} %  calls {nc}")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, default=230)
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--years", default=None, help="A,B: profile `etdz run --from A --to B` instead")
    ap.add_argument("--home", type=Path, default=None)
    ap.add_argument("--keep-instance", action="store_true", help="profile a second run in the same DAGSTER_HOME")
    ap.add_argument("--out", type=Path, default=None, help="also write the summary (and the .prof beside it)")
    a = ap.parse_args(argv)

    home = a.home or Path(tempfile.mkdtemp(prefix="etdz-profile-"))
    if not (home / "registry.csv").exists():
        subprocess.run([sys.executable, "-c", "import sys; from demo.synthetic import write_synthetic_year; "
                        "write_synthetic_year(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), seed=7)",
                        str(home), str(a.year), str(a.zones)], check=True, cwd=ROOT)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETDZ_") and k != "DAGSTER_HOME"}
    env.update({"ETDZ_HOME": str(home), "ETDZ_INBOX": str(home / "inbox"), "ETDZ_REGISTRY": str(home / "registry.csv"),
                "ETDZ_WAREHOUSE": str(home / "warehouse"), "ETDZ_REPORTS": str(home / "reports"),
                "DAGSTER_HOME": str(home / "dagster_home"), "HOME": str(home)})
    if a.years:
        first, last = (int(x) for x in a.years.split(","))
        run = ["run", "--from", str(first), "--to", str(last)]
    else:
        run = ["run", "--data-year", str(a.year)]
    for name in ("warehouse", "reports", "dagster_home", "archive"):
        shutil.rmtree(home / name, ignore_errors=True)
    prof = (a.out.with_suffix(".prof") if a.out else home / "run.prof")
    if a.keep_instance:  # a first run creates the instance's SQLite schema; the profiled one finds it
        first = "import sys; from pipelines.cli import main; sys.exit(main(sys.argv[1:]))"
        subprocess.run([sys.executable, "-P", "-c", first, *run], env=env, cwd=home, check=True, capture_output=True)
        for name in ("warehouse", "reports", "archive"):
            shutil.rmtree(home / name, ignore_errors=True)
    # -P: not the working folder first on sys.path (a demo home's portal/ folder would shadow the portal package)
    out = subprocess.run([sys.executable, "-P", "-c", CHILD, str(prof), *run], env=env, cwd=home, capture_output=True,
                         text=True)
    line = next((x for x in out.stdout.splitlines() if x.startswith("PROFILED")), None)
    if out.returncode != 0 or line is None or "exit=0" not in line:
        print(out.stdout[-3000:], out.stderr[-3000:], file=sys.stderr)
        return 1
    cpu = float(line.split("cpu=")[1])
    title = (f"etdz {' '.join(run)}, {a.zones:,} zones, {'second run in the instance' if a.keep_instance else 'cold'}"
             f", under cProfile; load {os.getloadavg()[0]:.2f}; code: "
             f"{os.environ.get('PYTHONPATH') or ROOT}")
    text = summary(prof, cpu, title)
    print(text)
    if a.out:
        a.out.parent.mkdir(parents=True, exist_ok=True)
        a.out.write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
