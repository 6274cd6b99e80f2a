"""Items stored before their unit existed (a site upgraded to the organisation) link to it once it is added.

An item registered today names an existing unit and is linked at once; one from the ledger kept
before units were recorded has its 房号 in its data and no unit. Adding that unit, by hand or by
importing a file of units, links the items naming it, and only those.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from engine.access.actor import Actor
from engine.org import estates, imports
from engine.store.db import transaction
from engine.store.models import Item, Unit
from tests.runtime._access_org import Org


@pytest.fixture
def org(db: Any, clock: Any) -> Org:
    return Org(db, clock)


def _as_before_units(org: Org, item_id: int, number: str) -> None:
    """Make an item look like one stored before units: its unit field says `number`, no unit linked."""
    with transaction(org.db.factory) as session:
        data = dict(session.scalars(select(Item.data).where(Item.id == item_id)).one())
        session.execute(update(Item).where(Item.id == item_id).values(data={**data, "unit": number}, unit_id=None))


def _unit_of(org: Org, item_id: int) -> str | None:
    with org.db.factory() as session:
        return session.scalars(select(Unit.number).join(Item, Item.unit_id == Unit.id)
                               .where(Item.id == item_id)).one_or_none()


def test_adding_a_unit_links_the_items_already_naming_it_and_only_those(org):
    old = org.create("repair", by="frontdesk", unit="3-1-502")
    other = org.create("complaint", by="frontdesk", unit="3-1-502")
    _as_before_units(org, old.id, "7-1-101")
    _as_before_units(org, other.id, "7-1-102")
    with transaction(org.db.factory) as session:
        estates.save_unit(session, Actor.system(), "demo", "7-1-101", building="7")
    assert _unit_of(org, old.id) == "7-1-101"
    assert _unit_of(org, other.id) is None  # names another unit, still missing


def test_importing_units_links_the_ledgers_items_of_each_estate(org):
    old = org.create("complaint", by="frontdesk", unit="3-1-502")
    _as_before_units(org, old.id, "8-2-301")
    text = "estate,building,unit,owner_name,owner_phone\ndemo,8,8-2-301,孙丽,13900002222\n"
    with transaction(org.db.factory) as session:
        rows = imports.read_table(text.encode("utf-8-sig"), "units.csv")
        imports.apply(session, Actor.system(), imports.plan_units(session, Actor.system(), rows, "units.csv"))
    assert _unit_of(org, old.id) == "8-2-301"
