"""Who sees what (docs/contract/06-portal.md §6.1): the zones an account may see, and the registry it judges by.

A zone account sees its own zone; a province account the zones of its province (national and provincial zones,
the registry's ``province``); a reviewer and an admin every zone. Anything outside answers 404 (never 403: that
would confirm that it exists) — :func:`visible` is the one test every view uses.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass

import pandas as pd
from django.conf import settings as dj
from django.http import Http404

from etdz.registry import SHIPPED_REGISTRY, load_registry

_lock = threading.Lock()
_registry: tuple[tuple, pd.DataFrame] | None = None


def registry() -> pd.DataFrame:
    """The zone registry of the configuration, read again when its file changes (size, modification time)."""
    global _registry
    path = dj.ETDZ.registry or str(SHIPPED_REGISTRY)
    try:
        st = os.stat(path)
        key = (path, st.st_size, st.st_mtime_ns)
    except OSError:
        key = (path,)
    with _lock:
        if _registry is None or _registry[0] != key:
            _registry = (key, load_registry(path))
        return _registry[1]


def zone_row(zone_code: str) -> dict | None:
    """The registry row of a zone, or None."""
    reg = registry()
    hit = reg.loc[reg["zone_code"] == zone_code]
    return None if hit.empty else hit.iloc[0].to_dict()


def provinces() -> list[str]:
    """Every province of the registry, sorted."""
    return sorted(set(registry()["province"].astype(str)))


@dataclass(frozen=True)
class Who:
    """The signed-in account, as the views judge it."""

    user_id: int
    username: str
    role: str
    zone_code: str
    province: str

    @classmethod
    def of(cls, user) -> Who | None:
        """The account of a Django user (None: no account, or not active)."""
        account = getattr(user, "account", None) if user is not None and user.is_active else None
        if account is None:
            return None
        return cls(user.pk, user.username, account.role, account.zone_code, account.province)

    @property
    def sees_everything(self) -> bool:
        return self.role in ("reviewer", "admin")

    def zones(self) -> set[str] | None:
        """The zone codes this account may see; None: every zone."""
        if self.sees_everything:
            return None
        if self.role == "zone":
            return {self.zone_code}
        if self.role == "province":
            reg = registry()
            return set(reg.loc[reg["province"] == self.province, "zone_code"].astype(str))
        return set()

    def sees(self, zone_code: str) -> bool:
        zones = self.zones()
        return zones is None or zone_code in zones


def visible(who: Who, zone_code: str) -> None:
    """Raise 404 unless ``who`` may see ``zone_code`` (06 §6.1: as if it did not exist)."""
    if not who.sees(zone_code):
        raise Http404("not found")


def client_address(request) -> str:
    """Where a request comes from: the peer, or — only behind the configured TLS proxy — the address the proxy
    names last in ``X-Forwarded-For`` (the one the proxy itself saw; earlier ones are the client's to forge)."""
    if dj.ETDZ.portal_behind_tls_proxy:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()[:64]
    return str(request.META.get("REMOTE_ADDR", ""))[:64]
