"""Messages to residents: the consent rule at fire time, the outbox rows, the SMS senders, publishing.

Runs on SQLite and, when configured, PostgreSQL (the `db` fixture). Every test also checks that no
resident's number reached the logs in full (autouse `no_full_number_logged`).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from engine.errors import DefinitionError, InvalidFields
from engine.language.loader import Loader
from engine.runtime import resident_consent, resident_messages
from engine.runtime.outbox import RetryPolicy, drain
from engine.runtime.registry import publish_site
from engine.runtime.senders import LogSender, Message
from engine.runtime.sms import SmsWebhookSender, sign, sms_sender_from_env
from engine.store.db import transaction
from engine.store.models import MessagesVersion

RUNTIME = Path(__file__).resolve().parents[1] / "data" / "good" / "runtime"
PHONE = "13812345678"
MASKED = "138****5678"
POLICY = RetryPolicy(max_attempts=3, base=timedelta(seconds=10), cap=timedelta(seconds=30))

VISIT = """
id: visit
title: 上门服务
number_prefix: SM
create_roles: [clerk]
fields:
  unit: {type: string, label: 房号, required: true}
  phone: {type: phone, label: 联系电话, personal: true}
  amount: {type: decimal, label: 金额}
states:
  open: {label: 新建, initial: true}
  working: {label: 处理中}
  closed: {label: 已关闭, final: true}
transitions:
  - name: start
    label: 开始
    from: open
    to: working
    roles: [boss]
    actions:
      - notify: {roles: [worker], template: "工单 {number}"}
      - notify: {resident: phone, template: dispatched}
  - name: remind
    label: 提醒缴费
    from: working
    to: working
    roles: [boss]
    actions:
      - notify: {resident: phone, template: reminder}
  - name: close
    label: 关闭
    from: working
    to: closed
    roles: [boss]
"""

MESSAGES = """
variables: {company: 物业中心, service_phone: "400-000-0000"}
templates:
  dispatched: {label: 派单通知, text: "【{company}】{unit}的工单{number}已派单，电话{service_phone}"}
  reminder: {label: 缴费提醒, consent: required, text: "【{company}】请缴纳{amount}元。回TD退订"}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The runtime tests' roles and calendar, a workflow texting residents, its templates, demo's override."""
    folder = tmp_path / "defs"
    folder.mkdir()
    for name in ("roles.yaml", "calendar.yaml"):
        shutil.copy(RUNTIME / name, folder / name)
    (folder / "visit.yaml").write_text(VISIT, encoding="utf-8")
    (folder / "messages.yaml").write_text(MESSAGES, encoding="utf-8")
    (folder / "estates" / "demo").mkdir(parents=True)
    (folder / "estates" / "demo" / "_messages.yaml").write_text("variables: {company: 示范小区物业}\n",
                                                                  encoding="utf-8")
    return folder


@pytest.fixture
def site(world: Any, folder: Path) -> Any:
    """The world with the folder published (definitions and message templates)."""
    with transaction(world.db.factory) as session:
        publish_site(session, folder, now=world.clock.now())
    return world


@pytest.fixture(autouse=True)
def no_full_number_logged(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    caplog.set_level("DEBUG")
    yield
    logged = "\n".join(r.getMessage() for when in ("setup", "call") for r in caplog.get_records(when))
    assert PHONE not in logged and "13912345678" not in logged


def choose(world: Any, status: str, phone: str = PHONE, estate: str = "demo") -> None:
    with transaction(world.db.factory) as session:
        resident_consent.record(session, estate_id=estate, phone=phone, status=status, source="staff",
                                now=world.clock.now(), actor_id=None, actor_name="客服")


def resident_rows(world: Any, item_id: int) -> list[dict[str, Any]]:
    return [r for r in world.rows("outbox", item_id=item_id) if r["template"] is not None]


def events(world: Any, item_id: int) -> list[dict[str, Any]]:
    return [r for r in world.rows("item_history", item_id=item_id) if r["kind"] == "event"]


class Recording:
    """A sender that keeps what it was given."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.messages: list[Message] = []

    def send(self, message: Message) -> None:
        self.messages.append(message)


