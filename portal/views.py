"""The HTML pages (docs/contract/06-portal.md §6.5), Chinese first with English beside it: sign-in, the zone's
home, the province's review list, the reviewer's completeness and timeliness view, a query's page.

Every form carries Django's CSRF token (a POST without it answers 403); what an account may not see answers 404.
"""

from __future__ import annotations

import time

from django.conf import settings as dj
from django.contrib.auth import authenticate, login, logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import AuthenticationForm
from django.http import Http404, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from etdz.catalogue import MethodologyError, load_catalogues
from etdz.locations import local_path
from etdz.template import template_stem
from portal import audit, completeness, queries, submitting
from portal.access import Who, client_address, registry, visible, zone_row
from portal.middleware import too_large
from portal.models import Submission
from portal.results import year_results


def csrf_failure(request, reason: str = ""):
    """403 for a form without a valid CSRF token (Django's check; this only words the page)."""
    return render(request, "portal/error.html", {"status": 403, "title": "请求被拒绝 / Forbidden",
                                                  "message": "表单已过期或缺少安全令牌，请返回并刷新页面后重试 / the "
                                                             "form's CSRF token is missing or invalid: reload the "
                                                             "page"},
                  status=403)


def _who(request) -> Who:
    who = Who.of(request.user)
    if who is None:
        raise Http404("not found")
    return who


# ------------------------------------------------------------------------------------------------ sign-in


@require_http_methods(["GET", "POST"])
def login_view(request):
    """``/login``: fields ``username`` and ``password``; 5 failures lock the account (429) for the period."""
    if request.method == "GET":
        return render(request, "portal/login.html", {"form": AuthenticationForm(request)})
    username = str(request.POST.get("username", "")).strip()[:150]
    password = str(request.POST.get("password", ""))
    address = client_address(request)
    until = audit.locked_until(username) if username else None
    if until is not None:
        audit.record("login_locked", username=username, address=address)
        return _locked(request, until)
    user = authenticate(request, username=username, password=password) if username and password else None
    who = Who.of(user)
    if who is None:
        delay = audit.failure_delay(address)
        audit.record("login_failed", username=username, address=address)
        if delay:
            time.sleep(delay)  # repeated failures from one address are slowed (§6.4)
        until = audit.locked_until(username) if username else None
        if until is not None:
            return _locked(request, until)
        form = AuthenticationForm(request, data={"username": username})
        return render(request, "portal/login.html", {"form": form, "failed": True}, status=401)
    login(request, user)
    audit.record("login", username=who.username, role=who.role, address=address)
    return HttpResponseRedirect("/")


def _locked(request, until):
    minutes = max(1, round((until - timezone.now()).total_seconds() / 60))
    resp = render(request, "portal/error.html", {
        "status": 429, "title": "账户已暂时锁定 / Account locked",
        "message": f"连续多次登录失败，账户已锁定，约 {minutes} 分钟后自动解锁 / too many failed sign-ins: the account "
                   f"is locked for about {minutes} minute(s)"}, status=429)
    resp["Retry-After"] = str(max(1, int((until - timezone.now()).total_seconds())))
    return resp


@require_POST
def logout_view(request):
    who = Who.of(request.user)
    if who is not None:
        audit.record_for(who, request, "logout")
    logout(request)
    return HttpResponseRedirect("/login")


@login_required
def home(request):
    """Each role's page."""
    who = _who(request)
    return HttpResponseRedirect({"zone": "/zone", "province": "/province"}.get(who.role, "/review"))


# ------------------------------------------------------------------------------------------------ the zone


def _zone_context(who: Who, year: int) -> dict:
    return {"who": who, "zone": zone_row(who.zone_code) or {}, "year": year, "deadline": submitting.deadline_of(year),
            "past_deadline": submitting.today_local() > submitting.deadline_of(year),
            "published": submitting.published(year), "history": zone_history(who.zone_code),
            "queries": list(queries.visible_queries(who)), "result_notice": _result_notice(who, year),
            "status_zh": STATUS_ZH, "results": year_results(year)}


