"""Serving the portal: waitress (a production WSGI server, several threads) in front of Django, one warm
:class:`etdz.checking.Checker` shared by the threads — never Django's development server."""

from __future__ import annotations

import sys

from etdz.settings import ConfigError, Settings
from portal.config import LOOPBACK

THREADS = 8


def check_host(settings: Settings, host: str) -> None:
    """Loopback unless a reverse proxy with TLS is configured in front (§6.4): else a ConfigError naming what to do."""
    if host in LOOPBACK or settings.portal_behind_tls_proxy:
        return
    raise ConfigError(f"the portal listens on loopback only ({', '.join(LOOPBACK)}); {host!r} is refused because "
                      f"sessions and passwords would cross the network unencrypted. Put a reverse proxy with TLS in "
                      f"front and set portal_behind_tls_proxy = true (ETDZ_PORTAL_BEHIND_TLS_PROXY=true), or use "
                      f"--host 127.0.0.1")


def application(settings: Settings):
    """Django configured from ``settings``, its database migrated, the checker warmed: the WSGI application."""
    from django.core.wsgi import get_wsgi_application

    import portal

    portal.setup_django(settings)
    portal.migrate()
    from portal.submitting import checker, open_year

    year = open_year()
    checker().warm([year, year - 1])  # GX imported and the open year's suite built before the first user waits
    return get_wsgi_application()


def serve(settings: Settings, host: str, port: int, threads: int = THREADS) -> None:
    """Serve the portal until interrupted."""
    from waitress import serve as waitress_serve

    from portal.middleware import ENVELOPE_BYTES

    check_host(settings, host)
    app = application(settings)
    print(f"etdz portal: http://{'[' + host + ']' if ':' in host else host}:{port}/login (waitress, {threads} "
          f"threads; Ctrl-C stops it)", file=sys.stderr, flush=True)
    waitress_serve(app, host=host, port=port, threads=threads, ident="etdz-portal",
                   max_request_body_size=settings.max_file_bytes + ENVELOPE_BYTES, clear_untrusted_proxy_headers=True,
                   _quiet=True)
