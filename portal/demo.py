"""The demo's portal accounts (``etdz demo``): one zone, its province and a reviewer, so a newcomer signs in at once."""

from __future__ import annotations

import secrets

from etdz.registry import due_zones, load_registry
from etdz.settings import Settings

DEMO_USERS = ("demo-zone", "demo-province", "demo-reviewer")


def demo_accounts(settings: Settings) -> list[tuple[str, str, str, str]]:
    """Create (or reset) the demo accounts with new random passwords: ``[(username, role, password, what)]``.

    The zone is the first zone due in the open year of the demo's registry; the province is its province."""
    import portal

    portal.setup_django(settings)
    portal.migrate()
    from django.contrib.auth import get_user_model

    from portal.accounts import add_account, unlock
    from portal.submitting import open_year

    reg = load_registry(settings.registry)
    due = due_zones(reg, open_year())
    zone = (due if len(due) else reg).iloc[0]
    plan = [("demo-zone", "zone", {"zone_code": str(zone["zone_code"])}, f"zone {zone['zone_code']} {zone['name_zh']}"),
            ("demo-province", "province", {"province": str(zone["province"])}, f"province {zone['province']}"),
            ("demo-reviewer", "reviewer", {}, "the ministry's review team")]
    User = get_user_model()
    out = []
    for username, role, where, what in plan:
        password = secrets.token_urlsafe(12)
        user = User.objects.filter(username=username).first()
        if user is not None and getattr(getattr(user, "account", None), "role", None) == role:
            user.set_password(password)  # a demo run again: the same accounts, a new password
            user.save(update_fields=["password"])
            acc = user.account
            acc.zone_code, acc.province = where.get("zone_code", ""), where.get("province", "")
            acc.save()
            unlock(username, by="etdz demo")
        else:
            if user is not None:
                user.delete()
            add_account(username, role, password, by="etdz demo", **where)
        out.append((username, role, password, what))
    return out


def demo_accounts_text(settings: Settings, prefix: str = "") -> str:
    """The lines ``etdz demo`` prints: the portal command and the accounts to sign in with."""
    accounts = demo_accounts(settings)
    lines = [f"  {prefix + 'etdz portal':<34} # the submission portal: http://{settings.portal_host}:"
             f"{settings.portal_port}/login, sign in as"]
    lines += [f"  {'':<34}   {u:<14} password {p}  ({what})" for u, _, p, what in accounts]
    return "\n".join(lines)
