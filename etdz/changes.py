"""What a correction changed: the ``ranking_changes`` dataset (docs/contract/04-outputs.md §4.1).

A year is re-run whenever a zone sends a corrected file, the registry or the catalogue changes. Each run
compares the year's rankings with those of *the year's last run with other inputs* and lists the cohort
zones whose total score, national rank or any status of :data:`STATUS_CHANGES` changed, from what to what:

* ``changed_files``: the zone's Y or Y−1 files whose status changed between the two runs (superseded,
  newly accepted, newly rejected); empty for a zone that moved only because others did;
* ``changed_measures``: the zone's own Y figures (``measures``, canonical units) that differ, as
  ``"<measure_code>: <old> → <new>"`` (:func:`measure_change`; ``—`` on the side where it is absent);
* ``status_changes``: the lists it entered or left (top 30, top 100, its region's top 10, the summons
  list, the watch-list), each read from the rankings' own columns (``national_rank`` against
  :data:`~etdz.scoring.ranks.TOP30`, ``top100``, ``regional_rank`` against
  :data:`~etdz.scoring.ranks.REGION_TOP10`, ``summoned``, ``downgrade_candidate``) — never re-derived.

A zone new to the cohort was on no list before, so it "entered" each list it is on. A baseline written
before the statuses and measures were kept (an older version of this module) cannot say what they were:
those columns are null for every row (no flip is claimed), and rows are chosen by score and rank alone.

"Inputs" are the Y and Y−1 submission logs (every file's SHA-256 and status), the registry and Y's
catalogue, condensed into one digest. To know the last run with other inputs, every run keeps a small
baseline next to the datasets (:data:`BASELINE`, a ``_``-prefixed folder that dataset readers skip): the
digest, the rankings with the columns the statuses are read from, the file statuses, the zone's measures
and when it was written. The rules:

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
from etdz.scoring.ranks import DECIMALS, REGION_TOP10, TOP30
from etdz.storage import Warehouse

BASELINE = "_ranking_changes_baseline"
FILE_COLUMNS = ["data_year", "file_name", "sha256", "zone_code", "status"]
# The rankings' columns the statuses are read from (their one home is the scorer: etdz.scoring.year)
STATUS_SOURCE = ["national_rank", "regional_rank", "top100", "summoned", "downgrade_candidate"]
RANK_COLUMNS = ["zone_code", "name_zh", "total_score", "national_rank", "regional_rank", "top100", "summoned",
                "downgrade_candidate"]
MEASURE_COLUMNS = ["zone_code", "measure_code", "value"]
# In this order in every row's list (04-outputs.md §4.1)
STATUS_CHANGES = ("entered_top30", "left_top30", "entered_top100", "left_top100", "entered_region_top10",
                  "left_region_top10", "summoned", "no_longer_summoned", "entered_watchlist", "left_watchlist")
# status -> (the name when entered, the name when left)
_LISTS = {"top30": ("entered_top30", "left_top30"), "top100": ("entered_top100", "left_top100"),
          "region_top10": ("entered_region_top10", "left_region_top10"),
          "summoned": ("summoned", "no_longer_summoned"), "watchlist": ("entered_watchlist", "left_watchlist")}
MISSING = "—"   # the side of a changed measure where the zone has no value
ARROW = " → "
# What the baseline holds besides the rankings' score and rank and the files (its metadata ``kept``);
# a baseline without the key was written before statuses and measures were kept.
_KEPT = "statuses,measures"
_BASELINE_SCHEMA = pa.schema([
    pa.field("kind", pa.string()),            # "ranking", "file" or "measure"
    pa.field("zone_code", pa.string()),
    pa.field("name_zh", pa.string()),
    pa.field("total_score", pa.float64()),
    pa.field("national_rank", pa.int32()),
    pa.field("data_year", pa.int32()),
    pa.field("file_name", pa.string()),
    pa.field("sha256", pa.string()),
    pa.field("status", pa.string()),
    # appended with the statuses and measures (a baseline written before has none of these)
    pa.field("regional_rank", pa.int32()),
    pa.field("top100", pa.bool_()),
    pa.field("summoned", pa.bool_()),
    pa.field("downgrade_candidate", pa.bool_()),
    pa.field("measure_code", pa.string()),
    pa.field("value", pa.float64()),
])


@dataclass
class Baseline:
    """The year's last run: its input digest, rankings, file statuses, measures and time."""

    digest: str
    rankings: pd.DataFrame    # RANK_COLUMNS (a baseline written before statuses were kept: the first four)
    files: pd.DataFrame       # FILE_COLUMNS
    run_at: pd.Timestamp
    measures: pd.DataFrame | None = None   # MEASURE_COLUMNS; None: not kept (a baseline written before)


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
    measures: pd.DataFrame | None = None    # Y's measures as just ingested (None: unknown, no changed_measures)


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


