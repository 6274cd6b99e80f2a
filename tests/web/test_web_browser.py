"""A real browser (Playwright driving Debian's Chromium) through a whole complaint, and a phone-sized list.

The front desk registers a complaint, the supervisor dispatches it, the engineer
feeds back, the front desk replies (a minor complaint by phone: no review) and revisits,
and it is archived. Screenshots of the main pages go to tests/artifacts/ (git-ignored).
Without a browser the test is skipped, or fails when ESTATEFLOW_REQUIRE_BROWSER=1 (CI).
The steps name the shipped complaint workflow's transitions and fields (STEPS below):
when workflows/complaint.yaml changes its names, change them here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import PASSWORD, SHIPPED, build_database

from engine.reports.published import publish_reports
from engine.store.db import make_engine, make_session_factory, transaction
from tests._browser import launched, require_browser, served

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"

INTAKE = {"category": "property", "severity": "minor", "unit": "3-1-502",
          "description": "楼道灯坏了三盏，晚上很黑 <script>alert(1)</script>", "phone": "13812345678"}
STEPS = [  # (user, transition, fields), in order
    ("cs_supervisor", "dispatch", {"department": "engineering", "handler": "engineer"}),
    # domain-review.md E1: a minor complaint answered by phone needs no review.
    ("engineer", "feed_back", {"feedback": "已更换灯管，现场测试正常"}),
    ("frontdesk", "reply", {"reply_channel": "phone"}),
    ("frontdesk", "revisit", {"revisit_method": "phone", "satisfaction": "satisfied", "revisit_note": "业主表示满意"}),
]


require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the shipped workflows and the demo seed, served on a free port."""
    path = tmp_path_factory.mktemp("browser") / "estateflow.db"
    build_database(path, SHIPPED)
    publish_shipped_reports(path)
    with served(f"sqlite:///{path}", "browser test") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium, headless."""
    with launched() as browser:
        yield browser


def shot(page: object, name: str, full: bool = True) -> None:
    """Save a screenshot; phone ones show the first screen, as a phone does."""
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=full)  # type: ignore[attr-defined]


def login(page: object, base: str, username: str, screenshot: bool = False) -> None:
    page.goto(f"{base}/login")  # type: ignore[attr-defined]
    if screenshot:
        shot(page, "login")
    page.fill("#username", username)  # type: ignore[attr-defined]
    page.fill("#password", PASSWORD)  # type: ignore[attr-defined]
    page.click("button:has-text('登录')")  # type: ignore[attr-defined]
    page.wait_for_url(f"{base}/")  # type: ignore[attr-defined]


def logout(page: object) -> None:
    page.click("header button:has-text('退出')")  # type: ignore[attr-defined]
    page.wait_for_url("**/login")  # type: ignore[attr-defined]


def fill(scope: object, fields: dict[str, str]) -> None:
    for name, value in fields.items():
        control = scope.locator(f"[name='{name}']")  # type: ignore[attr-defined]
        if control.evaluate("e => e.tagName") == "SELECT":
            control.select_option(value)
        else:
            control.fill(value)


def test_a_complaint_from_registration_to_archive(server: str, browser: object) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    login(page, server, "frontdesk", screenshot=True)
    assert page.locator("h1").inner_text() == "我的待办"
    shot(page, "inbox")

    page.goto(f"{server}/workflows/complaint/new")
    shot(page, "create")
    page.click("button:has-text('登记')")
    assert page.locator(".field.has-error").count() >= 3
    shot(page, "create-errors")
    fill(page, INTAKE)
    page.click("button:has-text('登记')")
    page.wait_for_url("**/items/*")
    item_url = page.url
    assert page.locator(".status .state").count() == 1
    assert "<script>alert(1)</script>" in page.locator(".fields").inner_text()  # shown as text, not run
    logout(page)

    for user, transition, fields in STEPS:
        login(page, server, user)
        page.goto(item_url)
        # One button per branch: the first of the name's buttons is the branch these steps take.
        action = page.locator(f"details:has(form[action$='/fire/{transition}'])").first
        action.locator("summary").click()
        fill(action, fields)
        action.locator("button[type=submit]").click()
        page.wait_for_url(item_url)
        assert "操作成功" in page.locator(".flash").inner_text(), (user, transition)
        if transition == "dispatch":
            shot(page, "item")
        logout(page)

    login(page, server, "frontdesk")
    page.goto(item_url)
    assert "已归档" in page.locator(".status").inner_text()
    assert page.locator(".timeline > li").count() == len(STEPS) + 1
    page.goto(f"{server}/items")
    shot(page, "list")
    context.close()


def test_the_list_works_at_375_pixels(server: str, browser: object) -> None:
    context = browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN",  # type: ignore[attr-defined]
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    login(page, server, "cs_supervisor")
    page.goto(f"{server}/items")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert page.locator("table.items tbody tr").count() > 0
    shot(page, "list-375", full=False)
    page.locator("table.items tbody tr a").first.click()
    page.wait_for_url("**/items/*")
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    shot(page, "item-375", full=False)
    page.goto(f"{server}/")
    shot(page, "inbox-375", full=False)
    context.close()


def publish_shipped_reports(path: Path) -> None:
    """The shipped reports, stored as `estateflow publish` stores them next to the workflows."""
    engine = make_engine(f"sqlite:///{path}")
    with transaction(make_session_factory(engine)) as session:
        publish_reports(session, SHIPPED)
    engine.dispose()


@pytest.mark.parametrize("width", [1280, 375])
def test_the_weekly_complaint_report_reads_at_both_widths(server: str, browser: object, width: int) -> None:
    phone = width < 400
    context = browser.new_context(viewport={"width": width, "height": 900}, locale="zh-CN",  # type: ignore[attr-defined]
                                  device_scale_factor=2 if phone else 1, is_mobile=phone, has_touch=phone)
    page = context.new_page()
    login(page, server, "cs_supervisor")
    page.click("header a:has-text('统计报表')")
    page.click("a:has-text('投诉周报')")
    page.wait_for_url("**/reports/complaints_weekly")
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    section = page.locator("section.report-table").first
    table, chart = section.locator("table.figures").bounding_box(), section.locator("svg.chart").bounding_box()
    if phone:
        assert chart["y"] >= table["y"] + table["height"] - 1  # stacked: the chart under its table
    else:
        assert chart["x"] >= table["x"] + table["width"] - 1 and chart["y"] < table["y"] + table["height"]
    # The smallest chart text (axis numbers, the legend) still reads: at least 10 CSS pixels tall.
    smallest = page.evaluate("Math.min(...[...document.querySelectorAll('svg.chart text')]"
                             ".map(t => t.getBoundingClientRect().height).filter(h => h > 0))")
    assert smallest >= 10
    shot(page, f"report-{width}", full=not phone)
    section.locator("table.figures tbody a").first.click()
    page.wait_for_url("**/reports/complaints_weekly/items?*")
    assert page.locator("table.items tbody tr").count() >= 1
    context.close()
