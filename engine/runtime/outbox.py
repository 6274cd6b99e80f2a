"""Draining the outbox: notifications written by transitions, sent later with retries.

A transition only inserts outbox rows, in its own transaction; nothing here runs
inside one. `drain()` claims one due row at a time in a short transaction (status
'sending' plus a lease), commits, talks to the sender with no transaction open (on
SQLite an open write transaction would hold the database lock and block every
transition for as long as a mail server takes to answer), then records the outcome
in another short transaction: 'sent', or back to 'pending' with an exponential
backoff, or 'failed' after the maximum number of attempts.

The claim is `UPDATE ... WHERE status IN ('pending', 'sending') AND next_attempt_at
<= now`, and it moves next_attempt_at past now: of two senders racing for a row,
only one update matches. A sender that dies after claiming leaves the row
'sending' until its lease runs out; it is then claimed again (delivery is at least
once; the webhook's X-Estateflow-Delivery header lets a gateway drop a repeat).

A row is for a role (every active holder of the role in the row's estate) or for one person
(`user_id`: `notify: {user: FIELD}`). Either way a recipient on leave with a stand-in is
replaced by the stand-in until they are back (docs/organisation.md "Staff, leave and stand-ins").

Logs and `last_error` never hold personal data: no body, no addresses, and
errors reduced to their kind and code (an SMTP reply can quote an address).
Senders: LogSender (default), SmtpSender, WebhookSender; `sender_from_env()` picks one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import smtplib
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Protocol, cast

from sqlalchemy import ColumnElement, Table, and_, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from engine.clock import Clock, SystemClock
from engine.errors import Conflict
from engine.store.db import transaction
from engine.store.models import Item, Outbox, User, UserRole

__all__ = [
    "DrainResult", "LogSender", "Message", "Recipient", "RetryPolicy", "SendError", "Sender", "SmtpSender",
    "WebhookSender", "claim_next", "drain", "safe_error", "sender_from_env",
]

log = logging.getLogger("estateflow.outbox")
outbox = cast(Table, Outbox.__table__)


class SendError(Exception):
    """A delivery that did not happen; its text must carry no personal data (it is logged)."""


@dataclass(frozen=True, slots=True)
class Recipient:
    """A person told: a holder of the row's role in its estate, or the person the row names (or a stand-in)."""

    user_id: int
    name: str
    email: str | None
    phone: str | None


@dataclass(frozen=True, slots=True)
class Message:
    """One outbox row ready to send."""

    id: int
    item_id: int
    number: str
    estate_id: str
    role: str | None
    subject: str
    body: str
    attempt: int
    recipients: tuple[Recipient, ...]
    user_id: int | None = None
    """The person the row is for (None: a role's row)."""

    def label(self) -> str:
        """How logs name the message: nothing personal (the subject is the workflow title and the number)."""
        to = f"role {self.role}" if self.role is not None else f"user {self.user_id}"
        return f"notification {self.id} ({to}, estate {self.estate_id}, item {self.number})"


class Sender(Protocol):
    """Delivers a message or raises (any exception counts as a failed attempt)."""

    name: str

    def send(self, message: Message) -> None:
        """Deliver `message` to its recipients."""
        ...


class LogSender:
    """The default: one log line per notification (trials; deployments without a gateway yet)."""

    name = "log"

    def send(self, message: Message) -> None:
        """Log who would be told about what; the body and addresses stay out of the log."""
        log.info("%s: %s (%d recipient(s))", message.label(), message.subject, len(message.recipients))


