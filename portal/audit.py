"""The append-only audit log (§6.4) and what is derived from it: the lockout after failed logins and the slowing
of failures per address.

Every action is one :class:`portal.models.AuditEntry`: who (username and role), what (the action and its
detail), when, from where, the file's SHA-256. The lockout is read from the same entries, so every process of the
portal agrees on it: an account is locked when :data:`MAX_FAILURES` failed logins, since its last successful login
or unlock, fall within the lockout period; it is locked until the period has passed since the last of them.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings as dj
from django.utils import timezone

from portal.models import AuditEntry

MAX_FAILURES = 5
#: how long a failed login answers, per earlier failure from the same address within the lockout period (capped)
DELAY_STEP_SECONDS = 0.25
DELAY_MAX_SECONDS = 3.0
ACTIONS = ("login", "login_failed", "login_locked", "logout", "check", "submit", "submit_refused", "approve",
           "return", "query", "answer", "close", "reopen", "account_add", "account_token", "account_lock",
           "account_unlock", "account_remove", "template")


def record(action: str, *, username: str, role: str = "", address: str = "", sha256: str = "", **detail) -> AuditEntry:
    """Append one entry to the audit log."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    return AuditEntry.objects.create(action=action, username=username[:150], role=role, address=address,
                                     sha256=sha256, detail=detail)


def record_for(who, request, action: str, sha256: str = "", **detail) -> AuditEntry:
    """:func:`record` for a signed-in account and its request."""
    from portal.access import client_address

    return record(action, username=who.username, role=who.role, address=client_address(request), sha256=sha256,
                  **detail)


def lockout_period() -> dt.timedelta:
    return dt.timedelta(seconds=dj.ETDZ.portal_lockout_seconds)


def locked_until(username: str, now: dt.datetime | None = None) -> dt.datetime | None:
    """When the account's lockout ends, or None when it is not locked."""
    now = now or timezone.now()
    period = lockout_period()
    reset = (AuditEntry.objects.filter(username=username, action__in=("login", "account_unlock"))
             .order_by("-id").values_list("at", flat=True).first())
    since = now - period
    if reset is not None and reset > since:
        since = reset
    failures = list(AuditEntry.objects.filter(username=username, action="login_failed", at__gt=since)
                    .order_by("-at").values_list("at", flat=True)[:MAX_FAILURES])
    if len(failures) < MAX_FAILURES:
        return None
    return failures[0] + period


def failure_delay(address: str, now: dt.datetime | None = None) -> float:
    """How long to wait before answering a failed login from ``address``: nothing while fewer than three failures
    from it fall within the lockout period (a mistyped password), then :data:`DELAY_STEP_SECONDS` more per earlier
    failure, up to :data:`DELAY_MAX_SECONDS` — so guessing from one address is slowed whatever usernames it tries."""
    if not address:
        return 0.0
    now = now or timezone.now()
    n = AuditEntry.objects.filter(address=address, action="login_failed", at__gt=now - lockout_period()).count()
    return min(DELAY_MAX_SECONDS, max(0, n - 2) * DELAY_STEP_SECONDS)


def entries_since(since: dt.datetime | None, limit: int = 10_000) -> list[dict]:
    """The audit entries at or after ``since`` (every one when None), oldest first, as plain dicts."""
    qs = AuditEntry.objects.all()
    if since is not None:
        qs = qs.filter(at__gte=since)
    return [{"id": e.id, "at": e.at.isoformat(), "username": e.username, "role": e.role, "action": e.action,
             "address": e.address, "sha256": e.sha256, "detail": e.detail} for e in qs.order_by("id")[:limit]]
