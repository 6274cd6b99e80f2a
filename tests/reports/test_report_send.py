"""`estateflow report send`: the report as XLSX in the outbox for its roles, delivered by `estateflow send`.

An outbox row of a report belongs to no item: every sender and reader of the outbox copes with that.
The organisation and the published 投诉周报 come from test_report_cli.py (send_to: cs_supervisor,
project_manager).
"""

from __future__ import annotations

import email
import email.policy
import io
import json
import logging
import socket
from collections.abc import Iterator
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from click.testing import CliRunner
from openpyxl import load_workbook
from sqlalchemy import select, update

from engine.cli.main import main
from engine.errors import EngineError
from engine.reports.published import current
from engine.reports.result import Period
from engine.reports.sending import send_report
from engine.runtime.outbox import drain
from engine.runtime.resident_messages import messages_of
from engine.runtime.senders import LogSender, WebhookSender
from engine.store.db import transaction
from engine.store.models import Outbox, User
from tests.reports.test_report_cli import MONDAY_AFTER, REPORT, complaints_of_the_week, publish_report
from tests.runtime._access_org import Org

SUBJECT = "投诉周报（2026年3月2日—8日）"
ADDRESSES = {"cs_supervisor": "zhuguan@example.com", "project_manager": "jingli@example.com"}


@pytest.fixture
def org(db: Any, clock: Any, tmp_path: Path) -> Org:
    world = Org(db, clock)
    publish_report(world, tmp_path / "workflows")
    complaints_of_the_week(world)
    with transaction(db.factory) as session:
        for username, address in ADDRESSES.items():
            session.execute(update(User).where(User.id == world.ids[username]).values(email=address))
        # The week's notifications about the complaints went out long ago: only the report is waiting.
        session.execute(update(Outbox).values(status="sent"))
    return world


def send(org: Org, *args: str) -> Any:
    return CliRunner().invoke(main, ["report", "send", *args, "--url", org.db.url, "--now", MONDAY_AFTER])


def queued(org: Org) -> list[dict[str, Any]]:
    return org.rows("outbox", status="pending")


def test_send_puts_one_email_per_role_with_the_xlsx_attached(org):
    result = send(org, "complaints_weekly", "--estate", "demo", "--period", "last-week")
    assert result.exit_code == 0, result.output
    rows = queued(org)
    assert [(r["role"], r["estate_id"], r["item_id"], r["subject"]) for r in rows] == [
        ("cs_supervisor", "demo", None, SUBJECT), ("project_manager", "demo", None, SUBJECT)]
    assert result.stdout.splitlines() == [f"outbox {r['id']}: {SUBJECT} for role {r['role']} in demo" for r in rows]
    row = rows[0]
    assert row["attachment_name"] == "投诉周报_阳光花园_2026-03-02_2026-03-08.xlsx"
    sheet = load_workbook(io.BytesIO(row["attachment"]))["按投诉类别"]
    assert sheet["B3"].value == "2026年3月2日—8日" and sheet["B5"].value == "系统"
    assert {r[0]: r[1:] for r in sheet.iter_rows(min_row=9, values_only=True)}["工程质量类"] == (2, 0, 2, 2)
    # The body names the estate, the period and the headline figures, in plain Chinese.
    assert row["body"].startswith(f"阳光花园的{SUBJECT}见附件")
    assert "新增 3" in row["body"] and "超时 3" in row["body"]
    assert "13812345678" not in row["body"] and "王小明" not in row["body"]  # nothing personal


def test_the_default_period_is_the_last_whole_one_of_the_report(org):
    assert send(org, "complaints_weekly", "--estate", "demo").exit_code == 0
    assert {r["subject"] for r in queued(org)} == {SUBJECT}


