"""Request guards that must run before Django reads a body."""

from __future__ import annotations

from django.conf import settings as dj
from django.http import HttpResponse, JsonResponse

#: room for the multipart envelope and the form's other fields beside the file itself
ENVELOPE_BYTES = 256 * 1024


def upload_limit() -> int:
    """The largest request body accepted: ``max_file_mb`` plus the envelope."""
    return dj.ETDZ.max_file_bytes + ENVELOPE_BYTES


def too_large(request, size: int | None = None):
    """The 413 answer, JSON for the API, a line of text for a browser."""
    mb = dj.ETDZ.max_file_bytes / (1024 * 1024)
    text = (f"文件超过 {mb:g} MB 的上限，未读取 / the upload is over the {mb:g} MB limit (max_file_mb) and was "
            f"not read; keep only the template's columns and your zone's rows")
    if request.path.startswith("/api/"):
        return JsonResponse({"error": "too_large", "message": text, "max_bytes": dj.ETDZ.max_file_bytes}, status=413)
    return HttpResponse(text, status=413, content_type="text/plain; charset=utf-8")


class BoundedUploads:
    """413 for a request whose declared body is over :func:`upload_limit`, before anything of it is read. A body
    of unknown length is bounded by the views (the file's size against ``max_file_mb``) and by waitress's
    ``max_request_body_size``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > upload_limit():
            return too_large(request, length)
        return self.get_response(request)
