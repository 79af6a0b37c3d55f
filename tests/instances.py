"""Opening a deployment's Dagster instance from a test, as `etdz` opens it, without leaving DAGSTER_HOME exported."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def open_instance(folder: Path) -> Iterator:
    """The Dagster instance in ``folder`` (its dagster.yaml), with ``DAGSTER_HOME`` naming ``folder`` while it is
    open and restored afterwards.

    The shipped dagster.yaml takes the storage's folder from ``DAGSTER_HOME`` (pipelines.dagster_private), and
    Dagster rebuilds instances from their reference inside a schedule's or sensor's context, so the variable
    names the folder for as long as the instance is used."""
    from dagster import DagsterInstance

    folder.mkdir(parents=True, exist_ok=True)
    before = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = str(folder)
    try:
        with DagsterInstance.from_config(str(folder)) as instance:
            yield instance
    finally:
        if before is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = before
