"""Items: lists, the item page, and firing transitions with the engine's errors as status codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import update

from engine.store.models import Item


def set_deadline(world, item, delta):
    with world.factory.begin() as session:
        session.execute(update(Item).where(Item.id == item.id).values(deadline_at=world.clock.now() + delta))


def fire_url(item, name):
    return f"/items/{item.id}/fire/{name}"


# -- 我的待办 ------------------------------------------------------------------------------

def test_inbox_lists_what_the_user_can_do_now(auth, client, world):
    item = world.make_item(unit="9-9-909")
    auth.login("cs_supervisor")
    assert item.number in client.get("/").get_data(as_text=True)
    auth.logout()
    auth.login("engineer")  # nothing to do on a fresh ticket
    assert item.number not in client.get("/").get_data(as_text=True)


def test_inbox_puts_the_nearest_deadline_first(auth, client, world):
    later, sooner, none = world.make_item(), world.make_item(), world.make_item()
    set_deadline(world, later, timedelta(hours=30))
    set_deadline(world, sooner, timedelta(hours=-2))
    auth.login("cs_supervisor")
    page = client.get("/").get_data(as_text=True)
    assert page.index(sooner.number) < page.index(later.number)
    assert "已超时" in page and "已超时 2小时" in page
    assert none.number not in page[: page.index(later.number)]


# -- lists -----------------------------------------------------------------------------------

def test_list_shows_all_workflows_and_masks_personal_fields(auth, client, world):
    world.make_item(phone="13812345678")
    world.make_item(workflow="repair", unit="1-1-101")
    auth.login("frontdesk")
    page = client.get("/items").get_data(as_text=True)
    assert "报事工单" in page and "返修单" in page
    assert "138****5678" in page and "13812345678" not in page


@pytest.mark.parametrize(("query", "found"), [
    ("state=working", False), ("state=open", True), ("q=BS-", True), ("q=7-2-1801", True), ("q=天花板渗水", True),
    ("q=100%25", False), ("overdue=1", False), ("from=2026-03-02&to=2026-03-02", True),
    ("from=2026-03-03", False), ("estate=riverside", False), ("estate=demo", True),
])
def test_list_filters(auth, client, world, query, found):
    item = world.make_item(unit="7-2-1801", description="天花板渗水")
    auth.login("frontdesk")
    page = client.get(f"/workflows/ticket/items?{query}").get_data(as_text=True)
    assert (item.number in page) is found


def test_overdue_filter_and_marks(auth, client, world):
    late, soon = world.make_item(), world.make_item()
    set_deadline(world, late, timedelta(minutes=-5))
    set_deadline(world, soon, timedelta(hours=1))
    auth.login("frontdesk")
    page = client.get("/items?overdue=1").get_data(as_text=True)
    assert late.number in page and soon.number not in page
    page = client.get("/items").get_data(as_text=True)
    assert "即将到期" in page and "已超时" in page


def test_list_is_paginated(app, auth, client, world):
    app.config["PER_PAGE"] = 5
    auth.login("frontdesk")
    first = client.get("/workflows/ticket/items").get_data(as_text=True)
    assert "下一页" in first and "第 1 / " in first
    second = client.get("/workflows/ticket/items?page=2").get_data(as_text=True)
    assert "上一页" in second and "第 2 / " in second


def test_bad_dates_are_ignored_with_a_message(auth, client):
    auth.login("frontdesk")
    page = client.get("/items?from=yesterday").get_data(as_text=True)
    assert "日期格式不正确" in page


# -- estates ---------------------------------------------------------------------------------

def test_another_estates_item_is_not_found(auth, client, world):
    theirs = world.make_item(by="riverside", estate="riverside", unit="88-8-808")
    auth.login("cs_supervisor")
    assert client.get(f"/items/{theirs.id}").status_code == 404
    before = world.snapshot()
    response = auth.post(fire_url(theirs, "dispatch"), {"version": 1, "department": "engineering"})
    assert response.status_code == 404
    assert world.snapshot() == before
    assert theirs.number not in client.get("/items?q=88-8-808").get_data(as_text=True)


def test_a_missing_item_is_404_like_another_estates(auth, client):
    auth.login("cs_supervisor")
    response = client.get("/items/999999")
    assert response.status_code == 404 and "没有这个事项" in response.get_data(as_text=True)


# -- the item page --------------------------------------------------------------------------

def test_item_page_shows_fields_state_buttons_and_reasons(auth, client, world):
    item = world.make_item(phone="13812345678", visit_on="2026-03-05")
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "已登记" in page and "13812345678" in page and "2026-03-05" in page
    assert "暂不能进行的操作" in page and "派单" in page and "客服主管" in page  # why not: the role
    assert "确认派单" not in page
    auth.logout()
    auth.login("cs_supervisor")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "确认派单" in page and 'name="department"' in page and "<select" in page
    assert f'name="version" value="{item.version}"' in page
    assert "直接关闭" in page and "条件不满足" in page  # guard on stored values: kind == 'other'


def test_deadline_countdown(auth, client, world):
    item = world.make_item()
    set_deadline(world, item, timedelta(hours=3, minutes=20))
    auth.login("frontdesk")
    assert "剩余 3小时20分" in client.get(f"/items/{item.id}").get_data(as_text=True)


def test_an_item_past_every_limit_still_shows_it_is_overdue(auth, client, world):
    item = world.make_item()
    with world.factory.begin() as session:
        session.execute(update(Item).where(Item.id == item.id).values(deadline_at=None, overdue=True))
    auth.login("frontdesk")
    assert "已超时" in client.get(f"/items/{item.id}").get_data(as_text=True)


def test_user_text_is_escaped(auth, client, world):
    item = world.make_item(description="<script>alert('x')</script>", unit="<b>1</b>")
    auth.login("frontdesk")
    for url in (f"/items/{item.id}", "/items", "/workflows/ticket/items"):
        page = client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<b>1</b>" not in page
    assert "&lt;script&gt;" in client.get(f"/items/{item.id}").get_data(as_text=True)


# -- firing ----------------------------------------------------------------------------------

def test_firing_redirects_to_the_item_and_records_history(auth, client, world):
    item = world.make_item()
    auth.login("cs_supervisor")
    response = auth.post(fire_url(item, "dispatch"), {"version": 1, "department": "engineering",
                                                      "comment": "请今天上门"})
    assert response.status_code == 302 and response.headers["Location"] == f"/items/{item.id}"
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "处理中" in page and "请今天上门" in page and "工程部" in page and "客服主管" in page
    assert "操作成功" in page


def test_a_forged_post_for_a_transition_not_allowed_is_403_and_writes_nothing(auth, world):
    item = world.make_item()
    auth.login("frontdesk")
    before = world.snapshot()
    response = auth.post(fire_url(item, "dispatch"), {"version": 1, "department": "engineering"})
    assert response.status_code == 403 and "没有权限" in response.get_data(as_text=True)
    assert world.snapshot() == before


def test_a_post_without_csrf_token_is_400_and_writes_nothing(auth, client, world):
    item = world.make_item()
    auth.login("cs_supervisor")
    before = world.snapshot()
    response = client.post(fire_url(item, "dispatch"), data={"version": 1, "department": "engineering"})
    assert response.status_code == 400
    assert world.snapshot() == before


def test_unknown_transition_is_404(auth, world):
    item = world.make_item()
    auth.login("cs_supervisor")
    assert auth.post(fire_url(item, "finish"), {"version": 1}).status_code == 404
    assert auth.post(fire_url(item, "no_such"), {"version": 1}).status_code == 404


def test_a_stale_version_is_409_with_a_reload_link(auth, world):
    item = world.make_item()
    world.fire(item, "dispatch", "cs_supervisor", department="cleaning")
    auth.login("cs_supervisor")
    before = world.snapshot()
    response = auth.post(fire_url(item, "dispatch"), {"version": 1, "department": "engineering"})
    page = response.get_data(as_text=True)
    assert response.status_code == 409 and "另一位同事已处理此事项" in page
    assert f'href="/items/{item.id}"' in page
    assert world.snapshot() == before


def test_a_missing_version_is_400(auth, world):
    item = world.make_item()
    auth.login("cs_supervisor")
    assert auth.post(fire_url(item, "dispatch"), {"department": "engineering"}).status_code == 400


def test_missing_required_field_shows_the_form_again_with_the_message(auth, world):
    item = world.make_item()
    auth.login("cs_supervisor")
    before = world.snapshot()
    response = auth.post(fire_url(item, "dispatch"), {"version": 1, "comment": "留着"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "<details class=\"action\" open>" in page and "必填" in page and "留着" in page
    assert world.snapshot() == before


def test_ill_typed_values_get_chinese_messages_next_to_the_field(auth, world):
    item = world.fire(world.make_item(), "dispatch", "cs_supervisor", department="engineering")
    auth.login("engineer")
    response = auth.post(fire_url(item, "finish"), {"version": item.version, "amount": "十二块",
                                                    "done_at": "2026-13-45T99:00"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "不是有效的数字" in page and "不是有效的时间" in page and 'value="十二块"' in page


def test_a_failed_guard_is_422_and_explained(auth, world):
    item = world.fire(world.make_item(), "dispatch", "cs_supervisor", department="engineering")
    auth.login("engineer")
    before = world.snapshot()
    response = auth.post(fire_url(item, "finish"), {"version": item.version, "amount": "9000",
                                                    "done_at": "2026-03-02T10:00"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    # Plain words naming the field, never the expression.
    assert "不能完工：条件不满足（与“费用”有关）" in page and "amount &lt;= 5000" not in page
    assert world.snapshot() == before


def test_fields_not_asked_by_the_step_are_ignored(auth, world, client):
    item = world.make_item()
    auth.login("cs_supervisor")
    auth.post(fire_url(item, "dispatch"), {"version": 1, "department": "engineering", "unit": "HACKED"})
    assert "HACKED" not in client.get(f"/items/{item.id}").get_data(as_text=True)


def test_a_branch_chosen_by_form_input_and_linked_items(auth, client, world):
    item = world.fire(world.make_item(phone="13812345678"), "dispatch", "cs_supervisor", department="engineering")
    item = world.fire(item, "finish", "engineer", amount="100", done_at="2026-03-02T10:00")
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    # One button per branch, each with its own label and form (the guard reads the form's field).
    assert "回访满意 / 回访不满意" not in page and 'name="result"' in page
    assert '<summary class="button primary">回访满意</summary>' in page
    assert '<summary class="button primary">回访不满意</summary>' in page
    response = auth.post(fire_url(item, "revisit"), {"version": item.version, "result": "bad", "note": "还在漏",
                                                      "branch": _branch(page, "回访不满意")})
    assert response.status_code == 302
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "重新处理" in page and "关联事项" in page and "FX-" in page and "派生出" in page


def test_timeline_shows_who_when_what_changed(auth, client, world):
    item = world.fire(world.make_item(), "dispatch", "cs_supervisor", department="engineering")
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    timeline = page[page.index("处理记录"):]
    assert "客服主管" in timeline and "派单" in timeline and "已登记 → 处理中" in timeline
    assert "责任部门" in timeline and "2026-03-02 09:00" in timeline and "登记" in timeline


def _branch(page: str, label: str) -> str:
    """The branch a button of the item page stands for (the hidden input of its form)."""
    start = page.index(f'<summary class="button primary">{label}</summary>')
    found = re.search(r'name="branch" value="(\d+)"', page[start:])
    assert found, label
    return found.group(1)
