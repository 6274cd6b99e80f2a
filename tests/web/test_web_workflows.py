"""Workflow pages: states with counts, the diagram, and the create form."""

from __future__ import annotations


def test_workflow_page_shows_states_counts_and_diagram(auth, client, world):
    world.make_item()
    auth.login("frontdesk")
    page = client.get("/workflows/ticket").get_data(as_text=True)
    assert "报事工单" in page and "已登记" in page and "stateDiagram-v2" in page
    assert "派单 → 处理中" in page and "客服主管" in page


def test_unknown_workflow_is_404(auth, client):
    auth.login("frontdesk")
    assert client.get("/workflows/nope").status_code == 404
    assert client.get("/workflows/nope/new").status_code == 404


def test_create_form_is_generated_from_the_fields(auth, client):
    auth.login("frontdesk")
    page = client.get("/workflows/ticket/new").get_data(as_text=True)
    assert '<select id="kind" name="kind"' in page and "噪音" in page
    assert '<textarea id="description"' in page
    assert 'type="tel"' in page and 'type="date"' in page
    # fields a later step requires or sets stay off the intake form
    assert 'name="department"' not in page and 'name="amount"' not in page and 'name="result"' not in page


def test_only_create_roles_may_register(auth, client, world):
    auth.login("engineer")
    assert client.get("/workflows/ticket/new").status_code == 403
    before = world.snapshot()
    response = auth.post("/workflows/ticket/new", {"kind": "noise", "unit": "1-1-101", "description": "x"})
    assert response.status_code == 403
    assert world.snapshot() == before
    assert "登记报事工单" not in client.get("/workflows/ticket/items").get_data(as_text=True)


def test_create_redirects_to_the_new_item(auth, client):
    auth.login("frontdesk")
    response = auth.post("/workflows/ticket/new", {"kind": "leak", "unit": "2-1-301", "description": "厨房漏水",
                                                   "phone": "138 1234 5678", "comment": "业主来电"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "BS-" in page and "厨房漏水" in page and "13812345678" in page and "业主来电" in page


def test_create_with_errors_shows_messages_by_field(auth, world):
    auth.login("frontdesk")
    before = world.snapshot()
    response = auth.post("/workflows/ticket/new", {"kind": "", "unit": "3-1-502", "phone": "12345"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert page.count('class="error"') >= 3 and "必填" in page and "手机号码格式不正确" in page
    assert 'value="3-1-502"' in page  # what was typed is kept
    assert world.snapshot() == before


def test_create_without_csrf_token_is_400(auth, client, world):
    auth.login("frontdesk")
    before = world.snapshot()
    assert client.post("/workflows/ticket/new", data={"kind": "leak", "unit": "1", "description": "x"}).status_code == 400
    assert world.snapshot() == before


def test_create_in_another_estate_is_refused(auth, world):
    auth.login("frontdesk")
    before = world.snapshot()
    response = auth.post("/workflows/ticket/new", {"estate": "riverside", "kind": "leak", "unit": "1",
                                                   "description": "x"})
    assert response.status_code == 403
    assert world.snapshot() == before


def test_per_workflow_list_offers_its_states(auth, client):
    auth.login("frontdesk")
    page = client.get("/workflows/ticket/items").get_data(as_text=True)
    assert '<option value="checking"' in page and "登记报事工单" in page


def test_branches_of_one_step_are_listed_once_on_the_workflow_page():
    from engine.language.definition import TransitionDef
    from web.workflows import _steps

    branches = (
        TransitionDef("dispatch", "派单", ("open",), "handling", ("cs_supervisor",), index=0),
        TransitionDef("dispatch", "派单", ("open",), "handling", ("cs_manager", "cs_supervisor"), index=1),
        TransitionDef("cancel", "撤销", ("open",), "closed", ("cs_manager",), index=2),
    )
    assert _steps(branches) == [
        ("派单", "handling", ("cs_supervisor", "cs_manager")),
        ("撤销", "closed", ("cs_manager",)),
    ]