class SmtpSender:
    """Mail to the email addresses of the users holding the role in the estate."""

    name = "smtp"

    def __init__(self, host: str, port: int = 25, *, from_addr: str, user: str | None = None,
                 password: str | None = None, starttls: bool = False, timeout: float = 30.0) -> None:
        self.host, self.port, self.from_addr = host, port, from_addr
        self.user, self.password, self.starttls, self.timeout = user, password, starttls, timeout

    def send(self, message: Message) -> None:
        """One mail to every recipient with an address; none on file is a failed attempt (retried)."""
        to = [r.email for r in message.recipients if r.email]
        if not to:
            to_whom = f"role {message.role}" if message.role is not None else f"user {message.user_id}"
            raise SendError(f"no email address on file for {to_whom} in estate {message.estate_id}")
        mail = EmailMessage()
        mail["Subject"] = message.subject
        mail["From"] = self.from_addr
        mail["To"] = ", ".join(to)
        mail["X-Estateflow-Delivery"] = str(message.id)
        mail.set_content(message.body)
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.user:
                smtp.login(self.user, self.password or "")
            smtp.send_message(mail, self.from_addr, to)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302 as a GET without the body and call that success.
    def redirect_request(self, *_args: object, **_kwargs: object) -> None:
        return None


class WebhookSender:
    """A JSON POST to a gateway (SMS, WeChat...), optionally signed with a shared secret."""

    name = "webhook"

    def __init__(self, url: str, *, secret: str | None = None, timeout: float = 10.0) -> None:
        if not url.lower().startswith(("http://", "https://")):
            raise ValueError("ESTATEFLOW_WEBHOOK_URL must be an http:// or https:// URL")
        self.url, self.secret, self.timeout = url, secret, timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def payload(self, message: Message) -> bytes:
        """The request body: the message and its recipients' addresses."""
        document = {
            "id": message.id, "role": message.role, "user_id": message.user_id, "estate": message.estate_id,
            "item_id": message.item_id,
            "number": message.number, "subject": message.subject, "body": message.body,
            "recipients": [{"user_id": r.user_id, "name": r.name, "email": r.email, "phone": r.phone}
                           for r in message.recipients],
        }
        return json.dumps(document, ensure_ascii=False).encode("utf-8")

    def signature(self, body: bytes) -> str:
        """`sha256=` and the hex HMAC-SHA256 of the body under the shared secret."""
        assert self.secret is not None
        return "sha256=" + hmac.new(self.secret.encode("utf-8"), body, hashlib.sha256).hexdigest()

    def send(self, message: Message) -> None:
        """POST the payload; anything but a 2xx answer is a failed attempt."""
        body = self.payload(message)
        headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "estateflow",
                   "X-Estateflow-Delivery": str(message.id)}
        if self.secret:
            headers["X-Estateflow-Signature"] = self.signature(body)
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                response.read(65536)
        except urllib.error.HTTPError as error:
            error.close()
            raise SendError(f"HTTP {error.code} from the webhook") from None


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def sender_from_env(env: Mapping[str, str] | None = None) -> Sender:
    """The sender ESTATEFLOW_SENDER names (log, the default; smtp; webhook), set up from the environment.

    Raises:
        ValueError: an unknown sender or a missing or malformed setting.
    """
    env = os.environ if env is None else env
    kind = (env.get("ESTATEFLOW_SENDER") or "log").strip().lower()
    if kind == "log":
        return LogSender()
    if kind == "smtp":
        host, from_addr = env.get("ESTATEFLOW_SMTP_HOST"), env.get("ESTATEFLOW_SMTP_FROM")
        if not host or not from_addr:
            raise ValueError("ESTATEFLOW_SENDER=smtp needs ESTATEFLOW_SMTP_HOST and ESTATEFLOW_SMTP_FROM")
        starttls = _flag(env.get("ESTATEFLOW_SMTP_STARTTLS"))
        return SmtpSender(host, int(env.get("ESTATEFLOW_SMTP_PORT") or (587 if starttls else 25)),
                          from_addr=from_addr, user=env.get("ESTATEFLOW_SMTP_USER") or None,
                          password=env.get("ESTATEFLOW_SMTP_PASSWORD") or None, starttls=starttls)
    if kind == "webhook":
        url = env.get("ESTATEFLOW_WEBHOOK_URL")
        if not url:
            raise ValueError("ESTATEFLOW_SENDER=webhook needs ESTATEFLOW_WEBHOOK_URL")
        return WebhookSender(url, secret=env.get("ESTATEFLOW_WEBHOOK_SECRET") or None,
                             timeout=float(env.get("ESTATEFLOW_WEBHOOK_TIMEOUT") or 10))
    raise ValueError(f"ESTATEFLOW_SENDER must be log, smtp or webhook, not {kind!r}")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry: the n-th failure waits base × 2^(n-1), at most `cap`."""

    max_attempts: int = 10
    base: timedelta = timedelta(seconds=30)
    cap: timedelta = timedelta(hours=1)
    # Longer than any sender may take (their timeouts are seconds): a live sender never loses its row.
    lease: timedelta = timedelta(minutes=15)

    def delay(self, attempts: int) -> timedelta:
        """The wait after the `attempts`-th failed attempt."""
        return min(self.base * (1 << max(attempts - 1, 0)), self.cap)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RetryPolicy:
        """ESTATEFLOW_SEND_MAX_ATTEMPTS, ESTATEFLOW_SEND_RETRY_BASE and _RETRY_CAP (seconds); defaults otherwise."""
        env = os.environ if env is None else env
        default = cls()

        def seconds(name: str, fallback: timedelta) -> timedelta:
            raw = env.get(name)
            return timedelta(seconds=float(raw)) if raw else fallback

        raw_max = env.get("ESTATEFLOW_SEND_MAX_ATTEMPTS")
        policy = cls(
            max_attempts=int(raw_max) if raw_max else default.max_attempts,
            base=seconds("ESTATEFLOW_SEND_RETRY_BASE", default.base),
            cap=seconds("ESTATEFLOW_SEND_RETRY_CAP", default.cap),
        )
        if policy.max_attempts < 1 or policy.base <= timedelta(0) or policy.cap < policy.base:
            raise ValueError("retry settings: max attempts >= 1, base > 0 and cap >= base")
        return policy


@dataclass
class DrainResult:
    """What one pass did, by outbox id."""

    sent: list[int] = field(default_factory=list)
    retrying: list[int] = field(default_factory=list)
    failed: list[int] = field(default_factory=list)

    def __str__(self) -> str:
        return f"sent {len(self.sent)}, to retry {len(self.retrying)}, failed {len(self.failed)}"


def safe_error(error: BaseException) -> str:
    """An error reduced to something safe to log and store: its kind and a code, never its text.

    Senders raise SendError with text they wrote themselves; any other exception may
    quote a recipient (SMTP replies do), so only its class name and numeric codes survive.
    """
    if isinstance(error, SendError):
        return str(error)[:500]
    parts = [type(error).__name__]
    for attribute in ("smtp_code", "code", "errno", "status"):
        value = getattr(error, attribute, None)
        if isinstance(value, int):
            parts.append(f"{attribute}={value}")
    reason = getattr(error, "reason", None)  # urllib.error.URLError wraps the socket error
    if isinstance(reason, BaseException):
        parts.append(f"({safe_error(reason)})")
    return " ".join(parts)


def _due(now: datetime) -> list[ColumnElement[bool]]:
    return [outbox.c.status.in_(("pending", "sending")),
            or_(outbox.c.next_attempt_at.is_(None), outbox.c.next_attempt_at <= now)]


def _recipients(session: Session, role: str | None, user_id: int | None, estate_id: str) -> tuple[Recipient, ...]:
    """Who a row goes to: the role's active holders in the estate, or the one person; stand-ins for those away."""
    if role is not None:
        told = (select(User.id).join(UserRole, UserRole.user_id == User.id)
                .where(UserRole.role == role, UserRole.estate_id == estate_id, User.active.is_(True)))
    else:
        told = select(User.id).where(User.id == user_id, User.active.is_(True))
    stand_in = aliased(User)
    people = session.execute(
        select(User.id, User.on_leave, stand_in.id.label("stand_in"))
        .outerjoin(stand_in, and_(stand_in.id == User.stand_in_id, stand_in.active.is_(True)))
        .where(User.id.in_(told))
    ).all()
    # While someone is on leave their active stand-in is told instead.
    ids = sorted({int(p.stand_in) if p.on_leave and p.stand_in is not None else int(p.id) for p in people})
    if not ids:
        return ()
    rows = session.execute(select(User.id, User.display_name, User.email, User.phone)
                           .where(User.id.in_(ids)).order_by(User.id))
    return tuple(Recipient(r.id, r.display_name, r.email, r.phone) for r in rows)


