"""Default settings of the web app; the factory layers instance/config.py, ESTATEFLOW_* and test values on top."""

from __future__ import annotations

from engine.clock import DEFAULT_TIMEZONE
from engine.store.db import DEFAULT_URL

DEV_SECRET_KEY = "dev"


class Config:
    """Defaults. Override with instance/config.py or environment variables ESTATEFLOW_<NAME>."""

    # A development default that MUST be overridden: create_app refuses it outside debug/testing.
    SECRET_KEY = DEV_SECRET_KEY
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
    LOGIN_DELAY_BASE = 0.5
    """Seconds of delay after the first wrong password for a username/IP; doubles each time."""
    LOGIN_DELAY_MAX = 8.0
    CLOCK = None
    """An engine.clock.Clock (tests pass a FixedClock); None means the real time."""
