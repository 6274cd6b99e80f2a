"""Fixtures of the organisation's web tests (see _org.py): the app over two estates, the engine side, logins.

`app` here replaces tests/web/conftest.py's (the demo-less app of the item tests) for this folder.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from _org import BACKENDS, Browser, Org, org_app, org_template  # noqa: F401 (org_template: a fixture)
from flask import Flask


@pytest.fixture(params=BACKENDS)
def app(request: pytest.FixtureRequest, clock: Any) -> Iterator[Flask]:
    """The organisation's app, on SQLite and (when configured) PostgreSQL."""
    with org_app(request, request.param, clock) as made:
        yield made


@pytest.fixture
def org(app: Flask, clock: Any) -> Iterator[Org]:
    """The engine side: rows, actors, items."""
    made = Org(app, clock)
    yield made
    made.close()


@pytest.fixture
def as_user(app: Flask) -> Callable[[str], Browser]:
    """A browser logged in as `username` (password demo1234)."""
    def login(username: str) -> Browser:
        browser = Browser(app.test_client())
        assert browser.login(username).status_code == 302
        return browser
    return login


@pytest.fixture
def browser(app: Flask) -> Callable[[], Browser]:
    """A new browser, not logged in."""
    return lambda: Browser(app.test_client())
