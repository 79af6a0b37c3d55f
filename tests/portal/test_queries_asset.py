"""The ``review_queries`` source asset, its sensor, the reports' "final" and `etdz publish` against the real portal
(docs/contract/06-portal.md §6.3): the queries are opened and closed through the portal's own API, and the Dagster
side reads them from the portal's database.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path

import pytest
from dagster import AssetKey, AssetMaterialization, DagsterInstance, SkipReason, build_sensor_context

from etdz.settings import Settings

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
REPORTS = [AssetKey(k) for k in ("national_report", "zone_cards", "rankings_workbook")]


def dagster_settings(base: Settings, tmp_path: Path, home: str | None = None) -> Settings:
    """The golden example's inputs with this test's outputs, on the portal's settings (its database: the home it
    was configured with, ``home``); the partitions 2020–2022 whatever the date."""
    return dataclasses.replace(base, home=home or base.home, registry=str(GOLDEN / "registry.csv"),
                               methodology=str(GOLDEN / "catalogues"), first_data_year=2020, last_data_year=2022,
                               inbox=str(GOLDEN / "inbox"), warehouse=str(tmp_path / "warehouse"),
                               reports=str(tmp_path / "reports"), archive=str(tmp_path / "warehouse" / "_archive"),
                               dagster_home=os.environ["DAGSTER_HOME"])


def tick(defs, instance):
    """One evaluation of the review_queries sensor; its observations recorded as the daemon would."""
    sensor = defs.resolve_sensor_def("review_queries_sensor")
    ctx = build_sensor_context(instance=instance, definitions=defs,
                               resources={"resource": defs.resources["resource"]})
    data = sensor.evaluate_tick(ctx)
    for event in data.asset_events:
        instance.report_runless_asset_event(event)
    return data


def observations(instance, year: int) -> list:
    from dagster import AssetRecordsFilter

    return instance.fetch_observations(AssetRecordsFilter(asset_key=AssetKey("review_queries"),
                                                          asset_partitions=[str(year)]), limit=100).records


class Review:
    """A reviewer and a zone of the portal under test, speaking its JSON API."""

    def __init__(self, portal_env):
        self.reviewer = portal_env.api(portal_env.account("reviewer1", "reviewer"))
        self.zone = portal_env.api(portal_env.account("zone1", "zone", zone="Z1"))

    def open(self, year: int, question: str = "工业总产值比上年翻倍，请核实 / output doubled: please check") -> int:
        r = self.reviewer.post("/api/v1/queries", json.dumps({"data_year": year, "zone_code": "Z1",
                                                              "measure_code": "output", "question": question}),
                               content_type="application/json")
        assert r.status_code == 201, r.content
        return r.json()["id"]

    def answer(self, qid: int) -> None:
        r = self.zone.post(f"/api/v1/queries/{qid}/answers", json.dumps({"text": "已核实 / checked"}),
                           content_type="application/json")
        assert r.status_code == 200, r.content

    def close(self, qid: int) -> None:
        r = self.reviewer.post(f"/api/v1/queries/{qid}/close")
        assert r.status_code == 200, r.content


# ----------------------------------------------------------------------------- no portal database


def test_without_a_portal_database_nothing_is_recorded_and_nothing_is_read(tmp_path):
    from assets.queries import load_year_queries, load_year_version, portal_database_exists
    from pipelines.definitions import build_definitions
    from pipelines.review_sensor import record_review_queries

    settings = dagster_settings(Settings.from_env({"ETDZ_HOME": str(tmp_path / "home")}), tmp_path)
    assert not portal_database_exists(settings)
    assert load_year_queries(settings, 2021) is None and load_year_version(settings, 2021) is None
    assert not (tmp_path / "home" / "portal").exists()  # not even the portal's folder is created
    defs = build_definitions(settings)
    with DagsterInstance.ephemeral() as instance:
        data = tick(defs, instance)
        assert not data.run_requests and not data.asset_events
        assert "no portal database" in data.skip_message
        assert record_review_queries(instance, settings, 2021) is False
        assert observations(instance, 2021) == []


def test_a_postgresql_url_counts_as_a_portal_database_without_touching_it():
    from assets.queries import portal_database_exists

    s = Settings.from_env({"ETDZ_PORTAL_DATABASE": "postgresql://etdz:x@127.0.0.1:1/portal"})
    assert portal_database_exists(s)


# ----------------------------------------------------------------------------- the sensor


def test_the_sensor_records_each_change_and_refreshes_only_years_whose_reports_exist(portal_env, portal_base,
                                                                                     tmp_path):
    from pipelines.definitions import build_definitions

    review = Review(portal_env)
    defs = build_definitions(dagster_settings(portal_env.settings, tmp_path, portal_base.home))
    with DagsterInstance.ephemeral() as instance:
        first = tick(defs, instance)  # every year gets its first version; no reports written yet: no run
        assert {e.partition for e in first.asset_events} == {"2020", "2021", "2022"}
        assert not first.run_requests
        assert isinstance(tick(defs, instance), SkipReason) or not tick(defs, instance).asset_events

        qid = review.open(2021)
        data = tick(defs, instance)
        [event] = data.asset_events
        assert event.partition == "2021" and event.metadata["open"].value == 1
        assert not data.run_requests  # 2021's reports were never written: its first run writes them

        # 2021's reports exist (as a run would record them): the next change refreshes exactly them
        for key in REPORTS:
            instance.report_runless_asset_event(AssetMaterialization(asset_key=key, partition="2021"))
        review.answer(qid)
        data = tick(defs, instance)
        [event] = data.asset_events
        assert event.metadata["open"].value == 0 and event.metadata["answered"].value == 1
        [request] = data.run_requests
        assert request.partition_key == "2021" and request.tags["etdz/trigger"] == "review_queries_sensor"
        # the run is of the reports' own job, which the daemon can build (it failed for a selection of the
        # automated annual job: Dagster cannot subset a partitioned job with an automation condition)
        sensor = defs.resolve_sensor_def("review_queries_sensor")
        job = defs.get_repository_def().get_maybe_subset_job_def(
            sensor.job_name, asset_selection=set(request.asset_selection) if request.asset_selection else None)
        assert set(job.asset_layer.executable_asset_keys) == set(REPORTS)
        assert job.partitions_def.get_partition_keys() == ["2020", "2021", "2022"]

        review.close(qid)
        data = tick(defs, instance)
        assert [e.metadata["closed"].value for e in data.asset_events] == [1]
        assert [r.partition_key for r in data.run_requests] == ["2021"]
        assert not tick(defs, instance).asset_events  # nothing changed since: nothing recorded, nothing run
        assert len(observations(instance, 2021)) == 4


def test_a_published_year_is_not_refreshed_until_it_is_reopened(portal_env, portal_base, tmp_path):
    from etdz.publish import _append
    from etdz.storage import Warehouse
    from pipelines.definitions import build_definitions

    review = Review(portal_env)
    settings = dagster_settings(portal_env.settings, tmp_path, portal_base.home)
    defs = build_definitions(settings)
    store = Warehouse(settings.warehouse)
    with DagsterInstance.ephemeral() as instance:
        tick(defs, instance)
        for key in REPORTS:
            instance.report_runless_asset_event(AssetMaterialization(asset_key=key, partition="2021"))
        _append(store, 2021, {"action": "publish", "at": "2026-01-01T00:00:00+00:00", "by": "test"})
        review.open(2021)
        data = tick(defs, instance)
        assert not data.asset_events and not data.run_requests
        _append(store, 2021, {"action": "reopen", "at": "2026-01-02T00:00:00+00:00", "by": "test", "reason": "x"})
        data = tick(defs, instance)
        assert [e.partition for e in data.asset_events] == ["2021"]
        assert [r.partition_key for r in data.run_requests] == ["2021"]


# ----------------------------------------------------------------------------- end to end


def _label(html: str) -> str:
    return re.search(r'id="results-label">([^<]+)<', html).group(1)


def _counts(html: str) -> tuple[int, int]:
    m = re.search(r'id="review-queries" data-open="(\d+)" data-answered="(\d+)"', html)
    return int(m.group(1)), int(m.group(2))


@pytest.mark.slow
def test_closing_a_query_refreshes_the_reports_and_lets_the_year_be_published(portal_env, portal_base, tmp_path,
                                                                               monkeypatch, capsys):
    from pipelines.cli import main
    from pipelines.definitions import build_definitions
    from pipelines.runs import run_years
    from pipelines.staleness import stale_assets

    review = Review(portal_env)
    settings = dagster_settings(portal_env.settings, tmp_path, portal_base.home)
    qid = review.open(2021)
    run_years([2020, 2021], settings, quiet=True)

    national = Path(settings.reports) / "2021" / "national_report.html"
    html = national.read_text(encoding="utf-8")
    assert _label(html) == "复核中 under review" and _counts(html) == (1, 0)
    card = next((Path(settings.reports) / "2021" / "zones").glob("*.html")).read_text(encoding="utf-8")
    assert _label(card) == "复核中 under review"
    assert _label((Path(settings.reports) / "2020" / "national_report.html").read_text(encoding="utf-8")) == \
        "正式 final"  # 2020 has no query

    defs = build_definitions(settings)
    with DagsterInstance.get() as instance:
        from dagster import AssetRecordsFilter

        [record] = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=AssetKey("national_report"), asset_partitions=["2021"]), limit=1).records
        meta = record.asset_materialization.metadata
        assert meta["results"].value == "复核中 under review" and meta["open_queries"].value == 1
        # the run recorded the version its reports read: the sensor has nothing to refresh
        assert not tick(defs, instance).run_requests
        assert stale_assets(defs, instance, [2021]) == {}

    # `etdz publish` refuses while the query is open, naming the count and how to close it
    for k, v in {"ETDZ_HOME": settings.home, "ETDZ_REGISTRY": settings.registry, "ETDZ_INBOX": settings.inbox,
                 "ETDZ_METHODOLOGY": settings.methodology, "ETDZ_WAREHOUSE": settings.warehouse,
                 "ETDZ_REPORTS": settings.reports, "ETDZ_PORTAL_LOCKOUT_SECONDS": "2"}.items():
        monkeypatch.setenv(k, v)
    capsys.readouterr()
    assert main(["publish", "--data-year", "2021"]) == 2
    err = capsys.readouterr().err
    assert "1 review query is still open" in err and "/close" in err
    assert not (Path(settings.warehouse) / "_published" / "data_year=2021").exists()

    review.answer(qid)
    review.close(qid)
    with DagsterInstance.get() as instance:
        assert stale_assets(defs, instance, [2021]) == {}  # not recorded yet: the sensor records it
        data = tick(defs, instance)
        [request] = data.run_requests
        assert stale_assets(defs, instance, [2021]).get(2021)  # recorded: the reports are stale in the UI
        sensor = defs.resolve_sensor_def("review_queries_sensor")
        result = defs.resolve_job_def(sensor.job_name).execute_in_process(  # the reports' job, as the daemon runs it
            partition_key=request.partition_key, instance=instance, tags=request.tags)
        assert result.success
        assert stale_assets(defs, instance, [2021]) == {}
    html = national.read_text(encoding="utf-8")
    assert _label(html) == "正式 final" and _counts(html) == (0, 0)

    assert main(["publish", "--data-year", "2021"]) == 0
    assert (Path(settings.warehouse) / "_published" / "data_year=2021" / "manifest.json").exists()