# --- at fire time: the rule ---------------------------------------------------------------------

def test_a_service_message_is_queued_without_consent_with_the_estates_text(site):
    item = site.create(workflow="visit", unit="3-1-502", phone="+86 138-1234-5678")
    site.fire(item, "start")
    [row] = resident_rows(site, item.id)
    assert (row["phone"], row["template"], row["status"], row["role"], row["user_id"]) == \
        (PHONE, "dispatched", "pending", None, None)
    assert row["subject"] == "派单通知"
    # demo's _messages.yaml changes the signature; the base's service_phone stays; fields and number filled in
    assert row["body"] == f"【示范小区物业】3-1-502的工单{item.number}已派单，电话400-000-0000"
    assert events(site, item.id) == []  # a message sent is listed on the item page, not in its history


def test_another_estate_gets_the_base_text(site):
    item = site.create(workflow="visit", unit="3-1-502", phone=PHONE, estate="other")
    site.fire(item, "start", estate="other")
    [row] = resident_rows(site, item.id)
    assert row["body"].startswith("【物业中心】")


def test_a_reminder_needs_consent_and_its_refusal_is_an_event_not_an_error(site):
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE, amount="120.50"), "start")
    after = site.fire(item, "remind")
    assert after.state == "working" and after.version == item.version + 1  # the step itself went through
    refused = [r for r in resident_rows(site, item.id) if r["template"] == "reminder"]
    assert [(r["status"], r["last_error"]) for r in refused] == [("refused", "未登记业主同意接收此类提醒短信")]
    [event] = events(site, item.id)
    assert event["event"] == resident_messages.EVENT_NOT_SENT
    assert event["comment"] == f"缴费提醒未发送（{MASKED}）：未登记业主同意接收此类提醒短信"
    assert PHONE not in json.dumps(event, default=str)

    choose(site, resident_consent.CONSENTED)
    site.fire(after, "remind")
    queued = [r for r in resident_rows(site, item.id) if r["template"] == "reminder" and r["status"] == "pending"]
    assert [r["body"] for r in queued] == ["【示范小区物业】请缴纳120.50元。回TD退订"]


def test_nothing_goes_to_a_phone_that_opted_out_even_after_consenting(site):
    choose(site, resident_consent.CONSENTED)
    choose(site, resident_consent.OPTED_OUT)  # the newest choice applies
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    site.fire(item, "remind")
    assert [(r["template"], r["status"]) for r in resident_rows(site, item.id)] == \
        [("dispatched", "refused"), ("reminder", "refused")]
    assert [e["comment"] for e in events(site, item.id)] == [
        f"派单通知未发送（{MASKED}）：业主已退订短信", f"缴费提醒未发送（{MASKED}）：业主已退订短信"]
    assert drain(site.db.factory, Recording("staff"), clock=site.clock, sms=(sms := Recording("sms"))).sent
    assert sms.messages == []  # only the staff's row went out


def test_an_opt_out_in_another_estate_does_not_count_here(site):
    choose(site, resident_consent.OPTED_OUT, estate="other")
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    assert [r["status"] for r in resident_rows(site, item.id)] == ["pending"]


def test_a_landline_is_refused_with_its_reason_and_no_number_is_no_message(site):
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone="0571-88881234"), "start")
    assert [r["last_error"] for r in resident_rows(site, item.id)] == ["联系电话不是手机号码，无法发短信"]
    quiet = site.fire(site.create(workflow="visit", unit="3-1-503"), "start")
    assert resident_rows(site, quiet.id) == [] and events(site, quiet.id) == []


