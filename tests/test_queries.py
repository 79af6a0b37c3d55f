"""etdz/queries.py: counting a year's review queries, "final" and the publish refusal (06-portal.md §6.3)."""

from __future__ import annotations

import pytest

from etdz.queries import (
    NO_PORTAL,
    QueryStatus,
    is_final,
    publish_refusal,
    query_status,
    results_label,
    results_status_of,
)


def q(state: str, n: int = 1, year: int = 2023) -> dict:
    """A query dict as portal.queries.year_queries gives it."""
    return {"id": n, "data_year": year, "zone_code": "Z001", "measure_code": "gdp", "question": "?",
            "state": state, "opened_by": "rev", "opened_at": "2024-04-01T00:00:00+00:00",
            "updated_at": "2024-04-01T00:00:00+00:00", "answers": []}


def test_counts_by_state():
    s = query_status([q("open", 1), q("answered", 2), q("answered", 3), q("closed", 4)])
    assert (s.open, s.answered, s.closed, s.unresolved, s.total, s.known) == (1, 2, 1, 3, 4, True)


def test_no_portal_database_means_no_queries_and_nothing_changes():
    s = query_status(None)
    assert s is NO_PORTAL and not s.known and s.unresolved == 0
    assert is_final("final", None) and results_label("final", s) == "final"
    assert not is_final("provisional", None)
    assert publish_refusal(2023, s) is None


def test_final_only_when_results_are_final_and_no_query_is_open_or_answered():
    assert is_final("final", [])
    assert is_final("final", [q("closed"), q("closed", 2)])
    assert not is_final("final", [q("closed"), q("open", 2)])
    assert not is_final("final", [q("answered")])  # answered but not closed: still under review
    assert not is_final("provisional", [q("closed")])


def test_the_label_names_why_results_are_not_final():
    assert results_label("final", QueryStatus()) == "final"
    assert results_label("final", QueryStatus(answered=1)) == "under_review"
    assert results_label("final", QueryStatus(open=2)) == "under_review"
    assert results_label("provisional", QueryStatus(open=2)) == "provisional"
    assert results_label("provisional", QueryStatus()) == "provisional"


def test_a_query_reopened_counts_as_open_again():
    # open -> answered -> back to open: the list holds its current state
    assert query_status([q("open")]).open == 1


def test_an_unknown_state_is_an_error_naming_the_query():
    with pytest.raises(ValueError, match=r"review query 7 .*zone Z001.*'pending'"):
        query_status([q("closed", 1), q("pending", 7)])


def test_publishing_is_refused_while_a_query_is_open_naming_the_count_and_how_to_close_them():
    msg = publish_refusal(2023, query_status([q("open", 1), q("open", 2), q("answered", 3)]))
    assert msg is not None
    assert "data year 2023 cannot be published: 2 review queries are still open" in msg
    assert "/close" in msg and "/answers" in msg and "data_year=2023" in msg
    assert "1 review query is still open" in publish_refusal(2023, QueryStatus(open=1))


def test_answered_or_closed_queries_do_not_block_publishing():
    assert publish_refusal(2023, query_status([q("answered"), q("closed", 2)])) is None


def test_describe_gives_the_counts():
    assert "未结质询 1 个" in QueryStatus(open=1, answered=2).describe()
    assert "1 open, 2 answered awaiting closure, 0 closed" in QueryStatus(open=1, answered=2).describe()
    assert "no portal database" in NO_PORTAL.describe()


def test_results_status_of_rankings():
    assert results_status_of(["final", "final"]) == "final"
    assert results_status_of(["provisional"]) == "provisional"
    assert results_status_of([]) == "final"


# ----------------------------------------------------------------------------- in the reports


@pytest.fixture(scope="module")
def final_year():
    """A synthetic year where every due zone has an accepted file: results_status final."""
    from tests.reports.reports_synth import make_year

    return make_year(no_submission=())


@pytest.fixture(scope="module")
def small_year():
    """The same with a due zone without a valid file: results_status provisional."""
    from tests.reports.reports_synth import make_year

    return make_year()


