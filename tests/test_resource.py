"""The resource (assets/resource.py): it holds Settings, and each step parses the catalogues and the registry once."""

from __future__ import annotations

import dataclasses

import pytest

import assets.resource as resource_mod
from assets.resource import EtdzResource
from etdz.settings import Settings
from tests.fixtures.runs import GOLDEN, golden_env


def test_the_resource_holds_the_settings_and_copies_none_of_their_fields(tmp_path):
    s = Settings.from_env(golden_env(tmp_path))
    r = EtdzResource(s)
    assert r.settings is s
    own = {k for k in vars(r) if not k.startswith("_")}
    assert own == {"settings"}  # no field of Settings repeated on the resource
    assert not {f.name for f in dataclasses.fields(Settings)} & set(vars(EtdzResource))
    assert r.store().root == s.warehouse and r.inbox_dir(2020) == GOLDEN / "inbox" / "2020"
    assert r.layout().dagster_home == s.dagster_home and r.lock_dir() == r.layout().lock_dir()


@pytest.mark.slow
def test_each_step_of_a_run_parses_the_catalogues_and_the_registry_once(tmp_path, monkeypatch):
    from dagster import DagsterInstance

    from pipelines.definitions import build_definitions
    from pipelines.runs import in_process_job

    env = golden_env(tmp_path)
    monkeypatch.setenv("DAGSTER_HOME", env["DAGSTER_HOME"])
    defs = build_definitions(Settings.from_env(env))
    parses = {"catalogues": 0, "registry": 0}
    real_cat, real_reg = resource_mod.load_catalogues, resource_mod.load_registry

    def count(name, real):
        def wrapped(*a, **k):
            parses[name] += 1
            return real(*a, **k)
        return wrapped

    monkeypatch.setattr(resource_mod, "load_catalogues", count("catalogues", real_cat))
    monkeypatch.setattr(resource_mod, "load_registry", count("registry", real_reg))
    job = in_process_job(defs)  # the twin `etdz run` executes (pipelines/runs.py)
    result = job.execute_in_process(partition_key="2020", instance=DagsterInstance.ephemeral())
    assert result.success
    steps = {e.step_key for e in result.all_events if e.is_step_success}
    assert steps == {"submissions", "scores", "rank_robustness", "ranking_changes", "reports"}
    # one parse per step at most: the catalogues in each step, the registry in the four that need it
    assert parses == {"catalogues": len(steps), "registry": len(steps) - 1}
