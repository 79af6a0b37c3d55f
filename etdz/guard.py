"""Refusing a run that would destroy good results.

A header-only registry would replace a year's 230-row ranking by 0 rows with exit 0, and a
renamed measure in a catalogue rejects every file while the cohort stays full. Both would look
like a successful run. The guard compares what a run is about to write with what the year's last good
run wrote, and refuses before anything is written when most of it would disappear. An operator who
means it (a registry that really lost those zones) proceeds deliberately with a flag, which the run
records in its tags.

Two checks, two callers: the command line runs :func:`cohort_findings` (the registry against the last
good rankings) before launching, and the first step of every run (whoever started it: the command line,
the UI, the sensor or automation) runs it and :func:`acceptance_findings` (the files accepted now against
the last good submission log) before writing; :func:`refuse_if` turns findings into the refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from etdz.errors import EXIT_REFUSED, EtdzError
from etdz.registry import due_zones
from etdz.submission_log import accepted_zones

#: The run tag (and ``etdz run`` flag) that lets a shrinking run proceed; recorded with the run.
ALLOW_TAG = "etdz/allow_shrink"
ALLOW_FLAG = "--allow-shrink"
#: Below this share of the last good run's zones, a run is refused.
MIN_SHARE = 0.5


class RunRefused(EtdzError):
    """The run would destroy good results; nothing was written. ``str()`` is the operator's message."""

    exit_code = EXIT_REFUSED


@dataclass(frozen=True)
class Finding:
    """One reason to refuse, in words an operator can act on."""

    code: str
    message: str


def _how_to_proceed(data_year: int) -> str:
    return (f"Nothing was written; the year's last good results are in place. If this is intended, run again with "
            f"`etdz run --data-year {data_year} {ALLOW_FLAG}` (or launch from the UI with the tag {ALLOW_TAG}=true); "
            f"the choice is recorded in the run's tags.")


def cohort_findings(data_year: int, registry: pd.DataFrame, registry_source: str,
                    previous_rankings: pd.DataFrame | None) -> list[Finding]:
    """What looks wrong with the cohort the registry gives ``data_year``, against the year's last rankings."""
    cohort = set(due_zones(registry, data_year)["zone_code"])
    if not cohort:
        return [Finding("cohort.empty",
                        f"the zone registry {registry_source} has no national zone due in data year {data_year} "
                        f"({len(registry)} row(s) in the file): every ranking, report card and watch-list of "
                        f"{data_year} would be replaced by empty ones. Check ETDZ_REGISTRY / the configuration.")]
    if previous_rankings is None or len(previous_rankings) == 0:
        return []
    ranked = set(previous_rankings["zone_code"].astype(str))
    kept = ranked & cohort
    if len(kept) < MIN_SHARE * len(ranked):
        return [Finding("cohort.shrunk",
                        f"the zone registry {registry_source} keeps only {len(kept)} of the {len(ranked)} zones ranked "
                        f"in data year {data_year}'s last run ({len(ranked) - len(kept)} would disappear). "
                        f"Check ETDZ_REGISTRY / the configuration.")]
    return []


def acceptance_findings(data_year: int, accepted_now: set[str], previous_log: pd.DataFrame | None,
                        catalogue_source: str) -> list[Finding]:
    """Whether this run accepts files from far fewer zones than the year's last good run did."""
    before = accepted_zones(previous_log)
    if not before or len(accepted_now) >= MIN_SHARE * len(before):
        return []
    return [Finding("acceptance.collapsed",
                    f"this run accepts files from {len(accepted_now)} zone(s) of data year {data_year}, where its last "
                    f"good run accepted {len(before)}. A changed catalogue ({catalogue_source}) — a renamed measure, a "
                    f"new required measure, tighter bounds — or a changed registry rejects files wholesale; see the "
                    f"year's validation report for the reasons.")]


def refuse_if(findings: list[Finding], data_year: int, allowed: bool) -> None:
    """Raise :class:`RunRefused` with every finding unless the operator allowed it deliberately."""
    if findings and not allowed:
        raise RunRefused(f"data year {data_year}: refused — " + "; ".join(f.message for f in findings) + " "
                         + _how_to_proceed(data_year))
