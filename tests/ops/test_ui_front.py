"""`etdz ui` fronted by the project (issue 23 item 9): the reports server, the webserver's folder, the front layer.

The reports server and :class:`pipelines.ui_front.UIFront` are tested directly (fast); the front layer end to end
against a real `etdz ui` (webserver + daemon) on loopback, marked ``server``/``slow`` like test_webserver.py.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from etdz.settings import Settings
from pipelines.cli import serve_reports, ui_commands
from pipelines.ui_front import REPORTS_ROUTE, UIFront, is_query_only
from tests.ops.conftest import free_port, free_port_pair, golden_env, stop_group, wait_for_port

# ----------------------------------------------------------------------------- the reports server


@pytest.fixture()
def reports_root(tmp_path):
    """A reports folder with a page, a folder with and one without index.html, staged and hidden files, and
    symlinks out of it."""
    root = tmp_path / "reports"
    (root / "2021" / "zones").mkdir(parents=True)
    (root / "2021" / "national_report.html").write_text("<p>national</p>", encoding="utf-8")
    (root / "2021" / "index.html").write_text("<p>index</p>", encoding="utf-8")
    (root / "2021" / "zones" / "E1.html").write_text("<p>E1</p>", encoding="utf-8")
    (root / "2021" / "_national_report.html.3f2a.tmp").write_text("half written", encoding="utf-8")
    (root / "2021" / "_journal.json").write_text("{}", encoding="utf-8")
    (root / "2021" / ".hidden.html").write_text("hidden", encoding="utf-8")
    (root / "2021" / "part.xlsx.tmp").write_text("staged", encoding="utf-8")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "passwd.html").write_text("secret", encoding="utf-8")
    (root / "2021" / "leak.html").symlink_to(outside / "passwd.html")
    (root / "2021" / "leakdir").symlink_to(outside, target_is_directory=True)
    (root / "2021" / "inside.html").symlink_to(root / "2021" / "zones" / "E1.html")  # inside: served
    return root


@pytest.fixture()
def reports(reports_root):
    """:func:`reports_root` served by `etdz ui`'s reports server on a free port."""
    root = reports_root
    port = free_port()
    server = serve_reports(str(root), "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()


def status(url: str, **headers: str) -> tuple[int, str]:
    req = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8", "replace")


def test_reports_are_served(reports):
    assert status(f"{reports}/2021/national_report.html") == (200, "<p>national</p>")
    assert status(f"{reports}/2021/zones/E1.html") == (200, "<p>E1</p>")
    assert status(f"{reports}/2021/") == (200, "<p>index</p>")  # a folder's index.html is its page
    assert status(f"{reports}/2021/inside.html") == (200, "<p>E1</p>")  # a symlink within the folder


def test_no_folder_listings(reports):
    code, body = status(f"{reports}/2021/zones/")
    assert code == 404 and "E1.html" not in body
    code, body = status(f"{reports}/")
    assert code == 404 and "2021" not in body


@pytest.mark.parametrize("name", ["_national_report.html.3f2a.tmp", "_journal.json", ".hidden.html", "part.xlsx.tmp",
                                  "%5Fnational_report.html.3f2a.tmp"])
def test_no_staged_or_hidden_files(reports, name):
    code, body = status(f"{reports}/2021/{name}")
    assert code == 404 and "staged" not in body and "half written" not in body


@pytest.mark.parametrize("path", ["2021/leak.html", "2021/leakdir/passwd.html", "2021/leakdir/",
                                  "2021/../../secret/passwd.html", "2021/%2e%2e/%2e%2e/secret/passwd.html"])
def test_nothing_outside_the_reports_folder(reports, path):
    code, body = status(f"{reports}/{path}")
    assert code == 404 and "secret" not in body


# ----------------------------------------------------------------------------- the webserver's folder


def test_the_webserver_runs_in_dagster_home_with_a_safe_path(tmp_path, monkeypatch):
    for key, value in golden_env(tmp_path).items():
        monkeypatch.setenv(key, value)
    ui = ui_commands(Settings.from_env(), "127.0.0.1", 3000)
    try:
        assert ui.webserver[1:3] == ["-m", "pipelines.ui_front"]
        assert ui.env["PYTHONSAFEPATH"] == "1"
        assert Path(ui.env["DAGSTER_HOME"]) == tmp_path / "dagster_home"
        # one code server for both, on a socket in a private folder: the workspace points there
        assert ui.code_server[1:5] == ["-m", "dagster", "code-server", "start"]
        assert str(ui.socket) in ui.code_server and str(ui.socket) in ui.workspace.read_text(encoding="utf-8")
        assert oct(ui.socket.parent.stat().st_mode & 0o777) == "0o700" and len(str(ui.socket)) < 100
    finally:
        shutil.rmtree(ui.socket.parent, ignore_errors=True)


# ----------------------------------------------------------------------------- the front layer, directly


def _through_front(scope: dict, first_message: str, root=None) -> tuple[list[dict], bool]:
    """``scope`` sent through the front layer of a UI on 127.0.0.1:3000 (serving the reports of ``root`` if given):
    (the messages it sent back, whether the Dagster app behind it was reached)."""
    reached, sent = [], []

    async def app(scope, receive, send):
        reached.append(scope)

    async def receive():
        return {"type": first_message}

    async def send(message):
        sent.append(message)

    front = UIFront(app, "127.0.0.1", 3000) if root is None else UIFront(app, "127.0.0.1", 3000, str(root))
    asyncio.run(front(scope, receive, send))
    return sent, bool(reached)


def call(kind: str, path: str, query: str = "", **headers: str) -> tuple[int | None, bool]:
    """One request through the front layer of a UI on 127.0.0.1:3000: (the status it answered or None, whether
    the app behind it was reached)."""
    scope = {"type": kind, "path": path, "query_string": query.encode(),
             "headers": [(k.replace("_", "-").lower().encode(), v.encode()) for k, v in headers.items()]}
    sent, reached = _through_front(scope, "websocket.connect")
    code = next((m.get("status") for m in sent if m["type"] == "http.response.start"), None)
    if any(m["type"] == "websocket.close" for m in sent):
        code = 403
    return code, reached


def front_get(root, path: str, method: str = "GET", host: str = "127.0.0.1:3000") -> tuple[int, bytes, bool]:
    """A request to the front layer of a UI on 127.0.0.1:3000 serving the reports of ``root``: (status, body,
    whether the Dagster app behind it was reached)."""
    scope = {"type": "http", "method": method, "path": path, "query_string": b"", "headers": [(b"host", host.encode())]}
    sent, reached = _through_front(scope, "http.request", root)
    code = next((m["status"] for m in sent if m["type"] == "http.response.start"), None)
    return code, b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body"), reached


def test_the_ui_front_serves_the_reports_under_its_own_route(reports_root):
    """Report links are relative to the UI (/etdz-reports/…): the front layer answers them from the reports
    folder under the same rules as the reports server, and the Dagster app never sees those requests."""
    r = REPORTS_ROUTE
    assert front_get(reports_root, f"{r}2021/national_report.html") == (200, b"<p>national</p>", False)
    assert front_get(reports_root, f"{r}2021/zones/E1.html")[:2] == (200, b"<p>E1</p>")
    assert front_get(reports_root, f"{r}2021/")[:2] == (200, b"<p>index</p>")
    assert front_get(reports_root, f"{r}2021/inside.html")[:2] == (200, b"<p>E1</p>")
    for path in ("2021/zones/", "", "2021/_journal.json", "2021/part.xlsx.tmp", "2021/.hidden.html",
                 "2021/%5Fnational_report.html.3f2a.tmp", "2021/leak.html", "2021/leakdir/passwd.html",
                 "2021/../../secret/passwd.html", "2021/%2e%2e/%2e%2e/secret/passwd.html", "2021/missing.html"):
        code, body, reached = front_get(reports_root, r + path)
        assert (code, reached) == (404, False) and b"secret" not in body and b"staged" not in body, path
    assert front_get(reports_root, f"{r}2021/national_report.html", method="POST")[0] == 405
    assert front_get(reports_root, f"{r}2021/national_report.html", method="HEAD")[:2] == (200, b"")
    # the front layer's rules come first: another Host is refused before any file is read
    assert front_get(reports_root, f"{r}2021/national_report.html", host="evil.example:3000")[0] == 403
    assert front_get(reports_root, "/graphql")[2] is True  # everything else is Dagster's


def test_the_front_layer_rules():
    mutation = urllib.parse.urlencode({"query": 'mutation{deleteRun(runId:"x"){__typename}}'})
    query = urllib.parse.urlencode({"query": "{ version }"})
    own = {"host": "127.0.0.1:3000", "origin": "http://127.0.0.1:3000"}
    assert call("http", "/graphql", mutation, **own) == (403, False)
    assert call("http", "/graphql", mutation, host="127.0.0.1:3000") == (403, False)  # no Origin: still
    assert call("http", "/graphql", query, **own) == (None, True)
    assert call("http", "/graphql", "", **own) == (None, True)  # a POST's body is the app's to read
    assert call("http", "/graphql", query, host="evil.example:3000") == (403, False)  # DNS rebinding
    assert call("http", "/graphql", query, host="127.0.0.1:3000", origin="http://evil.example") == (403, False)
    assert call("http", "/", host="localhost:3000") == (None, True)
    assert call("http", "/", host="127.0.0.1:3001") == (403, False)
    assert call("websocket", "/graphql", **own) == (None, True)
    assert call("websocket", "/graphql", host="127.0.0.1:3000", origin="http://evil.example") == (403, False)
    assert not is_query_only("query a { version } mutation b { x }")
    assert not is_query_only("subscription { x }")
    assert not is_query_only("{ unbalanced")
    assert is_query_only("query Q { version } fragment F on X { y }")


# ----------------------------------------------------------------------------- `etdz ui` end to end


@pytest.fixture(scope="module")
def ui(tmp_path_factory):
    """A real `etdz ui` on a fresh configuration, started from a folder holding a `gql.py` that raises."""
    root = tmp_path_factory.mktemp("ui_front")
    caller = root / "caller"
    caller.mkdir()
    (caller / "gql.py").write_text("raise ImportError('the caller folder was imported from')\n", encoding="utf-8")
    port = free_port_pair()
    log = root / "ui.log"
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "ui", "--port", str(port)],
                                env=golden_env(root, ETDZ_UI_PORT=str(port)), cwd=caller, stdout=fh,
                                stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, 120, proc, "etdz ui")
        deadline = time.monotonic() + 120
        while True:
            code, body = post(base, "{ version }", origin=base)
            if code == 200:
                break
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the UI never answered:\n{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.5)
        yield base, port, log
    finally:
        stop_group(proc, timeout=30)


