"""The item page's 短信通知业主 panel: each phone's recorded choice, and the messages of the item.

    panel(session, page)                   None when the workflow texts no resident; else what the panel shows
    unit_choices(session, actor, unit_id)  the unit page's: each current resident's number and choice

Numbers are shown in full only where the page shows personal fields in full (`page.full`: the
item page then writes its access-log row); otherwise masked, 138****5678.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.language.definition import ResidentNotifyAction
from engine.runtime import resident_consent
from engine.runtime.resident_messages import SentMessage, messages_of
from engine.store.models import Resident, Unit
from engine.views.item import ItemPage

__all__ = ["Panel", "PhoneChoice", "ResidentChoice", "ShownMessage", "panel", "unit_choices"]


@dataclass(frozen=True, slots=True)
class PhoneChoice:
    """One phone field of the item: its number as the actor may see it and the resident's choice."""

    field: str
    label: str
    number: str
    mobile: bool
    """A mobile number: a choice can be recorded (a landline gets no text message)."""
    status: str | None
    status_label: str
    recorded: str
    """Who recorded the choice, how and when, in words ('' when none is recorded)."""
    recorded_at: datetime | None


@dataclass(frozen=True, slots=True)
class ShownMessage:
    """One resident message of the item, its number as the actor may see it."""

    message: SentMessage
    number: str


@dataclass(frozen=True, slots=True)
class Panel:
    """What the panel shows."""

    phones: tuple[PhoneChoice, ...]
    messages: tuple[ShownMessage, ...]


def panel(session: Session, page: ItemPage) -> Panel | None:
    """The panel for `page`; None when no transition of the workflow texts a resident."""
    definition, item = page.definition, page.item
    texted = {a.field for t in definition.transitions for a in t.actions if isinstance(a, ResidentNotifyAction)}
    if not texted:
        return None

    def shown(number: str | None) -> str:
        return (number or "") if page.full else resident_consent.mask(number)

    phones = []
    for name in sorted(texted, key=list(definition.fields).index):
        field = definition.fields.get(name)
        value = item.values.get(name)
        if field is None or value in (None, ""):
            continue
        number = resident_consent.normalise(value)
        choice = resident_consent.current(session, item.estate_id, number) if number else None
        recorded = f"{choice.recorded_by_name}（{choice.source_label}）" if choice else ""
        phones.append(PhoneChoice(name, field.label, shown(number or str(value)), number is not None,
                                  choice.status if choice else None,
                                  resident_consent.STATUS_LABELS[choice.status if choice else None], recorded,
                                  choice.recorded_at if choice else None))
    messages = tuple(ShownMessage(m, shown(m.phone)) for m in messages_of(session, item.id))
    return Panel(tuple(phones), messages)


@dataclass(frozen=True, slots=True)
class ResidentChoice:
    """A current resident of a unit with a mobile number, and their recorded choice."""

    resident_id: int
    number: str
    status: str | None
    status_label: str
    recorded: str


def unit_choices(session: Session, actor: Actor, unit_id: int) -> tuple[ResidentChoice, ...]:
    """The unit page's 短信意愿: its residents not moved out with a mobile number (numbers masked unless the
    actor sees residents in full); empty for a unit the actor may not see."""
    unit = session.get(Unit, unit_id)
    if unit is None or not permissions.works_in(actor, unit.estate_id):
        return ()
    full = permissions.sees_residents(actor, unit.estate_id)
    found = []
    for resident in session.scalars(select(Resident).where(Resident.unit_id == unit_id, Resident.moved_out_on.is_(None),
                                                           Resident.anonymised_at.is_(None)).order_by(Resident.id)):
        number = resident_consent.normalise(resident.phone)
        if number is None:
            continue
        choice = resident_consent.current(session, unit.estate_id, number)
        found.append(ResidentChoice(resident.id, number if full else resident_consent.mask(number),
                                    choice.status if choice else None,
                                    resident_consent.STATUS_LABELS[choice.status if choice else None],
                                    f"{choice.recorded_by_name}（{choice.source_label}）" if choice else ""))
    return tuple(found)
