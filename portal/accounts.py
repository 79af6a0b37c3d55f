"""Accounts (06 §6.4–6.5): adding them with a role, API tokens, locking, unlocking, removing — what ``etdz accounts``
does, and how a request's token is resolved.

Passwords go through Django's hashers (argon2id first in ``PASSWORD_HASHERS``) and its password validators. An API
token is ``secrets.token_urlsafe(32)`` (256 random bits), shown once; only its SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from portal.access import provinces, zone_row
from portal.audit import record
from portal.models import ROLES, Account, ApiToken


class AccountError(ValueError):
    """A refused account change; the message says what to do."""


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_account(username: str, role: str, password: str, *, zone_code: str = "", province: str = "",
                by: str = "etdz accounts") -> Account:
    """Create an account. A zone account needs a zone of the registry, a province account a province of it."""
    username = str(username).strip()
    if not username or len(username) > 150:
        raise AccountError("a username is 1–150 characters")
    if role not in ROLES:
        raise AccountError(f"role {role!r} is not one of {', '.join(ROLES)}")
    zone_code, province = (zone_code or "").strip(), (province or "").strip()
    if role == "zone":
        row = zone_row(zone_code) if zone_code else None
        if row is None:
            raise AccountError(f"zone {zone_code!r} is not in the registry: give --zone with a zone_code of the "
                               f"registry")
        province = str(row["province"])
    elif role == "province":
        if province not in provinces():
            raise AccountError(f"province {province!r} is not in the registry: give --province with one of "
                               f"{'、'.join(provinces())}")
        zone_code = ""
    else:
        zone_code, province = "", ""
    User = get_user_model()
    if User.objects.filter(username=username).exists():
        raise AccountError(f"account {username!r} exists already")
    user = User(username=username)
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise AccountError("password refused: " + " ".join(exc.messages)) from None
    with transaction.atomic():
        user.set_password(password)
        user.save()
        account = Account.objects.create(user=user, role=role, zone_code=zone_code, province=province)
        record("account_add", username=by, role="admin", target=username, new_role=role, zone_code=zone_code,
               province=province)
    return account


def _user(username: str):
    User = get_user_model()
    user = User.objects.filter(username=username).first()
    if user is None or not hasattr(user, "account"):
        raise AccountError(f"no account {username!r}")
    return user


def new_token(username: str, by: str = "etdz accounts") -> str:
    """A new API token for the account: returned once, stored as its SHA-256."""
    user = _user(username)
    token = secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, digest=token_digest(token))
    record("account_token", username=by, role="admin", target=username)
    return token


def lock(username: str, by: str = "etdz accounts") -> None:
    """Lock an account until it is unlocked: no sign-in, no token is accepted."""
    user = _user(username)
    user.is_active = False
    user.save(update_fields=["is_active"])
    record("account_lock", username=by, role="admin", target=username)


def unlock(username: str, by: str = "etdz accounts") -> None:
    """Unlock an account (also ends a lockout after failed logins)."""
    user = _user(username)
    user.is_active = True
    user.save(update_fields=["is_active"])
    record("account_unlock", username=by, role="admin", target=username)
    # the lockout counts failures since the account's last unlock: an entry under its own name resets it
    record("account_unlock", username=username, role=user.account.role, by=by)


def remove(username: str, by: str = "etdz accounts") -> None:
    """Remove an account that has done nothing (submitted, opened, answered); one that has is locked for good
    instead, so the records keep saying who did what."""
    user = _user(username)
    from django.db.models import ProtectedError

    try:
        with transaction.atomic():
            user.delete()
    except ProtectedError:
        user.is_active = False
        user.set_unusable_password()
        user.save(update_fields=["is_active", "password"])
        ApiToken.objects.filter(user=user).delete()
        record("account_remove", username=by, role="admin", target=username, kept_for_records=True)
        return
    record("account_remove", username=by, role="admin", target=username)


def user_for_token(token: str):
    """The active user a bearer token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    hit = ApiToken.objects.select_related("user", "user__account").filter(digest=token_digest(token)).first()
    if hit is None or not hit.user.is_active:
        return None
    ApiToken.objects.filter(pk=hit.pk).update(last_used_at=timezone.now())
    return hit.user
