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

A row is about an item, or about none (a report e-mailed by `estateflow report send`, engine/reports/
sending.py: `item_id` null, the XLSX in `attachment`, which the e-mail sender attaches).
A row is for a role (every active holder of the role in the row's estate) or for one person
(`user_id`: `notify: {user: FIELD}`). Either way a recipient on leave with a stand-in is
replaced by the stand-in until they are back (docs/organisation.md "Staff, leave and stand-ins").

Logs and `last_error` never hold personal data: no body, no addresses, and
errors reduced to their kind and code (an SMTP reply can quote an address).
Senders (LogSender, the default; SmtpSender, WebhookSender; `sender_from_env()` picks one) are
engine/runtime/senders.py's.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import ColumnElement, Table, and_, or_, select, update
from sqlalchemy.orm import Session, aliased, sessionmaker

from engine.clock import Clock, SystemClock
from engine.errors import Conflict
from engine.runtime.resident_consent import opted_out
from engine.runtime.senders import LogSender, Message, Recipient, Sender, safe_error
from engine.store.db import transaction
from engine.store.models import Item, Outbox, User, UserRole

__all__ = ["DrainResult", "RetryPolicy", "claim_next", "drain"]

log = logging.getLogger("estateflow.outbox")
outbox = cast(Table, Outbox.__table__)


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
    cancelled: list[int] = field(default_factory=list)
    """Resident messages not sent: the phone opted out after they were queued."""

    def __str__(self) -> str:
        text = f"sent {len(self.sent)}, to retry {len(self.retrying)}, failed {len(self.failed)}"
        return text + (f", cancelled {len(self.cancelled)}" if self.cancelled else "")


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
        # An outer join: a report e-mailed by `estateflow report send` belongs to no item (item_id null).
        row = session.execute(
            select(outbox, Item.number).outerjoin(Item, Item.id == outbox.c.item_id).where(outbox.c.id == row_id)
        ).one()
        return Message(
            id=row.id, item_id=row.item_id, number=row.number or "", estate_id=row.estate_id, role=row.role,
            subject=row.subject, body=row.body, attempt=row.attempts, user_id=row.user_id,
            recipients=() if row.phone is not None else _recipients(session, row.role, row.user_id, row.estate_id),
            phone=row.phone, template=row.template, attachment_name=row.attachment_name, attachment=row.attachment,
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


def _cancelled(factory: sessionmaker[Session], message: Message) -> bool:
    """Whether a resident message was cancelled because its phone opted out since it was queued (then
    recorded 'cancelled': a TD reply must stop even the messages already waiting)."""
    assert message.phone is not None
    with transaction(factory) as session:
        if not opted_out(session, message.estate_id, message.phone):
            return False
    _record(factory, message, {"status": "cancelled", "last_error": "the resident opted out", "next_attempt_at": None})
    log.info("%s: cancelled, the resident opted out", message.label())
    return True


def drain(factory: sessionmaker[Session], sender: Sender, *, clock: Clock | None = None, batch: int = 100,
          policy: RetryPolicy | None = None, sms: Sender | None = None) -> DrainResult:
    """Send up to `batch` due notifications, one short transaction per claim and per outcome.

    Text messages to residents go through `sms` (engine/runtime/sms.py; default: the log
    sender), never through the staff's sender; one whose phone opted out after it was
    queued is cancelled, not sent. Never raises because of a sender; a busy database ends
    the pass early (the next pass picks up where it stopped).
    """
    sms = sms or LogSender()
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
        if message.phone is not None and _cancelled(factory, message):
            result.cancelled.append(message.id)
            continue
        _send_one(factory, sms if message.phone is not None else sender, message, clock, policy, result)
    return result
