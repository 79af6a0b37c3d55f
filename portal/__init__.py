"""The submission portal (docs/contract/06-portal.md): the zones' door to the inbox, on Django.

Accounts with roles (zone / province / reviewer / admin), the check and submission of files through the run's own
checking (:class:`etdz.checking.Checker`, one warm instance per process), province approval, review queries, an
append-only audit log, HTML pages and a JSON API under ``/api/v1``. The Dagster workflow is unchanged behind it: an
accepted file is written into ``<inbox>/<data_year>/`` and the inbox sensor picks it up as any inbox file.

Django is configured from the project's one configuration (:mod:`etdz.settings`), never from a settings module of
its own: :func:`setup_django` does it once per process. Nothing of ``etdz/`` imports this package.
"""

from __future__ import annotations

import threading

from etdz.settings import Settings

_lock = threading.Lock()
_configured: Settings | None = None


def setup_django(settings: Settings | None = None, **overrides) -> Settings:
    """Configure Django from ``settings`` (default: :meth:`Settings.from_env`) and set it up; returns the settings.

    Once per process: a later call with the same settings does nothing, with other settings it raises (Django
    cannot be configured twice; tests change what they need with ``django.test.override_settings``).
    ``overrides``: Django settings to set beside the derived ones (tests, the bench)."""
    global _configured
    with _lock:
        settings = settings or Settings.from_env()
        if _configured is not None:
            if _configured != settings and not overrides:
                raise RuntimeError("the portal is already configured with other settings in this process")
            return _configured
        import django
        from django.conf import settings as dj

        from portal.config import django_settings

        dj.configure(**{**django_settings(settings), **overrides})
        django.setup()
        _configured = settings
        return settings


def configured() -> Settings | None:
    """The settings Django was configured with in this process (None: not yet)."""
    return _configured


def migrate(verbosity: int = 0) -> None:
    """Create or upgrade the portal database's tables (Django's migrations; idempotent)."""
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)
