"""流程配置 › 试运行 and 发布: an administrator tries a draft, reviews it against the live text and publishes it
with a comment; a draft with problems stores nothing and stays. Admins only, CSRF on.
On SQLite and, with ESTATEFLOW_TEST_PG_URL, on PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape

import pytest
from _backends import BACKENDS, START, WORKFLOWS, app_with_files
from flask import Flask
from sqlalchemy import func, select

from engine.access.actor import load_actor
from engine.runtime import drafts
from engine.runtime.definition_files import current_files, store_files
from engine.store.db import transaction
from engine.store.models import DefinitionFile, Draft, User, WorkflowVersion
from tests.web.conftest import AuthActions

TICKET = (WORKFLOWS / "ticket.yaml").read_text(encoding="utf-8")
RENAMED = TICKET.replace("working: {label: 处理中}", "working: {label: 正在处理}")
BROKEN = TICKET.replace("    from: open\n    to: working\n", "    from: open\n    to: nowhere\n")


@pytest.fixture(params=BACKENDS)
def site(request: pytest.FixtureRequest, clock) -> Iterator[Flask]:
    """The seeded app whose database also holds its definitions folder as published files."""
    with app_with_files(request, request.param, clock, WORKFLOWS) as app:
        yield app


@pytest.fixture
def admin(site: Flask) -> AuthActions:
    auth = AuthActions(site.test_client())
    auth.login("admin")
    return auth


def save(site: Flask, text: str, path: str = "ticket.yaml") -> None:
    """The admin's draft of `path`, started from its live version (as the editor saves it)."""
    with transaction(site.extensions["estateflow.db"].writer) as session:
        admin = load_actor(session, session.scalars(select(User.id).where(User.username == "admin")).one())
        live = current_files(session).get(path)
        drafts.save_draft(session, path, text, admin, START, live.version if live else None)


def stored(site: Flask) -> tuple[int, int, int]:
    """How many ticket versions, definition file rows and drafts the database holds."""
    with site.extensions["estateflow.db"].reader() as session:
        return (session.scalar(select(func.count()).select_from(WorkflowVersion)
                               .where(WorkflowVersion.workflow_id == "ticket")) or 0,
                session.scalar(select(func.count()).select_from(DefinitionFile)) or 0,
                session.scalar(select(func.count()).select_from(Draft)) or 0)


def shown(auth: AuthActions, path: str = "ticket.yaml") -> dict[str, str]:
    """The hidden fields of the review page's form: what the admin looked at (live version, draft)."""
    html = auth.client.get(f"/admin/workflows/publish?path={path}").get_data(as_text=True)
    return dict(re.findall(r'<input type="hidden" name="(path|live_version|draft_hash)" value="([^"]*)">', html))


def publish(auth: AuthActions, comment: str, form: dict[str, str] | None = None):
    """Press 发布 on the review page (as shown now, or as `form` was shown before)."""
    return auth.post("/admin/workflows/publish", {**(form or shown(auth)), "comment": comment})


def text_of(response) -> str:
    return unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_the_review_page_shows_the_diff_and_the_summary(site: Flask, admin: AuthActions) -> None:
    save(site, RENAMED)
    page = admin.client.get("/admin/workflows/publish?path=ticket.yaml")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert re.search(r'<tr class="removed">.*working: \{label: 处理中\}', html)
    assert re.search(r'<tr class="added">.*working: \{label: 正在处理\}', html)
    assert "正在处理" in text_of(page).split("与已发布内容的差异")[0]  # the summary names the state's new label
    assert 'name="comment"' in html and "已有人发布" not in html


def test_an_admin_publishes_a_changed_draft_with_a_comment(site: Flask, admin: AuthActions) -> None:
    save(site, RENAMED)
    versions, files, _ = stored(site)
    response = publish(admin, "「处理中」改称「正在处理」")
    assert response.status_code == 200, text_of(response)
    assert stored(site) == (versions + 1, files + 1, 0)
    with site.extensions["estateflow.db"].reader() as session:
        newest = session.scalars(select(WorkflowVersion).where(WorkflowVersion.workflow_id == "ticket")
                                 .order_by(WorkflowVersion.id.desc())).first()
        live = current_files(session)["ticket.yaml"]
    assert newest is not None and newest.comment == "「处理中」改称「正在处理」"
    assert newest.document["states"]["working"]["label"] == "正在处理"
    assert (live.version, live.text, live.comment, live.published_by) == (2, RENAMED, newest.comment, "admin")
    page = text_of(response)
    assert "报事工单" in page and f"第 {newest.version} 版" in page and "ticket.yaml" in page
    assert "ticket" not in page.replace("ticket.yaml", "")  # titles, never the workflow's id
    html = response.get_data(as_text=True)
    assert 'href="/workflows/ticket/versions"' in html and 'href="/admin/workflows/ticket/migrate"' in html