def zone_history(zone_code: str) -> list[dict]:
    """Every file of the zone, newest first: its portal submissions with their status, and the files the
    pipeline's ``submission_log`` lists that reached the inbox another way — with the rejection notice of a
    rejected one."""
    from etdz.storage import Warehouse

    store = Warehouse(dj.ETDZ.warehouse)
    logs = {y: submitting.pipeline_log(y) for y in store.years("submission_log")}
    out, mine = [], set()
    for sub in Submission.objects.filter(zone_code=zone_code).select_related("submitted_by"):
        log = logs.get(sub.data_year)
        status, late = submitting.status_of(sub, log)
        mine.add(sub.sha256)
        out.append({"year": sub.data_year, "at": sub.submitted_at, "name": sub.original_name,
                    "stored": sub.stored_name, "sha256": sub.sha256, "status": status, "late": late,
                    "by": sub.submitted_by.username, "approved": sub.approved_at is not None,
                    "return_reason": sub.return_reason,
                    "notice": _rejection_notice(zone_code, sub.data_year, sub.sha256) if status == "rejected" else ""})
    for y, log in logs.items():
        if log is None or not len(log):
            continue
        for row in log.loc[log["zone_code"] == zone_code].itertuples(index=False):
            if row.sha256 in mine:
                continue
            status = str(row.status)
            out.append({"year": y, "at": row.received_at.to_pydatetime(), "name": row.file_name, "stored": "",
                        "sha256": row.sha256, "status": status, "late": bool(row.late), "by": "",
                        "approved": False, "return_reason": "",
                        "notice": _rejection_notice(zone_code, y, row.sha256) if status == "rejected" else ""})
    out.sort(key=lambda h: h["at"], reverse=True)
    return out


REGION_ZH = {"east": "东部 ", "central": "中部 ", "west": "西部 "}
STATUS_ZH = {"submitted": "已报送 submitted", "awaiting_approval": "待省级审核 awaiting approval",
             "returned": "已退回 returned", "accepted": "已接收 accepted", "rejected": "未通过 rejected",
             "superseded": "已被取代 superseded"}


def _rejection_notice(zone_code: str, data_year: int, sha256: str) -> str:
    """The pipeline's rejection notice of a rejected file (``<reports>/<Y>/rejections/<zone>_<sha12>.txt``)."""
    from etdz.validation_page import notice_name

    reports = local_path(dj.ETDZ.reports)
    if reports is None:  # reports on an object store: the notice is not read from here
        return ""
    path = reports / str(data_year) / "rejections" / notice_name(zone_code, sha256, registry())
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def _result_notice(who: Who, year: int) -> dict | None:
    """Once the year is published: where the zone's result card is."""
    for y in (year, year - 1):
        if submitting.published(y):
            return {"year": y, "url": f"{dj.ETDZ.report_links_url}/{y}/zones/{who.zone_code}.html"}
    return None


@login_required
@require_http_methods(["GET", "POST"])
def zone_home(request):
    """The zone's home: the open year and its deadline, the template, the upload (check or submit) with every
    problem in place, the submission history with status, the queries, the notices."""
    who = _who(request)
    if who.role != "zone":
        raise Http404("not found")
    year = submitting.open_year()
    ctx = _zone_context(who, year)
    if request.method == "GET":
        return render(request, "portal/zone.html", ctx)
    f = request.FILES.get("file")
    if f is None:
        ctx["upload_error"] = "请选择要上传的文件 / choose a file to upload"
        return render(request, "portal/zone.html", ctx, status=400)
    if f.size > dj.ETDZ.max_file_bytes:
        return too_large(request, f.size)
    checked = submitting.check_upload(who, f.read(), f.name)
    ctx.update({"checked": checked, "issues": checked.issues, "to_explain": submitting.to_explain(checked.issues)})
    sha = checked.result.sha256
    if request.POST.get("action") != "submit":
        audit.record_for(who, request, "check", sha256=sha, file_name=checked.name,
                         errors=sum(i["severity"] == "error" for i in checked.issues))
        return render(request, "portal/zone.html", ctx)
    explanations = {k.removeprefix("explain:"): v for k, v in request.POST.items() if k.startswith("explain:")}
    outcome = submitting.submit(who, checked, explanations, client_address(request))
    ctx["outcome"] = outcome
    ctx["explanations"] = explanations
    if outcome.status in (200, 201):
        sub = outcome.submission
        audit.record_for(who, request, "submit", sha256=sha, data_year=sub.data_year, zone_code=sub.zone_code,
                         state=sub.state, late=sub.late, again=outcome.status == 200)
        ctx.update(_zone_context(who, year))
        ctx["submitted"] = sub
        return render(request, "portal/zone.html", ctx, status=outcome.status)
    audit.record_for(who, request, "submit_refused", sha256=sha, status=outcome.status, missing=outcome.missing)
    return render(request, "portal/zone.html", ctx, status=outcome.status)