def test_without_published_templates_nothing_is_written(world, folder):
    with transaction(world.db.factory) as session:
        publish_site(session, folder, now=world.clock.now())
        session.query(MessagesVersion).delete()
    item = world.fire(world.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    assert resident_rows(world, item.id) == [] and events(world, item.id) == []


# --- sending -------------------------------------------------------------------------------------

def test_resident_rows_go_to_the_sms_sender_never_to_the_staffs(site):
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    staff, sms = Recording("staff"), Recording("sms")
    result = drain(site.db.factory, staff, clock=site.clock, sms=sms)
    assert len(result.sent) == 2
    assert [m.role for m in staff.messages] == ["worker"] and all(m.phone is None for m in staff.messages)
    [text] = sms.messages
    assert (text.phone, text.template, text.number, text.recipients) == (PHONE, "dispatched", item.number, ())


def test_the_log_sender_masks_the_number_and_leaves_out_the_text(site, caplog):
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    drain(site.db.factory, LogSender(), clock=site.clock)
    line = next(r.getMessage() for r in caplog.records if "resident" in r.getMessage())
    assert f"resident {MASKED}, template dispatched" in line and item.number in line
    assert "3-1-502的工单" not in caplog.text
    assert [r["status"] for r in resident_rows(site, item.id)] == ["sent"]


def test_an_opt_out_after_queueing_cancels_the_message(site, caplog):
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    choose(site, resident_consent.OPTED_OUT)  # the TD reply arrives before `estateflow send` runs
    sms = Recording("sms")
    result = drain(site.db.factory, LogSender(), clock=site.clock, sms=sms)
    assert sms.messages == [] and len(result.cancelled) == 1 and "cancelled 1" in str(result)
    assert [r["status"] for r in resident_rows(site, item.id)] == ["cancelled"]
    assert f"resident {MASKED}" in caplog.text


class Gateway:
    """What the SMS gateway received, and the statuses it answers with first (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []


@pytest.fixture
def gateway() -> Iterator[tuple[Gateway, str]]:
    seen = Gateway()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = seen.statuses.pop(0) if seen.statuses else 200
            seen.requests.append((dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield seen, f"http://127.0.0.1:{server.server_address[1]}/sms"
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_the_webhook_posts_a_signed_body_and_retries_until_the_gateway_answers(site, gateway, caplog):
    seen, url = gateway
    seen.statuses = [503]
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    sender = sms_sender_from_env({"ESTATEFLOW_SMS_SENDER": "webhook", "ESTATEFLOW_SMS_WEBHOOK_URL": url,
                                  "ESTATEFLOW_SMS_WEBHOOK_SECRET": "s3cret"})
    assert isinstance(sender, SmsWebhookSender)
    first = drain(site.db.factory, LogSender(), clock=site.clock, sms=sender, policy=POLICY)
    assert len(first.retrying) == 1 and len(first.sent) == 1  # the staff row by the log sender
    [row] = resident_rows(site, item.id)
    assert (row["status"], row["attempts"], row["last_error"]) == ("pending", 1, "HTTP 503 from the webhook")
    assert "attempt 1 via sms_webhook failed: HTTP 503" in caplog.text

    site.clock.advance(timedelta(seconds=10))
    assert len(drain(site.db.factory, LogSender(), clock=site.clock, sms=sender, policy=POLICY).sent) == 1
    assert resident_rows(site, item.id)[0]["status"] == "sent"
    failed_headers, failed_body = seen.requests[0]
    headers, body = seen.requests[1]
    assert body == failed_body and headers["X-Estateflow-Delivery"] == failed_headers["X-Estateflow-Delivery"]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Estateflow-Signature"], expected) and sign("s3cret", body) == expected
    document = json.loads(body)
    assert document == {"id": row["id"], "estate": "demo", "item_id": item.id, "number": item.number,
                        "template": "dispatched", "label": "派单通知", "phone": PHONE, "text": row["body"]}


def test_a_message_the_gateway_keeps_refusing_fails_after_the_last_attempt(site, gateway):
    seen, url = gateway
    seen.statuses = [500, 500, 500]
    item = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    sender = SmsWebhookSender(url)
    for _ in range(3):
        drain(site.db.factory, LogSender(), clock=site.clock, sms=sender, policy=POLICY)
        site.clock.advance(timedelta(seconds=30))
    [row] = resident_rows(site, item.id)
    assert (row["status"], row["attempts"]) == ("failed", 3)
    assert "X-Estateflow-Signature" not in seen.requests[0][0]  # no secret, no signature


@pytest.mark.parametrize(("env", "message"), [
    ({"ESTATEFLOW_SMS_SENDER": "webhook"}, "needs ESTATEFLOW_SMS_WEBHOOK_URL"),
    ({"ESTATEFLOW_SMS_SENDER": "webhook", "ESTATEFLOW_SMS_WEBHOOK_URL": "ftp://x"}, "http:// or https://"),
    ({"ESTATEFLOW_SMS_SENDER": "pigeon"}, "must be log or webhook"),
])
def test_a_bad_sms_setting_is_refused_at_start(env, message):
    with pytest.raises(ValueError, match=message):
        sms_sender_from_env(env)
    assert isinstance(sms_sender_from_env({}), LogSender)


# --- consent records and publishing ----------------------------------------------------------------

def test_choices_are_kept_newest_first_and_numbers_normalised(world):
    choose(world, resident_consent.CONSENTED, phone="+86 138 1234 5678")
    choose(world, resident_consent.OPTED_OUT, phone="138-1234-5678")
    with world.db.factory() as session:
        found = resident_consent.history(session, "demo", PHONE)
        assert [c.status for c in found] == ["opted_out", "consented"]
        assert resident_consent.current(session, "demo", PHONE).label == "已退订短信"
        assert resident_consent.current(session, "other", PHONE) is None
    with transaction(world.db.factory) as session, pytest.raises(InvalidFields) as refused:
        resident_consent.record(session, estate_id="demo", phone="0571-8888123", status="consented",
                                source="staff", now=world.clock.now(), actor_id=None, actor_name="客服")
    assert refused.value.fields == {"phone": "不是手机号码，无法登记短信意愿"}


def test_publishing_stores_changed_catalogues_only_and_refuses_a_broken_file(world, folder):
    with transaction(world.db.factory) as session:
        first = resident_messages.publish(session, Loader(folder), now=world.clock.now())
        again = resident_messages.publish(session, Loader(folder), now=world.clock.now())
    assert [(p.estate_id, p.version, p.created) for p in first] == [("", 1, True), ("demo", 1, True)]
    assert [p.created for p in again] == [False, False]
    (folder / "estates" / "demo" / "_messages.yaml").unlink()  # demo falls back to the base, as a new version
    with transaction(world.db.factory) as session:
        dropped = resident_messages.publish(session, Loader(folder), now=world.clock.now())
        assert [(p.estate_id, p.version, p.created) for p in dropped] == [("", 1, False), ("demo", 2, True)]
        assert resident_messages.catalogue_for(session, "demo").variables["company"] == "物业中心"
    (folder / "messages.yaml").write_text("templates:\n  x: {label: 坏, text: '{a.b}'}\n  y: {text: 无标题}\n",
                                          encoding="utf-8")
    with transaction(world.db.factory) as session, pytest.raises(DefinitionError) as error:
        resident_messages.publish(session, Loader(folder), now=world.clock.now())
    text = str(error.value)
    assert "templates.x.text" in text and "not allowed" in text and "templates.y: a template needs label" in text
    with world.db.factory() as session:
        assert session.scalar(select(MessagesVersion.version).order_by(MessagesVersion.id.desc())) == 2


def test_anonymising_a_resident_takes_their_number_out_of_messages_and_choices(site):
    choose(site, resident_consent.CONSENTED)
    sent = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    drain(site.db.factory, LogSender(), clock=site.clock)
    waiting = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE), "start")
    kept = site.fire(site.create(workflow="visit", unit="3-1-502", phone=PHONE, estate="other"), "start",
                     estate="other")
    with transaction(site.db.factory) as session:
        assert resident_messages.forget(session, "demo", "+86 13812345678") == 2
    assert [(r["status"], r["phone"], r["body"]) for r in resident_rows(site, sent.id)] == [("sent", None, "")]
    assert [(r["status"], r["phone"]) for r in resident_rows(site, waiting.id)] == [("cancelled", None)]
    assert [r["phone"] for r in resident_rows(site, kept.id)] == [PHONE]  # another estate's resident record
    with site.db.factory() as session:
        assert resident_consent.history(session, "demo", PHONE) == []
