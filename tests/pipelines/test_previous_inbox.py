"""The submissions step with Y−1 only in the inbox: read by a worker process (a large inbox) or in the step's
process, the same datasets."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
pytestmark = pytest.mark.slow


def _ingest_2021(root: Path, inbox: Path) -> tuple[dict, dict]:
    from dagster import DagsterInstance, materialize

    from assets.ingestion import build_ingestion_assets
    from assets.resource import EtdzResource
    from etdz.catalogue import load_catalogues
    from etdz.settings import Settings
    from pipelines.partitions import data_year_partitions

    settings = Settings(inbox=str(inbox), warehouse=str(root / "w"), reports=str(root / "r"),
                        archive=str(root / "a"), registry=str(GOLDEN / "registry.csv"),
                        methodology=str(GOLDEN / "catalogues"), dagster_home=str(root / "dh"))
    partitions = data_year_partitions(Settings.from_env({"ETDZ_INBOX": str(inbox)}),
                                      load_catalogues(GOLDEN / "catalogues"))
    resource = EtdzResource(settings)
    res = materialize(build_ingestion_assets(partitions, code_version="t"), partition_key="2021",
                      resources={"resource": resource}, instance=DagsterInstance.ephemeral())
    assert res.success
    store = resource.store()
    written = {name: store.read(name, 2021).to_pandas() for name in ("submission_log", "submission_issues", "measures")}
    return written, resource._previous_inbox  # Y−1 as read, kept for the run's later steps


def test_a_previous_inbox_read_by_a_worker_gives_the_datasets_of_a_read_in_the_step(tmp_path, monkeypatch):
    import etdz.history as history

    inbox = tmp_path / "inbox"
    for year in ("2020", "2021"):  # 2020 never run: its inbox is read for growth and the year-on-year check
        shutil.copytree(GOLDEN / "inbox" / year, inbox / year)
    here, kept_here = _ingest_2021(tmp_path / "here", inbox)

    started = []
    real = history.one_worker
    monkeypatch.setattr(history, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(history, "one_worker", lambda: started.append(1) or real())
    there, kept_there = _ingest_2021(tmp_path / "there", inbox)
    assert started == [1]
    (read_here,), (read_there,) = kept_here.values(), kept_there.values()
    assert read_there.origin == read_here.origin == "inbox" and read_there.zones == read_here.zones
    assert len(read_here.zones) == 10 and read_there.measures.equals(read_here.measures)

    shown = ["file_name", "zone_code", "status", "errors", "warnings"]
    assert there["submission_log"][shown].equals(here["submission_log"][shown])
    assert there["submission_issues"].equals(here["submission_issues"])
    assert there["measures"].equals(here["measures"])
    assert len(here["measures"]) and len(here["submission_log"]) == 12
