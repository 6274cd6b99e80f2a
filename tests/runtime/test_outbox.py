"""The outbox senders against real local servers: aiosmtpd and http.server on 127.0.0.1.

Every test also checks that nothing personal reached the logs (autouse `no_personal_data_logged`).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner
from sqlalchemy import update

from engine.cli.outbox import send
from engine.runtime.outbox import RetryPolicy, claim_next, drain
from engine.runtime.senders import LogSender, SmtpSender, WebhookSender, sender_from_env
from engine.store.db import transaction
from engine.store.models import Outbox, User, UserEstate, UserRole

RESIDENT_PHONE = "13812345678"
POLICY = RetryPolicy(max_attempts=4, base=timedelta(seconds=10), cap=timedelta(seconds=30))
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# --- the data: addresses on file, one notification for the workers of `demo` ---------------------

@pytest.fixture
def staff(world: Any) -> dict[str, str]:
    """Give every user an email and a phone; add a second worker in demo and an inactive one."""
    personal: dict[str, str] = {}
    with transaction(world.db.factory) as session:
        for number, ((role, estate), user_id) in enumerate(sorted(world.users.items())):
            values = {"email": f"{role}.{estate}@example.com", "phone": f"1390000{number:04d}"}
            session.execute(update(User).where(User.id == user_id).values(**values))
            personal[f"{role}@{estate}"] = values["email"]
            personal[f"{role}@{estate} phone"] = values["phone"]
        for name, active in (("worker2", True), ("gone", False)):
            user = User(username=name, display_name=name, active=active, email=f"{name}@example.com",
                        phone=f"1370000{int(active):04d}")
            session.add(user)
            session.flush()
            session.add_all([UserRole(user_id=user.id, estate_id="demo", role="worker"), UserEstate(user_id=user.id, estate_id="demo")])
            personal[name], personal[f"{name} phone"] = user.email, user.phone
    return personal


@pytest.fixture(autouse=True)
def no_personal_data_logged(caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest) -> Iterator[None]:
    caplog.set_level("DEBUG")
    yield
    staff_data = request.node.funcargs.get("staff") or {}
    # caplog.text would hold only the teardown's records here; "mail.log" is the test's own SMTP server.
    logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for when in ("setup", "call")
                       for r in caplog.get_records(when) if r.name != "mail.log")
    for secret in [RESIDENT_PHONE, "138****5678", *staff_data.values()]:
        assert secret not in logged


def notify_workers(world: Any) -> tuple[Any, dict[str, Any]]:
    """`start` a ticket: one outbox row for role worker in demo, its body holding the masked phone."""
    item = world.fire(world.create(phone=RESIDENT_PHONE), "start", data={"team": "a"})
    [row] = world.rows("outbox", item_id=item.id)
    return item, row


def outbox_row(world: Any, row_id: int) -> dict[str, Any]:
    [row] = world.rows("outbox", id=row_id)
    return row


# --- local servers -----------------------------------------------------------------------------

class Inbox:
    """An aiosmtpd handler keeping what it accepts; `replies` are answered (and refused) first."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.replies: list[str] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:
        if self.replies:
            return self.replies.pop(0)
        self.envelopes.append(envelope)
        return "250 Message accepted"


def check_login(_server: Any, _session: Any, _envelope: Any, _mechanism: str, auth_data: Any) -> AuthResult:
    return AuthResult(success=(auth_data.login, auth_data.password) == (b"kefu", b"pw"))


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    # Login accepted without TLS here only because the test has no certificate; AUTH stays optional.
    controller = Controller(inbox, hostname="127.0.0.1", port=port, authenticator=check_login,
                            auth_require_tls=False)
    controller.start()
    yield inbox, port
    controller.stop()


