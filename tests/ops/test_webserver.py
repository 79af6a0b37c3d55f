"""The Dagster UI end to end: the webserver on loopback after the golden run, its GraphQL API, headless Chromium.

The webserver runs in its own process group (``dagster dev`` / the webserver do not reliably stop on
SIGTERM of the parent alone) and is ended by group in the teardown. Field names follow the GraphQL
schema of dagster-graphql 1.13 (dagster_graphql/schema/asset_graph.py, asset_checks.py, roots/query.py).

Set ETDZ_UPDATE_SCREENSHOTS=1 to refresh docs/screenshots/ui_*.png (the asset graph, the lineage of the rankings,
the Overview, an asset's partitions, one year's checks).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zlib
from pathlib import Path

import pytest

from tests.ops.conftest import REPO, UI_PORT, free_port_pair, golden_env, require, stop_group, wait_for_port

pytestmark = [pytest.mark.server, pytest.mark.slow]

YEARS = ["2020", "2021"]


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


class Webserver:
    def __init__(self, port: int, proc: subprocess.Popen, log: Path):
        self.port, self.proc, self.log = port, proc, log
        self.base = f"http://127.0.0.1:{port}"

    def log_tail(self, n: int = 4000) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-n:] if self.log.exists() else ""

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        req = urllib.request.Request(f"{self.base}/graphql", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as resp:
            out = json.load(resp)
        assert not out.get("errors"), out["errors"]
        return out["data"]


@pytest.fixture(scope="module")
def webserver(baseline_run, tmp_path_factory):
    """`etdz ui` (Dagster webserver + daemon, and the reports) on 127.0.0.1 over the golden run's configuration."""
    root, _ = baseline_run
    folder = tmp_path_factory.mktemp("webserver")
    port = free_port_pair()  # not the ui_port the command-line runs saw (UI_PORT): their links must still open
    assert port != UI_PORT
    log = folder / "webserver.log"
    t0 = time.perf_counter()
    with open(log, "wb") as fh:
        # the last data year configured, as `etdz demo` writes its own: the UI shows no year after it
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "ui", "--port", str(port)],
                                env=golden_env(root, ETDZ_LAST_DATA_YEAR=YEARS[-1]), cwd=folder, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    server = Webserver(port, proc, log)
    try:
        wait_for_port(port, 120, proc, "etdz ui")
        deadline = time.monotonic() + 120
        while True:  # /server_info answers first; the code location loads in its own process
            try:
                with urllib.request.urlopen(f"{server.base}/server_info", timeout=10) as resp:
                    info = json.load(resp)
                if server.graphql("{ assetNodes { id } }")["assetNodes"]:
                    break
            except (urllib.error.URLError, ConnectionError, AssertionError):
                pass
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the webserver never served the code location:\n{server.log_tail()}")
            time.sleep(0.5)
        server.info = info  # type: ignore[attr-defined]
        server.startup_seconds = time.perf_counter() - t0  # type: ignore[attr-defined]
        server.started = t0  # type: ignore[attr-defined]
        yield server
    finally:
        stop_group(proc, timeout=30)
    assert proc.poll() is not None, "`etdz ui` is still running"
    wait_for_port_closed(port)