@login_required
def template_download(request, data_year: int, fmt: str):
    """The zone's submission template for a year, prefilled with its code (``etdz template`` — the same writer)."""
    import tempfile

    from etdz.template import write_template

    who = _who(request)
    if who.role != "zone":
        raise Http404("not found")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_template(tmp, data_year, load_catalogues(dj.ETDZ.methodology), zone=who.zone_code,
                                   registry=registry())
            path = next(p for p in paths if p.suffix == f".{fmt}")
            data = path.read_bytes()
    except (MethodologyError, ValueError):
        raise Http404("no template for that year") from None
    audit.record_for(who, request, "template", data_year=data_year, format=fmt)
    ctype = "text/csv; charset=utf-8" if fmt == "csv" else \
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    resp = HttpResponse(data, content_type=ctype)
    resp["Content-Disposition"] = f'attachment; filename="{template_stem(data_year, who.zone_code)}.{fmt}"'
    return resp


# ------------------------------------------------------------------------------------------------ the province


def _year_arg(request) -> int:
    try:
        return int(request.GET.get("data_year") or request.POST.get("data_year") or submitting.open_year())
    except ValueError:
        return submitting.open_year()


@login_required
@require_http_methods(["GET", "POST"])
def province_list(request):
    """The province's review list: its zones' submissions of a year, approve (审核通过) or return with a reason."""
    who = _who(request)
    if who.role != "province":
        raise Http404("not found")
    year = _year_arg(request)
    message, status = "", 200
    if request.method == "POST":
        sub = Submission.objects.filter(sha256=str(request.POST.get("sha256", ""))).first()
        if sub is None:
            raise Http404("not found")
        visible(who, sub.zone_code)
        try:
            if request.POST.get("action") == "approve":
                sub = submitting.approve(who, sub)
                audit.record_for(who, request, "approve", sha256=sub.sha256, zone_code=sub.zone_code,
                                 data_year=sub.data_year)
                message = f"已审核通过 {sub.zone_code} / approved"
            else:
                sub = submitting.return_(who, sub, request.POST.get("reason", ""))
                audit.record_for(who, request, "return", sha256=sub.sha256, zone_code=sub.zone_code,
                                 data_year=sub.data_year, reason=sub.return_reason)
                message = f"已退回 {sub.zone_code} / returned"
        except submitting.Refused as exc:
            message, status = str(exc), exc.status
        year = sub.data_year
    zones = who.zones() or set()
    reg = registry()
    names = dict(zip(reg["zone_code"], reg["name_zh"]))
    log = submitting.pipeline_log(year)
    rows = []
    for sub in Submission.objects.filter(data_year=year, zone_code__in=sorted(zones)).select_related("submitted_by") \
            .order_by("zone_code", "-submitted_at"):
        st, late = submitting.status_of(sub, log)
        rows.append({"sub": sub, "name": names.get(sub.zone_code, ""), "status": st, "late": late,
                     "warnings": [i for i in sub.issues if i.get("severity") == "warning"]})
    open_q = queries.open_counts(year)
    results_url = f"{dj.ETDZ.report_links_url}/{year}/national_report.html" if submitting.published(year) else ""
    return render(request, "portal/province.html", {
        "who": who, "year": year, "rows": rows, "message": message, "status_zh": STATUS_ZH,
        "results_url": results_url, "results": year_results(year),
        "queries": list(queries.visible_queries(who, year)),
        "approval_required": dj.ETDZ.approval_required,
        "zones": sorted(({"code": z, "name": names.get(z, ""), "open": open_q.get(z, 0)} for z in zones),
                        key=lambda r: r["code"])}, status=status)


# ------------------------------------------------------------------------------------------------ the reviewer


