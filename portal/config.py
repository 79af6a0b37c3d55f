"""Django's settings, derived from the project's one configuration (:class:`etdz.settings.Settings`).

Nothing here is a second configuration: the database comes from ``portal_database``, the upload limit from
``max_file_mb``, the lockout period from ``portal_lockout_seconds``, the cookies' ``Secure`` flag and the proxy
headers from ``portal_behind_tls_proxy``. Django's ``SECRET_KEY`` (it signs sessions and CSRF tokens) is generated
once into ``$ETDZ_HOME/portal/secret_key`` (mode 0600) and never stored in the repository.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from etdz.settings import ConfigError, Settings

#: loopback addresses: the portal binds one of these unless a reverse proxy with TLS is in front (§6.4)
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def portal_home(settings: Settings) -> Path:
    """The portal's own folder under ETDZ_HOME (its SQLite database, its secret key, files awaiting approval)."""
    return Path(settings.home) / "portal"


def database(settings: Settings) -> dict:
    """Django's ``DATABASES['default']`` from ``portal_database``: "" → SQLite under ETDZ_HOME, a path or
    ``sqlite:////absolute/path`` (``sqlite:///relative`` to ETDZ_HOME) → that SQLite file,
    ``postgresql://user:password@host:port/name`` → PostgreSQL."""
    url = settings.portal_database.strip()
    if not url or url.startswith("sqlite:") or "://" not in url:
        if url.startswith("sqlite:"):  # sqlite:////absolute/path, sqlite:///relative/to/ETDZ_HOME
            rest = unquote(url.split(":", 1)[1].removeprefix("//"))[1:]
            path = Path(settings.home) / rest
        else:
            path = Path(url).expanduser() if url else portal_home(settings) / "portal.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        # WAL and IMMEDIATE transactions: many readers beside one writer, and writers wait for one another
        # (busy timeout) instead of failing with "database is locked" when 50 zones submit at once
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path),
                "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"}}
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql"):
        raise ConfigError(f"portal_database: {parts.scheme}:// is not supported; give a postgresql://user:password@"
                          f"host:port/name URL, a SQLite file path, or nothing for "
                          f"{portal_home(settings)}/portal.sqlite3")
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ConfigError("portal_database: the PostgreSQL URL names no database (postgresql://user@host:5432/NAME)")
    return {"ENGINE": "django.db.backends.postgresql", "NAME": name, "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""), "HOST": parts.hostname or "", "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True}


def secret_key(settings: Settings) -> str:
    """Django's SECRET_KEY: read from ``$ETDZ_HOME/portal/secret_key``, generated there (0600) the first time."""
    from django.core.management.utils import get_random_secret_key

    path = portal_home(settings) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)  # exclusive: two processes agree on one
    except FileExistsError:
        key = path.read_text(encoding="utf-8").strip()
        if len(key) < 40:
            raise ConfigError(f"{path} holds no usable secret key; remove it and start the portal again (signed-in "
                              f"sessions end)") from None
        return key
    key = get_random_secret_key()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return key


def django_settings(settings: Settings) -> dict:
    """Every Django setting of the portal, from the project's configuration."""
    proxy = settings.portal_behind_tls_proxy
    hosts = [*LOOPBACK, "[::1]"]
    if settings.portal_host not in hosts:
        hosts.append(settings.portal_host)
    return {
        "DEBUG": False,
        "SECRET_KEY": secret_key(settings),
        # behind the reverse proxy the Host header is the public name the proxy passes on
        "ALLOWED_HOSTS": ["*"] if proxy else hosts,
        "INSTALLED_APPS": ["django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions", "portal"],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "portal.middleware.BoundedUploads",
            "django.contrib.sessions.middleware.SessionMiddleware",
            "django.middleware.common.CommonMiddleware",
            "django.middleware.csrf.CsrfViewMiddleware",
            "django.contrib.auth.middleware.AuthenticationMiddleware",
            "django.middleware.clickjacking.XFrameOptionsMiddleware",
        ],
        "ROOT_URLCONF": "portal.urls",
        "DATABASES": {"default": database(settings)},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "TEMPLATES": [{"BACKEND": "django.template.backends.jinja2.Jinja2", "APP_DIRS": True,
                       "OPTIONS": {"environment": "portal.jinja.environment"}}],
        # argon2id first: new passwords are hashed with it (argon2-cffi); the others only verify old hashes
        "PASSWORD_HASHERS": ["django.contrib.auth.hashers.Argon2PasswordHasher",
                             "django.contrib.auth.hashers.PBKDF2PasswordHasher"],
        "AUTH_PASSWORD_VALIDATORS": [
            {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
            {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
            {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
        ],
        "LOGIN_URL": "/login",
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "SESSION_COOKIE_AGE": 8 * 3600,  # a working day
        "SESSION_COOKIE_SECURE": proxy,  # the cookies travel only over the proxy's TLS
        "CSRF_COOKIE_HTTPONLY": True,
        "CSRF_COOKIE_SAMESITE": "Strict",
        "CSRF_COOKIE_SECURE": proxy,
        "CSRF_FAILURE_VIEW": "portal.views.csrf_failure",
        "SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https") if proxy else None,
        "USE_X_FORWARDED_HOST": proxy,
        "SECURE_CONTENT_TYPE_NOSNIFF": True,
        "SECURE_REFERRER_POLICY": "same-origin",
        "X_FRAME_OPTIONS": "DENY",
        # the whole upload is bounded by BoundedUploads (max_file_mb, 413); Django's own limit on the non-file
        # fields stays at its default; uploads are kept in memory up to the file limit (no temporary files)
        "FILE_UPLOAD_MAX_MEMORY_SIZE": settings.max_file_bytes + 1,
        "USE_TZ": True,
        "TIME_ZONE": "Asia/Shanghai",
        "LANGUAGE_CODE": "zh-hans",
        # server errors with their traceback and security events (a foreign Host, a CSRF failure) on stderr; the
        # expected 4xx answers (401, 404, 422) are not logged line by line
        "LOGGING": {"version": 1, "disable_existing_loggers": False,
                    "handlers": {"stderr": {"class": "logging.StreamHandler"}},
                    "loggers": {"django.request": {"handlers": ["stderr"], "level": "ERROR", "propagate": False},
                                "django.security": {"handlers": ["stderr"], "level": "WARNING",
                                                    "propagate": False}}},
        "ETDZ": settings,
    }
