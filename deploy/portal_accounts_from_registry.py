"""Onboarding the portal from the registry: one account per zone due in a data year, one per province.

    python deploy/portal_accounts_from_registry.py --data-year 2025 --out /secure/place/accounts-2025.csv

Run it with the installation's configuration (the same ``ETDZ_HOME`` / ``etdz.toml`` as ``etdz portal``): it reads
the configured registry and writes into the configured portal database, through the portal's own account
functions (``portal.accounts.add_account``: registry checks, password validators, argon2id, the audit log) — what
``etdz accounts add`` does, in one process instead of one per account.

* zone accounts: username = the zone's ``zone_code``, role ``zone``, for every zone due in the data year
  (``etdz.registry.due_zones``: national zones and the provincial zones of the registry);
* province accounts: role ``province``, one per province of the registry, username ``province-<prefix>`` where
  ``<prefix>`` is the part of the province's zone codes before the first ``-`` (``jiangsu-…`` → ``province-jiangsu``),
  or ``province-<n>`` when its zones share none;
* an account that exists already is left as it is (a re-run after the registry gained a zone adds only that one);
* every new account gets a random password (``secrets.token_urlsafe``), written with its username, role, zone and
  province to ``--out`` — a CSV created exclusively with mode 0600 (an existing file is never overwritten). Hand
  each line to its owner by a channel you trust, then delete the file; each owner signs in and can be given an API
  token with ``etdz accounts token USERNAME``.
"""

from __future__ import annotations

import argparse
import csv
import os
import secrets
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def plan(registry, data_year: int) -> list[dict]:
    """The accounts the registry calls for: [{username, role, zone, province}], zones first."""
    import pandas as pd

    from etdz.registry import due_zones

    out = [{"username": str(z), "role": "zone", "zone": str(z), "province": ""}
           for z in sorted(due_zones(registry, data_year).zone_code)]
    used: set[str] = set()
    provinces = sorted({str(p) for p in registry.province if not pd.isna(p) and str(p).strip()})
    for n, province in enumerate(provinces, 1):
        codes = registry.zone_code[registry.province == province].astype(str)
        prefixes = {c.split("-", 1)[0] for c in codes if "-" in c}
        name = f"province-{prefixes.pop()}" if len(prefixes) == 1 else f"province-{n:02d}"
        if name in used:
            name = f"province-{n:02d}"
        used.add(name)
        out.append({"username": name, "role": "province", "zone": "", "province": province})
    return out


def onboard(data_year: int, out: Path, settings=None) -> dict:
    """Create the missing accounts (see the module docstring); returns the counts."""
    import portal
    from etdz.registry import load_registry
    from etdz.settings import Settings

    settings = portal.setup_django(settings or Settings.from_env())
    portal.migrate()
    from django.contrib.auth import get_user_model

    from portal.accounts import add_account

    wanted = plan(load_registry(settings.registry), data_year)
    existing = set(get_user_model().objects.filter(username__in=[a["username"] for a in wanted])
                   .values_list("username", flat=True))
    new = [a for a in wanted if a["username"] not in existing]
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # never overwrite a file of passwords
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["username", "role", "zone_code", "province", "password"])
        for a in new:
            password = secrets.token_urlsafe(12)
            account = add_account(a["username"], a["role"], password, zone_code=a["zone"], province=a["province"],
                                  by="portal_accounts_from_registry")
            w.writerow([a["username"], a["role"], account.zone_code, account.province, password])
            fh.flush()  # a failure half-way leaves the passwords of the accounts already made
    return {"zones": sum(a["role"] == "zone" for a in new), "provinces": sum(a["role"] == "province" for a in new),
            "existing": len(existing), "out": str(out)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="create the portal's zone and province accounts from the registry")
    ap.add_argument("--data-year", type=int, required=True, help="the zones due in this data year get an account")
    ap.add_argument("--out", type=Path, required=True, help="the new CSV of usernames and passwords (mode 0600)")
    args = ap.parse_args(argv)
    if args.out.exists():
        print(f"{args.out} exists: give a new file (it would hold passwords; it is never overwritten)", file=sys.stderr)
        return 2
    counts = onboard(args.data_year, args.out)
    print(f"created {counts['zones']} zone and {counts['provinces']} province accounts ({counts['existing']} existed "
          f"already and were left as they are); their passwords are in {counts['out']} (mode 0600): hand each line "
          f"to its owner, then delete the file")
    return 0


if __name__ == "__main__":
    sys.exit(main())
