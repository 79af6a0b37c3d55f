"""The portal's URLs: the pages and the JSON API of docs/contract/06-portal.md §6.5."""

from django.urls import path, re_path

from portal import api, views

SHA = r"(?P<sha256>[0-9a-f]{64})"

urlpatterns = [
    path("", views.home),
    path("login", views.login_view),
    path("logout", views.logout_view),
    path("zone", views.zone_home),
    path("zone/template/<int:data_year>.<str:fmt>", views.template_download),
    path("province", views.province_list),
    path("review", views.review),
    path("queries/<int:query_id>", views.query_page),
    path("api/v1/me", api.me),
    path("api/v1/validate", api.validate),
    path("api/v1/submissions", api.submissions),
    re_path(rf"^api/v1/submissions/{SHA}$", api.submission),
    re_path(rf"^api/v1/submissions/{SHA}/approve$", api.approve),
    re_path(rf"^api/v1/submissions/{SHA}/return$", api.return_),
    path("api/v1/queries", api.queries_),
    path("api/v1/queries/<int:query_id>/answers", api.answer),
    path("api/v1/queries/<int:query_id>/close", api.close),
    path("api/v1/queries/<int:query_id>/reopen", api.reopen),
    path("api/v1/audit", api.audit_log),
]

handler404 = "portal.views.not_found"
