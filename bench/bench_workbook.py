"""Time the ranking workbook (rankings.xlsx) alone, and the memory it takes, at 230 × K zones.

    python bench/bench_workbook.py [--scale 100] [--repeat 3] [--years 2]

Builds one synthetic year with the report tests' builder (tests/reports/reports_synth.py, scored by the
real scorer; ``--scale 100`` = 23,000 zones), prepares its view once, then writes the workbook ``--repeat``
times with :func:`etdz.reports.workbook.write`. Printed per write: wall and CPU seconds, and the memory the
write added on top of the prepared year: the process's peak RSS (``VmHWM``) is reset before each write by
writing ``5`` to ``/proc/self/clear_refs`` (Linux ≥ 4.0), so ``peak − RSS before`` is what the writer itself
held at its largest. ``--other <checkout>`` loads that checkout's ``etdz/reports/workbook.py`` as well and
alternates the two writers on the same prepared year (before/after, pair by pair).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "reports")]

from reports_synth import make_year  # noqa: E402

from etdz.catalogue import catalogue_for_year, load_catalogues  # noqa: E402
from etdz.reports import prepare, workbook  # noqa: E402


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--year", type=int, default=2023)
    ap.add_argument("--years", type=int, default=2, help="years of history on record")
    ap.add_argument("--scale", type=int, default=100, help="zones per region x K (K = 100: 23,000 zones)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--other", type=Path, default=None, help="another checkout whose workbook writer alternates")
    a = ap.parse_args(argv)
    writers = {"this": workbook}
    if a.other:
        spec = importlib.util.spec_from_file_location("other_workbook", a.other / "etdz" / "reports" / "workbook.py")
        writers["other"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(writers["other"])

    cat = catalogue_for_year(load_catalogues(), a.year)
    t = time.perf_counter()
    data = make_year(
        cat, a.year, per_region={"east": 112 * a.scale, "central": 68 * a.scale, "west": 50 * a.scale}, years=a.years
    )
    view = prepare(data.inputs())
    for name, mod in writers.items():
        print(f"{name}: {mod.__file__}")
    print(f"synthetic year {a.year}: {len(view.zones)} zones, prepared in {time.perf_counter() - t:.1f} s")
    out = Path(tempfile.mkdtemp(prefix="etdz-bench-wb-")) / "rankings.xlsx"
    figures: dict[str, list[tuple[float, float, float]]] = {name: [] for name in writers}
    for i in range(a.repeat):
        for name, mod in writers.items():
            Path("/proc/self/clear_refs").write_text("5")  # VmHWM := current RSS
            before = _status_kb("VmRSS")
            t, c = time.perf_counter(), time.process_time()
            mod.write(view, out)
            wall, cpu = time.perf_counter() - t, time.process_time() - c
            peak = _status_kb("VmHWM")
            figures[name].append((wall, cpu, (peak - before) / 1024))
            print(
                f"write {i + 1} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, RSS before {before / 1024:.0f} MB, "
                f"peak {peak / 1024:.0f} MB (+{(peak - before) / 1024:.0f} MB), {out.stat().st_size / 1e6:.1f} MB "
                f"file, load {os.getloadavg()[0]:.2f}"
            )
    med = {name: [statistics.median(x[k] for x in f) for k in range(3)] for name, f in figures.items()}
    for name, (wall, cpu, mem) in med.items():
        print(f"median {name}: {wall:.2f} s wall, {cpu:.2f} s CPU, +{mem:.0f} MB over {a.repeat} writes")
    if "other" in med:
        (ow, oc, _), (tw, tc, _) = med["other"], med["this"]
        print(f"ratio other / this: wall {ow / tw:.2f}x, CPU {oc / tc:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