@login_required
@require_http_methods(["GET", "POST"])
def review(request):
    """The reviewer's completeness and timeliness view (due / submitted / approved / accepted / late per province and
    region), the open queries per zone, and opening a query."""
    who = _who(request)
    if not who.sees_everything:
        raise Http404("not found")
    year = _year_arg(request)
    message, status = "", 200
    if request.method == "POST":
        try:
            q = queries.open_query(who, year, str(request.POST.get("zone_code", "")).strip(),
                                   str(request.POST.get("measure_code", "")).strip(), request.POST.get("question"))
            audit.record_for(who, request, "query", query=q.id, zone_code=q.zone_code, data_year=q.data_year,
                             measure_code=q.measure_code)
            message = f"已发起质询 #{q.id} / query opened"
        except queries.QueryRefused as exc:
            message, status = str(exc), exc.status
    table = completeness.table(year)
    return render(request, "portal/review.html", {
        "who": who, "year": year, "table": table, "message": message, "region_zh": REGION_ZH,
        "results": year_results(year),
        "queries": [q for q in queries.visible_queries(who, year) if q.state != "closed"],
        "open_by_zone": sorted(queries.open_counts(year).items())}, status=status)


# ------------------------------------------------------------------------------------------------ a query


@login_required
@require_http_methods(["GET", "POST"])
def query_page(request, query_id: int):
    """A query with its answers: the zone answers, a reviewer asks again, closes or reopens it."""
    who = _who(request)
    q = queries.get_visible(who, query_id)
    message, status = "", 200
    if request.method == "POST":
        action = request.POST.get("action", "answer")
        try:
            if action == "close":
                q = queries.close_query(who, q)
                audit.record_for(who, request, "close", query=q.id)
            elif action == "reopen":
                q = queries.reopen_query(who, q)
                audit.record_for(who, request, "reopen", query=q.id)
            else:
                attached, refused = _answer_file(request, who, q)
                if refused:
                    raise queries.QueryRefused(refused, 422)
                q = queries.answer_query(who, q, request.POST.get("text", ""), attached)
                audit.record_for(who, request, "answer", sha256=attached.sha256 if attached else "", query=q.id,
                                 state=q.state)
            message = "已保存 / saved"
        except queries.QueryRefused as exc:
            message, status = str(exc), exc.status
        q = queries.get_visible(who, query_id)
    return render(request, "portal/query.html", {"who": who, "q": q, "message": message}, status=status)


def _answer_file(request, who: Who, q) -> tuple[Submission | None, str]:
    """A corrected file sent with an answer: submitted as any submission (§6.2), then attached to the answer.
    Returns (the submission or None, why it was refused or "")."""
    f = request.FILES.get("file")
    if f is None or who.role != "zone":
        return None, ""
    if f.size > dj.ETDZ.max_file_bytes:
        return None, f"文件超过 {dj.ETDZ.max_file_bytes // (1024 * 1024)} MB 的上限 / the file is over the size limit"
    checked = submitting.check_upload(who, f.read(), f.name)
    explanations = {k.removeprefix("explain:"): v for k, v in request.POST.items() if k.startswith("explain:")}
    outcome = submitting.submit(who, checked, explanations, client_address(request))
    if outcome.status not in (200, 201):
        audit.record_for(who, request, "submit_refused", sha256=checked.result.sha256, status=outcome.status,
                         missing=outcome.missing)
        problems = "；".join(i["message"] for i in outcome.issues if i["severity"] == "error" or
                            i.get("key") in outcome.missing)
        return None, f"{outcome.message}：{problems}（请在首页检查并报送更正后的文件 / check and submit it on the " \
                     f"home page）"
    sub = outcome.submission
    audit.record_for(who, request, "submit", sha256=sub.sha256, data_year=sub.data_year, zone_code=sub.zone_code,
                     state=sub.state, late=sub.late, again=outcome.status == 200, query=q.id)
    return sub, ""


def not_found(request, exception=None):
    """404 for pages and the API alike: as if it did not exist."""
    if request.path.startswith("/api/"):
        from django.http import JsonResponse

        return JsonResponse({"error": "not_found", "message": "not found"}, status=404)
    return render(request, "portal/error.html", {"status": 404, "title": "未找到 / Not found",
                                                  "message": "页面不存在 / there is no such page"}, status=404)
