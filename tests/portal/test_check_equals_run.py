"""For every file of a demo year, the portal's check (an upload's bytes, :func:`portal.submitting.check_upload`)
gives exactly the issues the run gives — Y−1's year-on-year band and the zone's accepted file of the inbox
(``file.measures_dropped``) included. The approach of tests/test_checking.py, through the portal's own path:
the upload's bytes and name, the year it is submitted for, received when the file was."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from django.test import override_settings

from tests.test_checking import YEAR, _issues_of, _run_issues, _settings, demo_home  # noqa: F401 (a fixture)

COLUMNS = ["severity", "scope", "check", "row", "column", "value", "expected", "message"]


def _frame(records: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(records, columns=COLUMNS)
    df["row"] = df["row"].astype("Int64")
    return df.astype(object).where(df.notna(), None)


@pytest.mark.slow  # ~230 warm checks: several minutes on a busy machine
def test_the_portals_check_equals_the_run_for_every_demo_file(portal_base, demo_home):  # noqa: F811
    from portal.access import Who
    from portal.submitting import check_upload

    run = _run_issues(demo_home)
    who = Who(user_id=0, username="check", role="reviewer", zone_code="", province="")
    files = sorted(p for p in (demo_home / "inbox" / str(YEAR)).iterdir() if p.is_file())
    assert len(files) >= 200
    seen: set[str] = set()
    rejected = 0
    with override_settings(ETDZ=_settings(demo_home)):
        for path in files:
            at = dt.datetime.fromtimestamp(path.stat().st_mtime_ns / 1e9, dt.UTC)
            checked = check_upload(who, path.read_bytes(), path.name, data_year=YEAR, received_at=at)
            expected = _issues_of(run, path.name, checked.result.sha256)[COLUMNS].reset_index(drop=True)
            got = _frame(checked.issues)
            pd.testing.assert_frame_equal(got, expected.astype(object).where(expected.notna(), None),
                                          check_dtype=False, obj=path.name)
            seen |= set(got["check"])
            rejected += not checked.ok
    assert {"row.yoy_change", "file.measures_dropped", "row.number_normalised"} <= seen, seen
    assert rejected  # the demo's faulty files: their errors are compared too