def claim_next(factory: sessionmaker[Session], now: datetime, policy: RetryPolicy) -> Message | None:
    """Claim the next due row in a transaction of its own; None when nothing is due."""
    with transaction(factory) as session:
        candidate = select(outbox.c.id).where(*_due(now)).order_by(outbox.c.next_attempt_at, outbox.c.id).limit(1)
        if session.get_bind().dialect.name == "postgresql":
            # Racing senders pick different rows instead of queueing on the same one.
            candidate = candidate.with_for_update(skip_locked=True)
        row_id = session.execute(candidate).scalar()
        if row_id is None:
            return None
        # The WHERE repeats the due condition: this update, not the select, decides who owns the row.
        claimed = session.connection().execute(
            update(outbox).where(outbox.c.id == row_id, *_due(now))
            .values(status="sending", attempts=outbox.c.attempts + 1, next_attempt_at=now + policy.lease)
        )
        if claimed.rowcount != 1:  # cannot happen under the row lock / SQLite's write lock; end the pass
            return None
        row = session.execute(
            select(outbox, Item.number).join(Item, Item.id == outbox.c.item_id).where(outbox.c.id == row_id)
        ).one()
        return Message(
            id=row.id, item_id=row.item_id, number=row.number, estate_id=row.estate_id, role=row.role,
            subject=row.subject, body=row.body, attempt=row.attempts, user_id=row.user_id,
            recipients=_recipients(session, row.role, row.user_id, row.estate_id),
        )