def format_number(value) -> str:
    """A canonical value as it reads and reads back: the shortest decimal that ``float()`` turns into the same
    double, written positionally (no exponent, no thousands separator; a whole number without a decimal
    point: ``2900``, ``0.0945``, ``1234.5``); :data:`MISSING` for no value."""
    if value is None or pd.isna(value):
        return MISSING
    return np.format_float_positional(float(value), unique=True, trim="-")


def measure_change(measure_code: str, old, new) -> str:
    """One entry of ``changed_measures``: ``"<measure_code>: <old> → <new>"`` (:func:`format_number`)."""
    return f"{measure_code}: {format_number(old)}{ARROW}{format_number(new)}"


def parse_measure_change(text: str) -> tuple[str, float | None, float | None]:
    """The inverse of :func:`measure_change`: (measure_code, old, new), None for the side shown as missing."""
    code, _, values = text.rpartition(": ")  # the values hold no colon; a code could
    old, _, new = values.partition(ARROW)
    return code, (None if old == MISSING else float(old)), (None if new == MISSING else float(new))


def changed_measures(before: pd.DataFrame, after: pd.DataFrame) -> dict[str, list[str]]:
    """Per zone, its measures whose value differs between two runs (the same double is no change), as
    :func:`measure_change` entries sorted by measure code; a measure present on one side only has
    :data:`MISSING` on the other."""
    keys = ["zone_code", "measure_code"]
    m = before[MEASURE_COLUMNS].merge(after[MEASURE_COLUMNS], on=keys, how="outer", suffixes=("_before", ""))
    old, new = m.value_before.to_numpy(dtype="float64"), m.value.to_numpy(dtype="float64")
    differs = ~((old == new) | (np.isnan(old) & np.isnan(new)))
    m = m.loc[differs].sort_values(keys, kind="stable")
    out: dict[str, list[str]] = {}
    for zone, code, o, n in zip(m.zone_code, m.measure_code, m.value_before, m.value):
        out.setdefault(zone, []).append(measure_change(code, o, n))
    return out


def list_statuses(rankings: pd.DataFrame) -> pd.DataFrame | None:
    """Which list each zone is on (zone_code, top30, top100, region_top10, summoned, watchlist; nullable
    booleans), read from the rankings' own columns; None when they lack one (a baseline written before the
    statuses were kept)."""
    if any(c not in rankings.columns for c in STATUS_SOURCE):
        return None
    return pd.DataFrame({
        "zone_code": rankings.zone_code.to_numpy(),
        "top30": (rankings.national_rank.astype("Int64") <= TOP30).to_numpy(),
        "top100": rankings.top100.astype("boolean").to_numpy(),
        "region_top10": (rankings.regional_rank.astype("Int64") <= REGION_TOP10).to_numpy(),
        "summoned": rankings.summoned.astype("boolean").to_numpy(),
        "watchlist": rankings.downgrade_candidate.astype("boolean").to_numpy(),
    })


