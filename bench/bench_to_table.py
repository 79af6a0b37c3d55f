"""``etdz.schemas.to_table`` at the size of 23,000 zones, against the per-value conversion it replaced.

    python bench/bench_to_table.py [--zones 23000] [--repeat 3]

Ingests a synthetic year of 230 zones (``demo.write_synthetic_year``), tiles its submission log,
issues and measures to ``--zones`` zones (new zone codes, same values), and times both conversions on the
three ingestion datasets (best of ``--repeat``, CPU and wall). The tables are checked equal.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT)]

from demo import write_synthetic_year  # noqa: E402
from etdz import schemas  # noqa: E402
from etdz.catalogue import catalogue_for_year, load_catalogues  # noqa: E402
from etdz.ingestion import ingest_year  # noqa: E402
from etdz.registry import load_registry  # noqa: E402
from tests.test_schemas import reference_to_table  # noqa: E402


def tiled(df: pd.DataFrame, copies: int) -> pd.DataFrame:
    """``copies`` copies of ``df`` with the zone codes made unique per copy."""
    parts = []
    for i in range(copies):
        part = df.copy()
        if "zone_code" in part:
            part["zone_code"] = part["zone_code"].astype(str) + f"-{i}"
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def best(fn, repeat: int) -> tuple[float, float]:
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w)
        cpu.append(time.process_time() - c)
    return min(wall), min(cpu)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, default=23000)
    ap.add_argument("--repeat", type=int, default=3)
    a = ap.parse_args(argv)
    home = Path(tempfile.mkdtemp(prefix="etdz-bench-to-table-"))
    try:
        layout = write_synthetic_year(home, 2023, 230, seed=7)
        ing = ingest_year(
            layout.inbox / "2023",
            2023,
            catalogue_for_year(load_catalogues(), 2023),
            load_registry(layout.registry),
            archive=None,
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    copies = max(1, a.zones // 230)
    frames = {
        "submission_log": tiled(ing.log, copies),
        "submission_issues": tiled(ing.issues, copies),
        "measures": tiled(ing.measures, copies),
    }
    total_old, total_new = [0.0, 0.0], [0.0, 0.0]
    for name, df in frames.items():
        schema = schemas.schema_for(name)
        assert schemas.to_table(df, schema).equals(reference_to_table(df, schema)), name
        old = best(lambda df=df, schema=schema: reference_to_table(df, schema), a.repeat)
        new = best(lambda df=df, schema=schema: schemas.to_table(df, schema), a.repeat)
        total_old = [total_old[0] + old[0], total_old[1] + old[1]]
        total_new = [total_new[0] + new[0], total_new[1] + new[1]]
        print(
            f"{name:18} {len(df):>9,} rows: per-value {old[0]:.3f} s wall / {old[1]:.3f} s CPU, "
            f"to_table {new[0]:.3f} s wall / {new[1]:.3f} s CPU"
        )
    print(
        f"{'all three':18} {copies * 230:>9,} zones: per-value {total_old[0]:.3f} s wall / "
        f"{total_old[1]:.3f} s CPU, to_table {total_new[0]:.3f} s wall / {total_new[1]:.3f} s CPU "
        f"(best of {a.repeat}, tables equal)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
