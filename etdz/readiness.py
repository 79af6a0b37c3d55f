"""Whether a data year can be ranked (04-outputs.md §4.3, "A year is ranked only when it can be").

A ranking of a year where few zones have sent a valid file is not a ranking: the zones without one
score 0.00 on every indicator, tie at the bottom, fill the downgrade watch-list and push the others'
rank changes by hundreds of places. So scoring (and robustness, changes and reports after it) runs
only when at least ``min_share_to_rank`` (default one half) of the year's due zones have an accepted
file. Below that the ingestion is still committed — the submission log, the validation page and the
rejection notices are what the operator needs to chase the missing zones — and the scoring step
refuses with :class:`YearNotReady`, whose message names the year, the accepted files against the due
zones and the deadline. ``etdz run`` turns it into exit status 2.

``--allow-incomplete`` (the run tag :data:`ALLOW_TAG`) ranks anyway; the rankings are provisional
(``results_status``, a due zone has no accepted file) and the choice is recorded with the run. A year
with no accepted file is never ranked, not even then: there would be nothing to rank but zeros.

This is the one home of the rule: the scoring step (every run, whoever started it), the schedule's
skip and the command line all ask :func:`year_readiness`. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from etdz.deadlines import TIMEZONE, deadline
from etdz.errors import EXIT_REFUSED, EtdzError
from etdz.registry import due_zones
from etdz.submission_log import accepted_zones

#: The run tag (and ``etdz run`` flag) that ranks a year below the share; recorded with the run.
ALLOW_TAG = "etdz/allow_incomplete"
ALLOW_FLAG = "--allow-incomplete"
#: The default of the setting ``min_share_to_rank`` (etdz/settings.py).
DEFAULT_MIN_SHARE = 0.5


class YearNotReady(EtdzError):
    """Too few due zones have an accepted file to rank the year; the ingestion was committed, nothing after it.

    ``str()`` is the operator's message (the year, accepted files against due zones, the deadline, what to do)."""

    exit_code = EXIT_REFUSED


@dataclass(frozen=True)
class Readiness:
    """How far a data year is from being rankable: due zones with an accepted file against the due zones."""

    data_year: int
    accepted: int  # due zones with an accepted file (a provincial zone's file does not count)
    due: int
    min_share: float
    deadline: dt.date  # the year's submission deadline, Asia/Shanghai, inclusive (etdz.deadlines)
    # True: ``accepted`` is only an upper bound (the inbox's file count, not yet ingested: the schedule's view)
    upper_bound: bool = False

    @property
    def needed(self) -> int:
        """The fewest due zones with an accepted file that make the year rankable (never fewer than one)."""
        return max(1, math.ceil(self.min_share * self.due - 1e-9))

    @property
    def ready(self) -> bool:
        return self.due > 0 and self.accepted >= self.needed

    def counts(self) -> str:
        """``"12 of 230 due zones have an accepted file"``."""
        if self.upper_bound:
            return (f"at most {self.accepted} of {self.due} due zones can have an accepted file (the inbox holds "
                    f"{self.accepted} file(s) not yet ingested)")
        return f"{self.accepted} of {self.due} due zones have an accepted file"

    def deadline_text(self, today: dt.date | None = None) -> str:
        """The deadline and where today stands against it (Asia/Shanghai dates)."""
        today = today or shanghai_today()
        if today > self.deadline:
            return f"the deadline was {self.deadline.isoformat()} ({TIMEZONE})"
        days = (self.deadline - today).days
        return (f"the deadline is {self.deadline.isoformat()} ({TIMEZONE}), "
                f"{'today' if days == 0 else f'in {days} day(s)'}")

    def message(self, today: dt.date | None = None) -> str:
        """Why the year is not ranked, in words an operator can act on (the scoring step's and `etdz run`'s;
        the schedule's skip when :attr:`upper_bound`)."""
        y = self.data_year
        if self.accepted == 0 and self.upper_bound:
            why = (f"data year {y} is not ranked: its inbox holds no file for its {self.due} due zones "
                   f"({self.deadline_text(today)}). A year with no accepted file is never ranked.")
        elif self.accepted == 0:
            why = (f"data year {y} is not ranked: none of its {self.due} due zones has an accepted file "
                   f"({self.deadline_text(today)}). A year with no accepted file is never ranked, not even with "
                   f"{ALLOW_FLAG}.")
        else:
            why = (f"data year {y} is not ranked: {self.counts()} ({self.accepted / self.due:.0%}); at least "
                   f"{self.needed} are needed to rank it (min_share_to_rank {self.min_share:g}); "
                   f"{self.deadline_text(today)}.")
        if self.upper_bound:
            return why + (f" The schedule does not request it, so nothing is run or written. When the files are "
                          f"in, the inbox sensor runs it, or: etdz run --data-year {y}.")
        done = (" The files received were recorded (submission_log, submission_issues, measures, the validation "
                "page and the rejection notices, to chase the missing zones); nothing of scoring, robustness, "
                "changes or reports was written and the year's last results stay as they were.")
        todo = (f" When more files are in, run it again (etdz run --data-year {y})"
                + ("." if self.accepted == 0 else
                   f"; to rank it anyway, marked provisional: etdz run --data-year {y} {ALLOW_FLAG} "
                   f"(from the UI: the run tag {ALLOW_TAG}=true)."))
        return why + done + todo

    def provisional_note(self) -> str:
        """What a run ranked with ``--allow-incomplete`` below the share records (metadata, summary line)."""
        return (f"ranked with {ALLOW_FLAG}: {self.counts()}, {self.needed} needed "
                f"(min_share_to_rank {self.min_share:g}); results provisional")


def shanghai_today(now: dt.datetime | None = None) -> dt.date:
    """Today's date in Asia/Shanghai (deadlines are Shanghai calendar dates)."""
    from zoneinfo import ZoneInfo

    now = now or dt.datetime.now(dt.UTC)
    if now.tzinfo is None:
        now = now.replace(tzinfo=dt.UTC)
    return now.astimezone(ZoneInfo(TIMEZONE)).date()


def year_readiness(data_year: int, registry: pd.DataFrame, log: pd.DataFrame | None, min_share: float,
                   deadlines: Mapping[int, dt.date] | None = None) -> Readiness:
    """The readiness of ``data_year`` from its submission log (None: nothing ingested) and the registry."""
    due = set(due_zones(registry, data_year)["zone_code"].astype(str))
    return Readiness(data_year=int(data_year), accepted=len(accepted_zones(log) & due), due=len(due),
                     min_share=float(min_share), deadline=deadline(data_year, deadlines))


def check_ready(readiness: Readiness, allowed: bool) -> bool:
    """Raise :class:`YearNotReady` unless the year can be ranked; returns whether it is ranked only because
    the operator allowed it (``--allow-incomplete``). A year with no accepted file is refused regardless."""
    if readiness.ready:
        return False
    if allowed and readiness.accepted > 0:
        return True
    raise YearNotReady(readiness.message())


def min_share(value: str) -> float:
    """The setting ``min_share_to_rank`` (``ETDZ_MIN_SHARE_TO_RANK``): a share in (0, 1]."""
    try:
        share = float(value)
    except ValueError:
        share = math.nan
    if not (math.isfinite(share) and 0 < share <= 1):
        raise ValueError(f"{value!r} is not usable: set it to a share of the due zones between 0 and 1 (e.g. 0.5: a "
                         f"year is ranked when at least half of its due zones have an accepted file), or remove it "
                         f"for the default {DEFAULT_MIN_SHARE}")
    return share