def post(base: str, query: str, **headers: str) -> tuple[int, str]:
    req = urllib.request.Request(f"{base}/graphql", data=json.dumps({"query": query}).encode(),
                                 headers={"Content-Type": "application/json", **headers})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0, ""


DELETE = 'mutation{deleteRun(runId:"00000000-0000-0000-0000-000000000000"){__typename}}'


@pytest.mark.server
@pytest.mark.slow
def test_a_mutation_over_get_from_another_origin_is_refused(ui):
    """`curl -G --data-urlencode 'query=mutation{…}' -H 'Origin: http://evil.example'` against `etdz ui`."""
    base, _, _ = ui
    url = f"{base}/graphql?" + urllib.parse.urlencode({"query": DELETE})
    code, body = status(url, Origin="http://evil.example")
    assert code == 403 and "refused" in body
    code, body = status(url, Origin=base)  # from the UI's own origin too: never over GET
    assert code == 403 and "mutation" in body


@pytest.mark.server
@pytest.mark.slow
def test_a_forged_host_is_refused(ui):
    base, port, _ = ui
    url = f"{base}/graphql?" + urllib.parse.urlencode({"query": "{ version }"})
    assert status(url, Host=f"evil.example:{port}")[0] == 403
    assert status(f"{base}/server_info", Host=f"evil.example:{port}")[0] == 403