def wait_for_port_closed(port: int, timeout: float = 30) -> None:
    """`etdz ui` ends the webserver it started: its port closes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(0.2)
        except OSError:
            return
    raise AssertionError(f"something still listens on 127.0.0.1:{port} after `etdz ui` ended")


ASSET_NODES = """
{
  assetNodes {
    assetKey { path }
    groupName
    metadataEntries { label ... on TableSchemaMetadataEntry { schema { columns { name description } } } }
    partitionKeys
    dependencyKeys { path }
    dependencies { asset { assetKey { path } } partitionMapping { className description } }
    assetChecksOrError { __typename ... on AssetChecks { checks { name } } }
  }
}
"""


@pytest.fixture(scope="module")
def nodes(webserver) -> dict[str, dict]:
    return {"/".join(n["assetKey"]["path"]): n for n in webserver.graphql(ASSET_NODES)["assetNodes"]}


def test_server_info_is_the_installed_dagster(webserver):
    import dagster

    assert webserver.info["dagster_version"] == dagster.__version__


def test_asset_nodes_groups_and_partitions(nodes):
    groups = {k: n["groupName"] for k, n in nodes.items()}
    for key, group in {"submission_log": "ingestion", "submission_issues": "ingestion", "measures": "ingestion",
                       "indicator_scores": "scoring", "rankings": "scoring", "downgrade_watchlist": "scoring",
                       "upgrade_candidates": "scoring", "national_report": "reports", "zone_cards": "reports",
                       "rankings_workbook": "reports"}.items():
        assert groups.get(key) == group, (key, groups.get(key))
    for key in ("rankings", "measures", "submission_log", "national_report"):
        keys = nodes[key]["partitionKeys"]
        assert set(YEARS) <= set(keys), (key, keys)
        assert all(len(k) == 4 and k.isdigit() for k in keys)  # yearly partitions keyed %Y


def _deps(node: dict) -> dict[str, dict | None]:
    return {"/".join(d["asset"]["assetKey"]["path"]): d["partitionMapping"] for d in node["dependencies"]}


def test_cross_year_dependencies_are_in_the_graph(nodes):
    rankings = _deps(nodes["rankings"])
    # the watch-list / previous rank read the rankings of earlier years: a self-edge across partitions
    assert "rankings" in {"/".join(k["path"]) for k in nodes["rankings"]["dependencyKeys"]}
    assert rankings["rankings"]["className"] == "TimeWindowPartitionMapping"
    assert "-1 partitions" in rankings["rankings"]["description"]  # ends at the previous year, never Y itself
    # growth indicators read the measures of Y-1 and Y
    assert rankings["measures"]["className"] == "TimeWindowPartitionMapping"
    assert "offsetted by -1 and 0" in rankings["measures"]["description"]
    # year-on-year plausibility: measures of Y depend on measures of Y-1
    assert _deps(nodes["measures"])["measures"]["className"] == "TimeWindowPartitionMapping"


def test_materializations_of_rankings_for_both_years(webserver):
    data = webserver.graphql("""
        query($key: AssetKeyInput!, $partitions: [String!]) {
          assetOrError(assetKey: $key) {
            __typename
            ... on Asset { assetMaterializations(partitions: $partitions) { partition runId timestamp } }
          }
        }""", {"key": {"path": ["rankings"]}, "partitions": YEARS})
    asset = data["assetOrError"]
    assert asset["__typename"] == "Asset"
    mats = asset["assetMaterializations"]
    assert sorted(m["partition"] for m in mats) == YEARS
    runs = webserver.graphql("""
        { runsOrError { ... on Runs { results { runId status tags { key value } } } } }""")["runsOrError"]["results"]
    by_id = {r["runId"]: r for r in runs}
    for m in mats:  # each materialization comes from a successful run of its own partition
        run = by_id[m["runId"]]
        assert run["status"] == "SUCCESS"
        assert {t["key"]: t["value"] for t in run["tags"]}["dagster/partition"] == m["partition"]


CHECK_EXECUTIONS = """
query($key: AssetKeyInput!, $check: String!) {
  assetCheckExecutions(assetKey: $key, checkName: $check, limit: 20) {
    runId status partition evaluation { success severity }
  }
}
"""


def _check_executions(webserver, nodes) -> dict[str, list[dict]]:
    checks = nodes["submission_log"]["assetChecksOrError"]
    assert checks["__typename"] == "AssetChecks"
    names = [c["name"] for c in checks["checks"]]
    assert "gx_suite" in names and len(names) >= 5, names
    return {name: webserver.graphql(CHECK_EXECUTIONS, {"key": {"path": ["submission_log"]}, "check": name})
            ["assetCheckExecutions"] for name in names}


def test_asset_checks_on_submission_log_ran_in_both_runs(webserver, nodes):
    runs = webserver.graphql("""
        { runsOrError { ... on Runs { results { runId tags { key value } } } } }""")["runsOrError"]["results"]
    partition_of = {r["runId"]: {t["key"]: t["value"] for t in r["tags"]}.get("dagster/partition") for r in runs}
    for name, executions in _check_executions(webserver, nodes).items():
        evaluated = [e for e in executions if e["evaluation"] is not None]
        # the golden files are all accepted: every check passed in the 2020 run and in the 2021 run
        assert sorted(partition_of[e["runId"]] for e in evaluated) == YEARS, (name, executions)
        assert all(e["status"] == "SUCCEEDED" and e["evaluation"]["success"] for e in evaluated), (name, executions)
        assert all(e["evaluation"]["severity"] == "WARN" for e in evaluated)  # rejections never fail a run


def test_asset_check_results_are_recorded_per_partition(webserver, nodes):
    for name, executions in _check_executions(webserver, nodes).items():
        by_partition = {e["partition"]: e for e in executions}
        for year in YEARS:
            assert by_partition.get(year, {}).get("status") == "SUCCEEDED", (name, year, executions)


# ----------------------------------------------------------------------------- headless Chromium


def _chromium(args: list[str], url: str, timeout: int = 120) -> subprocess.CompletedProcess:
    binary = chromium_binary()
    require(binary is not None, "Chromium is not installed (Debian: apt-get install chromium fonts-noto-cjk)")
    profile = tempfile.mkdtemp(prefix="etdz-chromium-")
    try:
        cmd = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
               "--disable-extensions", "--disable-default-apps", "--no-pings", "--disable-breakpad",
               "--disable-domain-reliability", "--disable-client-side-phishing-detection",
               # anything but loopback goes to a closed port and no name resolves: the page cannot reach out
               "--proxy-server=http://127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
               "--hide-scrollbars", "--window-size=1600,1000", "--virtual-time-budget=20000", *args, url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env={**os.environ, "HOME": profile})
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def png_facts(path: Path) -> tuple[int, int, int]:
    """(width, height, distinct byte values in the decoded scanlines) of a PNG, without an image library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width, height = 8, b"", 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height = struct.unpack(">II", chunk[:8])
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    return width, height, len(set(zlib.decompress(idat)))


