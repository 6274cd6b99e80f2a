"""The demo residents' choices about text messages, so that the demo shows both sides of the rule.

    seed_consents(session, now) -> {estate: [the residents' mobile numbers]}

A 缴费提醒 goes only to a phone whose consent is recorded, and nothing goes to a phone that opted out
(engine/runtime/resident_consent.py). With no choice recorded every reminder of the demo would be
withheld; so two in three of the residents' phones get a recorded consent (as if collected at the
desk or imported from the 收费系统), one in ten opts out by replying TD, and the rest chose nothing
(service messages only). The demo's items use these phones (engine/cli/demo.py), so its reminders
come out sent for some and withheld, with the reason, for others.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.runtime import resident_consent
from engine.store.models import Resident, ResidentConsent, Unit

__all__ = ["forget_consents", "seed_consents"]

_RECORDED_BY = "演示数据"


def seed_consents(session: Session, estates: tuple[str, ...], now: datetime) -> dict[str, list[str]]:
    """Record the choices (a month before `now`, before any demo item); every resident phone per estate."""
    phones: dict[str, list[str]] = {}
    rows = session.execute(select(Unit.estate_id, Resident.phone).join(Unit, Unit.id == Resident.unit_id)
                           .where(Unit.estate_id.in_(estates), Resident.phone.is_not(None))
                           .order_by(Resident.id))
    for estate, phone in rows:
        number = resident_consent.normalise(phone)
        if number is not None:
            phones.setdefault(estate, []).append(number)
    when = now - timedelta(days=30)
    for estate, numbers in phones.items():
        for index, number in enumerate(numbers):
            if index % 10 == 1:
                status, source, note = resident_consent.OPTED_OUT, "sms_reply", "回复TD退订"
            elif index % 3 != 2:
                source = "import" if index % 4 else "staff"
                status, note = resident_consent.CONSENTED, "同意接收缴费提醒"
            else:
                continue  # nothing recorded: service messages only
            resident_consent.record(session, estate_id=estate, phone=number, status=status, source=source, now=when,
                                    actor_id=None, actor_name=_RECORDED_BY, note=note)
    return phones


def forget_consents(session: Session, estates: tuple[str, ...]) -> None:
    """Delete the estates' recorded choices (the demo's --reset): they are keyed by estate, not tied to it."""
    session.execute(delete(ResidentConsent).where(ResidentConsent.estate_id.in_(estates)))