@pytest.mark.server
@pytest.mark.slow
def test_the_ui_itself_still_works(ui):
    base, port, _ = ui
    code, body = status(f"{base}/graphql?" + urllib.parse.urlencode({"query": "{ version }"}), Origin=base)
    assert code == 200 and json.loads(body)["data"]["version"]
    code, body = status(f"{base}/graphql?" + urllib.parse.urlencode({"query": "{ version }"}),
                        Host=f"localhost:{port}")
    assert code == 200
    code, body = post(base, DELETE, Origin=base)  # the UI's own POST mutation reaches Dagster
    assert code == 200 and json.loads(body)["data"]["deleteRun"]["__typename"] == "RunNotFoundError"
    code, _ = post(base, DELETE, Origin="http://evil.example")
    assert code == 403


@pytest.mark.server
@pytest.mark.slow
def test_websocket_subscriptions_from_the_own_origin_only(ui):
    from websockets.exceptions import InvalidStatus
    from websockets.sync.client import connect

    base, port, _ = ui
    uri = f"ws://127.0.0.1:{port}/graphql"
    with pytest.raises(InvalidStatus) as refused:
        connect(uri, origin="http://evil.example", subprotocols=["graphql-ws"], open_timeout=30)
    assert refused.value.response.status_code == 403
    with connect(uri, origin=base, subprotocols=["graphql-ws"], open_timeout=30) as ws:
        ws.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(ws.recv(timeout=30))["type"] == "connection_ack"


@pytest.mark.server
@pytest.mark.slow
def test_the_webserver_ignores_the_callers_folder(ui):
    """The `gql.py` in the folder `etdz ui` was started from is never imported (the UI answered GraphQL above)."""
    _, _, log = ui
    assert "the caller folder was imported from" not in log.read_text(errors="replace")


def test_binding_beyond_loopback_is_refused_without_an_auth_proxy(tmp_path):
    env = golden_env(tmp_path)
    done = subprocess.run([sys.executable, "-m", "pipelines.cli", "ui", "--host", "0.0.0.0", "--port",
                           str(free_port_pair())], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "ui_behind_auth_proxy" in done.stderr and "0.0.0.0" in done.stderr
    assert not (tmp_path / "dagster_home" / "workspace.yaml").exists()  # nothing was started


def test_an_auth_proxy_setting_allows_binding_beyond_loopback(tmp_path):
    from pipelines.cli import check_ui_host

    check_ui_host(Settings.from_env({**golden_env(tmp_path), "ETDZ_UI_BEHIND_AUTH_PROXY": "true"}), "0.0.0.0")
    with pytest.raises(Exception, match="ui_behind_auth_proxy"):
        check_ui_host(Settings.from_env(golden_env(tmp_path)), "0.0.0.0")
