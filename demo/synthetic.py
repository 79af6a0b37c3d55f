"""Synthetic years for benchmarks and scale tests: a registry of many zones and one valid CSV per zone,
from the demo's generator (:mod:`demo.submissions`)."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from demo.submissions import (
    CHINA_TZ,
    MANIFEST_NAME,
    REGION_OFFSET,
    DemoLayout,
    _decimals,
    _fmt,
    _previous_files,
    _remove_stale,
    _simulate,
)
from etdz.catalogue import Measure, catalogue_for_year, load_catalogues
from etdz.registry import load_registry


def write_synthetic_year(home: str | Path, data_year: int, n_zones: int, seed: int,
                         catalogues_dir: str | Path | None = None) -> DemoLayout:
    """A synthetic registry of ``n_zones`` national zones and one valid UTF-8 CSV per zone for
    ``data_year`` and ``data_year - 1`` (so growth has a base), from the demo's generator.

    Zone codes are ``Z000001``…, spread over the real provinces and regions of the shipped registry.
    """
    home = Path(home)
    if n_zones < 1:
        raise ValueError(f"n_zones must be at least 1, found {n_zones}")
    rng = np.random.default_rng(seed)
    catalogues = load_catalogues(catalogues_dir)
    years = [data_year - 1, data_year]
    year_cats = {y: catalogue_for_year(catalogues, y) for y in years}
    measures: dict[str, Measure] = {}
    for y in years:
        for code, m in year_cats[y].measures.items():
            measures.setdefault(code, m)

    provinces = load_registry().drop_duplicates("province")[["province", "region"]].reset_index(drop=True)
    pick = rng.integers(0, len(provinces), n_zones)
    codes = [f"Z{i:06d}" for i in range(1, n_zones + 1)]
    reg = pd.DataFrame({
        "zone_code": codes,
        "name_zh": [f"合成经济开发区{i:06d}" for i in range(1, n_zones + 1)],
        "province": provinces.province.to_numpy()[pick],
        "region": provinces.region.to_numpy()[pick],
        "tier": "national",
        "first_data_year": data_year - 1,
        "exit_data_year": pd.array([pd.NA] * n_zones, dtype="Int64"),
    })
    home.mkdir(parents=True, exist_ok=True)
    previous = _previous_files(home)
    registry_file = home / "registry.csv"
    reg.to_csv(registry_file, index=False, encoding="utf-8", lineterminator="\n")

    regions = reg.region.to_numpy()
    z = rng.normal(0, 0.9, n_zones) + np.array([REGION_OFFSET[r] for r in regions])
    values = _simulate(z, regions, years, measures, rng)
    inbox = home / "inbox"
    t0 = {y: int(datetime(y + 1, 3, 1, 9, 0, tzinfo=CHINA_TZ).timestamp()) for y in years}
    offsets = rng.integers(0, 75 * 24 * 60, (n_zones, 2)) * 60
    written: list[Path] = []
    for ti, year in enumerate(years):
        cat = year_cats[year]
        folder = inbox / str(year)
        folder.mkdir(parents=True, exist_ok=True)
        # one column of formatted lines per measure, then one file per zone
        cols = []
        for code, m in cat.measures.items():
            d = _decimals(code, m)
            tail = f",{code},"
            unit = f",{m.unit}\n"
            cols.append([f"{tail}{_fmt(x, d)}{unit}" for x in values[code][:, ti].tolist()])
        head = "zone_code,data_year,measure_code,value,unit\n"
        ys = str(year)
        for zi, code in enumerate(codes):
            prefix = code + "," + ys
            text = head + "".join(prefix + col[zi] for col in cols)
            path = folder / f"{code}_{year}.csv"
            with open(path, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            t = t0[year] + int(offsets[zi, ti])
            os.utime(path, (t, t))
            written.append(path)
    _remove_stale(home, previous, written)
    manifest = {"seed": seed, "years": years, "registry": "registry.csv",
                "files": [str(p.relative_to(home)) for p in written], "scenarios": []}
    (home / MANIFEST_NAME).write_text(json.dumps(manifest, ensure_ascii=False) + "\n", encoding="utf-8")
    return DemoLayout(inbox=inbox, registry=registry_file, years=years, files_written=len(written), faulty_files=[])
