"""A real small disk filling up at random points of a year's writes leaves each step all-old or all-new.

The outputs live on a real tmpfs (we run as root; skipped, with the reason, where mounting is refused).
Each trial restores the old state, fills the disk until only a random number of bytes is free (from
nothing to more than the run needs), runs 2021 on the changed inbox, lets the next command's recovery
run, and checks every step, with the disk still full.
"""

from __future__ import annotations

import os
import random
import shutil

import pytest

from etdz.commit import DeploymentLayout
from tests.safety.outputs_state import (
    STEPS,
    YEAR,
    copy_state,
    fill,
    leftovers,
    mount_tmpfs,
    prepare_old_and_new,
    restore_archive,
    run_year,
    snapshot,
    unmount,
    verdict,
)

pytestmark = pytest.mark.slow
TRIALS = int(os.environ.get("ETDZ_DISK_TRIALS", "12"))


@pytest.fixture(scope="module")
def disk(tmp_path_factory):
    mnt = tmp_path_factory.mktemp("disk") / "mnt"
    reason = mount_tmpfs(mnt, "16m")
    if reason:
        pytest.skip(reason)
    yield mnt
    unmount(mnt)


def test_a_full_disk_at_random_points_leaves_each_step_all_old_or_all_new(disk, tmp_path_factory):
    base, inbox_b, old, new_state, _ = prepare_old_and_new(tmp_path_factory.mktemp("state"))
    # what the new run's files take on the disk (whole pages), plus a margin: the random free space spans it
    needed = sum(-(-p.stat().st_size // 4096) * 4096 for p in (base / "new").rglob("*") if p.is_file()) + 256 * 1024
    rng = random.Random(20261129)
    seen = set()
    for trial in range(TRIALS):
        shutil.rmtree(disk / "warehouse", ignore_errors=True)
        shutil.rmtree(disk / "reports", ignore_errors=True)
        copy_state(old, disk)
        restore_archive(base)
        before = snapshot(disk, YEAR)
        leave = 0 if trial == 0 else rng.randrange(0, needed)
        filler = fill(disk, leave)
        result = run_year(disk, inbox_b, YEAR, base / "archive")
        DeploymentLayout(str(disk / "warehouse"), str(disk / "reports")).recover_all()  # next command, disk full
        now = snapshot(disk, YEAR)
        verdicts = {step: verdict(now[step], before[step], new_state[step]) for step in STEPS}
        assert "torn" not in verdicts.values(), (trial, leave, verdicts)
        assert leftovers(disk / "warehouse") == [] and leftovers(disk / "reports") == [], (trial, leave)
        seen.add((result.success, tuple(verdicts.values())))
        filler.unlink()
    assert any(not ok for ok, _ in seen), "no trial ran out of space"
    print(f"{TRIALS} full-disk trials, outcomes {sorted(seen)}: every step all-old or all-new")
