"""Reading earlier years: the previous year's submissions (growth, plausibility) and past rankings.

docs/contract/02-inputs.md "Years not run yet": growth reads the accepted submissions of Y−1
wherever they are — the warehouse when Y−1 was run, else its inbox folder, ingested
for the purpose only (nothing archived or written); no folder means no submissions.
Previous ranks and the downgrade window read the rankings that exist in the warehouse.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from etdz.catalogue import Catalogue, MethodologyError, catalogue_for_year
from etdz.inbox_state import listing_digest, scan_inbox
from etdz.ingestion import ingest_year
from etdz.memory import release_memory
from etdz.reading import DEFAULT_ROWS_PER_MEASURE
from etdz.storage import Warehouse
from etdz.submission_log import accepted_zones


@dataclass
class Submissions:
    """The accepted, chosen submissions of one year: long measures and the zones that have one."""

    measures: pd.DataFrame | None
    zones: set[str]
    origin: str  # "warehouse" | "inbox" | "none"


def previous_submissions(store: Warehouse, inbox: str | Path, data_year: int, catalogues: list[Catalogue],
                         current: Catalogue, registry: pd.DataFrame, max_bytes: int,
                         max_rows_per_measure: int = DEFAULT_ROWS_PER_MEASURE,
                         memo: dict | None = None) -> Submissions:
    """Accepted submissions of ``data_year − 1``: from the warehouse, else read from its inbox folder.

    ``memo``: a dict the caller owns and keeps for as long as the inbox read may be reused (the resource, for
    the steps of one run: ingestion and scoring both need Y−1). The last inbox read is kept in it under a key
    of every file's name, size and mtime, the catalogue and the registry, so any change reads again; without
    it every call reads the folder. Nothing is kept anywhere else."""
    year = data_year - 1
    log = store.read("submission_log", year)
    measures = store.read("measures", year)
    if log is not None and measures is not None:
        log_df = log.to_pandas()
        zones = accepted_zones(log_df)
        return Submissions(measures.select(["zone_code", "measure_code", "value"]).to_pandas(), zones, "warehouse")
    folder = Path(inbox) / str(year)
    if not folder.is_dir():
        return Submissions(None, set(), "none")

    try:
        catalogue = catalogue_for_year(catalogues, year)
    except MethodologyError:
        # no method for Y−1: read its files with Y's catalogue, which declares the measures growth needs
        catalogue = current
    # The folder is listed once: the key's digest and, on a miss, the files ingested come from that listing.
    entries = scan_inbox(folder)  # names, sizes, mtimes (a link is never followed, a vanished file skipped)
    key = (str(folder.resolve()), year, catalogue.sha256, max_bytes, max_rows_per_measure,
           int(pd.util.hash_pandas_object(registry, index=False).sum()), listing_digest(entries))
    hit = memo.get(key) if memo is not None else None
    if hit is None:
        ing = ingest_year(folder, year, catalogue, registry, archive=None, previous=None, max_bytes=max_bytes,
                          max_rows_per_measure=max_rows_per_measure, listing=entries)
        # growth and the year-on-year check read only these three columns
        hit = Submissions(ing.measures[["zone_code", "measure_code", "value"]], frozenset(ing.accepted_zones),
                          "inbox")
        if memo is not None:
            memo.clear()  # one year kept: bounded memory
            memo[key] = hit
        del ing
        release_memory()  # only its measures are kept: give the rest back before this year's ingest
    return hit


def ranking_history(store: Warehouse, years: range | list[int]) -> dict[int, pd.DataFrame]:
    """Rankings of the given years that exist in the warehouse."""
    out = {}
    for y in years:
        t = store.read("rankings", y)
        if t is not None:
            out[int(y)] = t.to_pandas()
    return out


def all_rankings(store: Warehouse, up_to: int) -> pd.DataFrame:
    """Rankings of every year on record up to ``up_to`` with a ``data_year`` column (report trends)."""
    years = [y for y in store.years("rankings") if y <= up_to]
    frames = [t.assign(data_year=y) for y, t in ranking_history(store, years).items()]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