def _record(factory: sessionmaker[Session], message: Message, values: dict[str, object]) -> None:
    """Write the outcome, only if the row is still ours (same attempt number; the lease did not run out)."""
    for _ in range(3):  # a busy database must not leave a sent row to be sent again when its lease ends
        try:
            with transaction(factory) as session:
                session.execute(
                    update(outbox)
                    .where(outbox.c.id == message.id, outbox.c.status == "sending",
                           outbox.c.attempts == message.attempt)
                    .values(**values)
                )
            return
        except Conflict:
            continue
    log.error("%s: the outcome could not be recorded (database busy); it will be retried", message.label())


def _send_one(factory: sessionmaker[Session], sender: Sender, message: Message, clock: Clock,
              policy: RetryPolicy, result: DrainResult) -> None:
    try:
        sender.send(message)
    except Exception as error:  # noqa: BLE001 - any sender failure is a failed attempt, never a crash
        now, reason = clock.now(), safe_error(error)
        if message.attempt >= policy.max_attempts:
            _record(factory, message, {"status": "failed", "last_error": reason, "next_attempt_at": None})
            log.error("%s: failed after %d attempts via %s: %s", message.label(), message.attempt, sender.name, reason)
            result.failed.append(message.id)
        else:
            retry_at = now + policy.delay(message.attempt)
            _record(factory, message, {"status": "pending", "last_error": reason, "next_attempt_at": retry_at})
            log.warning("%s: attempt %d via %s failed: %s; next attempt at %s", message.label(), message.attempt,
                        sender.name, reason, retry_at.isoformat(timespec="seconds"))
            result.retrying.append(message.id)
        return
    _record(factory, message, {"status": "sent", "sent_at": clock.now(), "next_attempt_at": None})
    result.sent.append(message.id)


def drain(factory: sessionmaker[Session], sender: Sender, *, clock: Clock | None = None, batch: int = 100,
          policy: RetryPolicy | None = None) -> DrainResult:
    """Send up to `batch` due notifications, one short transaction per claim and per outcome.

    Never raises because of a sender; a busy database ends the pass early (the next
    pass picks up where it stopped).
    """
    clock = clock or SystemClock()
    policy = policy or RetryPolicy()
    result = DrainResult()
    for _ in range(batch):
        try:
            message = claim_next(factory, clock.now(), policy)
        except Conflict:
            log.warning("outbox: database busy, pass ended early")
            break
        if message is None:
            break
        _send_one(factory, sender, message, clock, policy, result)
    return result
