"""The check of one file (issue 22): warm, through one long-lived checker, and cold, as `etdz validate FILE`.

    python bench/bench_check.py                                   # a fresh demo (etdz demo, ~1 min), year 2023
    python bench/bench_check.py --home /tmp/demo [--year 2023]    # an existing demo home (written by etdz demo)
    python bench/bench_check.py --against /path/to/before         # alternate this checkout and another, pair by pair
    python bench/bench_check.py --startup                         # + the start-up of ui, publish, reopen, template,
                                                                  #   run --stale (and whether GX was imported)
    python bench/bench_check.py --out bench/results/issue22_check.json

What is measured (each checkout through ``PYTHONPATH``, in its own child processes, so the runs alternate on the
same minutes of a shared machine):

* **warm**: one child process checks every file of ``<home>/inbox/<year>/`` one by one, in name order, through
  one :class:`etdz.checking.Checker` (the portal's long-lived process). The first check is reported apart
  (``first_ms``: it imports Great Expectations and reads the year's state); median / p90 / max are over every
  check after it, wall per call (``time.perf_counter``), and the same for the process's CPU time per call
  (``time.process_time``: less sensitive to other work on a shared machine). A checkout without
  ``etdz.checking`` (the code before issue 22) is measured the way its warm process worked:
  ``validate_files([file], catalogues, registry)`` with the catalogues and registry loaded once.
* **cold**: ``python -m pipelines.cli validate FILE`` (the ``etdz`` console script's module) as a fresh process,
  ``--cold`` runs (default 5) per checkout, alternated; wall of the child, median.
* **start-up** (``--startup``): each command as a fresh process through a small probe (``_PROBE`` below) that
  runs ``pipelines.cli.main`` in-process and reports whether ``great_expectations`` is in ``sys.modules`` at the
  end; ``ui`` has ``subprocess.Popen`` replaced so that Dagster's webserver and daemon are not started (what is
  timed is the command's own path up to starting them). Three runs each, alternated; wall, median.

The 1-minute load average is recorded before every run: on this shared 2-core machine wall times move with it.
No target is asserted here; docs/benchmarks.md holds the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# The warm measurement, run in a child with the measured checkout first on sys.path.
_WARM = r"""
import json, os, statistics, sys, time
from pathlib import Path
year, out = int(sys.argv[1]), sys.argv[2]
from etdz.settings import Settings
settings = Settings.from_env()
files = sorted(p for p in Path(settings.inbox, str(year)).iterdir() if not p.is_dir())
try:
    from etdz.checking import Checker
except ImportError:
    Checker = None
if Checker is not None:
    mode = "etdz.checking.Checker.check"
    checker = Checker(settings)
    check = checker.check
else:
    mode = "validate_files (one file per call)"
    from etdz.catalogue import load_catalogues
    from etdz.registry import load_registry
    try:
        from etdz.ingestion import validate_files
    except ImportError:
        from etdz.ingest import validate_files
    cats, reg = load_catalogues(settings.methodology), load_registry(settings.registry)
    def check(path):
        return validate_files([path], cats, reg, max_bytes=settings.max_file_bytes,
                              max_rows_per_measure=settings.max_rows_per_measure)
times, cpu = [], []
for p in files:
    t, c = time.perf_counter(), time.process_time()
    check(p)
    times.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
rest = sorted(times[1:])
rest_cpu = sorted(cpu[1:])
res = {"mode": mode, "files": len(files), "first_ms": times[0] * 1000,
       "median_ms": statistics.median(rest) * 1000, "p90_ms": rest[int(0.9 * (len(rest) - 1))] * 1000,
       "max_ms": rest[-1] * 1000, "mean_ms": statistics.fmean(rest) * 1000,
       "median_cpu_ms": statistics.median(rest_cpu) * 1000, "max_cpu_ms": rest_cpu[-1] * 1000,
       "slowest": str(files[1 + times[1:].index(max(times[1:]))].name)}
Path(out).write_text(json.dumps(res), encoding="utf-8")
"""

# One etdz command in-process; says whether Great Expectations was imported on its path.
_PROBE = r"""
import subprocess, sys
argv = sys.argv[1:]
from pipelines.cli import main  # first: importing Dagster runs `file` through subprocess
if argv[0] == "ui":
    class _NoServer:  # Dagster's webserver and daemon are not started: the command's own path is what is probed
        pid, returncode, args = 0, 0, ()
        def __init__(self, *a, **k): pass
        def poll(self): return 0
        def wait(self, timeout=None): return 0
    subprocess.Popen = _NoServer
try:
    code = main(argv)
except SystemExit as exc:
    code = exc.code