def _screenshot(webserver, path: str, png: Path) -> Path:
    p = _chromium([f"--screenshot={png}"], f"{webserver.base}{path}")
    assert p.returncode == 0 and png.exists(), p.stderr[-3000:]
    width, height, distinct = png_facts(png)
    assert (width, height) == (1600, 1000)
    assert png.stat().st_size > 20_000 and distinct > 50, "a blank page"
    if os.environ.get("ETDZ_UPDATE_SCREENSHOTS"):
        shutil.copy(png, REPO / "docs" / "screenshots" / png.name)
    return png


def test_the_asset_graph_page_renders_in_chromium(webserver, tmp_path):
    _screenshot(webserver, "/asset-groups", tmp_path / "ui_asset_graph.png")


def test_the_lineage_of_rankings_renders_its_upstream_assets(webserver, tmp_path):
    url = f"{webserver.base}/assets/rankings?view=lineage&lineageScope=upstream&lineageDepth=3"
    p = _chromium(["--dump-dom"], url)
    assert p.returncode == 0, p.stderr[-3000:]
    dom = p.stdout
    for text in ("rankings", "measures", "submission_log", "ingestion", "scoring"):
        assert text in dom, text
    _screenshot(webserver, "/assets/rankings?view=lineage&lineageScope=upstream&lineageDepth=3",
                tmp_path / "ui_rankings_lineage.png")


# ----------------------------------------------------------------------------- what the cockpit promises


def test_every_run_carries_the_code_location_origin(webserver):
    """`etdz run`'s runs show on the Overview timeline and the job page, like runs the UI launched."""
    runs = webserver.graphql("""
        { runsOrError { ... on Runs { results { runId jobName
            repositoryOrigin { repositoryLocationName repositoryName } } } } }""")["runsOrError"]["results"]
    assert len(runs) >= len(YEARS)
    for run in runs:
        assert run["repositoryOrigin"] == {"repositoryLocationName": "etdz", "repositoryName": "__repository__"}, run
    # the job page lists the runs of its job in its code location
    on_job_page = webserver.graphql("""
        { runsOrError(filter: {pipelineName: "annual_assessment", tags: [{key: ".dagster/repository",
            value: "__repository__@etdz"}]}) { ... on Runs { results { runId } } } }""")["runsOrError"]["results"]
    assert {r["runId"] for r in on_job_page} == {r["runId"] for r in runs}


def test_partitions_start_at_the_first_inbox_year(nodes):
    for key in ("submission_log", "rankings", "national_report"):
        assert nodes[key]["partitionKeys"][0] == YEARS[0], (key, nodes[key]["partitionKeys"][:3])


def test_the_partitions_are_the_configured_years_and_no_year_after(nodes):
    """No future year shown "Missing" one click from ranking an empty year: the partitions end at
    `last_data_year` (`etdz demo` writes its own, tests/pipelines/test_readiness_runs.py)."""
    partitioned = {k: n["partitionKeys"] for k, n in nodes.items() if n["partitionKeys"]}
    assert {"inbox", "submission_log", "rankings", "national_report"} <= set(partitioned)
    assert all(keys == YEARS for keys in partitioned.values()), partitioned


def test_the_overview_renders_the_runs_of_both_years(webserver, tmp_path):
    p = _chromium(["--dump-dom"], f"{webserver.base}/overview/activity/timeline")
    assert p.returncode == 0, p.stderr[-3000:]
    assert "annual_assessment" in p.stdout
    _screenshot(webserver, "/overview/activity/timeline", tmp_path / "ui_overview.png")


def test_an_asset_s_partitions_page_shows_each_year(webserver, tmp_path):
    path = f"/assets/rankings?view=partitions&partition={YEARS[-1]}"
    p = _chromium(["--dump-dom"], f"{webserver.base}{path}")
    assert p.returncode == 0, p.stderr[-3000:]
    assert all(year in p.stdout for year in YEARS)
    _screenshot(webserver, path, tmp_path / "ui_rankings_partitions.png")


