"""短信通知业主 on the item page, recording consent and opt-out, and the gateway's signed reply reports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.runtime import resident_consent
from engine.runtime.registry import publish_site
from engine.runtime.sms import sign
from engine.store.db import transaction
from engine.store.models import ItemHistory, Outbox, ResidentConsent

WEB_WORKFLOWS = Path(__file__).resolve().parent / "data" / "workflows"
PHONE = "13812345678"
MASKED = "138****5678"
SECRET = "inbound-secret"

VISIT = """
id: visit
title: 上门服务
number_prefix: SM
create_roles: [frontdesk]
access: {see: [frontdesk, cs_supervisor], personal: [frontdesk]}
fields:
  unit: {type: string, label: 房号, required: true}
  phone: {type: phone, label: 联系电话, personal: true}
states:
  open: {label: 新建, initial: true}
  working: {label: 处理中}
  closed: {label: 已关闭, final: true}
transitions:
  - name: start
    label: 开始
    from: open
    to: working
    roles: [frontdesk, cs_supervisor]
    actions:
      - notify: {resident: phone, template: dispatched}
  - name: close
    label: 关闭
    from: working
    to: closed
    roles: [frontdesk]
"""
MESSAGES = """
variables: {company: 物业中心}
templates:
  dispatched: {label: 派单通知, text: "【{company}】工单{number}已派单"}
"""


@pytest.fixture
def visit(world: Any, tmp_path: Path) -> Any:
    """A workflow texting residents published in the app's database; returns the world."""
    folder = tmp_path / "defs"
    folder.mkdir()
    shutil.copy(WEB_WORKFLOWS / "roles.yaml", folder / "roles.yaml")
    (folder / "visit.yaml").write_text(VISIT, encoding="utf-8")
    (folder / "messages.yaml").write_text(MESSAGES, encoding="utf-8")
    with transaction(world.factory) as session:
        publish_site(session, folder, now=world.clock.now())
    return world


