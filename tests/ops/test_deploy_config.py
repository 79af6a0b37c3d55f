"""The deployment files agree with Dagster's instance schema, with each other and with the code (no server needed)."""

from __future__ import annotations

import shutil

import pytest
import yaml

from tests.ops.conftest import GOLDEN, REPO

DEPLOY = REPO / "deploy"


def _docs(path):
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


@pytest.mark.parametrize("name", ["dagster.sqlite.yaml", "dagster.postgres.yaml"])
def test_instance_yamls_are_valid_and_keep_everything_local(name, tmp_path):
    from dagster._core.instance.config import dagster_instance_config

    shutil.copy(DEPLOY / name, tmp_path / "dagster.yaml")
    cfg, _ = dagster_instance_config(str(tmp_path))  # raises on anything the schema does not know
    assert cfg["telemetry"] == {"enabled": False}
    assert cfg["nux"] == {"enabled": False}
    assert cfg["python_logs"] == {"python_log_level": "INFO"}  # a run's console without the DEBUG events
    limits = cfg["concurrency"]["runs"]["tag_concurrency_limits"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} in limits


def test_helm_values_match_the_code_and_the_kubernetes_objects():
    values = yaml.safe_load((DEPLOY / "helm-values.yaml").read_text(encoding="utf-8"))
    objects = {(o["kind"], o["metadata"]["name"]): o for o in _docs(DEPLOY / "k8s-config.yaml")}

    assert values["telemetry"] == {"enabled": False}
    assert values["pythonLogs"] == {"pythonLogLevel": "INFO"}
    (code,) = values["dagster-user-deployments"]["deployments"]
    args = code["dagsterApiGrpcArgs"]
    assert args[args.index("--module-name") + 1] == "pipelines.definitions"
    assert args[args.index("--attribute") + 1] == "defs"
    assert code["includeConfigInLaunchedRuns"] == {"enabled": True}
    for ref in code["envConfigMaps"]:
        assert ("ConfigMap", ref["name"]) in objects
    for ref in code["envSecrets"]:
        assert ("Secret", ref["name"]) in objects
    claims = {v["persistentVolumeClaim"]["claimName"] for v in code["volumes"] if "persistentVolumeClaim" in v}
    assert all(("PersistentVolumeClaim", c) in objects for c in claims) and claims

    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert ("Secret", values["global"]["postgresqlSecretName"]) in objects
    assert "postgresql-password" in objects[("Secret", values["global"]["postgresqlSecretName"])]["stringData"]
    assert values["generatePostgresqlPasswordSecret"] is False
    queue = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]
    assert {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1} \
        in queue["tagConcurrencyLimits"]

    # the inbox the sensor watches is where the volume is mounted
    config = objects[("ConfigMap", "etdz-config")]["data"]
    mounts = {m["name"]: m["mountPath"] for m in code["volumeMounts"]}
    assert config["ETDZ_INBOX"] == mounts["inbox"]
    assert config["AWS_EC2_METADATA_DISABLED"] == "true"


def test_the_configmap_is_a_valid_etdz_configuration():
    from etdz.settings import Settings

    data = next(o for o in _docs(DEPLOY / "k8s-config.yaml") if o["kind"] == "ConfigMap")["data"]
    s = Settings.from_env({k: str(v) for k, v in data.items()})
    assert s.warehouse.startswith("s3://") and s.archive.startswith("s3://") and s.reports.startswith("s3://")
    assert s.inbox == "/data/inbox"


def test_the_job_runs_in_process_as_the_deployment_guide_says(monkeypatch):
    """docs/operations.md explains the K8sRunLauncher + in_process_executor choice; keep it true."""
    from dagster import in_process_executor

    from etdz.settings import Settings
    from pipelines.definitions import build_definitions
    from pipelines.jobs import ANNUAL_JOB

    s = Settings.from_env({"ETDZ_REGISTRY": str(GOLDEN / "registry.csv"),
                           "ETDZ_METHODOLOGY": str(GOLDEN / "catalogues"), "ETDZ_INBOX": str(GOLDEN / "inbox"),
                           "ETDZ_HOME": "/nonexistent-etdz-home"})
    job = build_definitions(s).resolve_job_def(ANNUAL_JOB)
    assert job.executor_def is in_process_executor


def test_operations_guide_keeps_the_leads_section_and_links_resolve():
    text = (REPO / "docs" / "operations.md").read_text(encoding="utf-8")
    assert "\n## Schedule, sensor, publishing\n" in text
    import re

    for target in re.findall(r"\]\((\.\./[^)#]+|screenshots/[^)#]+)\)", text):
        assert (REPO / "docs" / target).resolve().exists(), target


def test_a_run_under_the_shipped_instance_prints_info_not_debug_on_its_console(tmp_path):
    """What a daemon-launched run writes to the terminal: its own INFO lines, not every step's DEBUG events."""
    import subprocess
    import sys

    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(DEPLOY / "dagster.sqlite.yaml", home / "dagster.yaml")
    script = (
        "import dagster as dg\n"
        "@dg.op\n"
        "def hello(context):\n"
        "    context.log.info('hello from the op')\n"
        "@dg.job\n"
        "def one():\n"
        "    hello()\n"
        "with dg.DagsterInstance.get() as instance:\n"
        "    assert one.execute_in_process(instance=instance).success\n")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                       env={**__import__("os").environ, "DAGSTER_HOME": str(home)})
    assert p.returncode == 0, p.stderr[-3000:]
    console = p.stdout + p.stderr
    assert "hello from the op" in console
    assert " - DEBUG - " not in console and "STEP_START" not in console, console[-3000:]
