"""A real browser through the organisation: an admin adds a clerk and a unit, the clerk logs in with the
one-time password and must choose their own, finds a caller by phone and registers a repair for that
unit (the engineer picker starts with the one routed for the trade), the engineer assigned sees the
resident's phone, and a cleaner sees the phone masked on the unit page and the repair not at all.

Screenshots go to tests/artifacts/ (git-ignored). Without a browser the test is skipped, or fails
when ESTATEFLOW_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from _org import PASSWORD, build

from engine.store.db import make_engine, make_session_factory
from engine.store.migrate import upgrade
from tests._browser import launched, require_browser, served

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the organisation's test data (tests/web/_org.py), served on a free port."""
    path = tmp_path_factory.mktemp("org-browser") / "org.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    build(make_session_factory(engine))
    engine.dispose()
    with served(url, "org browser test") as base:
        yield base


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    with launched() as browser:
        yield browser


def shot(page: object, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"org-{name}.png"), full_page=True)  # type: ignore[attr-defined]


def login(page: object, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", password)  # type: ignore[attr-defined]
    page.click("button:has-text('登录')")  # type: ignore[attr-defined]


def logout(page: object) -> None:
    page.click("header button:has-text('退出')")  # type: ignore[attr-defined]
    page.wait_for_url("**/login")  # type: ignore[attr-defined]


def test_from_a_new_clerk_to_a_repair_the_right_people_see(server: str, chromium: object) -> None:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)

    # The admin adds a clerk (one-time password shown once) and a unit with its owner.
    login(page, server, "admin")
    page.click("nav a:has-text('管理')")
    page.click("a:has-text('员工列表')")
    page.click("a:has-text('添加员工')")
    page.fill("#f-name", "周杰")
    page.fill("#f-username", "zhoujie")
    page.check("input[name=roles][value=frontdesk]")
    page.click("button:has-text('添加')")
    one_time = page.locator("code.otp").inner_text()
    shot(page, "one-time-password")
    page.goto(f"{server}/admin/estates/demo/units/new")
    page.fill("#f-unit", "9-1-101")
    page.fill("#f-building", "9")
    page.click("button:has-text('添加')")
    page.select_option("#f-kind", "owner")
    page.fill("form[action$='/residents'] #f-name", "吴芳")
    page.fill("form[action$='/residents'] #f-phone", "13511113333")
    page.click("form[action$='/residents'] button:has-text('添加')")
    assert "吴*" in page.locator("table.items").inner_text()  # the admin is not customer service: masked
    logout(page)

    # The clerk logs in with it and must choose a password first.
    login(page, server, "zhoujie", one_time)
    page.wait_for_url("**/account/password")
    page.goto(f"{server}/items")
    assert page.url.endswith("/account/password")
    page.fill("#f-old", one_time)
    page.fill("#f-new", "blue-sky-2026!")
    page.fill("#f-again", "blue-sky-2026!")
    page.click("button:has-text('修改密码')")
    page.wait_for_url(f"{server}/")

    # A call: the clerk finds the caller by phone and registers a repair for that unit.
    page.click("nav a:has-text('查询来电')")
    page.fill("input[name=q]", "135 1111 3333")
    page.click("button:has-text('查询')")
    card = page.locator(".caller")
    assert "9-1-101" in card.inner_text() and "吴芳" in card.inner_text()
    shot(page, "lookup")
    card.locator("a:has-text('为此房号登记报修')").click()
    assert page.locator("input[name=unit]").input_value() == "9-1-101"
    page.fill("textarea[name=description]", "客厅灯不亮")
    page.fill("input[name=phone]", "13511113333")
    page.select_option("select[name=trade]", "electrical")
    picker = page.locator("select[name=engineer]")
    assert "钱师傅" in picker.inner_text() and "engineer2" not in picker.inner_text()
    picker.select_option(label="钱师傅")
    shot(page, "register")
    page.click("button:has-text('登记')")
    page.wait_for_url(re.compile(r".*/items/\d+$"))
    item_url = page.url
    logout(page)

    # The engineer assigned sees the resident's phone; a cleaner neither the phone nor the repair.
    login(page, server, "engineer2")
    page.goto(item_url)
    assert "13511113333" in page.content()
    logout(page)
    login(page, server, "cleaner")
    assert page.goto(item_url).status == 404
    page.goto(f"{server}/lookup?q=9-1-101")
    page.locator(".caller h2 a").click()
    page.wait_for_url(re.compile(r".*/units/\d+$"))
    body = page.content()
    assert "135****3333" in body and "13511113333" not in body and "吴芳" not in body
    shot(page, "cleaner")
    # No script or style refused by the CSP, no script error (404s, the refused item above, are not ones).
    assert [m for m in problems if "Content Security Policy" in m or "Uncaught" in m] == []
    context.close()
