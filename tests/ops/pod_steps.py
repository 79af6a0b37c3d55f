"""What one "pod" does in the two-pod tests, run as its own process: ``python -m tests.ops.pod_steps …``.

Each action uses the project's own lock and commit (the code a step of a run uses, :meth:`EtdzResource.writing`
without the Dagster around it), against the warehouse in ``ETDZ_WAREHOUSE`` (the moto S3 server's bucket):

- ``hold YEAR GO``: hold the year's lock (waiting as long as it takes, as a daemon-launched step) until the
  file ``GO`` exists;
- ``step YEAR DATASET VALUE [--wait GO] [--kill staged|journal]``: one step of the year writing ``DATASET`` (a
  one-column table of ``VALUE``): lock (waiting), commit, stage; ``--wait`` pauses once staged until ``GO``
  exists; ``--kill staged`` dies (SIGKILL) once staged, before any journal; ``--kill journal`` dies between the
  journal and its application.

Each prints one line ``held`` / ``staged`` (flushed) when it reaches that point, so the test can wait for it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import time
from pathlib import Path

import pyarrow as pa

from etdz import commit as commit_mod
from etdz.commit import DeploymentLayout, step_commit
from etdz.locks import year_lock
from etdz.storage import Warehouse


def _wait_for(path: str) -> None:
    while not Path(path).exists():
        time.sleep(0.05)


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="action", required=True)
    hold = sub.add_parser("hold")
    hold.add_argument("year", type=int)
    hold.add_argument("go")
    step = sub.add_parser("step")
    step.add_argument("year", type=int)
    step.add_argument("dataset")
    step.add_argument("value")
    step.add_argument("--wait")
    step.add_argument("--kill", choices=("staged", "journal"))
    args = parser.parse_args(argv)

    layout = DeploymentLayout(os.environ["ETDZ_WAREHOUSE"], os.environ["ETDZ_REPORTS"], os.environ["DAGSTER_HOME"])
    with year_lock(layout.lock_dir(), args.year, timeout=None):
        print("held", flush=True)
        if args.action == "hold":
            _wait_for(args.go)
            return 0
        if args.kill == "journal":  # the journal is written; the process dies before it is applied
            commit_mod.apply_journal = lambda journal: _die()
        with step_commit(layout.journal_dir(args.year), layout.scope(args.year)):
            Warehouse(layout.warehouse).write(args.dataset, args.year, pa.table({"value": [args.value]}))
            print("staged", flush=True)
            if args.kill == "staged":
                _die()
            if args.wait:
                _wait_for(args.wait)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
