"""A demo deployment says so (issue 19): `etdz demo` marks its own configuration ``demo = true``; every later command
reads it, and the UI's descriptions (assets, job, schedule, sensors) carry the banner; a real deployment never does."""

from __future__ import annotations

import os
import shutil
from types import SimpleNamespace

import pytest

import demo as demo_package
import pipelines.cli
from etdz.cli import EXIT_CANNOT_START
from etdz.registry import SHIPPED_REGISTRY
from etdz.reports import fictitious
from etdz.settings import CONFIG_NAME, Settings


def _descriptions(settings: Settings) -> dict[str, str]:
    from pipelines.definitions import build_definitions

    graph = build_definitions(settings).get_repository_def().asset_graph
    return {k.to_user_string(): graph.get(k).description or "" for k in graph.get_all_asset_keys()}


def test_every_asset_description_of_a_demo_deployment_carries_the_banner(tmp_path):
    base = {"ETDZ_HOME": str(tmp_path), "ETDZ_CONFIG": os.devnull}  # no file: the defaults
    demo = _descriptions(Settings.from_env({**base, "ETDZ_DEMO": "true"}))
    real = _descriptions(Settings.from_env(base))
    assert set(demo) == set(real) and {"inbox", "rankings", "national_report", "zone_cards"} <= set(demo)
    for key, text in demo.items():
        assert text.startswith(f"**{fictitious.BANNER}**"), key
        assert text.endswith(real[key]), key  # the description itself is unchanged behind the mark
    assert not any(fictitious.BANNER_ZH in text for text in real.values())



def _automation_descriptions(settings: Settings) -> dict[str, str]:
    from pipelines.definitions import build_definitions

    repo = build_definitions(settings).get_repository_def()
    return {**{f"job {j.name}": j.description or "" for j in repo.get_all_jobs() if not j.name.startswith("__")},
            **{f"schedule {s.name}": s.description or "" for s in repo.schedule_defs},
            **{f"sensor {s.name}": s.description or "" for s in repo.sensor_defs}}


def test_the_job_schedule_and_sensors_of_a_demo_deployment_carry_the_banner(tmp_path):
    base = {"ETDZ_HOME": str(tmp_path), "ETDZ_CONFIG": os.devnull}
    demo = _automation_descriptions(Settings.from_env({**base, "ETDZ_DEMO": "true"}))
    real = _automation_descriptions(Settings.from_env(base))
    assert set(demo) == set(real) and {"job annual_assessment", "sensor inbox_sensor"} <= set(demo)
    assert any(k.startswith("schedule ") for k in demo)
    for key, text in demo.items():
        assert text.startswith(f"**{fictitious.BANNER}**") and text.endswith(real[key]), key
    assert not any(fictitious.BANNER_ZH in text for text in real.values())

@pytest.fixture
def no_runs(monkeypatch, demo_without_accounts):
    """`etdz demo` without its data and runs: records the settings the runs would get."""
    seen = {}

    def fake_write_demo(home, years, seed):
        shutil.copyfile(SHIPPED_REGISTRY, home / "registry.csv")  # what the demo's closing lines read
        return SimpleNamespace(files_written=0, inbox=home / "inbox", faulty_files=[], registry=home / "registry.csv")

    def fake_run_years(years, settings, **kw):
        seen["settings"] = settings

    monkeypatch.setattr(demo_package, "write_demo", fake_write_demo)
    monkeypatch.setattr(pipelines.cli, "run_years", fake_run_years)
    return seen


def test_etdz_demo_writes_demo_true_into_its_configuration_for_every_later_command(private_etdz_home, no_runs):
    home = private_etdz_home / "demo-home"
    assert pipelines.cli.main(["demo", "--home", str(home)]) == 0
    text = (home / CONFIG_NAME).read_text(encoding="utf-8")
    assert "\ndemo = true\n" in text
    assert no_runs["settings"].demo is True  # the demo's own runs
    assert Settings.from_env({"ETDZ_HOME": str(home)}).demo is True  # and any later `etdz run` / `etdz ui`


def test_etdz_demo_refuses_a_home_whose_configuration_is_not_the_demos(private_etdz_home, no_runs, capsys):
    home = private_etdz_home / "real-home"
    home.mkdir()
    (home / CONFIG_NAME).write_text(f'inbox = "{home / "inbox"}"\nregistry = "{home / "registry.csv"}"\n',
                                    encoding="utf-8")
    assert pipelines.cli.main(["demo", "--home", str(home)]) == EXIT_CANNOT_START
    assert "settings" not in no_runs  # nothing run
    assert "demo is false, the demo writes demo = true" in capsys.readouterr().err
