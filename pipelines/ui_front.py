"""The Dagster UI behind a front layer of ours: ``python -m pipelines.ui_front -w WORKSPACE -h HOST -p PORT``.

Dagster's webserver executes a GraphQL mutation sent as a GET with any ``Origin``/``Host`` (issue 23 item 9), so
an ``<img>`` tag on any web page, or DNS rebinding, could drive the loopback UI. This module builds
dagster-webserver 1.13's ASGI app the way its CLI does (``dagster_webserver/cli.py``: the instance, the workspace
process context, ``create_app_from_workspace_process_context``), wraps it in :class:`UIFront` and serves it with
uvicorn, in this one process. :class:`UIFront` refuses (403, a short text):

- a request (HTTP or WebSocket) whose ``Host`` is not the UI's own ``host:port`` (a loopback UI also answers to
  ``localhost``/``127.0.0.1``/``[::1]`` on its port) — DNS rebinding;
- a request whose ``Origin``, when present, is not the UI's own origin — another web page; the UI's own
  WebSocket subscriptions (same origin) pass, so the UI still updates live;
- a GraphQL request whose URL query string carries a mutation (or anything that is not a plain query), whatever
  its method — GraphQL over GET must never change anything.

It also serves the reports, read-only, under :data:`REPORTS_ROUTE` of the UI's own address (from the folder in
``ETDZ_REPORTS``): the report links of every run, command-line runs included, are relative to that route
(``/etdz-reports/2023/national_report.html``), so they open whatever host and port the UI is on — a link
recorded with a port in it breaks as soon as the UI runs elsewhere.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import mimetypes
import os
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote

from etdz.locations import REPORTS_ROUTE  # where this front serves the reports (the runs' links point there)

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

#: the names a loopback UI also answers to (the browser's address bar may say any of them)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
_CHUNK = 1 << 20


def hidden_part(part: str) -> bool:
    """A path part the reports servers never serve: staged/temporary (``_<name>.<id>.tmp``, see
    :func:`etdz.commit.is_temporary`), hidden or a journal — anything starting with ``_``/``.`` or ending in tmp."""
    return part.startswith(("_", ".")) or part.lower().endswith("tmp")


def report_file(root: str | os.PathLike, url_path: str) -> Path | None:
    """The file under ``root`` (the reports folder) that ``url_path`` (relative to it, %-encoded) names, or None:
    no ``..``, no hidden or staged part, nothing a symlink leads out of the folder to, a folder only through its
    ``index.html`` (never listed). The one home of what the reports servers may answer."""
    parts = unquote(url_path).split("/")
    if ".." in parts or any(hidden_part(p) for p in parts if p) or "\0" in url_path:
        return None
    base = Path(root).resolve()
    try:
        resolved = base.joinpath(*[p for p in parts if p]).resolve(strict=True)
        if resolved.is_dir():
            resolved = (resolved / "index.html").resolve(strict=True)
    except (OSError, RuntimeError, ValueError):  # missing, a symlink loop, a NUL
        return None
    if not resolved.is_file() or not resolved.is_relative_to(base) \
            or any(hidden_part(p) for p in resolved.relative_to(base).parts):
        return None
    return resolved


async def _send_file(scope: Scope, send, path: Path | None) -> None:
    """Answer a GET/HEAD with ``path`` (404 when None, 405 for another method)."""
    status, body, kind = 200, b"", mimetypes.guess_type(path.name)[0] if path else None
    if scope.get("method") not in ("GET", "HEAD"):
        status, body = 405, b"405 Method Not Allowed: the reports are read-only\n"
    elif path is None:
        status, body = 404, b"404 Not Found\n"
    headers = [(b"content-type", (kind or "application/octet-stream").encode() if status == 200
                else b"text/plain; charset=utf-8"),
               (b"content-length", str(path.stat().st_size if status == 200 else len(body)).encode())]
    if kind and kind.startswith("text/"):
        headers[0] = (b"content-type", f"{kind}; charset=utf-8".encode())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    if status != 200 or scope["method"] == "HEAD":
        await send({"type": "http.response.body", "body": body if scope.get("method") != "HEAD" else b""})
        return
    with path.open("rb") as fh:  # in chunks: a workbook of 23,000 zones is not read whole into memory
        while chunk := fh.read(_CHUNK):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def own_hosts(host: str, port: int) -> frozenset[str]:
    """The ``Host`` header values the UI on ``host:port`` accepts (lower case)."""
    name = f"[{host}]" if ":" in host and not host.startswith("[") else host
    names = {name.lower()}
    if host in LOOPBACK:
        names.update(LOOPBACK_NAMES)
    return frozenset(f"{n}:{port}" for n in names)


def is_query_only(query: str) -> bool:
    """True when ``query`` is a GraphQL document of queries (and fragments) only; False for a mutation, a
    subscription, or text that does not parse (refused rather than guessed at)."""
    from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

    try:
        document = parse(query)
    except GraphQLError:
        return False
    return all(node.operation == OperationType.QUERY for node in document.definitions
               if isinstance(node, OperationDefinitionNode))


class UIFront:
    """ASGI middleware: refuses foreign ``Host``/``Origin`` and GraphQL mutations in a URL (see the module)."""

    def __init__(self, app: ASGIApp, host: str, port: int, reports: str | None = None):
        self.app = app
        self.reports = reports  # the local reports folder served under REPORTS_ROUTE (None: not served)
        self.hosts = own_hosts(host, port)
        self.origins = frozenset(f"http://{h}" for h in self.hosts)

    def refusal(self, scope: Scope) -> str | None:
        """Why the request in ``scope`` is refused, or None when it may pass."""
        headers: dict[str, str] = {}
        for key, value in scope.get("headers", ()):
            headers.setdefault(key.decode("latin-1").lower(), value.decode("latin-1"))
        host = headers.get("host", "").strip().lower()
        if host not in self.hosts:
            return "this UI answers only to its own address (Host header refused)"
        origin = headers.get("origin")
        if origin is not None and origin.strip().lower() not in self.origins:
            return "requests from another web page are refused (Origin header refused)"
        if scope.get("path", "").rstrip("/").endswith("/graphql") and scope.get("query_string"):
            params = parse_qs(scope["query_string"].decode("latin-1"), keep_blank_values=True)
            if any(not is_query_only(q) for q in params.get("query", ())):
                return "a GraphQL mutation in the URL is refused: send it as a POST from the UI"
        return None

    async def __call__(self, scope: Scope, receive, send) -> None:
        if scope["type"] not in ("http", "websocket"):
            return await self.app(scope, receive, send)  # lifespan
        reason = self.refusal(scope)
        if reason is None and scope["type"] == "http" and self.reports \
                and scope.get("path", "").startswith(REPORTS_ROUTE):
            return await _send_file(scope, send, report_file(self.reports, scope["path"][len(REPORTS_ROUTE):]))
        if reason is None:
            return await self.app(scope, receive, send)
        logging.getLogger("etdz.ui_front").warning("refused %s %s: %s", scope["type"], scope.get("path"), reason)
        if scope["type"] == "websocket":
            await receive()  # websocket.connect; a close before accept is answered 403 by the server
            await send({"type": "websocket.close", "code": 1008})
            return
        body = f"403 Forbidden: {reason}\n".encode()
        await send({"type": "http.response.start", "status": 403,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                                (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


def serve(workspace: Iterable[str], host: str, port: int, log_level: str = "warning") -> None:
    """Build the Dagster webserver's app on this instance and ``workspace`` as its CLI does, wrap it, serve it."""
    import uvicorn
    from dagster._cli.utils import get_possibly_temporary_instance_for_cli
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import WorkspaceFileTarget
    from dagster._utils.interrupts import setup_interrupt_handlers
    from dagster._utils.log import configure_loggers
    from dagster_webserver.app import create_app_from_workspace_process_context
    from dagster_webserver.cli import (
        DEFAULT_DB_STATEMENT_TIMEOUT,
        DEFAULT_POOL_MAX_OVERFLOW,
        DEFAULT_POOL_RECYCLE,
        _lifespan,
    )
    from dagster_webserver.version import __version__

    configure_loggers(log_level="INFO")
    logger = logging.getLogger("dagster-webserver")
    setup_interrupt_handlers()
    with contextlib.ExitStack() as stack:
        instance = stack.enter_context(get_possibly_temporary_instance_for_cli(cli_command="dagster-webserver",
                                                                               logger=logger))
        instance.optimize_for_webserver(DEFAULT_DB_STATEMENT_TIMEOUT, DEFAULT_POOL_RECYCLE, DEFAULT_POOL_MAX_OVERFLOW)
        context = stack.enter_context(WorkspaceProcessContext(
            instance, version=__version__, read_only=False,
            workspace_load_target=WorkspaceFileTarget(paths=list(workspace)), code_server_log_level="info"))
        app = create_app_from_workspace_process_context(context, "", 2000, lifespan=_lifespan)
        logger.info("Serving dagster-webserver (behind etdz's front layer) on http://%s:%s", host, port)
        uvicorn.run(UIFront(app, host, port, reports_folder()), host=host, port=port, log_level=log_level)


def reports_folder() -> str | None:
    """The local reports folder of this configuration (None when the reports live on an object store)."""
    from etdz.locations import local_path
    from etdz.settings import Settings

    folder = local_path(Settings.from_env().reports)
    return str(folder) if folder is not None else None


def main(argv: list[str] | None = None) -> None:
    """``python -m pipelines.ui_front -w WORKSPACE -h HOST -p PORT``: what `etdz ui` starts."""
    parser = argparse.ArgumentParser(prog="python -m pipelines.ui_front", add_help=False)
    parser.add_argument("-w", "--workspace", action="append", required=True)
    parser.add_argument("-h", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=3000)
    args = parser.parse_args(argv)
    serve(args.workspace, args.host, args.port)


if __name__ == "__main__":
    main()