def status_changes(before: pd.DataFrame | None, after: pd.DataFrame) -> dict[str, list[str]] | None:
    """Per zone of ``after``, the lists it entered or left since ``before`` (:func:`list_statuses` frames),
    in :data:`STATUS_CHANGES` order; only zones with a change. A zone absent from ``before`` was on no list;
    an unknown status (null) on either side claims nothing. None when ``before`` is None (not kept)."""
    if before is None:
        return None
    m = after.merge(before, on="zone_code", how="left", suffixes=("", "_before"), indicator=True)
    new_zone = (m["_merge"] == "left_only").to_numpy()
    out: dict[str, list[str]] = {}
    for name, (entered, left) in _LISTS.items():
        now = m[name].astype("boolean")
        prev = m[f"{name}_before"].astype("boolean").mask(new_zone, False)
        known = (now.notna() & prev.notna()).to_numpy()
        now_b, prev_b = now.fillna(False).to_numpy(dtype=bool), prev.fillna(False).to_numpy(dtype=bool)
        for zone in m.zone_code[known & now_b & ~prev_b]:
            out.setdefault(zone, []).append(entered)
        for zone in m.zone_code[known & prev_b & ~now_b]:
            out.setdefault(zone, []).append(left)
    order = {s: i for i, s in enumerate(STATUS_CHANGES)}
    return {z: sorted(v, key=order.__getitem__) for z, v in out.items()}


def compare(inp: ChangeInputs, now: datetime | None = None) -> Comparison:
    """Compare Y's rankings with the year's last run with other inputs (see the module docstring)."""
    now_ts = pd.Timestamp(now or datetime.now(UTC))
    now_ts = now_ts.tz_localize("UTC") if now_ts.tzinfo is None else now_ts.tz_convert("UTC")
    files = file_statuses(inp.logs)
    digest = inputs_digest(files, inp.registry, inp.catalogue_sha256)
    ranks = inp.rankings[RANK_COLUMNS].reset_index(drop=True)
    measures = None if inp.measures is None else (
        inp.measures[MEASURE_COLUMNS].sort_values(["zone_code", "measure_code"], kind="stable")
        .reset_index(drop=True))
    baseline = Baseline(digest, ranks, files, now_ts, measures)
    base = inp.baseline
    if base is None:
        return Comparison(_empty(), baseline, same_inputs=False)
    if base.digest == digest:
        # leave the dataset as it was; write it (empty) only if it was never written
        return Comparison(None if inp.previous_changes is not None else _empty(), baseline, same_inputs=True)

    prev_cols = [c for c in ("zone_code", "total_score", "national_rank", "regional_rank") if c in base.rankings]
    m = ranks.merge(base.rankings[prev_cols], on="zone_code", how="left", suffixes=("", "_prev"))
    if "regional_rank_prev" not in m:
        m["regional_rank_prev"] = pd.array([None] * len(m), dtype="Int32")
    prev_total, prev_rank = m.total_score_prev, m.national_rank_prev
    flips = status_changes(list_statuses(base.rankings), list_statuses(ranks))
    own = None if base.measures is None or measures is None else changed_measures(base.measures, measures)
    moved = (prev_total.isna() | (_rounded(m.total_score) != _rounded(prev_total.fillna(np.nan)))
             | (m.national_rank.astype("Int64") != prev_rank.astype("Int64")).fillna(True)
             | m.zone_code.isin(list(flips or ())))
    out = m.loc[moved.to_numpy(dtype=bool)].rename(columns={
        "total_score_prev": "prev_total_score", "national_rank_prev": "prev_national_rank",
        "regional_rank_prev": "prev_regional_rank"})
    diff = changed_files(base.files, files)
    by_zone: dict[str, list[dict]] = {}
    for r in diff.itertuples(index=False):
        if isinstance(r.zone_code, str):
            by_zone.setdefault(r.zone_code, []).append({
                "data_year": int(r.data_year), "file_name": r.file_name, "sha256": r.sha256,
                "previous_status": None if pd.isna(r.previous_status) else r.previous_status,
                "status": None if pd.isna(r.status) else r.status})
    # None (unknown: the baseline did not keep it) stays None; known and unchanged is an empty list
    out = out.assign(changed_files=[by_zone.get(z, []) for z in out.zone_code], previous_run_at=base.run_at,
                     method_version=inp.method_version,
                     changed_measures=[None if own is None else own.get(z, []) for z in out.zone_code],
                     status_changes=[None if flips is None else flips.get(z, []) for z in out.zone_code])
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


