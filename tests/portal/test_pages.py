"""The HTML pages (06 §6.5) through a browser-like client that keeps cookies and sends the forms' CSRF tokens:
sign-in, the zone's home (check with every problem in place, submit with explanations, history, queries), the
province's review list (approve, return), the reviewer's view, a query's page; what a role may not see is 404;
markup in every free-text field is shown as text."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.portal.conftest import good_file, run_ingestion, warned_file


class Browser:
    """A signed-in client that posts forms with the CSRF token of the page it is on."""

    def __init__(self, client):
        self.c = client

    def get(self, path: str, status: int = 200):
        r = self.c.get(path)
        assert r.status_code == status, (path, r.status_code)
        return r.content.decode("utf-8")

    def post(self, path: str, data: dict, status: int | None = None):
        r = self.c.post(path, {**data, "csrfmiddlewaretoken": self.c.cookies["csrftoken"].value})
        if status is not None:
            assert r.status_code == status, (path, r.status_code, r.content[:300])
        return r


@pytest.fixture
def site(portal_env):
    p = portal_env
    for username, role, kw in (("z1", "zone", {"zone": "Z1"}), ("js", "province", {"province": "江苏"}),
                               ("rev", "reviewer", {})):
        p.account(username, role, **kw)
    return {name: Browser(p.browser(name)) for name in ("z1", "js", "rev")}


def test_sign_in_page_has_the_form_and_signs_in(portal_env):
    from django.test import Client

    portal_env.account("z1", "zone", zone="Z1")
    c = Client(enforce_csrf_checks=True)
    page = c.get("/login").content.decode()
    assert 'name="username"' in page and 'name="password"' in page and 'name="csrfmiddlewaretoken"' in page
    assert c.get("/").status_code == 302 and c.get("/").url.startswith("/login")  # the login page for a browser
    r = c.post("/login", {"username": "z1", "password": "nope", "csrfmiddlewaretoken": c.cookies["csrftoken"].value})
    assert r.status_code == 401 and "用户名或密码错误" in r.content.decode()
    assert Browser(portal_env.browser("z1")).c.get("/").url == "/zone"


def test_the_zone_sees_every_problem_in_place(site):
    z1 = site["z1"]
    page = z1.get("/zone")
    assert "2025" in page and "截止日期" in page and "/zone/template/2025.xlsx" in page
    bad = good_file(firms=("3.5", "家"), jobs=("约300", "人"))
    r = z1.post("/zone", {"action": "check", "file": SimpleUploadedFile("错误.csv", bad)}, status=200)
    html = r.content.decode()
    rows = re.findall(r'<tr class="issue error" data-check="([^"]+)" data-row="(\d*)">(.*?)</tr>', html, re.S)
    found = {(check, row) for check, row, _ in rows}
    assert {("row.not_integer", "4"), ("row.invalid_value", "5")} <= found
    cells = dict(((c, r), body) for c, r, body in rows)
    assert "约300" in cells[("row.invalid_value", "5")] and "数值，如" in cells[("row.invalid_value", "5")]
    assert "未报送" in html  # nothing stored
    from portal.models import Submission

    assert Submission.objects.count() == 0


def test_the_zone_explains_and_submits_then_sees_its_history(site, portal_env):
    z1 = site["z1"]
    r = z1.post("/zone", {"action": "submit", "file": SimpleUploadedFile("a.csv", warned_file())}, status=422)
    html = r.content.decode()
    assert 'name="explain:row.soft_range:6"' in html and "explain:row.number_normalised" not in html
    r = z1.post("/zone", {"action": "submit", "file": SimpleUploadedFile("a.csv", warned_file()),
                          "explain:row.soft_range:6": "新设园区，占比确实较高"}, status=201)
    html = r.content.decode()
    assert 'id="outcome"' in html and "已报送" in html
    assert re.search(r'<tr class="submission" data-sha256="[0-9a-f]{64}">.*?已报送 submitted', html, re.S)
    assert len(list(portal_env.inbox.rglob("*.csv"))) == 1
    assert "#1" in z1.get("/zone")  # the explained warning's query, answered


def test_the_history_shows_the_pipelines_status_and_rejection_notices(site, portal_env):
    """A file that reached the inbox another way and was rejected by the run: listed with its notice."""
    site["z1"].post("/zone", {"action": "submit", "file": SimpleUploadedFile("a.csv", good_file())}, status=201)
    folder = portal_env.inbox / "2025"
    (folder / "emailed.csv").write_bytes(good_file(firms=("3.5", "家")))
    run_ingestion(portal_env.settings)
    page = site["z1"].get("/zone")
    rows = re.findall(r'<tr class="submission" data-sha256="[0-9a-f]{64}">(.*?)</tr>', page, re.S)
    assert len(rows) == 2
    rejected = next(r for r in rows if "emailed.csv" in r)
    assert "未通过 rejected" in rejected and "收件箱 inbox" in rejected and "未通过通知" in rejected
    assert "第 4 行" in rejected  # the notice names the row
    assert "已接收 accepted" in next(r for r in rows if "<td>a.csv<br>" in r)


def test_the_template_is_the_zones(site):
    r = site["z1"].c.get("/zone/template/2025.csv")
    assert r.status_code == 200 and r["Content-Disposition"].endswith('etdz_template_2025_Z1.csv"')
    text = r.content.decode("utf-8-sig")
    assert text.splitlines()[1].startswith("Z1,2025,")
    assert site["z1"].c.get("/zone/template/2025.xlsx").content[:2] == b"PK"
    assert site["z1"].c.get("/zone/template/1990.csv").status_code == 404  # no catalogue for that year


def test_the_province_approves_and_returns(approval_env):
    p = approval_env
    p.account("z1", "zone", zone="Z1")
    p.account("js", "province", province="江苏")
    z1, js = Browser(p.browser("z1")), Browser(p.browser("js"))
    z1.post("/zone", {"action": "submit", "file": SimpleUploadedFile("a.csv", good_file())}, status=201)
    z1.post("/zone", {"action": "submit", "file": SimpleUploadedFile("b.csv", good_file(firms=("36", "家")))},
            status=201)
    page = js.get("/province?data_year=2025")
    shas = re.findall(r'<tr class="submission" data-zone="Z1" data-sha256="([0-9a-f]{64})">', page)
    assert len(shas) == 2 and page.count("待省级审核") == 2
    js.post("/province?data_year=2025", {"sha256": shas[0], "action": "approve"}, status=200)
    js.post("/province?data_year=2025", {"sha256": shas[1], "action": "return", "reason": "数据有误"}, status=200)
    assert len(list(p.inbox.rglob("*.csv"))) == 1
    home = z1.get("/zone")
    assert "已退回 returned" in home and "数据有误" in home and "省级已审核" in home


def test_the_reviewer_sees_completeness_and_opens_a_query(site):
    site["z1"].post("/zone", {"action": "submit", "file": SimpleUploadedFile("a.csv", good_file())}, status=201)
    rev = site["rev"]
    page = rev.get("/review?data_year=2025")
    row = re.search(r'<tr data-province="江苏">(.*?)</tr>', page, re.S).group(1)
    assert re.search(r'class="n due">1<.*class="n submitted">1<.*class="n approved">0<', row, re.S)
    r = rev.post("/review?data_year=2025", {"zone_code": "Z1", "measure_code": "output", "question": "请说明产值"},
                 status=200)
    assert "已发起质询" in r.content.decode()
    page = rev.get("/review?data_year=2025")
    assert 'data-zone="Z1">Z1: 1<' in page
    qid = int(re.search(r'href="/queries/(\d+)"', page).group(1))
    site["z1"].post(f"/queries/{qid}", {"action": "answer", "text": "新项目投产"}, status=200)
    assert "answered" in rev.get(f"/queries/{qid}")
    rev.post(f"/queries/{qid}", {"action": "close"}, status=200)
    assert '<strong id="state">closed</strong>' in rev.get(f"/queries/{qid}")


def test_the_zone_answers_a_query_with_a_corrected_file(site, portal_env):
    from portal.models import Query, Submission

    site["rev"].post("/review?data_year=2025", {"zone_code": "Z1", "measure_code": "firms", "question": "企业数？"},
                     status=200)
    qid = Query.objects.get().id
    r = site["z1"].post(f"/queries/{qid}", {"action": "answer", "text": "已更正",
                                            "file": SimpleUploadedFile("fix.csv", good_file(firms=("3.5", "家")))},
                        status=422)  # a corrected file with an error is refused, the query unchanged
    assert "第 4 行" in r.content.decode()  # the error, named by its row
    assert Query.objects.get().state == "open" and Submission.objects.count() == 0
    site["z1"].post(f"/queries/{qid}", {"action": "answer", "text": "已更正",
                                        "file": SimpleUploadedFile("fix.csv", good_file(firms=("40", "家")))},
                    status=200)
    q = Query.objects.get()
    sub = Submission.objects.get()
    assert q.state == "answered" and q.answers.get().submission == sub
    assert [p.name for p in portal_env.inbox.rglob("*.csv")] == [sub.stored_name]
    assert sub.stored_name in site["rev"].get(f"/queries/{qid}")
    assert f"/queries/{qid}" in site["js"].get("/province?data_year=2025")  # the province sees its zones' queries


def test_what_a_role_may_not_see_is_404(site, portal_env):
    portal_env.account("z2", "zone", zone="Z2")
    z2 = Browser(portal_env.browser("z2"))
    site["rev"].post("/review?data_year=2025", {"zone_code": "Z1", "measure_code": "", "question": "?"}, status=200)
    from portal.models import Query

    qid = Query.objects.get().id
    z2.get(f"/queries/{qid}", status=404)
    z2.post(f"/queries/{qid}", {"action": "answer", "text": "冒充"}, status=404)
    assert not Query.objects.get().answers.exists()
    site["z1"].get("/province", status=404)
    site["z1"].get("/review", status=404)
    site["js"].get("/zone", status=404)
    site["js"].get("/review", status=404)
    site["rev"].get("/zone", status=404)


HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)>\u202e"


def test_markup_in_every_free_text_field_is_escaped_on_every_page(approval_env):
    p = approval_env
    p.account("z1", "zone", zone="Z1")
    p.account("js", "province", province="江苏")
    p.account("rev", "reviewer")
    z1, js, rev = (Browser(p.browser(n)) for n in ("z1", "js", "rev"))
    pages = []
    # an explanation and a hostile file name
    r = z1.post("/zone", {"action": "submit", "file": SimpleUploadedFile(HOSTILE + ".csv", warned_file()),
                          "explain:row.soft_range:6": "说明" + HOSTILE}, status=201)
    pages.append(r.content.decode())
    # a return reason
    z1.post("/zone", {"action": "submit", "file": SimpleUploadedFile("b.csv", good_file())}, status=201)
    sha = re.findall(r'data-sha256="([0-9a-f]{64})"', js.get("/province?data_year=2025"))
    from portal.models import Submission

    target = Submission.objects.get(original_name="b.csv").sha256
    assert target in sha
    js.post("/province?data_year=2025", {"sha256": target, "action": "return", "reason": "理由" + HOSTILE}, status=200)
    # a question and an answer
    rev.post("/review?data_year=2025", {"zone_code": "Z1", "measure_code": "output", "question": "问题" + HOSTILE},
             status=200)
    from portal.models import Query

    qid = Query.objects.filter(question__startswith="问题").get().id
    z1.post(f"/queries/{qid}", {"action": "answer", "text": "回答" + HOSTILE}, status=200)
    pages += [z1.get("/zone"), js.get("/province?data_year=2025"), rev.get("/review?data_year=2025"),
              rev.get(f"/queries/{qid}"), z1.get(f"/queries/{qid}")]
    explained = Query.objects.exclude(pk=qid).get().id
    pages.append(rev.get(f"/queries/{explained}"))
    for page in pages:
        assert "<script>alert" not in page and "<img src=x" not in page and "\u202e" not in page
    everything = "".join(pages)
    for text in ("说明", "理由", "问题", "回答"):
        assert f"{text}&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in everything, text


def test_a_demo_deployment_says_so_on_every_page(portal_env):
    import dataclasses

    from django.test import Client, override_settings

    from etdz.reports.fictitious import BANNER_ZH

    assert BANNER_ZH not in Client().get("/login").content.decode()
    with override_settings(ETDZ=dataclasses.replace(portal_env.settings, demo=True)):
        assert BANNER_ZH in Client().get("/login").content.decode()


def test_the_pages_call_a_year_final_only_without_open_queries(site, portal_env):
    """06 §6.3: "final" in the zone's, the province's and the reviewer's pages only when no query is open or
    answered-but-not-closed (the hook portal/results.py), with the count."""
    from tests.portal.test_results_hook import write_rankings

    write_rankings(portal_env.settings, 2025, "final")
    pages = {"z1": "/zone", "js": "/province?data_year=2025", "rev": "/review?data_year=2025"}
    with override_open_year(2025):
        for who, path in pages.items():
            assert "正式 final" in site[who].get(path), who
        site["rev"].post("/review?data_year=2025", {"zone_code": "Z1", "measure_code": "", "question": "?"},
                         status=200)
        for who, path in pages.items():
            page = site[who].get(path)
            assert "正式 final" not in page and 'id="results-open">1<' in page, who


def override_open_year(year: int):
    """The zone's home shows the open year's status: pin the open year for the test."""
    from unittest import mock

    from portal import submitting

    return mock.patch.object(submitting, "open_year", lambda now=None: year)
