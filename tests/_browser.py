"""The real browser the walks through the UI use: Debian's chromium, driven by Playwright.

`require_browser()` at the top of a browser test module skips it when there is no browser, or fails it
when ESTATEFLOW_REQUIRE_BROWSER=1 (CI installs chromium, so a missing one there is a broken set-up).
`served(url)` runs the app over a prepared database on a free port; `launched()` is headless chromium.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

from web import create_app

CHROMIUM = os.environ.get("ESTATEFLOW_CHROMIUM", "/usr/bin/chromium")


def _browser_available() -> bool:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return False
    return Path(CHROMIUM).exists()


def require_browser() -> None:
    """Skip (or, with ESTATEFLOW_REQUIRE_BROWSER=1, fail) the calling test module without a browser."""
    if _browser_available():
        return
    if os.environ.get("ESTATEFLOW_REQUIRE_BROWSER") == "1":
        pytest.fail(f"no browser: {CHROMIUM} or playwright missing (ESTATEFLOW_REQUIRE_BROWSER=1)", pytrace=False)
    pytest.skip(f"no browser at {CHROMIUM}", allow_module_level=True)


@contextmanager
def served(database_url: str, secret: str = "browser test") -> Iterator[str]:
    """The app over `database_url`, served in a thread on a free port; yields its base URL."""
    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "SECRET_KEY": secret})
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_port}"
    finally:
        httpd.shutdown()
        app.extensions["estateflow.db"].engine.dispose()


@contextmanager
def launched() -> Iterator[Any]:
    """Headless chromium (Debian's, not Playwright's download: none can be downloaded here)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()
