"""The portal's tables (docs/contract/06-portal.md): accounts' roles, API tokens, submissions, review queries and
their answers, the append-only audit log. Django's own ``auth_user`` holds usernames and argon2id hashes."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

ROLES = ("zone", "province", "reviewer", "admin")
QUERY_STATES = ("open", "answered", "closed")
#: what a submission is in the portal before the pipeline has judged it (§6.2)
PORTAL_STATES = ("submitted", "awaiting_approval", "returned")


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(v, v) for v in values]


class Account(models.Model):
    """A user's role and, for a zone account its zone, for a province account its province (the registry's
    ``province`` text, e.g. 江苏省)."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="account")
    role = models.CharField(max_length=16, choices=_choices(ROLES))
    zone_code = models.CharField(max_length=40, blank=True, default="")
    province = models.CharField(max_length=64, blank=True, default="")

    def __str__(self) -> str:
        return f"{self.user.username} ({self.role})"


class ApiToken(models.Model):
    """An API token: only its SHA-256 is kept; the token itself is shown once, when it is made."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)


class Submission(models.Model):
    """One file a zone submitted (its bytes are in the inbox, or held for approval, under ``stored_name``)."""

    sha256 = models.CharField(max_length=64, unique=True)
    zone_code = models.CharField(max_length=40, db_index=True)
    data_year = models.IntegerField(db_index=True)
    file_format = models.CharField(max_length=4)  # csv | xlsx
    stored_name = models.CharField(max_length=80)  # <zone_code>_<sha256[:12]>.<csv|xlsx>: the portal's name
    original_name = models.TextField()  # as uploaded: shown (escaped), never a path
    size_bytes = models.BigIntegerField()
    submitted_at = models.DateTimeField()  # also the file's modification time in the inbox
    submitted_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(max_length=64, blank=True, default="")
    late = models.BooleanField(default=False)
    state = models.CharField(max_length=20, choices=_choices(PORTAL_STATES))
    issues = models.JSONField(default=list)  # the check's issues at submission
    explanations = models.JSONField(default=dict)  # "<check>:<row>" → the zone's sentence
    delivered_at = models.DateTimeField(null=True, blank=True)  # written into the inbox
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    null=True, blank=True)
    approved_at = models.DateTimeField(null=True, blank=True)
    returned_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+",
                                    null=True, blank=True)
    returned_at = models.DateTimeField(null=True, blank=True)
    return_reason = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["data_year", "zone_code"])]


class Query(models.Model):
    """A review query on a zone's figure (§6.3): open → answered → closed, or back to open."""

    data_year = models.IntegerField(db_index=True)
    zone_code = models.CharField(max_length=40, db_index=True)
    measure_code = models.CharField(max_length=80, blank=True, default="")
    question = models.TextField()
    state = models.CharField(max_length=10, choices=_choices(QUERY_STATES), default="open")
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, null=True, blank=True, related_name="queries")
    warning_key = models.CharField(max_length=120, blank=True, default="")  # "<check>:<row>" it explains


class Answer(models.Model):
    """One answer (or a reviewer's follow-up) to a query, in the order given."""

    query = models.ForeignKey(Query, on_delete=models.CASCADE, related_name="answers")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    text = models.TextField(blank=True, default="")
    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["id"]


class AppendOnlyError(Exception):
    """An attempt to change or remove an audit entry."""


class _AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AppendOnlyError("the audit log is append-only: entries are never updated")

    def delete(self):
        raise AppendOnlyError("the audit log is append-only: entries are never deleted")


class AuditEntry(models.Model):
    """Who did what, when, from where, on which file (§6.4). Append-only: saving an existing entry, deleting one
    and the queryset's ``update`` / ``delete`` raise :class:`AppendOnlyError`."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    username = models.CharField(max_length=150, db_index=True)
    role = models.CharField(max_length=16, blank=True, default="")
    action = models.CharField(max_length=32, db_index=True)
    address = models.CharField(max_length=64, blank=True, default="")
    sha256 = models.CharField(max_length=64, blank=True, default="")
    detail = models.JSONField(default=dict)

    objects = _AppendOnlyQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["username", "action", "at"]), models.Index(fields=["address", "action", "at"])]

    def save(self, *args, **kwargs):
        if self.pk is not None or kwargs.get("force_update"):
            raise AppendOnlyError("the audit log is append-only: entries are never updated")
        kwargs["force_insert"] = True
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("the audit log is append-only: entries are never deleted")