def test_one_year_s_checks_page_lists_the_checks(webserver, nodes, tmp_path):
    names = [c["name"] for c in nodes["submission_log"]["assetChecksOrError"]["checks"]]
    path = f"/assets/submission_log?view=checks&partition={YEARS[-1]}"
    p = _chromium(["--dump-dom"], f"{webserver.base}{path}")
    assert p.returncode == 0, p.stderr[-3000:]
    assert all(name in p.stdout for name in names), [n for n in names if n not in p.stdout]
    _screenshot(webserver, path, tmp_path / "ui_submission_log_checks.png")


def test_every_dataset_has_its_columns_described(nodes):
    from etdz import schemas

    for name in schemas.DATASETS:
        if name not in nodes:
            continue  # an asset another change adds
        [entry] = [e for e in nodes[name]["metadataEntries"] if e["label"] == "dagster/column_schema"]
        columns = entry["schema"]["columns"]
        assert columns and all(c["description"] for c in columns), (name, [c for c in columns if not c["description"]])


def test_the_report_link_opens_the_report_itself(webserver):
    """The link a command-line run recorded (with ETDZ_UI_PORT = UI_PORT) opens the report from the UI on
    another port: it is relative to the UI, which serves the reports itself."""
    data = webserver.graphql("""
        { assetOrError(assetKey: {path: ["national_report"]}) { ... on Asset {
            assetMaterializations(partitions: ["2021"]) {
              metadataEntries { label ... on UrlMetadataEntry { url } } } } } }""")
    [mat] = data["assetOrError"]["assetMaterializations"]
    [url] = [e["url"] for e in mat["metadataEntries"] if e["label"] == "path"]
    assert url == "/etdz-reports/2021/national_report.html"
    assert str(UI_PORT) not in url and webserver.port != UI_PORT
    with urllib.request.urlopen(f"{webserver.base}{url}", timeout=30) as resp:
        html = resp.read().decode("utf-8")
    # the webserver answers 200 with its own page for any path: the title must be the report's
    title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
    assert "2021" in title and "Dagster" not in title, title


def test_the_ui_log_has_no_beta_or_preview_noise(webserver):
    log = webserver.log_tail(10**7)
    for noise in ("BetaWarning", "PreviewWarning", "SupersessionWarning", "is currently in beta",
                  "is currently in preview"):
        assert noise not in log, noise


def test_the_console_has_no_code_server_heartbeat_warning_after_the_daemon_s_refresh(webserver):
    """The daemon refreshes its workspace every 60 s; with a code server of its own it replaced it each time and the
    old one warned "No heartbeat received in 20 seconds, shutting down". Wait past one refresh and its 20 s."""
    time.sleep(max(0.0, 130 - (time.perf_counter() - webserver.started)))  # 60 s + up to 2 × 20 s + margin
    log = webserver.log_tail(10**7)
    assert "No heartbeat received" not in log and "Traceback" not in log, log[-3000:]
    assert log.count("Starting Dagster code server") == 1, log[-3000:]  # one code server, never replaced


def _reload(webserver) -> None:
    body = json.dumps({"query": 'mutation { reloadRepositoryLocation(repositoryLocationName: "etdz") { __typename '
                                '... on WorkspaceLocationEntry { loadStatus } } }'}).encode()
    req = urllib.request.Request(f"{webserver.base}/graphql", data=body, method="POST",
                                 headers={"Content-Type": "application/json", "Origin": webserver.base})
    with urllib.request.urlopen(req, timeout=120) as resp:
        out = json.load(resp)
    assert out["data"]["reloadRepositoryLocation"] == {"__typename": "WorkspaceLocationEntry", "loadStatus": "LOADED"}


def test_a_reload_in_the_ui_applies_a_changed_poll_seconds(webserver, baseline_run):
    """`etdz ui` runs one code server for the webserver and the daemon (pipelines/cli.py::ui_commands): a Reload
    re-reads the configuration for both, so a new `poll_seconds` needs no restart. Last in the file: it changes
    the module's server (and puts it back)."""
    root, _ = baseline_run
    sensors = ('{ sensorsOrError(repositorySelector: {repositoryLocationName: "etdz", repositoryName: '
               '"__repository__"}) { ... on Sensors { results { name minIntervalSeconds } } } }')

    def intervals() -> dict[str, int]:
        return {s["name"]: s["minIntervalSeconds"] for s in webserver.graphql(sensors)["sensorsOrError"]["results"]}

    assert intervals()["inbox_sensor"] == 30
    config = root / "etdz.toml"
    assert not config.exists()
    config.write_text("poll_seconds = 7\n", encoding="utf-8")
    try:
        _reload(webserver)
        assert set(intervals().values()) == {7}
    finally:
        config.unlink()
        _reload(webserver)
    assert intervals()["inbox_sensor"] == 30
