"""Time and memory of the rank-robustness step (docs/contract/03-scoring.md §3.9) at 230 and 23,000 zones.

    python bench/bench_robustness.py [--zones 230 23000] [--samples 1000]

Builds a synthetic year for the shipped 2021 catalogue (lognormal figures, 5% left empty, 4% of the
zones without a file, 20% without a previous-year file so growth is ``no_base``), scores it with
``score_year``, then times ``rank_robustness`` under 2 × 2 treatment options (winsorise [0.05, 0.95] or
plain min/max × no_base median or zero). Each size is run twice: once timed (wall and CPU time: on a shared
machine the CPU time is the steadier figure), once under tracemalloc for the peak of the memory it
allocates (numpy reports its buffers to tracemalloc). Targets (issue 15):
230 × 1,000 samples within 1 s; 23,000 × 1,000 within 1.5 GB.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etdz.catalogue import catalogue_for_year, load_catalogues  # noqa: E402
from etdz.scoring import YearInputs, score_year  # noqa: E402
from etdz.scoring.robustness import rank_robustness, robustness_inputs  # noqa: E402

YEAR = 2023
TARGETS = {230: ("time", 1.0), 23000: ("memory", 1536.0)}


def synthetic_year(n_zones: int, seed: int = 20231231) -> YearInputs:
    """A cohort of ``n_zones`` national zones with this year's and last year's figures."""
    rng = np.random.default_rng(seed)
    catalogue = catalogue_for_year(load_catalogues(), YEAR)
    zones = np.array([f"Z{i:05d}" for i in range(n_zones)])
    registry = pd.DataFrame(
        {
            "zone_code": zones,
            "name_zh": [f"{z}区" for z in zones],
            "province": rng.choice([f"P{i:02d}" for i in range(31)], n_zones),
            "region": rng.choice(["east", "central", "west"], n_zones, p=[0.49, 0.29, 0.22]),
            "tier": "national",
            "first_data_year": pd.array([2000] * n_zones, dtype="Int64"),
            "exit_data_year": pd.array([None] * n_zones, dtype="Int64"),
        }
    )
    codes = list(catalogue.measures)

    def figures(with_file: np.ndarray) -> pd.DataFrame:
        grid = pd.DataFrame(
            {
                "zone_code": np.repeat(zones, len(codes)),
                "measure_code": np.tile(codes, n_zones),
                "value": rng.lognormal(3.0, 1.2, n_zones * len(codes)),
            }
        )
        keep = np.repeat(with_file, len(codes)) & (rng.random(len(grid)) > 0.05)
        return grid[keep].reset_index(drop=True)

    accepted = rng.random(n_zones) > 0.04
    previous = rng.random(n_zones) > 0.20
    return YearInputs(
        YEAR, catalogue, registry, figures(accepted), set(zones[accepted]), figures(previous), set(zones[previous])
    )


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--zones", type=int, nargs="+", default=[230, 23000])
    ap.add_argument("--samples", type=int, default=1000)
    a = ap.parse_args(argv)

    print(f"rank robustness, {a.samples} samples, 2 x 2 options; numpy {np.__version__}")
    results = []
    for n in a.zones:
        year = synthetic_year(n)
        scored = score_year(year)
        settings = dataclasses.replace(
            year.catalogue.robustness,
            samples=a.samples,
            weights=0.25,
            winsorise_options=((0.05, 0.95), None),
            no_base_options=("median", "zero"),
        )
        inputs = robustness_inputs(YEAR, year.catalogue, scored.indicator_scores, scored.rankings)
        t, cpu = time.perf_counter(), time.process_time()
        out = rank_robustness(inputs, settings)
        wall, cpu = time.perf_counter() - t, time.process_time() - cpu
        tracemalloc.start()
        rank_robustness(inputs, settings)
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        spread = float((out.rank_p95 - out.rank_p05).median())
        print(
            f"{n:>6} zones x {a.samples} samples: {wall:7.3f} s wall ({cpu:.3f} s CPU)   "
            f"peak allocated {peak_mb:7.1f} MB   process max RSS so far {rss_mb:7.1f} MB   "
            f"median 90% interval width {spread:.0f} ranks"
        )
        results.append((n, wall, peak_mb))
    print("targets:")
    for n, wall, peak_mb in results:
        kind, limit = TARGETS.get(n, (None, None))
        if kind == "time":
            print(f"  {n} zones within {limit:g} s: {'PASS' if wall <= limit else 'FAIL'} ({wall:.3f} s)")
        elif kind == "memory":
            print(f"  {n} zones within {limit:g} MB: {'PASS' if peak_mb <= limit else 'FAIL'} ({peak_mb:.1f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
