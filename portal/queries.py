"""Review queries (docs/contract/06-portal.md §6.3): opening, answering, closing, and what a year's queries are.

A query is a data year, a zone, a measure, the question, who opened it, its state (``open`` → ``answered`` →
``closed``, or back to ``open``) and its answers in order. A reviewer opens one (or it opens itself, already
answered, when a zone explains a warning at submission: :mod:`portal.submitting`); the zone answers (text, or a
corrected file, which is a submission of its own); the reviewer closes it, or asks again (back to open).

The stable interface of the year's queries for the Dagster side (``review_queries``), importable after
:func:`portal.setup_django`: :func:`year_queries` and :func:`year_version`.
"""

from __future__ import annotations

import hashlib
import json

from django.db import transaction
from django.utils import timezone

from portal.access import Who, visible, zone_row
from portal.models import Answer, Query, Submission

MAX_TEXT = 4000  # characters of a question or an answer


class QueryRefused(Exception):
    """An action the query's state or the caller's role does not allow (409 / 403), with the reason."""

    def __init__(self, message: str, status: int = 409):
        super().__init__(message)
        self.status = status


def query_dict(q: Query) -> dict:
    """One query as the API (and :func:`year_queries`) gives it, its answers in order."""
    return {"id": q.id, "data_year": q.data_year, "zone_code": q.zone_code, "measure_code": q.measure_code,
            "question": q.question, "state": q.state, "opened_by": q.opened_by.username,
            "opened_at": q.opened_at.isoformat(), "updated_at": q.updated_at.isoformat(),
            "answers": [{"by": a.author.username, "text": a.text, "at": a.at.isoformat(),
                         "submission": a.submission.sha256 if a.submission_id else None}
                        for a in q.answers.all()]}


def _year(data_year: int):
    return (Query.objects.filter(data_year=int(data_year)).select_related("opened_by")
            .prefetch_related("answers__author", "answers__submission").order_by("id"))


def year_queries(data_year: int) -> list[dict]:
    """Every query of a data year, oldest first: ``id, data_year, zone_code, measure_code, question, state,
    opened_by, opened_at, updated_at, answers``."""
    return [query_dict(q) for q in _year(data_year)]


def year_version(data_year: int) -> str:
    """A digest of the year's queries that changes whenever any of them changes (opened, answered, closed,
    reopened): the data version of ``review_queries``."""
    rows = list(Query.objects.filter(data_year=int(data_year)).order_by("id")
                .values_list("id", "state", "updated_at", "zone_code", "measure_code"))
    answers = list(Answer.objects.filter(query__data_year=int(data_year)).order_by("id").values_list("id", "query_id"))
    text = json.dumps([[r[0], r[1], r[2].isoformat(), r[3], r[4]] for r in rows] + [list(a) for a in answers])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def visible_queries(who: Who, data_year: int | None = None):
    """The queries ``who`` may see (a zone its own, a province its zones', reviewers and admins every one)."""
    qs = Query.objects.select_related("opened_by").prefetch_related("answers__author", "answers__submission")
    if data_year is not None:
        qs = qs.filter(data_year=int(data_year))
    zones = who.zones()
    if zones is not None:
        qs = qs.filter(zone_code__in=sorted(zones))
    return qs.order_by("id")


def get_visible(who: Who, query_id: int) -> Query:
    """The query, or 404 when it does not exist or ``who`` may not see it."""
    from django.http import Http404

    q = Query.objects.filter(pk=query_id).first()
    if q is None:
        raise Http404("not found")
    visible(who, q.zone_code)
    return q


def _text(value, what: str) -> str:
    text = str(value or "").strip()
    if not text:
        raise QueryRefused(f"{what}不能为空 / the {what} is empty", 400)
    return text[:MAX_TEXT]


def open_query(who: Who, data_year: int, zone_code: str, measure_code: str, question: str) -> Query:
    """A reviewer opens a query on a zone's figure."""
    if who.role not in ("reviewer", "admin"):
        raise QueryRefused("只有审核组可以发起质询 / only reviewers open queries", 403)
    if zone_row(zone_code) is None:
        raise QueryRefused(f"园区代码「{zone_code}」不在名录中 / zone {zone_code!r} is not in the registry", 400)
    now = timezone.now()
    return Query.objects.create(data_year=int(data_year), zone_code=zone_code,
                                measure_code=str(measure_code or "")[:80],
                                question=_text(question, "问题"), state="open", opened_by_id=who.user_id,
                                opened_at=now, updated_at=now)


def answer_query(who: Who, q: Query, text: str, submission: Submission | None = None) -> Query:
    """An answer: the query's zone answers (→ ``answered``); a reviewer's follow-up asks again (→ ``open``)."""
    if who.role == "zone":
        if q.zone_code != who.zone_code:  # get_visible already answered 404; kept as the rule's own guard
            raise QueryRefused("not found", 404)
        new_state = "answered"
    elif who.role in ("reviewer", "admin"):
        new_state = "open"
    else:
        raise QueryRefused("只有该园区或审核组可以回复 / only the zone or a reviewer answers", 403)
    body = str(text or "").strip()[:MAX_TEXT]
    if not body and submission is None:
        raise QueryRefused("回复不能为空 / the answer is empty", 400)
    with transaction.atomic():
        q = Query.objects.select_for_update().get(pk=q.pk)
        if q.state == "closed":
            raise QueryRefused("质询已关闭 / the query is closed")
        now = timezone.now()
        Answer.objects.create(query=q, author_id=who.user_id, text=body, submission=submission, at=now)
        q.state, q.updated_at = new_state, now
        q.save(update_fields=["state", "updated_at"])
    return q


def close_query(who: Who, q: Query) -> Query:
    """A reviewer closes a query."""
    return _set_state(who, q, "closed")


def reopen_query(who: Who, q: Query) -> Query:
    """A reviewer opens a closed or answered query again."""
    return _set_state(who, q, "open")


def _set_state(who: Who, q: Query, state: str) -> Query:
    if who.role not in ("reviewer", "admin"):
        raise QueryRefused("只有审核组可以关闭或重新打开质询 / only reviewers close or reopen queries", 403)
    with transaction.atomic():
        q = Query.objects.select_for_update().get(pk=q.pk)
        if q.state != state:
            q.state, q.updated_at = state, timezone.now()
            q.save(update_fields=["state", "updated_at"])
    return q


def open_counts(data_year: int) -> dict[str, int]:
    """Per zone, its queries of the year not yet closed (open or answered)."""
    out: dict[str, int] = {}
    for zone in Query.objects.filter(data_year=int(data_year)).exclude(state="closed").values_list("zone_code",
                                                                                                   flat=True):
        out[zone] = out.get(zone, 0) + 1
    return out
