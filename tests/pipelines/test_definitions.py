"""The code location's entry point: workspace.yaml's ``pipelines.definitions:defs``, a ``@dg.definitions`` function."""

from __future__ import annotations

from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
GOLDEN = REPO / "tests" / "fixtures" / "golden"


def test_workspace_yaml_loads_the_definitions_function(monkeypatch):
    from dagster._core.definitions.reconstruct import load_def_in_module, repository_def_from_target_def
    from dagster.components.definitions import LazyDefinitions

    for name, value in {"ETDZ_REGISTRY": GOLDEN / "registry.csv", "ETDZ_METHODOLOGY": GOLDEN / "catalogues",
                        "ETDZ_INBOX": GOLDEN / "inbox"}.items():
        monkeypatch.setenv(name, str(value))
    [entry] = yaml.safe_load((REPO / "workspace.yaml").read_text(encoding="utf-8"))["load_from"]
    target = load_def_in_module(entry["python_module"]["module_name"], entry["python_module"]["attribute"],
                                str(REPO))
    assert isinstance(target, LazyDefinitions)  # nothing is built at import
    repo = repository_def_from_target_def(target)
    keys = {k.to_user_string() for k in repo.asset_graph.get_all_asset_keys()}
    assert {"inbox", "submission_log", "rankings", "national_report"} <= keys
    assert "annual_assessment" in [j.name for j in repo.get_all_jobs()]
