"""The floor: ingest, validate and score one data year in a bare pandas/pyarrow script.

    python bench/floor.py --inbox DIR --registry FILE --data-year Y [--repeat 1] [--io-dir DIR]

No Dagster, no Great Expectations, no reports, no archive, no Parquet writes: the
least work the same result needs, on the same files, to compare the pipeline with.
With ``--io-dir`` a second floor adds the I/O the pipeline cannot skip and the first
floor leaves out (``io_s``, timed after the computation): the SHA-256 of every file of
Y, a content-addressed archive copy of each (written to a temporary name and renamed,
then ONE ``syncfs`` of that file system: the least a durable archive costs) and the
Parquet files of the year's measures, log and issues-sized long frame.

* ingest: every CSV of ``<inbox>/<Y>`` (and of ``<inbox>/<Y-1>``, which the pipeline
  also reads for growth) read as bytes, the header lines dropped, the rest parsed in
  ONE ``pyarrow.csv`` call; ``file_idx`` per row from the line counts;
* validate, vectorised: one zone per file and in the registry, ``data_year`` equal to
  the folder's year, measure known, (measure, unit) accepted (a join that also gives
  the unit factor), number syntax, hard bounds, integers, duplicates, soft bounds,
  year-on-year band, required measures present; files with an error are rejected, the
  latest accepted file per zone chosen;
* score: :func:`etdz.scoring.score_year` (pure pandas/numpy — pivot, indicators,
  min–max scores, ranks), exactly what the pipeline's ``scores`` step computes.

Timed in-process with ``time.perf_counter`` / ``time.process_time``, imports excluded.
Prints one JSON object: ``read_s``, ``validate_s``, ``score_s``, ``total_s`` (best of
``--repeat``), ``cpu_s``, ``files``, ``rows``, ``rejected``, ``zones_ranked``, and with
``--io-dir`` ``io_s`` and ``total_io_s`` (= ``total_s`` + ``io_s``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from etdz.catalogue import Catalogue, catalogue_for_year, load_catalogues  # noqa: E402
from etdz.commit import sync_filesystem  # noqa: E402
from etdz.registry import load_registry  # noqa: E402
from etdz.scoring import YearInputs, score_year  # noqa: E402

COLUMNS = ["zone_code", "data_year", "measure_code", "value", "unit"]


def read_folder(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All CSVs of one inbox folder as one long frame (``file_idx`` + the five columns as text) and a
    per-file frame (name, mtime_ns)."""
    entries = (
        sorted((e for e in os.scandir(folder) if e.is_file() and not e.name.startswith(".")), key=lambda e: e.name)
        if folder.is_dir()
        else []
    )
    bodies: list[bytes] = []
    counts = np.zeros(len(entries), dtype=np.int64)
    mtimes = np.zeros(len(entries), dtype=np.int64)
    for i, e in enumerate(entries):
        with open(e.path, "rb") as fh:
            data = fh.read()
        mtimes[i] = e.stat().st_mtime_ns
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        cut = data.find(b"\n")
        body = data[cut + 1 :] if cut >= 0 else b""
        if body and not body.endswith(b"\n"):
            body += b"\n"
        bodies.append(body)
        counts[i] = body.count(b"\n")
    files = pd.DataFrame({"file_name": [e.name for e in entries], "mtime_ns": mtimes})
    blob = b"".join(bodies)
    if not blob:
        return pd.DataFrame({c: pd.Series(dtype="str") for c in ["file_idx", *COLUMNS]}), files
    table = pacsv.read_csv(
        pa.py_buffer(blob),
        read_options=pacsv.ReadOptions(column_names=COLUMNS),
        convert_options=pacsv.ConvertOptions(column_types={c: pa.string() for c in COLUMNS}, strings_can_be_null=False),
    )
    table = table.append_column("file_idx", pa.array(np.repeat(np.arange(len(entries)), counts)))
    return table.to_pandas(), files


