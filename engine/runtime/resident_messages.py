"""Text messages to residents: `notify: {resident: FIELD, template: ID}` at run time, and the catalogue.

    plan(session, ...)                    check one resident message of a fire; returns its writer
    messages_of(session, item_id)         the item's resident messages, for its page
    forget(session, estate_id, phone)     PIPL anonymisation: the number leaves messages and choices
    catalogue_for(session, estate_id)     the estate's published templates (its own, else every estate's)
    publish(session, loader, ...)         what `estateflow publish` stores: messages.yaml and each
                                          estate's _messages.yaml merged onto it, when changed

A resident message is an outbox row with the number (`phone`) and the template id, written in
the transition's transaction like every notification and sent by `estateflow send` through the
SMS sender (engine/runtime/sms.py). Whether it may be sent is decided here, from the consent
rule (engine/runtime/resident_consent.py): a message that may not be sent is not an error, the
transition goes on, the item's history gets a `resident_not_texted` event saying what was not
sent and why (the number masked, 138****5678: the timeline is read by staff who may not see it),
and the outbox keeps the row as 'refused'. An item without a number has nobody to text: nothing
is written.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine.errors import Conflict, DefinitionError, Problem
from engine.language.definition import ResidentNotifyAction
from engine.language.loader import ESTATES_DIR, Loader, message_files
from engine.language.messages import ESTATE_MESSAGES_FILE, Catalogue
from engine.runtime import resident_consent
from engine.store import queries
from engine.store.models import MessagesVersion, Outbox, ResidentConsent

__all__ = [
    "EVENT_NOT_SENT", "EVERY_ESTATE", "REFUSED", "PublishedMessages", "SentMessage", "catalogue_for", "forget",
    "messages_of", "plan", "publish",
]

EVENT_NOT_SENT = "resident_not_texted"
"""History event: a text message was not sent (opted out, no consent, no mobile number, no template)."""
REFUSED = "refused"
"""The outbox status of a resident message that was not sent (never claimed by `estateflow send`)."""
EVERY_ESTATE = ""
"""The estate id of the base catalogue (workflows/messages.yaml), as registry.BASE for definitions."""

Writer = Callable[[Session], None]
log = logging.getLogger("estateflow.resident_messages")


def catalogue_for(session: Session, estate_id: str) -> Catalogue | None:
    """The newest published catalogue of `estate_id`, else of every estate; None when none is published."""
    rows = session.execute(
        select(MessagesVersion.estate_id, MessagesVersion.document)
        .where(MessagesVersion.estate_id.in_((estate_id, EVERY_ESTATE)))
        .order_by(MessagesVersion.version.desc())
    ).all()
    for wanted in (estate_id, EVERY_ESTATE):
        for row in rows:
            if row.estate_id == wanted:
                return Catalogue.of(row.document)
    return None


def _event(item_id: int, state: str, event: str, comment: str, now: datetime, actor_id: int | None,
           actor_name: str) -> dict[str, Any]:
    return {"item_id": item_id, "kind": "event", "transition": None, "event": event, "from_state": state,
            "to_state": state, "actor_id": actor_id, "actor_name": actor_name, "at": now, "changes": {},
            "comment": comment}


def plan(session: Session, *, action: ResidentNotifyAction, item_id: int, estate_id: str, state: str,
         raw_phone: object, values: Mapping[str, Any], now: datetime, actor_id: int | None,
         actor_name: str) -> Writer:
    """Decide one resident message of a transition (nothing is written here) and return its writer.

    `values` are the template values of the item (display text, personal fields masked);
    `raw_phone` the value of the action's phone field. The writer queues the message and writes
    a `resident_texted` history event, or writes a `resident_not_texted` event saying why not.
    """
    catalogue = catalogue_for(session, estate_id)
    if catalogue is None:
        # Nothing published: the site runs without messages.yaml published (validate refuses a
        # resident notify without one, so this is a database set up by hand, as in tests).
        log.warning("item %s: no resident message templates are published; %s not sent", item_id, action.template_id)
        return lambda _session: None
    if raw_phone is None or raw_phone == "":
        return lambda _session: None  # no number given: nobody to text, nothing withheld
    template = catalogue.templates.get(action.template_id)
    label = template.label if template is not None else action.template_id
    phone = resident_consent.normalise(raw_phone)
    shown = resident_consent.mask(phone)
    reason: str | None
    if template is None:
        reason = "短信模板未发布（请管理员运行 estateflow publish）"
    elif phone is None:
        reason = "联系电话不是手机号码，无法发短信"
    else:
        reason = resident_consent.decide(resident_consent.current(session, estate_id, phone), template.needs_consent)
    row = {"item_id": item_id, "estate_id": estate_id, "created_at": now, "role": None, "user_id": None,
           "phone": phone, "template": action.template_id, "subject": label, "body": "", "status": "pending",
           "attempts": 0, "next_attempt_at": now}
    if reason is not None:
        to = f"（{shown}）" if shown else ""
        event = _event(item_id, state, EVENT_NOT_SENT, f"{label}未发送{to}：{reason}", now, actor_id, actor_name)
        # Kept in the outbox as 'refused' (never claimed: drain takes pending rows): the record of
        # what was withheld and why, next to what was sent.
        refused = {**row, "status": REFUSED, "last_error": reason, "next_attempt_at": None}

        def refuse(session: Session) -> None:
            queries.add_outbox(session.connection(), [refused])
            queries.add_history(session.connection(), event)

        return refuse
    assert template is not None and phone is not None
    row["body"] = catalogue.render(template.id, values)

    def write(session: Session) -> None:
        # No history row: what was sent is listed on the item page from the outbox (web/residents_messages.py),
        # so a message never shifts the item's history; what was withheld is an event staff must notice.
        queries.add_outbox(session.connection(), [row])

    return write


@dataclass(frozen=True, slots=True)
class PublishedMessages:
    """A stored catalogue version; `created` is False when publishing was a no-op."""

    estate_id: str
    version: int
    created: bool


def _digest(document: Mapping[str, Any]) -> str:
    text = json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _store(session: Session, estate: str, document: dict[str, Any], now: datetime | None,
           by: str | None) -> PublishedMessages:
    plain = json.loads(json.dumps(document, ensure_ascii=False, default=str))
    digest = _digest(plain)
    latest = session.execute(
        select(MessagesVersion.version, MessagesVersion.content_hash).where(MessagesVersion.estate_id == estate)
        .order_by(MessagesVersion.version.desc()).limit(1)
    ).first()
    if latest is not None and latest.content_hash == digest:
        return PublishedMessages(estate, latest.version, False)
    version = latest.version + 1 if latest else 1
    try:
        with session.begin_nested():
            session.add(MessagesVersion(estate_id=estate, version=version, content_hash=digest, document=plain,
                                        published_at=now or datetime.now(UTC), published_by=by))
    except IntegrityError:
        raise Conflict(None, None, f"the messages of {estate or 'every estate'} were published meanwhile") from None
    return PublishedMessages(estate, version, True)


def publish(session: Session, loader: Loader, *, now: datetime | None = None,
            by: str | None = None) -> list[PublishedMessages]:
    """Store the folder's catalogue for every estate and, merged, for each estate with a _messages.yaml
    (and for an estate that had one before, the plain base: it never stays on a stale merge).

    Raises:
        DefinitionError: a messages file has problems (then none is stored).
    """
    files = message_files(loader.workflows_dir)
    problems: list[Problem] = [p for path in files for p in loader.messages_problems(path)]
    if problems:
        raise DefinitionError(problems)
    base = loader.messages_document(None)
    if base is None:
        return []
    estates = {p.parent.name for p in files if p.name == ESTATE_MESSAGES_FILE and p.parent.parent.name == ESTATES_DIR}
    estates |= set(session.scalars(select(MessagesVersion.estate_id).where(MessagesVersion.estate_id != EVERY_ESTATE)
                                   .distinct()))
    result = [_store(session, EVERY_ESTATE, base, now, by)]
    for estate in sorted(estates):
        result.append(_store(session, estate, loader.messages_document(estate) or base, now, by))
    return result


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One resident message of an item, as its page lists it (the number is the caller's to mask)."""

    label: str
    phone: str | None
    status: str
    """'pending', 'sending', 'sent', 'failed', 'cancelled' (opted out before sending) or 'refused'."""
    reason: str | None
    created_at: datetime
    sent_at: datetime | None

    @property
    def status_label(self) -> str:
        """The status in the staff's words."""
        return STATUS_LABELS.get(self.status, self.status)


