"""Completeness and timeliness of a data year (the reviewer's view, 06 §6.1): per province and per region, how
many zones are due, have submitted, were approved, accepted, late.

- **due**: national zones assessed that year (:func:`etdz.registry.due_zones`);
- **submitted**: due zones with a file of the year — in the pipeline's ``submission_log`` or submitted through the
  portal (not returned);
- **approved**: due zones with a submission their province approved;
- **accepted**: due zones with an accepted file in ``submission_log`` (:func:`etdz.submission_log.accepted_zones`);
- **late**: due zones whose current file is late — the accepted one of the log once the year has run, else their
  latest portal submission.
"""

from __future__ import annotations

import pandas as pd

from etdz.registry import due_zones
from etdz.submission_log import accepted_zones
from portal.access import registry
from portal.models import Submission
from portal.submitting import pipeline_log

COLUMNS = ("due", "submitted", "approved", "accepted", "late")


def zone_facts(data_year: int) -> pd.DataFrame:
    """One row per due zone: its province, region and the five facts as booleans."""
    due = due_zones(registry(), int(data_year))[["zone_code", "name_zh", "province", "region"]].copy()
    log = pipeline_log(int(data_year))
    subs = list(Submission.objects.filter(data_year=int(data_year)).exclude(state="returned")
                .order_by("submitted_at", "id").values("zone_code", "late", "approved_at"))
    portal_zones = {s["zone_code"] for s in subs}
    latest_late = {s["zone_code"]: bool(s["late"]) for s in subs}  # ordered by time: the last one wins
    approved = {s["zone_code"] for s in subs if s["approved_at"] is not None}
    logged = set() if log is None else set(log["zone_code"].dropna().astype(str))
    accepted = accepted_zones(log)
    late_accepted = set() if log is None else set(
        log.loc[(log["status"] == "accepted") & log["late"].fillna(False).astype(bool), "zone_code"].astype(str))
    codes = due["zone_code"].astype(str)
    due["due"] = True
    due["submitted"] = codes.isin(portal_zones | logged)
    due["approved"] = codes.isin(approved)
    due["accepted"] = codes.isin(accepted)
    due["late"] = [z in late_accepted if z in accepted else latest_late.get(z, False) for z in codes]
    return due


def table(data_year: int) -> dict:
    """``{"provinces": [...], "regions": [...], "total": {...}}``: the counts per province, per region, in all."""
    facts = zone_facts(data_year)
    cols = list(COLUMNS)

    def counts(frame: pd.DataFrame, by: str) -> list[dict]:
        if frame.empty:
            return []
        g = frame.groupby(by, sort=True)[cols].sum().astype(int).reset_index()
        return g.to_dict("records")

    total = {c: int(facts[c].sum()) for c in cols}
    return {"provinces": counts(facts, "province"), "regions": counts(facts, "region"), "total": total}
