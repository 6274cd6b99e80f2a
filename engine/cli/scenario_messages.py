"""Scenarios and messages to residents: the catalogue and consents a scenario starts with, and `texted`.

    consents:                    # scenario key: each phone's recorded choice in the scenario's estate
      "13800001234": consented   # or opted_out; a list records each in turn (the last applies)
    expect:
      texted: [dispatched]       # the templates of every resident message queued for the item so far
      not_texted: [payment_reminder]   # ... and of those withheld (opted out, no consent, no mobile number)

The folder's messages.yaml (with the estate's _messages.yaml) is published when the scenario starts,
as `estateflow publish` does (engine/runtime/resident_messages.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.cli.scenario_cast import Failed
from engine.errors import InvalidFields
from engine.language.loader import Loader
from engine.runtime import resident_consent, resident_messages
from engine.store.models import Outbox

__all__ = ["compare", "set_up"]


def set_up(session: Session, loader: Loader, estate: str, consents: Any, now: datetime) -> None:
    """Publish the folder's message templates and record the scenario's `consents:`."""
    resident_messages.publish(session, loader, now=now, by="scenario")
    if consents is None:
        return
    if not isinstance(consents, Mapping):
        raise Failed("consents maps a phone number to consented or opted_out")
    for phone, choices in consents.items():
        for status in choices if isinstance(choices, list) else [choices]:  # a list: recorded in turn
            try:
                resident_consent.record(session, estate_id=estate, phone=str(phone), status=str(status),
                                        source="staff", now=now, actor_id=None, actor_name="scenario")
            except InvalidFields:
                raise Failed(f"consents: '{phone}: {status}' is not a mobile number with consented or opted_out") \
                    from None


def _listed(value: Any) -> list[str]:
    return sorted(str(v) for v in value) if isinstance(value, list) else [str(value)]


def compare(session: Session, item_id: int, expect: Mapping[str, Any]) -> Iterator[str]:
    """What `texted` and `not_texted` expect, against the item's resident messages so far."""
    if "texted" not in expect and "not_texted" not in expect:
        return
    rows = session.execute(select(Outbox.template, Outbox.status)
                           .where(Outbox.item_id == item_id, Outbox.template.is_not(None)).order_by(Outbox.id)).all()
    sent = sorted(r.template for r in rows if r.status != resident_messages.REFUSED)
    withheld = sorted(r.template for r in rows if r.status == resident_messages.REFUSED)
    for key, got in (("texted", sent), ("not_texted", withheld)):
        if key in expect and _listed(expect[key]) != got:
            yield f"expected {key} {_listed(expect[key])}, got {got}"
