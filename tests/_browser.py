"""The real browser the walks through the UI use: Debian's chromium, driven by Playwright.

`require_browser()` at the top of a browser test module skips it when there is no browser, or fails it
when ESTATEFLOW_REQUIRE_BROWSER=1 (CI installs chromium, so a missing one there is a broken set-up).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