STATUS_LABELS = {"pending": "待发送", "sending": "发送中", "sent": "已发送", "failed": "发送失败",
                 "cancelled": "已取消（业主已退订）", REFUSED: "未发送"}


def messages_of(session: Session, item_id: int) -> list[SentMessage]:
    """The item's resident messages, oldest first."""
    rows = session.execute(
        select(Outbox.subject, Outbox.phone, Outbox.status, Outbox.last_error, Outbox.created_at, Outbox.sent_at)
        .where(Outbox.item_id == item_id, Outbox.template.is_not(None)).order_by(Outbox.id)
    ).all()
    return [SentMessage(r.subject, r.phone, r.status, r.last_error if r.status == REFUSED else None, r.created_at,
                        r.sent_at) for r in rows]


def forget(session: Session, estate_id: str, phone: object) -> int:
    """Anonymising a resident (engine/org/privacy.py): their messages in the estate lose the number and
    the text (those not sent yet are cancelled) and their recorded choices are deleted; returns the
    number of messages changed."""
    number = resident_consent.normalise(phone)
    if number is None:
        return 0
    mine = (Outbox.estate_id == estate_id, Outbox.phone == number)
    session.execute(update(Outbox).where(*mine, Outbox.status.in_(("pending", "sending")))
                    .values(status="cancelled", next_attempt_at=None, last_error="the resident was anonymised")
                    .execution_options(synchronize_session=False))
    changed = session.connection().execute(update(Outbox).where(*mine).values(phone=None, body="")).rowcount
    session.execute(delete(ResidentConsent).where(ResidentConsent.estate_id == estate_id,
                                                  ResidentConsent.phone == number)
                    .execution_options(synchronize_session=False))
    return int(changed or 0)
