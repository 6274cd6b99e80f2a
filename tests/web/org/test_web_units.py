"""一户一档 and 查询来电: the unit page and the caller lookup, masked by post, with every item of the unit;
the new-item form's lookup, unit pre-fill, staff pickers and routing."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from _org import app, as_user, org, org_template, text_of  # noqa: F401 (fixtures: app, org, org_template...)

from engine.runtime.registry import REGISTRY
from engine.store.models import AccessLog, Unit
from web import forms


def unit_id(org, number="3-1-502"):
    return org.rows(Unit, Unit.number == number)[0].id


def test_the_front_desk_sees_the_residents_in_full_and_it_is_logged(as_user, org):
    page = text_of(as_user("frontdesk").get(f"/units/{unit_id(org)}"))
    assert "王丽" in page and "13812340001" in page and "业主" in page and "VIP" in page
    [row] = org.rows(AccessLog)
    assert (row.user_name, row.kind, row.unit_id) == ("李前台", "view", unit_id(org))


def test_a_cleaner_sees_the_residents_masked_and_nothing_is_logged(as_user, org):
    page = text_of(as_user("cleaner").get(f"/units/{unit_id(org)}"))
    assert "王*" in page and "138****0001" in page
    assert "王丽" not in page and "13812340001" not in page
    assert org.rows(AccessLog) == []


def test_another_estates_unit_is_answered_as_missing(as_user, org):
    assert as_user("riverside").get(f"/units/{unit_id(org)}").status_code == 404
    assert as_user("frontdesk").get("/units/999999").status_code == 404


def test_the_unit_page_lists_its_items_newest_first_with_state_and_links(as_user, org):
    first = org.make_item(description="水管漏水")
    second = org.make_item(description="灯坏了")
    page = text_of(as_user("frontdesk").get(f"/units/{unit_id(org)}"))
    assert page.index(second.number) < page.index(first.number)
    assert f'/items/{first.id}"' in page and "待派单" in page


def test_a_cleaner_does_not_see_the_repairs_of_the_unit(as_user, org):
    item = org.make_item()
    page = text_of(as_user("cleaner").get(f"/units/{unit_id(org)}"))
    assert item.number not in page


def test_the_unit_page_shows_its_history_with_old_and_new_values(as_user, org):
    manager = as_user("manager")
    manager.post(f"/admin/units/{unit_id(org)}", {"building": "3", "area_m2": "95", "tags": "VIP"})
    page = text_of(as_user("frontdesk").get(f"/units/{unit_id(org)}"))
    assert "王经理" in page and "89.50 → 95.00" in page


def test_the_lookup_finds_the_caller_by_phone_with_open_items_and_a_link_to_register(as_user, org):
    item = org.make_item()
    page = text_of(as_user("frontdesk").get("/lookup?q=13812340001"))
    assert "3-1-502" in page and "王丽" in page and item.number in page and "电话相符" in page
    assert "/workflows/fix/new?estate=demo&amp;unit=3-1-502" in page
    assert [r.kind for r in org.rows(AccessLog)] == ["lookup"]


def test_the_lookup_by_unit_number(as_user):
    page = text_of(as_user("frontdesk").get("/lookup?q=3-1-5"))
    assert "3-1-502" in page and "3-1-101" not in page


def test_a_post_that_may_not_see_phones_is_told_so_by_the_lookup(as_user, org):
    page = text_of(as_user("cleaner").get("/lookup?q=13812340001"))
    assert "不能按电话查找" in page and 'class="card caller"' not in page


def test_the_lookup_does_not_reach_another_estate(as_user):
    page = text_of(as_user("riverside").get("/lookup?q=13812340001"))
    assert 'class="card caller"' not in page and "王丽" not in page


def test_the_new_item_form_looks_up_the_caller_and_starts_with_the_unit(as_user):
    me = as_user("frontdesk")
    page = text_of(me.get("/workflows/fix/new?q=13812340001"))
    assert "先查来电" in page and "3-1-502" in page and "为此房号登记" in page
    page = text_of(me.get("/workflows/fix/new?estate=demo&unit=3-1-502"))
    assert 'name="unit" type="text" value="3-1-502"' in page


def test_registering_with_an_unknown_unit_is_refused_next_to_the_field(as_user, org):
    me = as_user("frontdesk")
    response = me.post("/workflows/fix/new", {"estate": "demo", "unit": "9-9-999", "description": "漏水"})
    assert response.status_code == 422
    assert 'class="field has-error"' in text_of(response)


def test_unit_suggestions_are_numbers_of_the_estate_only(as_user):
    me = as_user("frontdesk")
    body = me.get("/units/suggest?estate=demo&q=3-1").get_json()
    assert sorted(u["number"] for u in body["units"]) == ["3-1-101", "3-1-502"]
    assert me.get("/units/suggest?estate=demo&q=13812340001").get_json() == {"units": []}
    assert me.get("/units/suggest?estate=riverside&q=8").status_code == 404


def test_the_staff_picker_lists_the_fields_roles_by_name_and_routing_fills_it(app, org):
    with app.app_context(), org.factory() as session:
        definition = REGISTRY.current(session, "fix", "demo").definition
        options = forms.pickers(session, definition, ["engineer", "unit"], "demo")
        assert options == {"engineer": [("engineer", "孙师傅"), ("engineer2", "钱师傅")]}
        assert forms.routed(session, definition, ["engineer"], "demo", {"trade": "electrical"}) == {
            "engineer": "engineer2"}
        assert forms.routed(session, definition, ["engineer"], "demo", {"trade": "electrical",
                                                                          "engineer": "engineer"}) == {}
        [picker] = forms.widgets(definition, ["engineer"], {}, ZoneInfo("Asia/Shanghai"), options=options)
        assert picker.kind == "select" and ("engineer2", "钱师傅") in picker.options
        [unit] = forms.widgets(definition, ["unit"], {}, ZoneInfo("Asia/Shanghai"), estate="demo")
        assert unit.kind == "input" and unit.suggest == "demo"


def test_the_navigation_offers_what_each_post_may_use(as_user):
    front = text_of(as_user("frontdesk").get("/"))
    assert "查询来电" in front and 'href="/admin"' not in front and "我的账户" in front
    cleaner = text_of(as_user("cleaner").get("/"))
    assert "查询来电" not in cleaner and 'href="/admin"' not in cleaner
    manager = text_of(as_user("manager").get("/"))
    assert "查询来电" in manager and 'href="/admin"' in manager
    admin = text_of(as_user("admin").get("/"))
    assert 'href="/admin"' in admin