def test_a_broken_draft_stores_nothing_keeps_the_draft_and_lists_its_problems(site: Flask,
                                                                              admin: AuthActions) -> None:
    save(site, BROKEN)
    before = stored(site)
    response = publish(admin, "试一下")
    assert response.status_code == 422
    assert stored(site) == before
    problems = re.findall(r"<li><code>([^<]+)</code></li>", response.get_data(as_text=True))
    assert problems and all(re.match(r"ticket\.yaml:\d+:\d+: ", unescape(p)) for p in problems), problems
    assert any("nowhere" in p for p in problems)
    assert "/tmp" not in response.get_data(as_text=True)


def test_a_missing_comment_is_asked_for_next_to_the_field(site: Flask, admin: AuthActions) -> None:
    save(site, RENAMED)
    before = stored(site)
    response = publish(admin, "   ")
    assert response.status_code == 422
    assert stored(site) == before
    field = re.search(r'<div class="field has-error">(.*?)</div>', response.get_data(as_text=True), re.S)
    assert field and 'name="comment"' in field.group(1) and "请写明这次发布改了什么" in field.group(1)


def test_a_draft_older_than_the_live_file_warns_and_a_publish_meanwhile_is_refused(site: Flask,
                                                                                   admin: AuthActions) -> None:
    save(site, RENAMED)
    with transaction(site.extensions["estateflow.db"].writer) as session:
        store_files(session, {"ticket.yaml": TICKET + "# 命令行发布\n"}, by="ops", comment=None, now=START,
                    complete=False)
    page = text_of(admin.client.get("/admin/workflows/publish?path=ticket.yaml"))
    assert "此草稿基于第 1 版，之后已有人发布了第 2 版" in page
    form = shown(admin)
    with transaction(site.extensions["estateflow.db"].writer) as session:
        store_files(session, {"ticket.yaml": TICKET + "# 又一次\n"}, by="ops", comment=None, now=START,
                    complete=False)
    before = stored(site)
    response = publish(admin, "改名", form)  # the page the admin read showed version 2
    assert response.status_code == 409
    assert stored(site) == before
    assert "没有发布：刚才有人发布了这个文件（现为第 3 版）或修改了草稿" in text_of(response)


def test_a_draft_saved_again_after_the_review_is_not_published_unseen(site: Flask, admin: AuthActions) -> None:
    save(site, RENAMED)
    form = shown(admin)
    save(site, BROKEN)
    before = stored(site)
    assert publish(admin, "改名", form).status_code == 409
    assert stored(site) == before


@pytest.mark.parametrize("url", ["/admin/workflows/publish?path=ticket.yaml", "/admin/workflows/try?path=ticket.yaml"])
def test_staff_who_are_not_admins_are_refused(site: Flask, url: str) -> None:
    save(site, RENAMED)
    frontdesk = AuthActions(site.test_client())
    frontdesk.login("frontdesk")
    before = stored(site)
    assert frontdesk.client.get(url).status_code == 403
    assert publish(frontdesk, "改名", {"path": "ticket.yaml", "live_version": "1"}).status_code == 403
    assert frontdesk.post("/admin/workflows/try?path=ticket.yaml", {"scenario": ""}).status_code == 403
    assert stored(site) == before


def test_publishing_without_the_csrf_token_is_refused(site: Flask, admin: AuthActions) -> None:
    save(site, RENAMED)
    before = stored(site)
    response = admin.client.post("/admin/workflows/publish", data={"path": "ticket.yaml", "comment": "改名",
                                                                   "live_version": "1"})
    assert response.status_code == 400
    assert stored(site) == before


def test_trying_runs_the_prefilled_scenario_against_the_draft(site: Flask, admin: AuthActions) -> None:
    save(site, RENAMED)
    page = admin.client.get("/admin/workflows/try?path=ticket.yaml")
    example = unescape(re.search(r'<textarea id="f-scenario"[^>]*>(.*?)</textarea>', page.get_data(as_text=True),
                                 re.S).group(1))
    assert "workflow: ticket" in example and "as: frontdesk" in example
    before = stored(site)
    response = admin.post("/admin/workflows/try?path=ticket.yaml", {"scenario": example})
    assert response.status_code == 200
    assert "运行了 1 个场景，1 个通过，0 个未通过" in text_of(response)
    broken = admin.post("/admin/workflows/try?path=ticket.yaml",
                        {"scenario": example.replace("as: cs_supervisor", "as: frontdesk")})
    assert "0 个通过，1 个未通过" in text_of(broken) and "not_permitted" in text_of(broken)
    assert stored(site) == before


def test_a_draft_with_problems_is_not_tried(site: Flask, admin: AuthActions) -> None:
    save(site, BROKEN)
    response = admin.post("/admin/workflows/try?path=ticket.yaml", {"scenario": ""})
    assert "没有运行任何场景" in text_of(response)
    assert re.search(r"ticket\.yaml:\d+:\d+: .*nowhere", text_of(response))


def test_an_over_long_ad_hoc_scenario_is_refused_next_to_its_field(site: Flask, admin: AuthActions) -> None:
    response = admin.post("/admin/workflows/try?path=ticket.yaml", {"scenario": "#" * 20_001})
    assert response.status_code == 422
    assert "临时场景过长" in text_of(response) and "运行了" not in text_of(response)
