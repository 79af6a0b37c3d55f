"""What a correction changed: the ``ranking_changes`` dataset (docs/contract/04-outputs.md §4.1).

A year is re-run whenever a zone sends a corrected file, the registry or the catalogue changes. Each run
compares the year's rankings with those of *the year's last run with other inputs* and lists the cohort
zones whose total score or national rank moved, from what to what, and the files that caused it: the
zone's Y or Y−1 files whose status changed between the two runs (superseded, newly accepted, newly
rejected). A zone that moved only because others did has no files.

"Inputs" are the Y and Y−1 submission logs (every file's SHA-256 and status), the registry and Y's
catalogue, condensed into one digest. To know the last run with other inputs, every run keeps a small
baseline next to the datasets (:data:`BASELINE`, a ``_``-prefixed folder that dataset readers skip): the
digest, the rankings, the file statuses and when it was written. The rules:

* no baseline (the year's first run): the dataset is empty;
* the digest equals the baseline's (a re-run on the same inputs): the dataset is left as it was, and
  the baseline takes this run's rankings and time (it is now the last run with those inputs);
* another digest: the rankings are compared with the baseline's, the dataset is replaced, and this
  run becomes the baseline.

Plain pandas; nothing here imports Dagster.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from etdz import schemas
from etdz.scoring.ranks import DECIMALS
from etdz.storage import Warehouse

BASELINE = "_ranking_changes_baseline"
FILE_COLUMNS = ["data_year", "file_name", "sha256", "zone_code", "status"]
_BASELINE_SCHEMA = pa.schema([
    pa.field("kind", pa.string()),            # "ranking" or "file"
    pa.field("zone_code", pa.string()),
    pa.field("name_zh", pa.string()),
    pa.field("total_score", pa.float64()),
    pa.field("national_rank", pa.int32()),
    pa.field("data_year", pa.int32()),
    pa.field("file_name", pa.string()),
    pa.field("sha256", pa.string()),
    pa.field("status", pa.string()),
])


@dataclass
class Baseline:
    """The year's last run: its input digest, rankings, file statuses and time."""

    digest: str
    rankings: pd.DataFrame    # zone_code, name_zh, total_score, national_rank
    files: pd.DataFrame       # FILE_COLUMNS
    run_at: pd.Timestamp


@dataclass
class ChangeInputs:
    """What one run of the comparison reads (:func:`load_change_inputs`)."""

    data_year: int
    rankings: pd.DataFrame            # Y's rankings as just scored
    logs: dict[int, pd.DataFrame]     # submission_log of Y and of Y−1 (when it exists)
    registry: pd.DataFrame
    catalogue_sha256: str
    method_version: str
    baseline: Baseline | None
    previous_changes: pd.DataFrame | None   # the dataset as it is now (None: never written)


@dataclass
class Comparison:
    """The result: ``changes`` to write (None: same inputs, leave the dataset as it was) and the new baseline."""

    changes: pd.DataFrame | None
    baseline: Baseline
    same_inputs: bool


def file_statuses(logs: dict[int, pd.DataFrame]) -> pd.DataFrame:
    """Every file of the given years' submission logs: data_year, file_name, sha256, zone_code, status."""
    frames = [log.assign(data_year=int(y))[FILE_COLUMNS] for y, log in sorted(logs.items())
              if log is not None and len(log)]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in FILE_COLUMNS})
    out = pd.concat(frames, ignore_index=True)
    out["data_year"] = out.data_year.astype(int)
    return out.sort_values(["data_year", "sha256", "file_name"], kind="stable").reset_index(drop=True)


def inputs_digest(files: pd.DataFrame, registry: pd.DataFrame, catalogue_sha256: str) -> str:
    """SHA-256 over the files' (year, SHA-256, status), the registry's rows and the catalogue's digest."""
    h = hashlib.sha256()
    h.update(catalogue_sha256.encode())
    h.update(registry.sort_values("zone_code", kind="stable").to_csv(index=False).encode("utf-8"))
    keyed = sorted(zip(files.data_year.astype(int), files.sha256.astype(str), files.status.astype(str)))
    h.update(json.dumps([list(map(str, k)) for k in keyed]).encode())
    return h.hexdigest()


