"""The fixed cost of a year that does not depend on the zones: garbage collection and Great Expectations' import.

    python bench/bench_fixed_cost.py
    python bench/bench_fixed_cost.py --cold 3 [--zones 230] [--against /path/to/other/checkout]

Prints (CPU seconds of this process, so other work on the machine moves them less than wall times):

* five full ``gc.collect()`` after the imports of ``etdz run`` (what ``etdz.memory.release_memory`` did
  before ``gc.freeze``) against five ``release_memory()`` calls now (the first freezes the imports);
* what one event costs in the shipped SQLite event log (``etdz/data/dagster.sqlite.yaml``:
  ``pipelines.dagster_private.KeptConnectionsSqliteStorage``, one kept connection per database; with
  ``--dagster-default``, Dagster's own ``SqliteEventLogStorage``, a new SQLAlchemy engine and connection per
  write) against the same number of inserts into one SQLite connection (the lower bound);
* the cold import of ``great_expectations`` and the part of it that is ``scipy.stats`` (``python -X
  importtime`` in a child): GX's top-level import loads every core expectation, and
  ``expect_column_kl_divergence_to_be_less_than`` imports ``scipy.stats`` at module level.

``--cold N``: instead, N cold ``etdz run --data-year 2023`` of one synthetic year (``--zones``, written once by
:func:`demo.write_synthetic_year`), each a fresh process with a fresh home; with ``--against`` the runs
alternate between this checkout and the other one (before / after on the same minutes of a shared machine). Wall,
CPU (user + sys of the child, ``os.wait4``), peak RSS and the load, per run and min / median per checkout.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def import_times(module: str) -> tuple[float, dict[str, float]]:
    """A cold ``import module`` in a child (``-X importtime``): its cumulative seconds, and the own import seconds
    summed per top-level package (scipy's lazy loader hides ``scipy.stats`` itself, so its submodules count)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    )
    total, own = 0.0, {}
    for m in re.finditer(r"import time:\s+(\d+) \|\s+(\d+) \|\s*(\S+)", proc.stderr):
        pkg = m.group(3).split(".")[0]
        own[pkg] = own.get(pkg, 0.0) + int(m.group(1)) / 1e6
        if m.group(3) == module:
            total = int(m.group(2)) / 1e6
    return total, own


def event_log_cost(events: int = 80, dagster_default: bool = False) -> None:
    """Seconds per event stored by a fresh instance of the shipped SQLite configuration, and per plain insert."""
    import shutil
    import sqlite3
    import tempfile

    from dagster import DagsterInstance, DagsterRun

    home = Path(tempfile.mkdtemp(prefix="etdz-bench-eventlog-"))
    try:
        config = (ROOT / "etdz" / "data" / "dagster.sqlite.yaml").read_text(encoding="utf-8")
        if dagster_default:  # the same file without the storage section: Dagster's default SQLite storage
            config = config[:config.index("\nstorage:") + 1]
        (home / "dagster.yaml").write_text(config, encoding="utf-8")
        os.environ["DAGSTER_HOME"] = str(home)  # the shipped storage's base_dir
        with DagsterInstance.from_config(str(home)) as instance:
            run = instance.add_run(DagsterRun(job_name="bench"))
            instance.report_engine_event("warm-up", run)  # the run's shard is created and migrated once
            w, c = time.perf_counter(), time.process_time()
            for i in range(events):
                instance.report_engine_event(f"event {i}", run)
            wall, cpu = time.perf_counter() - w, time.process_time() - c
        db = sqlite3.connect(home / "plain.db")
        db.execute("CREATE TABLE e (id INTEGER PRIMARY KEY, body TEXT)")
        w, c = time.perf_counter(), time.process_time()
        for i in range(events):
            with db:
                db.execute("INSERT INTO e (body) VALUES (?)", (f"event {i}" * 40,))
        plain, plain_cpu = time.perf_counter() - w, time.process_time() - c
        db.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(
        f"{'Dagster' if dagster_default else 'shipped'} SQLite event log: {events} events {wall:.3f} s wall / "
        f"{cpu:.3f} s CPU = "
        f"{wall / events * 1000:.1f} ms an event; one kept sqlite3 connection, {events} committed inserts: "
        f"{plain:.3f} s wall / {plain_cpu:.3f} s CPU = {plain / events * 1000:.2f} ms an insert"
    )


def cold_runs(repeat: int, zones: int, trees: list[Path], year: int = 2023) -> None:
    """``repeat`` rounds of one cold ``etdz run`` per checkout in ``trees`` (alternating), on the same inbox."""
    sys.path.insert(0, str(ROOT / "bench"))
    from run import child_env, measure  # bench/run.py: the same child measurement as the full bench

    work = Path(tempfile.mkdtemp(prefix="etdz-bench-cold-"))
    try:
        subprocess.run([sys.executable, "-c", "import sys; from demo import write_synthetic_year; "
                        f"write_synthetic_year(sys.argv[1], {year}, {zones}, 7)", str(work / "data")],
                       check=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        runs: dict[Path, list[dict]] = {t: [] for t in trees}
        for i in range(repeat):
            for tree in trees:
                home = work / f"run-{i}-{trees.index(tree)}"
                env = child_env(home, work / "data" / "inbox", work / "data" / "registry.csv")
                env["PYTHONPATH"] = str(tree)
                load = os.getloadavg()[0]
                m = measure([sys.executable, "-m", "pipelines.cli", "run", "--data-year", str(year)], env=env,
                            cwd=str(tree), log=work / f"run-{i}-{trees.index(tree)}.log")
                m["load"] = load
                runs[tree].append(m)
                print(f"{tree}: run {i + 1}: wall {m['wall_s']:.2f} s, CPU {m['cpu_s']:.2f} s, peak "
                      f"{m['peak_rss_mb']:.0f} MB, exit {m['exit']}, load {load:.2f}", flush=True)
                shutil.rmtree(home, ignore_errors=True)
        for tree, ms in runs.items():
            wall, cpu = [m["wall_s"] for m in ms], [m["cpu_s"] for m in ms]
            print(f"{tree} ({zones} zones, {len(ms)} cold runs): wall min {min(wall):.2f} / median "
                  f"{statistics.median(wall):.2f} s; CPU min {min(cpu):.2f} / median {statistics.median(cpu):.2f} s; "
                  f"peak {max(m['peak_rss_mb'] for m in ms):.0f} MB; load {min(m['load'] for m in ms):.2f}–"
                  f"{max(m['load'] for m in ms):.2f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cold", type=int, default=0, help="N alternated cold `etdz run`s instead (see the module doc)")
    ap.add_argument("--zones", type=int, default=230)
    ap.add_argument("--against", type=Path, default=None, help="another checkout, run alternately with this one")
    ap.add_argument("--dagster-default", action="store_true",
                    help="the event log's cost with Dagster's own SQLite storage instead of the shipped one")
    a = ap.parse_args(argv)
    if a.cold:
        cold_runs(a.cold, a.zones, [ROOT] + ([a.against.resolve()] if a.against else []))
        return 0
    print(f"load average (1 min) at start: {os.getloadavg()[0]:.2f}")
    t = time.perf_counter()
    import etdz.ingestion  # noqa: F401
    import pipelines.definitions  # noqa: F401
    from etdz.validation import gx_module

    gx_module()
    print(
        f"imports of etdz run + great_expectations (warm disk): {time.perf_counter() - t:.2f} s wall; "
        f"{len(gc.get_objects()):,} objects tracked by the collector"
    )

    def cpu(fn, n: int = 5) -> list[float]:
        out = []
        for _ in range(n):
            c = time.process_time()
            fn()
            out.append(time.process_time() - c)
        return out

    full = cpu(gc.collect)
    print(f"before: 5 x gc.collect(): {sum(full):.3f} s CPU  ({', '.join(f'{x:.3f}' for x in full)})")
    from etdz.memory import release_memory

    now = cpu(release_memory)
    print(
        f"after:  5 x release_memory() (gc.freeze on the first): {sum(now):.3f} s CPU  "
        f"({', '.join(f'{x:.3f}' for x in now)}); {gc.get_freeze_count():,} objects frozen"
    )

    event_log_cost(dagster_default=a.dagster_default)
    gx, own = import_times("great_expectations")
    top = sorted(own.items(), key=lambda kv: -kv[1])[:6]
    print(
        f"cold `import great_expectations` (-X importtime, a child): {gx:.2f} s; own import time by package: "
        + ", ".join(f"{k} {v:.2f} s ({v / gx:.0%})" for k, v in top)
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