class Hook:
    """What the webhook server received, and the statuses it answers with (then 200)."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses: list[int] = []
        self.delay = threading.Event()  # set: answer at once; cleared: hold the request
        self.delay.set()
        self.lock = threading.Lock()


@pytest.fixture
def webhook() -> Iterator[tuple[Hook, str]]:
    hook = Hook()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            hook.delay.wait(10)
            with hook.lock:
                status = hook.statuses.pop(0) if hook.statuses else 200
                if status == 200:
                    hook.requests.append((dict(self.headers.items()), body))
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield hook, f"http://127.0.0.1:{server.server_address[1]}/notify"
    hook.delay.set()
    server.shutdown()
    server.server_close()
    thread.join(5)


# --- the senders ---------------------------------------------------------------------------------

def test_log_sender_logs_role_estate_and_number_only(world, staff, caplog):
    item, row = notify_workers(world)
    result = drain(world.db.factory, LogSender(), clock=world.clock)
    assert result.sent == [row["id"]]
    sent = outbox_row(world, row["id"])
    assert (sent["status"], sent["attempts"], sent["sent_at"]) == ("sent", 1, world.clock.now())
    assert f"role worker, estate demo, item {item.number}" in caplog.text and row["subject"] in caplog.text
    assert row["body"] not in caplog.text


def test_smtp_sender_mails_the_active_users_holding_the_role_in_the_estate(world, staff, smtp_server):
    inbox, port = smtp_server
    _item, row = notify_workers(world)
    sender = SmtpSender("127.0.0.1", port, from_addr="kefu@example.com")
    assert drain(world.db.factory, sender, clock=world.clock).sent == [row["id"]]
    [envelope] = inbox.envelopes
    expected = sorted([staff["worker@demo"], staff["worker2"]])
    assert sorted(envelope.rcpt_tos) == expected and envelope.mail_from == "kefu@example.com"
    mail = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
    assert mail["Subject"] == row["subject"]
    assert sorted(a.addr_spec for a in mail["To"].addresses) == expected
    assert mail.get_content().strip() == row["body"]  # masked phone: 138****5678


def test_smtp_sender_logs_in_when_a_user_is_configured(world, staff, smtp_server):
    inbox, port = smtp_server
    _item, row = notify_workers(world)
    sender = SmtpSender("127.0.0.1", port, from_addr="kefu@example.com", user="kefu", password="pw")
    assert drain(world.db.factory, sender, clock=world.clock).sent == [row["id"]]
    assert len(inbox.envelopes) == 1


def test_smtp_sender_without_any_address_on_file_retries(world, smtp_server):
    _item, row = notify_workers(world)  # no `staff` fixture: nobody has an email
    drain(world.db.factory, SmtpSender("127.0.0.1", smtp_server[1], from_addr="kefu@example.com"),
          clock=world.clock, policy=POLICY)
    after = outbox_row(world, row["id"])
    assert after["status"] == "pending" and after["attempts"] == 1
    assert after["last_error"] == "no email address on file for role worker in estate demo"


def test_webhook_posts_signed_json_with_the_recipients(world, staff, webhook):
    hook, url = webhook
    item, row = notify_workers(world)
    assert drain(world.db.factory, WebhookSender(url, secret="s3cret"), clock=world.clock).sent == [row["id"]]
    [(headers, body)] = hook.requests
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["X-Estateflow-Signature"], expected)
    assert headers["X-Estateflow-Delivery"] == str(row["id"])
    payload = json.loads(body)
    assert {k: payload[k] for k in ("id", "role", "estate", "item_id", "number", "subject", "body")} == {
        "id": row["id"], "role": "worker", "estate": "demo", "item_id": item.id, "number": item.number,
        "subject": row["subject"], "body": row["body"]}
    assert sorted((r["email"], r["phone"]) for r in payload["recipients"]) == sorted(
        [(staff["worker@demo"], staff["worker@demo phone"]), (staff["worker2"], staff["worker2 phone"])])


def test_webhook_without_a_secret_sends_no_signature(world, webhook):
    hook, url = webhook
    notify_workers(world)
    drain(world.db.factory, WebhookSender(url), clock=world.clock)
    [(headers, _body)] = hook.requests
    assert "X-Estateflow-Signature" not in headers


# --- failures, backoff and recovery --------------------------------------------------------------

def refused_smtp(_servers: Any) -> SmtpSender:
    return SmtpSender("127.0.0.1", free_port(), from_addr="kefu@example.com")


def refused_webhook(_servers: Any) -> WebhookSender:
    return WebhookSender(f"http://127.0.0.1:{free_port()}/notify", timeout=2)


def webhook_500(servers: Any) -> WebhookSender:
    hook, url = servers["webhook"]
    hook.statuses = [500] * 10
    return WebhookSender(url, timeout=2)


@pytest.fixture
def servers(request: pytest.FixtureRequest) -> dict[str, Any]:
    return {"webhook": request.getfixturevalue("webhook")}


@pytest.mark.parametrize("make_sender", [refused_smtp, refused_webhook, webhook_500])
def test_a_failing_server_backs_off_then_gives_up(world, staff, servers, make_sender):
    sender = make_sender(servers)
    _item, row = notify_workers(world)
    factory, clock = world.db.factory, world.clock
    for attempt, wait in [(1, 10), (2, 20), (3, 30)]:  # base 10 s, doubling, capped at 30 s
        assert drain(factory, sender, clock=clock, policy=POLICY).retrying == [row["id"]]
        after = outbox_row(world, row["id"])
        assert (after["status"], after["attempts"]) == ("pending", attempt)
        assert after["next_attempt_at"] == clock.now() + timedelta(seconds=wait)
        assert after["last_error"]
        assert drain(factory, sender, clock=clock, policy=POLICY).retrying == []  # not due yet
        clock.advance(timedelta(seconds=wait))
    assert drain(factory, sender, clock=clock, policy=POLICY).failed == [row["id"]]
    after = outbox_row(world, row["id"])
    assert (after["status"], after["attempts"], after["sent_at"]) == ("failed", 4, None)
    clock.advance(timedelta(days=1))
    assert str(drain(factory, sender, clock=clock, policy=POLICY)) == "sent 0, to retry 0, failed 0"


def test_smtp_server_refusing_then_recovering(world, staff, smtp_server):
    inbox, port = smtp_server
    inbox.replies = ["451 4.3.0 Try again later", "451 4.3.0 Try again later"]
    _item, row = notify_workers(world)
    sender = SmtpSender("127.0.0.1", port, from_addr="kefu@example.com")
    for _ in range(2):
        drain(world.db.factory, sender, clock=world.clock, policy=POLICY)
        world.clock.advance(timedelta(minutes=1))
    assert outbox_row(world, row["id"])["last_error"] == "SMTPDataError smtp_code=451"
    assert drain(world.db.factory, sender, clock=world.clock, policy=POLICY).sent == [row["id"]]
    after = outbox_row(world, row["id"])
    assert (after["status"], after["attempts"], after["sent_at"]) == ("sent", 3, world.clock.now())
    assert len(inbox.envelopes) == 1


def test_webhook_500_then_recovering(world, staff, webhook):
    hook, url = webhook
    hook.statuses = [500, 503]
    _item, row = notify_workers(world)
    for _ in range(2):
        drain(world.db.factory, WebhookSender(url), clock=world.clock, policy=POLICY)
        world.clock.advance(timedelta(minutes=1))
    assert outbox_row(world, row["id"])["last_error"] == "HTTP 503 from the webhook"
    assert drain(world.db.factory, WebhookSender(url), clock=world.clock, policy=POLICY).sent == [row["id"]]
    assert outbox_row(world, row["id"])["attempts"] == 3 and len(hook.requests) == 1


def test_a_claim_abandoned_by_a_dead_sender_is_taken_again_after_its_lease(world, staff):
    _item, row = notify_workers(world)
    assert claim_next(world.db.factory, world.clock.now(), POLICY) is not None  # ... and the sender dies
    assert drain(world.db.factory, LogSender(), clock=world.clock, policy=POLICY).sent == []
    world.clock.advance(POLICY.lease)
    assert drain(world.db.factory, LogSender(), clock=world.clock, policy=POLICY).sent == [row["id"]]
    assert outbox_row(world, row["id"])["attempts"] == 2


# --- concurrency: never twice, never blocking a transition ---------------------------------------

def many_notifications(world: Any, count: int) -> set[int]:
    for _ in range(count):
        world.fire(world.create(phone=RESIDENT_PHONE), "start", data={"team": "a"})
    with transaction(world.db.factory) as session:  # due for the real clock of the `send` processes
        session.execute(update(Outbox).values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC)))
    return {r["id"] for r in world.rows("outbox")}


def test_two_send_commands_racing_send_each_row_once(world, staff, webhook):
    hook, url = webhook
    ids = many_notifications(world, 30)
    env = {**os.environ, "ESTATEFLOW_DATABASE_URL": world.db.url, "ESTATEFLOW_SENDER": "webhook",
           "ESTATEFLOW_WEBHOOK_URL": url, "PYTHONPATH": str(ROOT)}
    code = "from engine.cli.outbox import send; send(['--batch', '1000'])"
    processes = [subprocess.Popen([sys.executable, "-c", code], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    delivered = [int(headers["X-Estateflow-Delivery"]) for headers, _ in hook.requests]
    assert sorted(delivered) == sorted(ids)  # each once
    assert {r["status"] for r in world.rows("outbox")} == {"sent"}
    for _out, err in outputs:
        assert RESIDENT_PHONE not in err and staff["worker2"] not in err


def test_two_drains_racing_in_threads_send_each_row_once(world, staff, webhook):
    hook, url = webhook
    ids = many_notifications(world, 20)
    barrier, results = threading.Barrier(2), []

    def run() -> None:
        barrier.wait(10)
        results.append(drain(world.db.factory, WebhookSender(url), clock=world.clock))

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(i for r in results for i in r.sent) == sorted(ids)
    assert sorted(int(h["X-Estateflow-Delivery"]) for h, _ in hook.requests) == sorted(ids)


def test_a_transition_goes_through_while_a_send_hangs(world, staff, webhook):
    hook, url = webhook
    item, row = notify_workers(world)
    hook.delay.clear()  # the gateway holds the request
    sending = threading.Thread(target=drain, args=(world.db.factory, WebhookSender(url)),
                               kwargs={"clock": world.clock})
    sending.start()
    try:
        for _ in range(100):
            if outbox_row(world, row["id"])["status"] == "sending":
                break
            threading.Event().wait(0.05)
        assert world.fire(item, "remark", role="worker", data={"note": "在路上"}).version == item.version + 1
    finally:
        hook.delay.set()
        sending.join(10)
    assert outbox_row(world, row["id"])["status"] == "sent"


# --- configuration and the command ---------------------------------------------------------------

def test_sender_from_env():
    assert isinstance(sender_from_env({}), LogSender)
    smtp = sender_from_env({"ESTATEFLOW_SENDER": "smtp", "ESTATEFLOW_SMTP_HOST": "mail", "ESTATEFLOW_SMTP_FROM": "a@b",
                            "ESTATEFLOW_SMTP_STARTTLS": "true", "ESTATEFLOW_SMTP_USER": "u"})
    assert isinstance(smtp, SmtpSender) and (smtp.port, smtp.starttls, smtp.user) == (587, True, "u")
    hook = sender_from_env({"ESTATEFLOW_SENDER": "webhook", "ESTATEFLOW_WEBHOOK_URL": "https://gw/x",
                            "ESTATEFLOW_WEBHOOK_SECRET": "k", "ESTATEFLOW_WEBHOOK_TIMEOUT": "3"})
    assert isinstance(hook, WebhookSender) and (hook.secret, hook.timeout) == ("k", 3.0)
    for bad in ({"ESTATEFLOW_SENDER": "smtp"}, {"ESTATEFLOW_SENDER": "webhook"}, {"ESTATEFLOW_SENDER": "fax"},
                {"ESTATEFLOW_SENDER": "webhook", "ESTATEFLOW_WEBHOOK_URL": "file:///etc/passwd"}):
        with pytest.raises(ValueError):
            sender_from_env(bad)
    policy = RetryPolicy.from_env({"ESTATEFLOW_SEND_MAX_ATTEMPTS": "3", "ESTATEFLOW_SEND_RETRY_BASE": "5"})
    assert (policy.max_attempts, policy.base, policy.cap) == (3, timedelta(seconds=5), timedelta(hours=1))


def test_send_command(world, staff):
    _item, row = notify_workers(world)
    with transaction(world.db.factory) as session:
        session.execute(update(Outbox).values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC)))
    runner = CliRunner()
    result = runner.invoke(send, ["--url", world.db.url], env={"ESTATEFLOW_SENDER": "log"})
    assert result.exit_code == 0 and result.output.strip() == "sent 1, to retry 0, failed 0"
    assert outbox_row(world, row["id"])["status"] == "sent"
    bad = runner.invoke(send, ["--url", world.db.url], env={"ESTATEFLOW_SENDER": "pigeon"})
    assert bad.exit_code == 1 and "ESTATEFLOW_SENDER must be" in bad.output
