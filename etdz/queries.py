"""Review queries of a data year and what they mean for its results (docs/contract/06-portal.md §6.3).

A query (a reviewer's question on one zone's figure) goes ``open`` → ``answered`` → ``closed``, or back
to ``open``. The portal keeps them (``portal.queries.year_queries``); this module only reads the list of
query dicts it gives — no Django, no Dagster — and answers the questions the reports, the UI, the portal
and ``etdz publish`` ask:

- how many are open, answered but not closed, closed (:func:`query_status`);
- whether the year's results may be called **final**: ``rankings.results_status`` is ``final`` (04-outputs.md,
  from the files) *and* no query of the year is open or answered-but-not-closed (:func:`is_final`);
- whether the year may be published: not while a query is open (:func:`publish_refusal`).

``None`` for the queries means "no portal database": nothing changes, there are no queries, and the results
are what ``results_status`` says.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

OPEN, ANSWERED, CLOSED = "open", "answered", "closed"
STATES = (OPEN, ANSWERED, CLOSED)

# what a year's results are called: the labels of the reports, the UI and the portal
FINAL, UNDER_REVIEW, PROVISIONAL = "final", "under_review", "provisional"
LABELS = {
    FINAL: ("正式", "final"),
    UNDER_REVIEW: ("复核中", "under review"),
    PROVISIONAL: ("暂定", "provisional"),
}


@dataclass(frozen=True)
class QueryStatus:
    """The queries of one data year, counted by state. ``known`` is False without a portal database."""

    open: int = 0
    answered: int = 0
    closed: int = 0
    known: bool = True

    @property
    def unresolved(self) -> int:
        """Open, or answered but not yet closed: what keeps results from being final."""
        return self.open + self.answered

    @property
    def total(self) -> int:
        return self.open + self.answered + self.closed

    def describe(self) -> str:
        """One line, Chinese first, for a report, the UI or a command's output."""
        if not self.known:
            return "无复核质询记录 no review queries on record (no portal database)"
        return (f"未结质询 {self.open} 个 · 已答复待关闭 {self.answered} 个 · 已关闭 {self.closed} 个 — "
                f"{self.open} open, {self.answered} answered awaiting closure, {self.closed} closed")


NO_PORTAL = QueryStatus(known=False)


def query_status(queries: Iterable[Mapping] | None) -> QueryStatus:
    """Count the queries of a year by state; ``None`` (no portal database) gives :data:`NO_PORTAL`.

    A state other than ``open``, ``answered`` or ``closed`` is an error naming the query: counting it as
    anything would call results final (or block a publication) on a guess.
    """
    if queries is None:
        return NO_PORTAL
    counts = dict.fromkeys(STATES, 0)
    for q in queries:
        state = q.get("state")
        if state not in counts:
            raise ValueError(f"review query {q.get('id')!r} (data year {q.get('data_year')}, zone "
                             f"{q.get('zone_code')}, measure {q.get('measure_code')}) has the state {state!r}; "
                             f"a query is one of {', '.join(STATES)} — the portal database is from another "
                             f"release or was edited by hand")
        counts[state] += 1
    return QueryStatus(open=counts[OPEN], answered=counts[ANSWERED], closed=counts[CLOSED])


def results_label(results_status: str, queries: QueryStatus) -> str:
    """``final`` only when ``results_status`` is final and no query is open or answered-but-not-closed;
    ``provisional`` when the files say so; else ``under_review``."""
    if results_status != FINAL:
        return PROVISIONAL
    return UNDER_REVIEW if queries.unresolved else FINAL


def is_final(results_status: str, queries: Iterable[Mapping] | QueryStatus | None) -> bool:
    """Whether a year's results may be called final (06-portal.md §6.3)."""
    status = queries if isinstance(queries, QueryStatus) else query_status(queries)
    return results_label(results_status, status) == FINAL


def results_status_of(rankings_status: Iterable[str]) -> str:
    """A year's ``results_status`` from its rankings' column (the same value on every row): ``provisional``
    when any row says so; a year without rankings has nothing provisional about it."""
    return PROVISIONAL if any(s == PROVISIONAL for s in rankings_status) else FINAL


def publish_refusal(data_year: int, queries: QueryStatus) -> str | None:
    """Why ``etdz publish`` must refuse the year (a query is open), or None when it may go ahead."""
    if not queries.open:
        return None
    return (f"data year {int(data_year)} cannot be published: {queries.open} review "
            f"{'query is' if queries.open == 1 else 'queries are'} still open (06-portal.md §6.3). Close them "
            f"first: the zones answer them on the portal's home page (or POST /api/v1/queries/<id>/answers), "
            f"then a reviewer closes each one on the portal (or POST /api/v1/queries/<id>/close); list them with "
            f"GET /api/v1/queries?data_year={int(data_year)}")