def status_flips(changes: pd.DataFrame) -> pd.DataFrame:
    """The zones that entered or left a list, in national-rank order: zone, ranks before and now, the
    statuses joined by ", " (none when the dataset has no ``status_changes``, or it is null: not known)."""
    cols = ["zone_code", "name_zh", "prev_national_rank", "national_rank", "status_changes"]
    if changes is None or len(changes) == 0 or "status_changes" not in changes:
        return pd.DataFrame(columns=cols)
    has = changes.status_changes.map(lambda v: v is not None and not (np.isscalar(v) and pd.isna(v)) and len(v) > 0)
    c = changes.loc[has.astype(bool)].sort_values(["national_rank", "zone_code"], kind="stable")
    return c.assign(status_changes=c.status_changes.map(", ".join))[cols].reset_index(drop=True)


# --------------------------------------------------------------------------- the baseline in the warehouse


def baseline_table(b: Baseline) -> pa.Table:
    """The baseline as one table (rankings, files and measures as rows of three kinds; digest, time and
    what it kept in its metadata)."""
    kept = (["statuses"] if all(c in b.rankings for c in STATUS_SOURCE) else []) + (
        ["measures"] if b.measures is not None else [])
    parts = [b.rankings.assign(kind="ranking"), b.files.assign(kind="file")]
    if b.measures is not None and len(b.measures):
        parts.append(b.measures[MEASURE_COLUMNS].assign(kind="measure"))
    df = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) else None
    table = schemas.to_table(df, _BASELINE_SCHEMA)
    return table.replace_schema_metadata({"digest": b.digest, "run_at": b.run_at.isoformat(),
                                          "kept": ",".join(kept)})


def read_baseline(store: Warehouse, data_year: int) -> Baseline | None:
    """The year's baseline, or None before its first run."""
    t = store.read_replaced(BASELINE, data_year)
    if t is None:
        return None
    meta = {k.decode(): v.decode() for k, v in (t.schema.metadata or {}).items()}
    kept = set(filter(None, meta.get("kept", "").split(",")))  # no key: written before statuses and measures
    df = t.to_pandas()
    columns = RANK_COLUMNS if "statuses" in kept else RANK_COLUMNS[:4]
    ranks = df[df.kind == "ranking"][columns].reset_index(drop=True)
    files = df[df.kind == "file"][FILE_COLUMNS].reset_index(drop=True)
    files["data_year"] = files.data_year.astype(int)
    measures = None
    if "measures" in kept:
        measures = df[df.kind == "measure"][MEASURE_COLUMNS].reset_index(drop=True)
        measures["value"] = measures.value.astype("float64")
    return Baseline(meta["digest"], ranks, files, pd.Timestamp(meta["run_at"]), measures)


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
    prev = store.read_replaced("ranking_changes", data_year)
    measures = store.read("measures", data_year)
    return ChangeInputs(data_year=data_year, rankings=rankings.to_pandas(), logs=logs, registry=registry,
                        catalogue_sha256=catalogue.sha256, method_version=catalogue.version,
                        baseline=read_baseline(store, data_year),
                        previous_changes=None if prev is None else prev.to_pandas(),
                        measures=None if measures is None else measures.to_pandas())


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