def test_estateflow_send_mails_the_role_holders_with_the_xlsx_attached(org, smtp_server):
    inbox, port = smtp_server
    assert send(org, "complaints_weekly", "--estate", "demo").exit_code == 0
    env = {"ESTATEFLOW_SENDER": "smtp", "ESTATEFLOW_SMTP_HOST": "127.0.0.1", "ESTATEFLOW_SMTP_PORT": str(port),
           "ESTATEFLOW_SMTP_FROM": "kefu@example.com"}
    result = CliRunner().invoke(main, ["send", "--url", org.db.url], env=env)
    assert result.exit_code == 0 and result.stdout.strip() == "sent 2, to retry 0, failed 0"
    assert sorted(e.rcpt_tos[0] for e in inbox.envelopes) == sorted(ADDRESSES.values())
    mail = email.message_from_bytes(inbox.envelopes[0].original_content, policy=email.policy.default)
    assert mail["Subject"] == SUBJECT
    assert mail.get_body(preferencelist=("plain",)).get_content().startswith("阳光花园的")
    [attached] = list(mail.iter_attachments())
    assert attached.get_filename() == "投诉周报_阳光花园_2026-03-02_2026-03-08.xlsx"
    assert attached.get_content_type() == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    workbook = load_workbook(io.BytesIO(attached.get_content()))
    assert workbook.sheetnames == ["按投诉类别"]
    assert {r["status"] for r in org.rows("outbox") if r["item_id"] is None} == {"sent"}


def test_the_log_and_webhook_senders_handle_a_row_without_an_item(org, caplog, webhook):
    hook, url = webhook
    assert send(org, "complaints_weekly", "--estate", "demo").exit_code == 0
    first, second = (r["id"] for r in queued(org))
    caplog.set_level(logging.INFO, "estateflow.outbox")
    org.clock.set(datetime.fromisoformat(MONDAY_AFTER))  # when `report send` queued them
    # One row each: the drain takes the oldest first.
    assert drain(org.db.factory, LogSender(), clock=org.clock, batch=1).sent == [first]
    assert f"notification {first} (role cs_supervisor, estate demo, no item): {SUBJECT}" in caplog.text
    assert drain(org.db.factory, WebhookSender(url), clock=org.clock, batch=1).sent == [second]
    [payload] = [json.loads(body) for _headers, body in hook]
    assert (payload["item_id"], payload["number"], payload["attachment_name"]) == (
        None, "", "投诉周报_阳光花园_2026-03-02_2026-03-08.xlsx")
    assert [r["email"] for r in payload["recipients"]] == [ADDRESSES["project_manager"]]


def test_item_readers_of_the_outbox_ignore_report_rows(org):
    item = org.create("complaint", by="frontdesk")
    assert send(org, "complaints_weekly", "--estate", "demo").exit_code == 0
    with org.db.factory() as session:
        assert messages_of(session, item.id) == []  # the item page's resident messages
        # The attachment is deferred: listing the outbox does not load the files.
        listed = session.scalars(select(Outbox).where(Outbox.item_id.is_(None))).all()
        assert len(listed) == 2 and "attachment" not in listed[0].__dict__


def test_send_report_refuses_an_unknown_estate_and_a_report_without_roles(org, tmp_path):
    period = Period(date(2026, 3, 2), date(2026, 3, 8), "2026年3月2日—8日")
    with transaction(org.db.factory) as session:
        report = current(session, "complaints_weekly", "demo")
        assert report is not None
        with pytest.raises(EngineError, match="no estate 'atlantis'"):
            send_report(session, report, "atlantis", period, now=org.clock.now())
    publish_report(org, tmp_path / "again", REPORT.replace("send_to: [cs_supervisor, project_manager]\n", ""))
    result = send(org, "complaints_weekly", "--estate", "demo")
    assert result.exit_code == 1 and "names nobody to send it to" in result.stderr and queued(org) == []
    result = send(org, "nonesuch", "--estate", "demo")
    assert result.exit_code == 1 and "no published report 'nonesuch'" in result.stderr


# --- local servers -----------------------------------------------------------------------------

class Inbox:
    """An aiosmtpd handler keeping what it accepts."""

    def __init__(self) -> None:
        self.envelopes: list[Any] = []

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        self.envelopes.append(envelope)
        return "250 Message accepted"


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[list[tuple[dict[str, str], bytes]], str]]:
    received: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            received.append((dict(self.headers.items()), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield received, f"http://127.0.0.1:{server.server_address[1]}/notify"
    server.shutdown()
    server.server_close()
    thread.join(5)
