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
"""

from __future__ import annotations

import argparse
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any
from urllib.parse import parse_qs

Scope = dict[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]

#: the names a loopback UI also answers to (the browser's address bar may say any of them)
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


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

    def __init__(self, app: ASGIApp, host: str, port: int):
        self.app = app
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
        uvicorn.run(UIFront(app, host, port), host=host, port=port, log_level=log_level)


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
