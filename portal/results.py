"""What the portal's pages say of a year's results (docs/contract/06-portal.md §6.3): **final (正式)** only when
``rankings.results_status`` is final and no query of the year is open or answered-but-not-closed, else **under review
(复核中)** or **provisional (暂定)**, with the counts — the one rule of :mod:`etdz.queries`, as the reports and the
Dagster UI apply it.

A hook for the pages (kept apart from the views): ``year_results(Y)`` for a view's context, rendered by
``portal/_results.html`` (``{% include "portal/_results.html" %}`` with ``results`` in the context).
"""

from __future__ import annotations

from django.conf import settings as dj

from etdz.queries import LABELS, query_status, results_label, results_status_of
from etdz.storage import Warehouse


def year_results(data_year: int) -> dict:
    """``{data_year, ran, label, zh, en, open, answered, closed}``; ``ran`` False (no label) before the year has run."""
    from portal.queries import year_queries

    status = query_status(year_queries(int(data_year)))
    out = {"data_year": int(data_year), "ran": False, "label": None, "zh": "", "en": "", "open": status.open,
           "answered": status.answered, "closed": status.closed}
    rankings = Warehouse(dj.ETDZ.warehouse).read("rankings", int(data_year))
    if rankings is None:
        return out
    label = results_label(results_status_of(rankings.column("results_status").to_pylist()), status)
    zh, en = LABELS[label]
    return {**out, "ran": True, "label": label, "zh": zh, "en": en}
