"""The definitions editor in a real browser (Playwright driving Debian's Chromium): a broken line typed into
a workflow is marked beside its line and listed under the editor without submitting anything; fixing it
brings back 没有问题. Line numbers follow the text as it scrolls.

Started like tests/web/test_web_browser.py: the app over the shipped workflows on a free port; skipped
without a browser, failing instead when ESTATEFLOW_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from conftest import PASSWORD, SHIPPED, START, build_database

from engine.runtime.definition_files import folder_files, store_files
from engine.store.db import make_engine, make_session_factory, transaction
from tests._browser import launched, require_browser, served

require_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app over the shipped workflows, their files published as `estateflow publish` stores them."""
    path = tmp_path_factory.mktemp("authoring") / "estateflow.db"
    build_database(path, SHIPPED)
    engine = make_engine(f"sqlite:///{path}")
    with transaction(make_session_factory(engine)) as session:
        store_files(session, folder_files(SHIPPED), by="部署", comment=None, now=START)
    engine.dispose()
    with served(f"sqlite:///{path}", "browser test") as base:
        yield base


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Chromium, headless."""
    with launched() as browser:
        yield browser


def test_a_broken_line_is_marked_beside_it_as_it_is_typed(server: str, browser: object) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")  # type: ignore[attr-defined]
    page = context.new_page()
    from playwright.sync_api import expect

    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))  # editor.js failing, or refused by the CSP
    page.goto(f"{server}/login")
    page.fill("#username", "admin")
    page.fill("#password", PASSWORD)
    page.click("button:has-text('登录')")
    page.wait_for_url(f"{server}/")
    page.goto(f"{server}/admin/workflows/edit?path=complaint.yaml")
    status = page.locator("#editor-status")
    assert status.inner_text() == "没有问题"

    editor = page.locator("#f-source")
    lines = editor.input_value().split("\n")
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("id:"))
    end_of_line = sum(len(text) + 1 for text in lines[:line]) - 1
    editor.evaluate("(text, at) => { text.focus(); text.setSelectionRange(at, at); }", end_of_line)
    page.keyboard.type("\ncolour: red")

    broken = line + 1
    expect(status).to_have_text(re.compile(r"^\d+ 个问题$"))
    mark = page.locator(f".editor-gutter span:nth-child({broken})")
    assert mark.get_attribute("class") == "problem"
    assert "colour" in mark.get_attribute("title")
    listed = page.locator("#editor-problems .editor-jump")
    assert listed.count() == 1
    assert listed.first.inner_text().startswith(f"行 {broken} 列 1：colour：")
    assert page.url.endswith("/admin/workflows/edit?path=complaint.yaml")  # nothing was submitted

    listed.first.click()  # jumps to the line: the cursor stands at its start
    assert editor.evaluate("text => text.value.slice(0, text.selectionStart).split('\\n').length") == broken

    for _ in "colour: red":
        page.keyboard.press("Delete")
    page.keyboard.press("Backspace")  # and the line itself
    expect(status).to_have_text("没有问题")
    assert page.locator(".editor-gutter span.problem").count() == 0
    assert page.locator("#editor-problems li").count() == 0

    editor.evaluate("text => { text.scrollTop = 600; }")
    gutter = page.locator(".editor-gutter")
    for _ in range(50):  # the scroll event comes with the next frame
        if gutter.evaluate("g => g.scrollTop") == editor.evaluate("t => t.scrollTop"):
            break
        page.wait_for_timeout(20)
    assert gutter.evaluate("g => g.scrollTop") == editor.evaluate("t => t.scrollTop") > 0
    assert errors == []
    context.close()