def _units_frame(cat: Catalogue) -> pd.DataFrame:
    rows = []
    for code, m in cat.measures.items():
        for u, fac in m.accepted_units.items():
            rows.append(
                (
                    code,
                    u,
                    float(fac),
                    m.unit,
                    -math.inf if m.hard_min is None else m.hard_min,
                    math.inf if m.hard_max is None else m.hard_max,
                    -math.inf if m.soft_min is None else m.soft_min,
                    math.inf if m.soft_max is None else m.soft_max,
                    bool(m.integer),
                    np.nan if m.soft_max_yoy_factor is None else m.soft_max_yoy_factor,
                )
            )
    return pd.DataFrame(
        rows,
        columns=[
            "measure_code",
            "unit",
            "factor",
            "canonical_unit",
            "hard_min",
            "hard_max",
            "soft_min",
            "soft_max",
            "is_integer",
            "yoy_factor",
        ],
    )


def validate(
    long: pd.DataFrame,
    files: pd.DataFrame,
    cat: Catalogue,
    registry: pd.DataFrame,
    year: int,
    previous: pd.DataFrame | None,
) -> tuple[pd.DataFrame, dict]:
    """Vectorised checks; returns the chosen accepted measures (zone_code, measure_code, value) and counts."""
    n_files = len(files)
    fi = long["file_idx"].to_numpy()
    # file level: one zone per file, in the registry; every data_year = the folder's year
    zones = long.groupby("file_idx")["zone_code"].agg(["first", "nunique"]).reindex(range(n_files))
    file_err = (zones["nunique"] != 1).to_numpy() | ~zones["first"].isin(registry["zone_code"]).to_numpy()
    bad_year = pd.to_numeric(long["data_year"], errors="coerce").to_numpy() != year
    # rows: known measure and accepted unit (one join gives the factor and the bounds)
    j = long.merge(_units_frame(cat), on=["measure_code", "unit"], how="left", validate="many_to_one")
    known = long["measure_code"].isin(list(cat.measures)).to_numpy()
    unit_ok = j["factor"].notna().to_numpy()
    text = long["value"].str.strip()
    reported = pd.to_numeric(text, errors="coerce").to_numpy(dtype="float64")
    empty = (text == "").to_numpy()
    invalid = ~empty & np.isnan(reported)
    value = reported * j["factor"].to_numpy(dtype="float64")
    with np.errstate(invalid="ignore"):
        hard = (value < j["hard_min"].to_numpy()) | (value > j["hard_max"].to_numpy())
        soft = (value < j["soft_min"].to_numpy()) | (value > j["soft_max"].to_numpy())
        not_int = j["is_integer"].fillna(False).to_numpy(dtype=bool) & (
            np.abs(value - np.round(value)) > 1e-9 * np.maximum(1, np.abs(value))
        )
    dup = long.duplicated(["file_idx", "measure_code"], keep=False).to_numpy()
    row_err = ~known | (~unit_ok & ~empty) | invalid | hard | not_int | dup | bad_year
    # required measures present (warnings)
    req = set(cat.required_measures)
    listed = long.loc[long["measure_code"].isin(req) & ~pd.Series(empty)].groupby("file_idx").size()
    absent = int((len(req) - listed.reindex(range(n_files), fill_value=0)).clip(lower=0).sum())
    # year on year against the zone's previous accepted value
    yoy = 0
    if previous is not None and len(previous):
        p = pd.DataFrame(
            {
                "zone_code": long["zone_code"],
                "measure_code": long["measure_code"],
                "value": value,
                "f": j["yoy_factor"].to_numpy(),
            }
        ).merge(
            previous[["zone_code", "measure_code", "value"]].rename(columns={"value": "prev"}),
            on=["zone_code", "measure_code"],
            how="left",
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            r = p["value"].to_numpy() / p["prev"].to_numpy()
            f = p["f"].to_numpy()
            yoy = int(np.nansum((p["prev"].to_numpy() > 0) & ((r > f) | (r < 1 / f))))
    err_files = np.bincount(fi[row_err], minlength=n_files) > 0 if n_files else np.zeros(0, bool)
    rejected = file_err | err_files
    # the latest accepted file per zone
    fl = files.assign(zone_code=zones["first"].to_numpy(), ok=~rejected)
    chosen = fl[fl.ok].sort_values(["mtime_ns", "file_name"]).drop_duplicates("zone_code", keep="last").index
    keep = np.isin(fi, chosen.to_numpy()) & ~np.isnan(value)
    measures = pd.DataFrame(
        {
            "zone_code": long["zone_code"].to_numpy()[keep],
            "measure_code": long["measure_code"].to_numpy()[keep],
            "value": value[keep],
        }
    )
    counts = {
        "files": n_files,
        "rows": len(long),
        "rejected": int(rejected.sum()),
        "soft_warnings": int(np.nansum(soft)),
        "absent_required": absent,
        "yoy_warnings": yoy,
    }
    return measures, counts


def io_floor(folder: Path, out: Path, long: pd.DataFrame, measures: pd.DataFrame) -> float:
    """The I/O no pipeline can skip: hash and archive every file of ``folder`` (temp name + rename, one syncfs),
    write the measures and the long frame as Parquet. Returns seconds."""
    t0 = time.perf_counter()
    archive = out / "archive"
    archive.mkdir(parents=True, exist_ok=True)
    names = sorted(e.name for e in os.scandir(folder) if e.is_file())
    for name in names:
        with open(folder / name, "rb") as fh:
            data = fh.read()
        sha = hashlib.sha256(data).hexdigest()
        sub = archive / sha[:2]
        sub.mkdir(exist_ok=True)
        tmp = sub / f".{sha}.tmp"
        with open(tmp, "wb") as fh:
            fh.write(data)
        os.replace(tmp, sub / sha)
    pq.write_table(pa.Table.from_pandas(measures, preserve_index=False), out / "measures.parquet")
    pq.write_table(pa.Table.from_pandas(long, preserve_index=False), out / "long.parquet")
    if not sync_filesystem(out, "flushing the floor's archive"):  # no syncfs on this platform
        os.sync()
    return time.perf_counter() - t0


def run_floor(inbox: Path, registry_path: Path, year: int, methodology: str | None = None,
              io_dir: Path | None = None) -> dict:
    catalogues = load_catalogues(methodology)
    cat = catalogue_for_year(catalogues, year)
    try:
        prev_cat = catalogue_for_year(catalogues, year - 1)
    except Exception:  # noqa: BLE001 - no method for Y-1: read it with Y's catalogue, as the pipeline does
        prev_cat = cat
    t0, c0 = time.perf_counter(), time.process_time()
    registry = load_registry(registry_path)
    long_p, files_p = read_folder(inbox / str(year - 1))
    long, files = read_folder(inbox / str(year))
    t1 = time.perf_counter()
    prev, _ = validate(long_p, files_p, prev_cat, registry, year - 1, None)
    cur, counts = validate(long, files, cat, registry, year, prev)
    t2 = time.perf_counter()
    scored = score_year(
        YearInputs(
            data_year=year,
            catalogue=cat,
            registry=registry,
            measures=cur,
            accepted=set(cur["zone_code"].unique()),
            prev_measures=prev,
            prev_accepted=set(prev["zone_code"].unique()),
            history={},
        )
    )
    t3, c3 = time.perf_counter(), time.process_time()
    io = {}
    if io_dir is not None:
        shutil.rmtree(io_dir, ignore_errors=True)
        io_s = io_floor(inbox / str(year), io_dir, long, cur)
        io = {"io_s": io_s, "total_io_s": (t3 - t0) + io_s}
    return {
        "read_s": t1 - t0,
        "validate_s": t2 - t1,
        "score_s": t3 - t2,
        "total_s": t3 - t0,
        "cpu_s": c3 - c0,
        **counts,
        "zones_ranked": len(scored.rankings),
        **io,
    }


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--inbox", type=Path, required=True)
    ap.add_argument("--registry", type=Path, required=True)
    ap.add_argument("--data-year", type=int, required=True)
    ap.add_argument("--methodology", default=None)
    ap.add_argument("--repeat", type=int, default=1, help="run N times, report the fastest")
    ap.add_argument("--io-dir", type=Path, default=None, help="also time the I/O floor, writing into DIR")
    a = ap.parse_args(argv)
    runs = [run_floor(a.inbox, a.registry, a.data_year, a.methodology, a.io_dir) for _ in range(max(1, a.repeat))]
    best = min(runs, key=lambda r: r["total_s"])
    best["runs_total_s"] = [round(r["total_s"], 4) for r in runs]
    print(json.dumps(best))
    return 0


if __name__ == "__main__":
    sys.exit(main())