def _rounded(x: pd.Series) -> np.ndarray:
    return np.round(x.to_numpy(dtype="float64"), DECIMALS)


def changed_files(before: pd.DataFrame, after: pd.DataFrame) -> pd.DataFrame:
    """Files whose status differs between two runs (a file new in ``after`` had no status before, a file
    gone from it has none after): data_year, file_name, sha256, zone_code, previous_status, status."""
    keys = ["data_year", "sha256", "file_name"]
    m = before[keys + ["zone_code", "status"]].merge(after[keys + ["zone_code", "status"]], on=keys, how="outer",
                                                     suffixes=("_before", ""))
    m["zone_code"] = m.zone_code.where(m.zone_code.notna(), m.zone_code_before)
    m = m.rename(columns={"status_before": "previous_status"})
    prev, now = m.previous_status.astype(object), m.status.astype(object)
    differs = prev.where(prev.notna(), None).ne(now.where(now.notna(), None)) & ~(prev.isna() & now.isna())
    out = m.loc[differs, ["data_year", "file_name", "sha256", "zone_code", "previous_status", "status"]]
    return out.sort_values(["zone_code", "data_year", "file_name"], kind="stable").reset_index(drop=True)


def compare(inp: ChangeInputs, now: datetime | None = None) -> Comparison:
    """Compare Y's rankings with the year's last run with other inputs (see the module docstring)."""
    now_ts = pd.Timestamp(now or datetime.now(UTC))
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    files = file_statuses(inp.logs)
    digest = inputs_digest(files, inp.registry, inp.catalogue_sha256)
    ranks = inp.rankings[["zone_code", "name_zh", "total_score", "national_rank"]].reset_index(drop=True)
    baseline = Baseline(digest, ranks, files, now_ts)
    base = inp.baseline
    if base is None:
        return Comparison(_empty(), baseline, same_inputs=False)
    if base.digest == digest:
        # leave the dataset as it was; write it (empty) only if it was never written
        return Comparison(None if inp.previous_changes is not None else _empty(), baseline, same_inputs=True)

    m = ranks.merge(base.rankings[["zone_code", "total_score", "national_rank"]], on="zone_code", how="left",
                    suffixes=("", "_prev"))
    prev_total, prev_rank = m.total_score_prev, m.national_rank_prev
    moved = (prev_total.isna() | (_rounded(m.total_score) != _rounded(prev_total.fillna(np.nan)))
             | (m.national_rank.astype("Int64") != prev_rank.astype("Int64")).fillna(True))
    out = m.loc[moved.to_numpy(dtype=bool)].rename(columns={"total_score_prev": "prev_total_score",
                                                            "national_rank_prev": "prev_national_rank"})
    diff = changed_files(base.files, files)
    by_zone: dict[str, list[dict]] = {}
    for r in diff.itertuples(index=False):
        if isinstance(r.zone_code, str):
            by_zone.setdefault(r.zone_code, []).append({
                "data_year": int(r.data_year), "file_name": r.file_name, "sha256": r.sha256,
                "previous_status": None if pd.isna(r.previous_status) else r.previous_status,
                "status": None if pd.isna(r.status) else r.status})
    out = out.assign(changed_files=[by_zone.get(z, []) for z in out.zone_code], previous_run_at=base.run_at,
                     method_version=inp.method_version)
    out = out.sort_values(["national_rank", "zone_code"], kind="stable").reset_index(drop=True)
    return Comparison(out[[f.name for f in schemas.RANKING_CHANGES]], baseline, same_inputs=False)


def _empty() -> pd.DataFrame:
    return schemas.RANKING_CHANGES.empty_table().to_pandas()


