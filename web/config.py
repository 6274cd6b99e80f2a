"""Default settings of the web app; the factory layers instance/config.py, ESTATEFLOW_* and test values on top.

    Config                  the defaults
    check_secret_key(app)   refuse a missing, short or known SECRET_KEY (engine.settings.secret_key_problem)
    serve_behind(app)       ESTATEFLOW_PROXY_HOPS (werkzeug's ProxyFix) and Secure cookies over HTTPS
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask, has_request_context, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

from engine.clock import DEFAULT_TIMEZONE
from engine.settings import secret_key_problem
from engine.store.db import DEFAULT_URL


class Config:
    """Defaults. Override with instance/config.py or environment variables ESTATEFLOW_<NAME>."""

    # No default: a key written anywhere is a key anyone can sign an admin session with.
    SECRET_KEY = None
    PROXY_HOPS = 0
    """How many reverse proxies stand in front (ESTATEFLOW_PROXY_HOPS): their X-Forwarded-* are believed."""
    HTTPS = False
    """Served over HTTPS (ESTATEFLOW_HTTPS=1): cookies are marked Secure."""
    # The same default as the CLI (`estateflow db upgrade`), so both find the same file.
    DATABASE_URL = DEFAULT_URL
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    # A front-desk page may stay open a whole shift before its form is sent.
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    PER_PAGE = 20
    TIMEZONE = DEFAULT_TIMEZONE
    """Used for date filters across estates; each item is shown in its estate's own zone."""
    # Sessions and the login throttle (web/auth.py, engine/access): the defaults of engine/settings.py.
    SESSION_IDLE_HOURS = 8
    SESSION_MAX_HOURS = 24
    LOGIN_MAX_FAILURES = 5
    LOGIN_WAIT_SECONDS = 30
    LOGIN_WAIT_MAX_SECONDS = 900
    LOGIN_ADDRESS_MAX_FAILURES = 100
    LOGIN_ADDRESS_WINDOW_MINUTES = 15
    CLOCK = None
    """An engine.clock.Clock (tests pass a FixedClock); None means the real time."""


class SecretKeyRefused(click.ClickException, RuntimeError):
    """The app will not sign sessions with this key. A ClickException, so `flask run` prints it as one
    line (`Error: ...`, exit 1) instead of a traceback; a RuntimeError for everything else."""


def check_secret_key(app: Flask) -> None:
    """Refuse a missing, short or known SECRET_KEY, debug included; in TESTING any key the test passes."""
    key: Any = app.config.get("SECRET_KEY")
    if isinstance(key, bytes):
        key = key.decode("utf-8", "replace")
    elif key is not None and not isinstance(key, str):
        key = str(key)  # ESTATEFLOW_* values are read as JSON: an all-digit key arrives as a number
    if app.testing and key:
        return
    problem = secret_key_problem(key)
    if problem:
        raise SecretKeyRefused(problem)


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes", "on"}


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, the cookie marked Secure also when this request came over HTTPS
    (directly, or forwarded so by a trusted proxy through ProxyFix), not only when HTTPS says so."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return super().get_cookie_secure(app) or (has_request_context() and request.is_secure)


def serve_behind(app: Flask) -> None:
    """Believe PROXY_HOPS proxies' X-Forwarded-For/-Proto/-Host (werkzeug's ProxyFix); Secure cookies
    when HTTPS is set or a request arrives over https."""
    hops = app.config["PROXY_HOPS"]
    if isinstance(hops, bool) or not isinstance(hops, int) or not 0 <= hops <= 10:
        raise RuntimeError(f"ESTATEFLOW_PROXY_HOPS must be a number of proxies from 0 to 10, not {hops!r}")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    https = _flag(app.config["HTTPS"])
    app.config["HTTPS"] = https
    if https:
        app.config.update(SESSION_COOKIE_SECURE=True, REMEMBER_COOKIE_SECURE=True, PREFERRED_URL_SCHEME="https")
    app.session_interface = _SessionInterface()