print(f"PROBE exit={code} gx={'great_expectations' in sys.modules}", file=sys.stderr)
"""


def _env(checkout: Path, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ETDZ_")}
    env.update(PYTHONPATH=str(checkout), ETDZ_HOME=str(home), HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    return env


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def warm(checkout: Path, home: Path, year: int) -> dict:
    """One warm child: every file of the year checked one by one (see the module docstring)."""
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as tmp:
        out = Path(tmp.name)
    load = _load()
    subprocess.run([sys.executable, "-c", _WARM, str(year), str(out)], env=_env(checkout, home), cwd=checkout,
                   check=True, capture_output=True)
    res = json.loads(out.read_text(encoding="utf-8"))
    out.unlink()
    return {**res, "load": load}


def timed(cmd: list[str], checkout: Path, home: Path) -> tuple[float, str]:
    """Wall seconds of one fresh child process, and its stderr."""
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=_env(checkout, home), cwd=checkout, capture_output=True, text=True)
    return time.perf_counter() - t, proc.stderr


def cold_validate(checkout: Path, home: Path, path: Path) -> dict:
    load = _load()
    wall, _ = timed([sys.executable, "-m", "pipelines.cli", "validate", str(path)], checkout, home)
    return {"wall_s": wall, "load": load}


def startup(checkout: Path, home: Path, command: list[str]) -> dict:
    load = _load()
    wall, err = timed([sys.executable, "-c", _PROBE, *command], checkout, home)
    line = next((x for x in err.splitlines() if x.startswith("PROBE")), "PROBE exit=? gx=?")
    return {"wall_s": wall, "load": load, "probe": line}


def _demo(home: Path) -> None:
    print(f"writing and running the demo in {home} (etdz demo, ~1 min) …", flush=True)
    subprocess.run([sys.executable, "-m", "pipelines.cli", "demo", "--home", str(home)], env=_env(ROOT, home),
                   cwd=ROOT, check=True, capture_output=True)


def _median(xs: list[float]) -> float:
    return round(statistics.median(xs), 3)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", type=Path, help="a demo home (etdz demo --home); default: a fresh one")
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--against", type=Path, help="another checkout, measured alternately (e.g. main before)")
    ap.add_argument("--warm-rounds", type=int, default=1, help="warm children per checkout (alternated)")
    ap.add_argument("--cold", type=int, default=5, help="cold `etdz validate FILE` runs per checkout")
    ap.add_argument("--startup", action="store_true", help="also time the commands that do not validate")
    ap.add_argument("--file", type=Path, help="the file `etdz validate` checks cold (default: the year's first)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    home = args.home or Path(tempfile.mkdtemp(prefix="etdz-bench-check-"))
    if not (home / "inbox" / str(args.year)).is_dir():
        _demo(home)
    files = sorted(p for p in (home / "inbox" / str(args.year)).iterdir() if not p.is_dir())
    target = args.file or files[0]
    trees = {"this": ROOT} | ({"against": args.against.resolve()} if args.against else {})
    res: dict = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "home": str(home), "year": args.year,
                 "files": len(files), "cold_file": str(target), "nproc": os.cpu_count(),
                 "checkouts": {k: str(v) for k, v in trees.items()}, "warm": {k: [] for k in trees},
                 "cold": {k: [] for k in trees}, "startup": {}}

    for _ in range(args.warm_rounds):
        for name, tree in trees.items():
            r = warm(tree, home, args.year)
            res["warm"][name].append(r)
            print(f"warm  {name:8} {r['mode']}: {r['files']} files, first {r['first_ms']:.0f} ms, median "
                  f"{r['median_ms']:.1f} ms, p90 {r['p90_ms']:.1f} ms, max {r['max_ms']:.1f} ms ({r['slowest']}); "
                  f"CPU median {r['median_cpu_ms']:.1f} ms, max {r['max_cpu_ms']:.1f} ms [load {r['load']}]",
                  flush=True)
    for _ in range(args.cold):
        for name, tree in trees.items():
            r = cold_validate(tree, home, target)
            res["cold"][name].append(r)
            print(f"cold  {name:8} etdz validate {target.name}: {r['wall_s']:.2f} s [load {r['load']}]", flush=True)
    if args.startup:
        commands = {"ui": ["ui", "--port", "3977"], "publish --verify": ["publish", "--data-year", str(args.year - 1),
                                                                        "--verify"],
                    "reopen": ["reopen", "--data-year", str(args.year - 5), "--reason", "bench (never published)"],
                    "template": ["template", "--data-year", str(args.year), "--out", str(home / "_bench_template")],
                    "run --stale": ["run", "--stale"]}
        for label, cmd in commands.items():
            res["startup"][label] = {k: [] for k in trees}
            for _ in range(3):
                for name, tree in trees.items():
                    r = startup(tree, home, cmd)
                    res["startup"][label][name].append(r)
                    print(f"start {name:8} etdz {label}: {r['wall_s']:.2f} s {r['probe']} [load {r['load']}]",
                          flush=True)

    print("\nsummary (median):")
    for name in trees:
        w = res["warm"][name]
        print(f"  {name:8} warm median {_median([r['median_ms'] for r in w])} ms, max "
              f"{max(r['max_ms'] for r in w):.1f} ms; cold validate {_median([r['wall_s'] for r in res['cold'][name]])}"
              f" s" if w and res["cold"][name] else f"  {name}")
        for label, per in res["startup"].items():
            print(f"  {name:8} {label}: {_median([r['wall_s'] for r in per[name]])} s ({per[name][-1]['probe']})")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(res, indent=1, ensure_ascii=False), encoding="utf-8")
        print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