def biggest_moves(changes: pd.DataFrame, limit: int = 10) -> pd.DataFrame:
    """The largest rank moves first (then score moves): zone, ranks and totals before and now, files."""
    if changes is None or len(changes) == 0:
        return pd.DataFrame(columns=["zone_code", "name_zh", "prev_national_rank", "national_rank",
                                     "prev_total_score", "total_score", "files"])
    c = changes.copy()
    c["rank_move"] = (c.prev_national_rank.astype("Float64") - c.national_rank.astype("Float64")).abs().fillna(np.inf)
    c["score_move"] = (c.total_score - c.prev_total_score).abs().fillna(np.inf)
    c = c.sort_values(["rank_move", "score_move", "zone_code"], ascending=[False, False, True], kind="stable")
    c["files"] = c.changed_files.map(lambda fs: ", ".join(
        f"{f['file_name']} ({f['previous_status'] or 'new'} → {f['status'] or 'gone'})"
        for f in (fs if fs is not None else [])))
    return c[["zone_code", "name_zh", "prev_national_rank", "national_rank", "prev_total_score", "total_score",
              "files"]].head(limit).reset_index(drop=True)


# --------------------------------------------------------------------------- the baseline in the warehouse


def baseline_table(b: Baseline) -> pa.Table:
    """The baseline as one table (rankings and files as rows of two kinds; digest and time in its metadata)."""
    r = b.rankings.assign(kind="ranking")
    f = b.files.assign(kind="file")
    df = pd.concat([r, f], ignore_index=True)
    table = schemas.to_table(df, _BASELINE_SCHEMA)
    return table.replace_schema_metadata({"digest": b.digest, "run_at": b.run_at.isoformat()})


def read_baseline(store: Warehouse, data_year: int) -> Baseline | None:
    """The year's baseline, or None before its first run."""
    t = store.read(BASELINE, data_year)
    if t is None:
        return None
    meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
    df = t.to_pandas()
    ranks = df[df.kind == "ranking"][["zone_code", "name_zh", "total_score", "national_rank"]].reset_index(drop=True)
    files = df[df.kind == "file"][FILE_COLUMNS].reset_index(drop=True)
    files["data_year"] = files.data_year.astype(int)
    return Baseline(meta["digest"], ranks, files, pd.Timestamp(meta["run_at"]))


def load_change_inputs(store: Warehouse, data_year: int, catalogue, registry: pd.DataFrame) -> ChangeInputs:
    """Read what :func:`compare` needs for ``data_year`` from the warehouse (Y's rankings must exist)."""
    rankings = store.read("rankings", data_year)
    if rankings is None:
        raise RuntimeError(f"data year {data_year}: no rankings in {store.root}; materialise the scoring assets "
                           f"for {data_year} first (etdz run --data-year {data_year})")
    logs = {}
    for y in (data_year - 1, data_year):
        t = store.read("submission_log", y)
        if t is not None:
            logs[y] = t.to_pandas()
    prev = store.read("ranking_changes", data_year)
    return ChangeInputs(data_year=data_year, rankings=rankings.to_pandas(), logs=logs, registry=registry,
                        catalogue_sha256=catalogue.sha256, method_version=catalogue.version,
                        baseline=read_baseline(store, data_year),
                        previous_changes=None if prev is None else prev.to_pandas())


def write_comparison(store: Warehouse, data_year: int, result: Comparison) -> tuple[pa.Table, str]:
    """Write the dataset (unless the inputs are the same and it exists), then the baseline; return the
    dataset's table as it now is and its URL. The dataset is written first: a run that dies in between
    leaves the old baseline, so the next run compares against it again."""
    if result.changes is None:
        table = store.read("ranking_changes", data_year)
        url = store.url("ranking_changes", data_year)
    else:
        table = schemas.to_table(result.changes, schemas.RANKING_CHANGES)
        url = store.write("ranking_changes", data_year, table)
    store.write(BASELINE, data_year, baseline_table(result.baseline))
    return table, url
