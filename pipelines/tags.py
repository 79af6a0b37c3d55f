"""The tags of a run of the annual job: one set, whoever starts the run (`etdz run`, the inbox sensor, automation,
the yearly schedule, the review-queries sensor), so the UI's Runs page can filter and compare them alike.

Every run of a year carries what it reads — the catalogue (version and hash), the inbox folder, its digest and
file count — who started it (:data:`TRIGGER_TAG`) and, when it was started for another year's sake, why
(:data:`REASON_TAG`, naming the year: "data year 2021 changed …").
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from etdz.catalogue import Catalogue
from etdz.guard import ALLOW_TAG as ALLOW_SHRINK_TAG
from etdz.inbox_state import listing_digest
from etdz.readiness import ALLOW_TAG as ALLOW_INCOMPLETE_TAG
from etdz.settings import Settings
from pipelines.observations import DIGEST_TAG

TRIGGER_TAG = "etdz/trigger"
REASON_TAG = "etdz/reason"
#: the earlier data year whose change the run follows up (a year reads its previous years)
UPSTREAM_YEAR_TAG = "etdz/after_year"
CATALOGUE_TAG = "etdz/catalogue"
CATALOGUE_SHA_TAG = "etdz/catalogue_sha256"
INBOX_TAG = "etdz/inbox"
FILES_TAG = "etdz/files"

#: the tags every run of a year carries, whoever started it (a test checks sensor and command-line runs alike)
COMMON = (TRIGGER_TAG, CATALOGUE_TAG, CATALOGUE_SHA_TAG, INBOX_TAG, DIGEST_TAG, FILES_TAG)


def inbox_folder(settings: Settings, year: int) -> str:
    """The year's inbox folder (the inbox is a local folder: assets/resource.py's ``inbox_dir``)."""
    return str(Path(settings.inbox) / str(int(year)))


def earlier_year_changed(year: int) -> str:
    """The reason of a run that brings ``year`` up to date after its previous year changed."""
    return (f"data year {int(year) - 1} changed after this year's last run (its growth indicators, previous rank "
            f"and downgrade watch-list read {int(year) - 1})")


def year_run_tags(settings: Settings, catalogues: Sequence[Catalogue], year: int, trigger: str, entries: Sequence,
                  *, reason: str | None = None, after_year: int | None = None, allow_shrink: bool = False,
                  allow_incomplete: bool = False) -> dict[str, str]:
    """The tags of a run of data year ``year`` started by ``trigger`` ("cli", "inbox_sensor", "schedule", …).

    ``entries``: the year's inbox listing (etdz.inbox_state.scan_inbox), listed once by the caller, which also
    records it as the inbox observation; ``reason`` / ``after_year``: why the run was started, when it was for
    an earlier year's change.
    """
    tags = {TRIGGER_TAG: trigger, INBOX_TAG: inbox_folder(settings, year), DIGEST_TAG: listing_digest(entries),
            FILES_TAG: str(len(entries))}
    catalogue = next((c for c in catalogues if c.applies_to(year)), None)
    if catalogue is not None:  # none: the run's first step refuses, naming the year
        tags.update({CATALOGUE_TAG: catalogue.version, CATALOGUE_SHA_TAG: catalogue.sha256[:16]})
    if reason:
        tags[REASON_TAG] = reason
    if after_year is not None:
        tags[UPSTREAM_YEAR_TAG] = str(int(after_year))
    if allow_shrink:
        tags[ALLOW_SHRINK_TAG] = "true"
    if allow_incomplete:
        tags[ALLOW_INCOMPLETE_TAG] = "true"
    return tags
