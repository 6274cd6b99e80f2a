"""Residents' choices about text messages: consent and opt-out per (estate, phone), and the rule.

Every choice is a new `resident_consents` row (who recorded it, when, from what: staff on a
call or at the desk, the resident's TD reply reported by the SMS gateway, an import); the newest
row of a phone in an estate applies, the older ones are the record that consent was given.

The rule (docs/notifications.md "Messages to residents"):
- a phone that opted out gets nothing, whatever the message;
- a `consent: required` message (缴费提醒) goes only to a phone whose consent is recorded;
- a `service` message (受理, 派单, 上门, 完工, 回访: about the resident's own request, which
  they gave the number for) goes unless the phone opted out.

    normalise(phone) / mask(phone)          the stored form of a number / how logs and pages show it
    current(session, estate, phone)         the newest Choice, or None
    record(session, ...)                    add a choice (refuses a malformed number)
    decide(choice, needs_consent)           None when a message may go, else why not (plain Chinese)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import InvalidFields
from engine.store.models import ResidentConsent

__all__ = [
    "CONSENTED", "OPTED_OUT", "SOURCES", "STATUS_LABELS", "Choice", "current", "decide", "history", "mask",
    "normalise", "opted_out", "record",
]

CONSENTED = "consented"
OPTED_OUT = "opted_out"
STATUSES = (CONSENTED, OPTED_OUT)
SOURCES = {"staff": "客服登记", "sms_reply": "短信回复退订", "import": "批量导入"}
STATUS_LABELS = {CONSENTED: "已同意接收提醒短信", OPTED_OUT: "已退订短信",
                 None: "未登记（只发与本人报事相关的服务短信）"}

_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")


def normalise(phone: object) -> str | None:
    """A mobile number as stored and compared (11 digits, no +86, spaces or dashes); None when the value
    is no mobile number (a landline cannot receive a text message)."""
    if phone is None:
        return None
    text = re.sub(r"[\s()（）-]", "", str(phone))
    for prefix in ("+86", "0086"):
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text if _MOBILE.match(text) else None


def mask(phone: str | None) -> str:
    """How a number is shown where it may not be read in full, and in every log line: 138****5678."""
    if not phone:
        return ""
    return phone[:3] + "*" * max(len(phone) - 7, 1) + phone[-4:] if len(phone) >= 7 else "*" * len(phone)


@dataclass(frozen=True, slots=True)
class Choice:
    """One recorded choice."""

    status: str
    source: str
    recorded_at: datetime
    recorded_by_name: str
    note: str

    @property
    def label(self) -> str:
        """The status in the staff's words."""
        return STATUS_LABELS[self.status]

    @property
    def source_label(self) -> str:
        """Where the choice came from, in the staff's words."""
        return SOURCES.get(self.source, self.source)


def _choices(session: Session, estate_id: str, phone: str, limit: int | None) -> list[Choice]:
    query = (select(ResidentConsent).where(ResidentConsent.estate_id == estate_id, ResidentConsent.phone == phone)
             .order_by(ResidentConsent.id.desc()))
    if limit is not None:
        query = query.limit(limit)
    return [Choice(r.status, r.source, r.recorded_at, r.recorded_by_name, r.note) for r in session.scalars(query)]


def current(session: Session, estate_id: str, phone: str) -> Choice | None:
    """The choice that applies to `phone` (normalised) in the estate, or None when none is recorded."""
    found = _choices(session, estate_id, phone, 1)
    return found[0] if found else None


def opted_out(session: Session, estate_id: str, phone: str) -> bool:
    """Whether the phone's newest choice in the estate is an opt-out (checked again just before sending)."""
    found = current(session, estate_id, phone)
    return found is not None and found.status == OPTED_OUT


def history(session: Session, estate_id: str, phone: str, limit: int = 20) -> list[Choice]:
    """The recorded choices of a phone in the estate, newest first."""
    return _choices(session, estate_id, phone, limit)


def record(session: Session, *, estate_id: str, phone: object, status: str, source: str, now: datetime,
           actor_id: int | None, actor_name: str, note: str = "") -> str:
    """Add a choice (inside the caller's transaction); returns the normalised number.

    Raises:
        InvalidFields: the number is no mobile number, or the status or source is unknown.
    """
    number = normalise(phone)
    if number is None:
        raise InvalidFields({"phone": "不是手机号码，无法登记短信意愿"})
    if status not in STATUSES or source not in SOURCES:
        raise InvalidFields({"status": "请选择同意接收或退订"})
    session.add(ResidentConsent(estate_id=estate_id, phone=number, status=status, source=source, recorded_at=now,
                                recorded_by=actor_id, recorded_by_name=actor_name[:200], note=note[:200]))
    session.flush()
    return number


def decide(choice: Choice | None, needs_consent: bool) -> str | None:
    """None when a message may be sent to the phone; otherwise why not, in the staff's words."""
    if choice is not None and choice.status == OPTED_OUT:
        return "业主已退订短信"
    if needs_consent and (choice is None or choice.status != CONSENTED):
        return "未登记业主同意接收此类提醒短信"
    return None
