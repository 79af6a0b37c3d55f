"""The JSON API under ``/api/v1`` (docs/contract/06-portal.md §6.5), for scripts: ``Authorization: Bearer <token>``.

No token, a wrong one or one of a locked account: 401. What the caller may not see: 404. Sessions are not
accepted here (a browser's cookie never authorises an API call), so the API needs no CSRF token.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import wraps

from django.conf import settings as dj
from django.http import Http404, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from portal import audit, queries, submitting
from portal.access import Who, client_address, visible
from portal.accounts import user_for_token
from portal.middleware import too_large
from portal.models import Submission


def _error(status: int, error: str, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": error, "message": message, **extra}, status=status,
                        json_dumps_params={"ensure_ascii": False})


def _json(data, status: int = 200) -> JsonResponse:
    return JsonResponse(data, status=status, safe=False, json_dumps_params={"ensure_ascii": False})


def api(*methods: str):
    """An API view: bearer-token authentication (401), the methods allowed (405), 404 for ``Http404``."""

    def wrap(view):
        @csrf_exempt
        @require_http_methods(list(methods))
        @wraps(view)
        def inner(request, *args, **kwargs):
            header = request.META.get("HTTP_AUTHORIZATION", "")
            scheme, _, token = header.partition(" ")
            user = user_for_token(token.strip()) if scheme.lower() == "bearer" else None
            who = Who.of(user)
            if who is None:
                resp = _error(401, "unauthorized", "需要有效的 API 令牌 / a valid API token is required "
                                                   "(Authorization: Bearer <token>; `etdz accounts token USERNAME`)")
                resp["WWW-Authenticate"] = 'Bearer realm="etdz"'
                return resp
            try:
                return view(request, who, *args, **kwargs)
            except Http404:
                return _error(404, "not_found", "not found")
            except (queries.QueryRefused, submitting.Refused) as exc:
                return _error(getattr(exc, "status", 409), "refused", str(exc))
        return inner
    return wrap


def _body(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError):
        raise queries.QueryRefused("请求体不是有效的 JSON / the body is not valid JSON", 400) from None
    if not isinstance(data, dict):
        raise queries.QueryRefused("请求体应为 JSON 对象 / the body must be a JSON object", 400)
    return data


def _year_param(request) -> int | None:
    text = request.GET.get("data_year") or request.POST.get("data_year") or ""
    if not text.strip():
        return None
    try:
        return int(text)
    except ValueError:
        raise queries.QueryRefused(f"data_year {text!r} 不是年份 / is not a year", 400) from None


def _zone_only(who: Who) -> None:
    if who.role != "zone":
        raise queries.QueryRefused("只有园区账户可以检查和报送文件 / only zone accounts check and submit files", 403)


def _upload(request):
    """The uploaded ``file`` (bytes, name), or an error answer."""
    f = request.FILES.get("file")
    if f is None:
        return None, _error(400, "no_file", "请以 multipart 字段 file 上传文件 / send the file as the multipart field "
                                            "`file`")
    if f.size > dj.ETDZ.max_file_bytes:
        return None, too_large(request, f.size)
    return (f.read(), f.name), None


@api("GET")
def me(request, who: Who):
    return _json({"username": who.username, "role": who.role, "zone_code": who.zone_code or None,
                  "province": who.province or None})


@api("POST")
def validate(request, who: Who):
    _zone_only(who)
    upload, err = _upload(request)
    if err:
        return err
    checked = submitting.check_upload(who, upload[0], upload[1], data_year=_year_param(request))
    audit.record_for(who, request, "check", sha256=checked.result.sha256, file_name=checked.name,
                     errors=sum(i["severity"] == "error" for i in checked.issues))
    res = checked.result
    return _json({"ok": checked.ok, "data_year": res.data_year, "zone_code": res.zone_code, "sha256": res.sha256,
                  "issues": checked.issues, "to_explain": submitting.to_explain(checked.issues)})


@api("GET", "POST")
def submissions(request, who: Who):
    if request.method == "GET":
        year = _year_param(request)
        qs = Submission.objects.select_related("submitted_by").order_by("submitted_at", "id")
        if year is not None:
            qs = qs.filter(data_year=year)
        zones = who.zones()
        if zones is not None:
            qs = qs.filter(zone_code__in=sorted(zones))
        logs: dict[int, object] = {}
        out = []
        for sub in qs:
            if sub.data_year not in logs:
                logs[sub.data_year] = submitting.pipeline_log(sub.data_year)
            out.append(submitting.submission_dict(sub, logs[sub.data_year]))
        return _json(out)
    _zone_only(who)
    upload, err = _upload(request)
    if err:
        return err
    try:
        explanations = json.loads(request.POST.get("explanations") or "{}")
    except ValueError:
        return _error(400, "bad_explanations", "explanations 应为 JSON 对象 / `explanations` must be a JSON object, "
                                               "key \"<check>:<row>\", value the sentence")
    if not isinstance(explanations, dict):
        return _error(400, "bad_explanations", "explanations must be a JSON object")
    checked = submitting.check_upload(who, upload[0], upload[1], data_year=_year_param(request))
    outcome = submitting.submit(who, checked, explanations, client_address(request))
    sha = checked.result.sha256
    if outcome.status in (200, 201):
        sub = outcome.submission
        audit.record_for(who, request, "submit", sha256=sha, data_year=sub.data_year, zone_code=sub.zone_code,
                         state=sub.state, late=sub.late, again=outcome.status == 200)
        body = submitting.submission_dict(sub, submitting.pipeline_log(sub.data_year), with_issues=True)
        return _json(body, status=outcome.status)
    audit.record_for(who, request, "submit_refused", sha256=sha, status=outcome.status, missing=outcome.missing)
    return _json({"error": "refused", "message": outcome.message, "issues": outcome.issues,
                  "to_explain": outcome.missing}, status=outcome.status)


def _visible_submission(who: Who, sha256: str) -> Submission:
    sub = Submission.objects.select_related("submitted_by").filter(sha256=sha256).first()
    if sub is None:
        raise Http404("not found")
    visible(who, sub.zone_code)
    return sub


@api("GET")
def submission(request, who: Who, sha256: str):
    sub = _visible_submission(who, sha256)
    return _json(submitting.submission_dict(sub, submitting.pipeline_log(sub.data_year), with_issues=True))


def _province_of(who: Who, sub: Submission) -> None:
    if who.role != "province":
        raise queries.QueryRefused("只有该园区所在省份的商务主管部门可以审核 / only the zone's province approves or "
                                   "returns", 403)


@api("POST")
def approve(request, who: Who, sha256: str):
    sub = _visible_submission(who, sha256)
    _province_of(who, sub)
    sub = submitting.approve(who, sub)
    audit.record_for(who, request, "approve", sha256=sha256, zone_code=sub.zone_code, data_year=sub.data_year)
    return _json(submitting.submission_dict(sub, submitting.pipeline_log(sub.data_year)))


@api("POST")
def return_(request, who: Who, sha256: str):
    sub = _visible_submission(who, sha256)
    _province_of(who, sub)
    reason = _body(request).get("reason", "")
    sub = submitting.return_(who, sub, reason)
    audit.record_for(who, request, "return", sha256=sha256, zone_code=sub.zone_code, data_year=sub.data_year,
                     reason=sub.return_reason)
    return _json(submitting.submission_dict(sub, submitting.pipeline_log(sub.data_year)))


@api("GET", "POST")
def queries_(request, who: Who):
    if request.method == "GET":
        return _json([queries.query_dict(q) for q in queries.visible_queries(who, _year_param(request))])
    body = _body(request)
    try:
        year = int(body.get("data_year"))
    except (TypeError, ValueError):
        raise queries.QueryRefused("data_year 应为年份 / data_year must be a year", 400) from None
    q = queries.open_query(who, year, str(body.get("zone_code") or ""), str(body.get("measure_code") or ""),
                           body.get("question"))
    audit.record_for(who, request, "query", query=q.id, zone_code=q.zone_code, data_year=q.data_year,
                     measure_code=q.measure_code)
    return _json(queries.query_dict(q), status=201)


@api("POST")
def answer(request, who: Who, query_id: int):
    q = queries.get_visible(who, query_id)
    body = _body(request)
    attached = None
    if body.get("submission"):  # a corrected file, submitted first (POST /api/v1/submissions)
        attached = _visible_submission(who, str(body["submission"]))
        if attached.zone_code != q.zone_code:
            raise Http404("not found")
    q = queries.answer_query(who, q, body.get("text", ""), attached)
    audit.record_for(who, request, "answer", sha256=attached.sha256 if attached else "", query=q.id, state=q.state)
    return _json(queries.query_dict(q))


@api("POST")
def close(request, who: Who, query_id: int):
    q = queries.close_query(who, queries.get_visible(who, query_id))
    audit.record_for(who, request, "close", query=q.id)
    return _json(queries.query_dict(q))


@api("POST")
def reopen(request, who: Who, query_id: int):
    q = queries.reopen_query(who, queries.get_visible(who, query_id))
    audit.record_for(who, request, "reopen", query=q.id)
    return _json(queries.query_dict(q))


@api("GET")
def audit_log(request, who: Who):
    if who.role != "admin":
        raise Http404("not found")
    since = request.GET.get("since")
    at = None
    if since:
        try:
            at = dt.datetime.fromisoformat(since.replace("Z", "+00:00").replace(" ", "+"))
        except ValueError:
            return _error(400, "bad_since", f"since={since!r} 不是 ISO 时间 / is not an ISO date-time")
        if at.tzinfo is None:
            at = at.replace(tzinfo=dt.UTC)
    return _json(audit.entries_since(at))