def page(auth: Any, item_id: int) -> str:
    response = auth.client.get(f"/items/{item_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_the_panel_lists_the_message_and_masks_the_number_for_posts_that_may_not_see_it(visit, auth):
    item = visit.make_item(workflow="visit", unit="3-1-502", phone=PHONE)
    visit.fire(item, "start", "frontdesk")
    auth.login("frontdesk")
    html = page(auth, item.id)
    assert "短信通知业主" in html and "派单通知" in html and "待发送" in html and PHONE in html
    assert "未登记（只发与本人报事相关的服务短信）" in html
    auth.logout()
    auth.login("cs_supervisor")  # may see the item, not the resident's number (access.personal)
    html = page(auth, item.id)
    assert MASKED in html and PHONE not in html


def test_staff_record_an_opt_out_and_the_next_message_is_withheld_with_the_reason_in_the_history(visit, auth):
    item = visit.make_item(workflow="visit", unit="3-1-502", phone=PHONE)
    auth.login("frontdesk")
    response = auth.post(f"/items/{item.id}/resident-messages/phone", {"status": "opted_out", "note": "业主来电要求"})
    assert response.status_code == 302
    html = page(auth, item.id)
    assert f"已登记：退订短信（{MASKED}）" in html and "已退订短信" in html and "业主要求退订短信" not in html
    assert "登记短信意愿" in html  # the history event's label
    visit.fire(item, "start", "frontdesk")  # the step goes on; the message does not
    html = page(auth, item.id)
    assert "未发短信给业主" in html and "业主已退订短信" in html
    with visit.factory() as session:
        # The demo seed records choices of its residents' own numbers (engine/cli/demo_consents.py): not this one.
        [row] = session.execute(select(ResidentConsent).where(ResidentConsent.phone == PHONE)).scalars().all()
        assert (row.phone, row.status, row.source, row.note) == (PHONE, "opted_out", "staff", "业主来电要求")
        assert session.scalars(select(Outbox.status).where(Outbox.item_id == item.id)).all() == ["refused"]
        comments = session.scalars(select(ItemHistory.comment).where(ItemHistory.item_id == item.id,
                                                                     ItemHistory.kind == "event")).all()
        assert all(PHONE not in c for c in comments) and len(comments) == 2


def test_a_field_that_is_no_phone_field_is_refused_and_a_missing_item_is_404(visit, auth):
    item = visit.make_item(workflow="visit", unit="3-1-502", phone=PHONE)
    auth.login("frontdesk")
    auth.post(f"/items/{item.id}/resident-messages/unit", {"status": "opted_out"})
    assert "不是电话字段" in page(auth, item.id)
    assert auth.post("/items/999999/resident-messages/phone", {"status": "opted_out"}).status_code == 404
    with visit.factory() as session:
        assert session.execute(select(ResidentConsent).where(ResidentConsent.phone == PHONE)).first() is None


def test_recording_needs_the_csrf_token(visit, auth):
    item = visit.make_item(workflow="visit", unit="3-1-502", phone=PHONE)
    auth.login("frontdesk")
    response = auth.client.post(f"/items/{item.id}/resident-messages/phone", data={"status": "opted_out"})
    assert response.status_code == 400


@pytest.mark.parametrize("app_config", [{"SMS_WEBHOOK_SECRET": SECRET}])
def test_the_gateway_reports_a_td_reply_signed_and_the_number_is_opted_out_in_every_estate(visit, client):
    body = json.dumps({"phone": "+86 138 1234 5678", "text": " td "}).encode()
    refused = client.post("/sms/inbound", data=body, headers={"X-Estateflow-Signature": sign("wrong", body)})
    assert refused.status_code == 403
    response = client.post("/sms/inbound", data=body, headers={"X-Estateflow-Signature": sign(SECRET, body)})
    assert response.status_code == 200
    estates = response.get_json()["opted_out"]
    assert "demo" in estates and len(estates) >= 2
    other = json.dumps({"phone": PHONE, "text": "谢谢"}).encode()
    ignored = client.post("/sms/inbound", data=other, headers={"X-Estateflow-Signature": sign(SECRET, other)})
    assert ignored.get_json() == {"opted_out": []}
    with visit.factory() as session:
        assert resident_consent.current(session, "demo", PHONE).source == "sms_reply"
        assert resident_consent.opted_out(session, "demo", PHONE)


@pytest.mark.parametrize("app_config", [{"SMS_WEBHOOK_SECRET": SECRET}])
def test_a_report_for_an_unknown_estate_or_not_json_is_a_400(visit, client):
    for body in (json.dumps({"phone": PHONE, "text": "TD", "estate": "nowhere"}).encode(), b"{not json",
                 json.dumps({"phone": 138, "text": "TD"}).encode()):
        response = client.post("/sms/inbound", data=body, headers={"X-Estateflow-Signature": sign(SECRET, body)})
        assert response.status_code == 400


def test_without_a_secret_the_inbound_endpoint_does_not_exist(client, monkeypatch):
    monkeypatch.delenv("ESTATEFLOW_SMS_WEBHOOK_SECRET", raising=False)
    body = b'{"phone": "13812345678", "text": "TD"}'
    assert client.post("/sms/inbound", data=body, headers={"X-Estateflow-Signature": sign("", body)}).status_code \
        == 404


def _a_resident(world: Any) -> tuple[int, int, str]:
    """(unit id, resident id, phone) of a current resident of demo with a mobile number and no SMS choice
    recorded yet (the demo seed records some: engine/cli/demo_consents.py)."""
    from engine.store.models import Resident, Unit

    with world.factory() as session:
        for resident, estate in session.execute(select(Resident, Unit.estate_id).join(Unit, Unit.id == Resident.unit_id)
                                                .where(Resident.moved_out_on.is_(None)).order_by(Resident.id)):
            phone = resident_consent.normalise(resident.phone)
            if estate == "demo" and phone and resident_consent.current(session, estate, phone) is None:
                return resident.unit_id, resident.id, phone
    raise AssertionError("the demo seed has no resident with a mobile number")


def test_the_unit_page_records_a_residents_consent(world, auth):
    unit_id, resident_id, phone = _a_resident(world)
    auth.login("frontdesk")
    html = auth.client.get(f"/units/{unit_id}").get_data(as_text=True)
    assert "短信意愿" in html and "业主同意接收提醒短信" in html
    response = auth.post(f"/units/{unit_id}/residents/{resident_id}/messages", {"status": "consented"})
    assert response.status_code == 302
    html = auth.client.get(f"/units/{unit_id}").get_data(as_text=True)
    assert "已同意接收提醒短信" in html and resident_consent.mask(phone) in html
    with world.factory() as session:
        choice = resident_consent.current(session, "demo", phone)
        assert (choice.status, choice.source) == ("consented", "staff")


def test_the_unit_page_masks_numbers_for_posts_that_may_not_see_residents(world, auth):
    unit_id, _resident_id, phone = _a_resident(world)
    auth.login("engineer")
    response = auth.client.get(f"/units/{unit_id}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "短信意愿" in html and resident_consent.mask(phone) in html and phone not in html
