"""deploy/portal_accounts_from_registry.py: the zones' and provinces' accounts from the registry (docs/portal.md)."""

from __future__ import annotations

import csv
import importlib.util
import stat
from pathlib import Path

import pytest

from etdz.registry import due_zones, load_registry

SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "portal_accounts_from_registry.py"


def script():
    spec = importlib.util.spec_from_file_location("portal_accounts_from_registry", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_plan_of_the_real_registry_has_every_due_zone_and_31_provinces():
    from etdz.registry import SHIPPED_REGISTRY

    reg = load_registry(str(SHIPPED_REGISTRY))
    accounts = script().plan(reg, 2025)
    zones = [a for a in accounts if a["role"] == "zone"]
    provinces = [a for a in accounts if a["role"] == "province"]
    assert {a["zone"] for a in zones} == set(due_zones(reg, 2025).zone_code)
    assert len(provinces) == 31 and len({a["username"] for a in provinces}) == 31
    assert {"province-jiangsu", "province-beijing"} <= {a["username"] for a in provinces}


def test_onboarding_creates_each_account_once_with_a_password_that_signs_in(portal_env, portal_base, tmp_path):
    from django.contrib.auth import authenticate

    from portal.models import Account

    out = tmp_path / "accounts.csv"
    counts = script().onboard(2025, out, settings=portal_base)
    reg = load_registry(portal_base.registry)
    due = set(due_zones(reg, 2025).zone_code)
    assert counts["zones"] == len(due) and counts["provinces"] == reg.province.nunique() and counts["existing"] == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert {r["username"] for r in rows if r["role"] == "zone"} == due
    assert {r["province"] for r in rows if r["role"] == "province"} == set(reg.province)
    for r in rows:
        user = authenticate(username=r["username"], password=r["password"])
        assert user is not None and user.account.role == r["role"], r["username"]
    z1 = Account.objects.get(user__username="Z1")
    assert (z1.role, z1.zone_code, z1.province) == ("zone", "Z1", "江苏")

    # again: nothing new, and the file of passwords is never overwritten
    with pytest.raises(FileExistsError):
        script().onboard(2025, out, settings=portal_base)
    again = script().onboard(2025, tmp_path / "again.csv", settings=portal_base)
    assert (again["zones"], again["provinces"], again["existing"]) == (0, 0, len(rows))
    assert script().main(["--data-year", "2025", "--out", str(out)]) == 2
