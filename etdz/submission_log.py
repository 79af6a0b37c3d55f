"""What the submission log of a year says about its zones (docs/contract/04-outputs.md §4.1 ``submission_log``)."""

from __future__ import annotations

import pandas as pd


def accepted_zones(log: pd.DataFrame | None) -> set[str]:
    """The zones with an accepted file in a submission log (none for a missing or empty log)."""
    if log is None or len(log) == 0:
        return set()
    return set(log.loc[log["status"] == "accepted", "zone_code"].dropna().astype(str))