def _pages(year, queries):
    import dataclasses

    from etdz.reports import cards, national
    from etdz.reports.inputs import prepare
    from tests.reports.reports_synth import parse_html

    view = prepare(dataclasses.replace(year.inputs(), queries=queries))
    page = parse_html(national.render(view, "2026-01-01 00:00 UTC"))
    code, html = next(iter(cards.render_cards(view, "2026-01-01 00:00 UTC")))
    return page, parse_html(html)


def test_reports_call_results_final_only_when_every_query_is_closed(final_year):
    for page in _pages(final_year, [q("closed", 1), q("closed", 2)]):
        assert page.ids["results-label"] == "正式 final"
        assert "open queries 0" in page.ids["review-queries"] and "awaiting closure 0" in page.ids["review-queries"]


def test_reports_say_under_review_with_the_counts_while_a_query_is_open_or_answered(final_year):
    national_page, card = _pages(final_year, [q("open", 1), q("answered", 2), q("answered", 3), q("closed", 4)])
    for page in (national_page, card):
        assert page.ids["results-label"] == "复核中 under review"
        assert "未结质询 open queries 1" in page.ids["review-queries"]
        assert "awaiting closure 2" in page.ids["review-queries"]
    national_page, _ = _pages(final_year, [q("answered", 2)])
    assert national_page.ids["results-label"] == "复核中 under review"


def test_reports_without_a_portal_database_are_unchanged(final_year, small_year):
    national_page, card = _pages(final_year, None)
    assert national_page.ids["results-label"] == "正式 final" and card.ids["results-label"] == "正式 final"
    assert "review-queries" not in national_page.ids and "review-queries" not in card.ids
    provisional_page, _ = _pages(small_year, None)  # a due zone without a valid file
    assert provisional_page.ids["results-label"] == "暂定 provisional"


def test_provisional_results_stay_provisional_whatever_the_queries(small_year):
    page, _ = _pages(small_year, [q("closed")])
    assert page.ids["results-label"] == "暂定 provisional"


# ----------------------------------------------------------------------------- publishing


def test_publish_year_refuses_while_a_query_is_open_and_writes_nothing(tmp_path):
    from etdz.catalogue import catalogue_for_year, load_catalogues
    from etdz.errors import EXIT_REFUSED, EtdzError
    from etdz.publish import history, publish_year
    from etdz.registry import SHIPPED_REGISTRY
    from etdz.storage import Warehouse

    store = Warehouse(str(tmp_path / "warehouse"))
    cat = catalogue_for_year(load_catalogues(), 2023)
    with pytest.raises(EtdzError, match="2 review queries are still open") as exc:
        publish_year(store, tmp_path / "reports", 2023, cat, str(SHIPPED_REGISTRY),
                     queries=[q("open", 1), q("open", 2), q("closed", 3)])
    assert exc.value.exit_code == EXIT_REFUSED
    assert history(store, 2023) == [] and not (tmp_path / "warehouse" / "_published").exists()
    # answered or closed queries do not stop it: it goes on to the datasets (none in this warehouse: it fails there)
    with pytest.raises(Exception) as other:
        publish_year(store, tmp_path / "reports", 2023, cat, str(SHIPPED_REGISTRY), queries=[q("answered")])
    assert "review quer" not in str(other.value)


def test_the_workbook_says_final_only_when_every_query_is_closed(final_year, tmp_path):
    import dataclasses

    from openpyxl import load_workbook

    from etdz.reports import write_year_reports

    def results_cell(queries) -> str:
        out = write_year_reports(dataclasses.replace(final_year.inputs(), queries=queries), tmp_path / "r",
                                 generated="2026-01-01 00:00 UTC", card_workers=1)
        about = load_workbook(out.workbook, read_only=True)["说明 About"]
        return next(r[1] for r in about.iter_rows(values_only=True) if r[0] == "结果状态 Results")

    assert results_cell(None) == "正式 final"
    assert results_cell([q("closed")]).startswith("正式 final — 未结质询 0 个")
    under_review = results_cell([q("open"), q("answered", 2)])
    assert under_review.startswith("复核中 under review — 未结质询 1 个 · 已答复待关闭 1 个")
