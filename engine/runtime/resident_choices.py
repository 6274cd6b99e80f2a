"""Recording residents' choices about text messages: by staff on an item's page, by the gateway's report.

    record_for_item(session, actor, item_id, field, status, ...)   staff record consent or opt-out for the
                                                                    number in a phone field of an item they see
    record_for_resident(session, actor, resident_id, status, ...)  the same from the unit page (一户一档), for a
                                                                    resident of a unit of the actor's estates
    record_reply(session, phone, text, estate=..., ...)             the SMS gateway reports a reply: TD (退订)
                                                                    opts the number out

Both write through engine/runtime/resident_consent.py (one new row per choice, the newest applies).
A choice recorded on an item is also an event in its history (`resident_choice`), the number
masked: the next clerk reads there why the resident gets no more messages.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.errors import InvalidFields, ItemNotFound
from engine.runtime import resident_consent
from engine.runtime.items import get_item
from engine.runtime.registry import REGISTRY
from engine.store import queries
from engine.store.models import Estate, Resident, Unit

__all__ = ["EVENT_CHOICE", "OPT_OUT_WORDS", "record_for_item", "record_for_resident", "record_reply"]

EVENT_CHOICE = "resident_choice"
"""History event: staff recorded the resident's consent or opt-out for the item's number."""
OPT_OUT_WORDS = frozenset({"TD", "T", "N", "退订", "退定", "取消", "STOP", "UNSUBSCRIBE"})
"""Replies that opt a number out (what gateways in China pass on for 回TD退订), compared trimmed, upper-case."""


def record_for_item(session: Session, actor: Actor, item_id: int, field: str, status: str, *, now: datetime,
                    note: str = "") -> str:
    """Record `status` for the number in `field` of an item the actor may see; returns the masked number.

    Raises:
        ItemNotFound: the item does not exist or the actor may not see it.
        InvalidFields: `field` is not a phone field holding a mobile number, or the status is unknown.
    """
    item = get_item(session, item_id, actor)
    definition = REGISTRY.compiled(session, item.definition_id)
    spec = definition.fields.get(field)
    if spec is None or spec.type != "phone":
        raise InvalidFields({field: "不是电话字段"})
    number = resident_consent.record(session, estate_id=item.estate_id, phone=item.values.get(field), status=status,
                                     source="staff", now=now, actor_id=actor.user_id, actor_name=actor.name,
                                     note=note)
    shown = resident_consent.mask(number)
    words = resident_consent.STATUS_LABELS[status]
    queries.add_history(session.connection(), {
        "item_id": item.id, "kind": "event", "transition": None, "event": EVENT_CHOICE, "from_state": item.state,
        "to_state": item.state, "actor_id": actor.user_id, "actor_name": actor.name, "at": now, "changes": {},
        "comment": f"{spec.label}（{shown}）{words}" + (f"：{note}" if note else ""),
    })
    return shown


def record_for_resident(session: Session, actor: Actor, resident_id: int, status: str, *, now: datetime,
                        note: str = "") -> str:
    """Record `status` for the phone of a resident of a unit in the actor's estates; returns the masked number.

    Raises:
        ItemNotFound: no such resident, or one of an estate the actor does not work in.
        InvalidFields: the resident has no mobile number, or the status is unknown.
    """
    found = session.execute(select(Resident, Unit.estate_id).join(Unit, Unit.id == Resident.unit_id)
                            .where(Resident.id == resident_id)).first()
    if found is None or not permissions.works_in(actor, found.estate_id):
        raise ItemNotFound("没有这个住户", resident_id=resident_id)
    number = resident_consent.record(session, estate_id=found.estate_id, phone=found.Resident.phone, status=status,
                                     source="staff", now=now, actor_id=actor.user_id, actor_name=actor.name,
                                     note=note)
    return resident_consent.mask(number)


def record_reply(session: Session, phone: object, text: str, *, now: datetime, estate: str | None = None) -> list[str]:
    """A reply the gateway reports: an opt-out word opts the number out in `estate`, or in every estate
    when the gateway cannot tell which; anything else is ignored. Returns the estates recorded.

    Raises:
        InvalidFields: the number is no mobile number, or `estate` is unknown.
    """
    if text.strip().upper() not in OPT_OUT_WORDS:
        return []
    known = list(session.scalars(select(Estate.id).order_by(Estate.id)))
    if estate is not None and estate not in known:
        raise InvalidFields({"estate": "没有这个小区"})
    estates = [estate] if estate is not None else known
    for each in estates:
        resident_consent.record(session, estate_id=each, phone=phone, status=resident_consent.OPTED_OUT,
                                source="sms_reply", now=now, actor_id=None, actor_name="短信回复")
    return estates
