"""The `link` action (engine/runtime/item_refs.py) on the shipped workflows: intake's `link_notice`
ties a call to a published notice of the same estate, both ways, and refuses anything else with
nothing written."""

from __future__ import annotations

from typing import Any

import pytest

from engine.errors import InvalidFields
from engine.runtime.items import ItemView
from engine.views import listing
from tests.runtime._access_org import Org

WINDOW = {"scope": "1-3栋", "starts_at": "2026-03-03T08:00", "ends_at": "2026-03-03T18:00"}


@pytest.fixture
def org(db: Any, clock: Any) -> Org:
    return Org(db, clock)


def _notice(org: Org, estate: str = "demo", publish: bool = True) -> ItemView:
    item = org.create("notice", estate=estate, kind="utility", headline="供水检修通知", body="3月3日检修")
    org.fire(item, "submit", "system", WINDOW)
    if publish:
        org.fire(item, "approve", "system", {"supervisor_opinion": "同意"})
        item = org.fire(item, "publish", "system", {"on_board": True, "posting_proof": "大堂"})
    return item


def _call(org: Org) -> ItemView:
    return org.create("intake", by="frontdesk", channel="phone", kind="service", description="没有水")


def _link(org: Org, call: ItemView, number: str) -> ItemView:
    return org.fire(call, "link_notice", "frontdesk", {"notice_ref": number, "ack_note": "已告知"})


def test_a_call_is_linked_to_the_published_notice_both_ways(org):
    notice = _notice(org)
    call = _link(org, _call(org), notice.number.lower())
    assert call.state == "acknowledged"
    links = {(r["from_item_id"], r["to_item_id"], r["kind"]) for r in org.rows("item_links")}
    assert links == {(call.id, notice.id, "linked"), (notice.id, call.id, "linked_from")}
    with org.db.factory() as session:
        seen = listing.linked(session, notice, org.actor("cs_supervisor"), now=org.clock.now())
    assert [(kind, row.number) for kind, row in seen] == [("linked_from", call.number)]


@pytest.mark.parametrize(("how", "why"), [
    ("unpublished", "当前不在以下状态：已发布"),
    ("other_estate", "本小区没有编号为 GG-000001 的通知公告"),
    ("unknown", "本小区没有编号为 GG-000077 的通知公告"),
])
def test_anything_but_a_published_notice_of_the_estate_is_refused_with_nothing_written(org, how, why):
    if how == "unpublished":
        number = _notice(org, publish=False).number
    elif how == "other_estate":
        number = _notice(org, estate="riverside").number  # GG-000001 of 滨江花园, not of this estate
    else:
        number = "GG-000077"
    call = _call(org)
    with pytest.raises(InvalidFields) as refused:
        _link(org, call, number)
    assert set(refused.value.fields) == {"notice_ref"} and why in refused.value.fields["notice_ref"]
    assert org.rows("item_links") == []
    assert org.rows("items", id=call.id)[0]["state"] == "registered"
