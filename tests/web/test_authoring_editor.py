"""流程配置: the files page, the editor (without its script) and drafts: save, download, discard.

The database holds the shipped definitions folder as published files (as `estateflow publish` stores
them). On SQLite and, with ESTATEFLOW_TEST_PG_URL, on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from _backends import BACKENDS, START, app_with_files, backend_app
from flask import Flask

from engine.runtime.definition_files import current_files, store_files
from engine.store.db import transaction

SHIPPED = Path(__file__).resolve().parents[2] / "workflows"
FILES = "/admin/workflows"

on_both = pytest.mark.parametrize("site", BACKENDS, indirect=True)


@pytest.fixture
def site(request: pytest.FixtureRequest, clock) -> Iterator[Flask]:
    """The seeded app whose database holds the shipped definitions folder as published files: on SQLite,
    or on each backend for a test marked `@on_both` (PostgreSQL seeds per test, which is slow)."""
    with app_with_files(request, getattr(request, "param", "sqlite"), clock, SHIPPED) as app:
        yield app


def publish(app: Flask, files: dict[str, str], by: str, complete: bool = True) -> None:
    with transaction(app.extensions["estateflow.db"].writer) as session:
        store_files(session, files, by=by, comment=None, now=START, complete=complete)


def live(app: Flask, path: str) -> str:
    with app.extensions["estateflow.db"].reader() as session:
        return current_files(session)[path].text


@pytest.fixture
def admin(site: Flask, browser: Callable[..., Any]) -> Any:
    """The demo admin logged in on `site` (conftest's AuthActions)."""
    auth = browser(on=site)
    auth.login("admin")
    return auth


def save(auth: Any, path: str, source: str, base_version: str = "1"):
    return auth.post("/admin/workflows/draft", {"path": path, "source": source, "base_version": base_version})


# -- the files page ----------------------------------------------------------------------------


def test_the_files_page_lists_the_tree_by_kind_with_versions_and_who(admin: Any) -> None:
    page = admin.client.get(FILES).get_data(as_text=True)
    headings = re.findall(r"<h2>([^<]+)</h2>", page)
    assert headings[:7] == ["流程", "小区差异", "日历", "派单规则", "报表", "短信模板", "角色"]
    for path in ("complaint.yaml", "estates/plaza/complaint.yaml", "calendars/desk.yaml",
                 "estates/demo/_routing.yaml", "reports/workload.yaml", "messages.yaml", "roles.yaml"):
        assert f"edit?path={path}\"" in page
    assert "第 1 版" in page and "部署" in page
    assert 'class="badge soon">草稿' not in page


@on_both
def test_the_files_page_marks_drafts_and_lists_drafts_of_new_files(site: Flask, admin: Any) -> None:
    save(admin, "complaint.yaml", "id: complaint\n")
    save(admin, "estates/plaza/repair.yaml", "states: {}\n", base_version="")
    page = admin.client.get(FILES).get_data(as_text=True)
    complaint_row = page.split("edit?path=complaint.yaml")[1].split("</tr>")[0]
    assert '<span class="badge soon">草稿</span> 系统管理员 · 2026-03-02 09:00' in complaint_row
    assert "新文件草稿" in page and "estates/plaza/repair.yaml" in page


def test_a_site_published_before_the_files_were_stored_says_to_publish_once(request: pytest.FixtureRequest,
                                                                          browser: Callable[..., Any]) -> None:
    with backend_app(request, "sqlite", request.getfixturevalue("clock")) as app:
        auth = browser(on=app)
        auth.login("admin")
        page = auth.client.get(FILES).get_data(as_text=True)
    assert "estateflow publish" in page and "运行一次" in page


def test_a_new_file_path_is_checked_beside_its_field(admin: Any) -> None:
    response = admin.client.get(f"{FILES}/new?path=../secrets.yaml")
    assert response.status_code == 422
    field = response.get_data(as_text=True).split('id="f-path"')[1]
    assert 'class="error" id="e-path">路径无效' in field
    response = admin.client.get(f"{FILES}/new?path=estates/plaza/repair.yaml")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/workflows/edit?path=estates/plaza/repair.yaml")


@pytest.mark.parametrize("username", ["cs_manager", "frontdesk"])
def test_only_admins_see_the_authoring_pages(site: Flask, browser: Callable[..., Any], username: str) -> None:
    other = browser(on=site)
    other.login(username)
    for url in (FILES, f"{FILES}/edit?path=complaint.yaml", f"{FILES}/draft.yaml?path=complaint.yaml"):
        assert other.client.get(url).status_code == 403
    assert other.post("/admin/workflows/draft", {"path": "complaint.yaml", "source": "x"}).status_code == 403
    assert other.post("/admin/workflows/draft/discard", {"path": "complaint.yaml"}).status_code == 403


def test_the_admin_page_links_to_the_files_for_admins_only(site: Flask, browser: Callable[..., Any],
                                                           admin: Any) -> None:
    assert 'href="/admin/workflows"' in admin.client.get("/admin").get_data(as_text=True)
    manager = browser(on=site)
    manager.login("cs_manager")
    assert 'href="/admin/workflows"' not in manager.client.get("/admin").get_data(as_text=True)


# -- the editor --------------------------------------------------------------------------------


def test_the_editor_shows_the_published_text_with_line_numbers_and_no_problems(site: Flask,
                                                                               admin: Any) -> None:
    page = admin.client.get(f"{FILES}/edit?path=complaint.yaml").get_data(as_text=True)
    text = live(site, "complaint.yaml")
    textarea = page.split('<textarea id="f-source"')[1].split("</textarea>")[0]
    assert 'wrap="off"' in textarea and 'data-path="complaint.yaml"' in textarea
    assert "已发布第 1 版" in page
    gutter = page.split('class="editor-gutter"')[1].split("</div>")[0]
    assert gutter.count("<span") == text.count("\n") + 1
    assert "没有问题" in page


def test_the_editor_carries_no_inline_script_or_style(admin: Any) -> None:
    page = admin.client.get(f"{FILES}/edit?path=complaint.yaml").get_data(as_text=True)
    assert re.findall(r"<script(?![^>]*\bsrc=)", page) == []
    assert " style=" not in page and "<style" not in page
    assert '/static/editor.js' in page


@on_both
def test_a_saved_draft_is_shown_with_its_problems_beside_their_lines(site: Flask, admin: Any) -> None:
    response = save(admin, "calendar.yaml", "timezone: Asia/Shanghai\nnonsense: 1\n")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/admin/workflows/edit?path=calendar.yaml")
    page = admin.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "草稿已保存" in page
    assert "nonsense: 1" in page.split('<textarea id="f-source"')[1]
    assert "1 个问题" in page
    assert "行 2 列 1：nonsense：unknown key" in page
    gutter = page.split('class="editor-gutter"')[1].split("</div>")[0]
    assert re.search(r'<span class="problem" title="unknown key[^"]*">2</span>', gutter)


def test_a_draft_keeps_lf_line_ends_and_a_leading_blank_line(site: Flask, admin: Any) -> None:
    save(admin, "complaint.yaml", "\r\n# 草稿\r\nid: complaint\r\n")
    response = admin.client.get(f"{FILES}/draft.yaml?path=complaint.yaml")
    assert response.get_data(as_text=True) == "\n# 草稿\nid: complaint\n"
    page = admin.client.get(f"{FILES}/edit?path=complaint.yaml").get_data(as_text=True)
    assert ">\n\n# 草稿\nid: complaint\n</textarea>" in page  # the parser drops the first newline only


def test_a_draft_is_saved_only_with_the_csrf_token(admin: Any) -> None:
    response = admin.client.post("/admin/workflows/draft", data={"path": "complaint.yaml", "source": "x: 1"})
    assert response.status_code == 400
    assert "没有问题" in admin.client.get(f"{FILES}/edit?path=complaint.yaml").get_data(as_text=True)


@on_both
def test_download_gives_the_draft_else_the_published_text_as_a_yaml_file(site: Flask, admin: Any) -> None:
    response = admin.client.get(f"{FILES}/draft.yaml?path=estates/plaza/complaint.yaml")
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/yaml; charset=utf-8"
    assert response.headers["Content-Disposition"] == "attachment; filename=complaint.yaml"
    assert response.get_data(as_text=True) == live(site, "estates/plaza/complaint.yaml")
    save(admin, "estates/plaza/complaint.yaml", "# 商业广场\nstates: {}\n")
    assert admin.client.get(f"{FILES}/draft.yaml?path=estates/plaza/complaint.yaml").get_data(as_text=True) == \
        "# 商业广场\nstates: {}\n"
    assert admin.client.get(f"{FILES}/draft.yaml?path=nothing_here.yaml").status_code == 404
    assert admin.client.get(f"{FILES}/draft.yaml?path=../etc/passwd").status_code == 404


@on_both
def test_discarding_a_draft_brings_back_the_published_text(site: Flask, admin: Any) -> None:
    save(admin, "complaint.yaml", "id: complaint\n")
    response = admin.post("/admin/workflows/draft/discard", {"path": "complaint.yaml"})
    assert response.status_code == 302
    assert "草稿已放弃" in admin.client.get(response.headers["Location"]).get_data(as_text=True)
    assert admin.client.get(f"{FILES}/draft.yaml?path=complaint.yaml").get_data(as_text=True) == \
        live(site, "complaint.yaml")


@on_both
def test_a_draft_older_than_the_published_version_warns(site: Flask, admin: Any) -> None:
    save(admin, "calendar.yaml", live(site, "calendar.yaml") + "\n# 草稿\n")
    publish(site, {"calendar.yaml": live(site, "calendar.yaml") + "\n# 另一位管理员\n"}, by="李", complete=False)
    page = admin.client.get(f"{FILES}/edit?path=calendar.yaml").get_data(as_text=True)
    assert "此草稿基于第 1 版，之后已有人发布了第 2 版" in page


def test_a_new_file_starts_empty_and_says_so(admin: Any) -> None:
    page = admin.client.get(f"{FILES}/edit?path=estates/plaza/repair.yaml").get_data(as_text=True)
    assert "新文件，尚未发布" in page
    assert "the file is empty" in page
    assert admin.client.get(f"{FILES}/edit?path=estates/plaza/../x.yaml").status_code == 404
