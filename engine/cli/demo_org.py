"""The demo's organisation: two estates with buildings, units, owners and tenants, and their staff.

    seed_org(session, catalogue, rng) -> dict[username, user id]
    unit_numbers(layout) -> list[str]       every unit number of a layout (3-1-502 style)
    reset_org(session)                      delete the demo estates, their staff and their logs

Seeded through engine/org (save_estate, save_unit, save_resident, add_user, set_roles), the
same functions as the admin pages and the imports, so the demo is checked like real data and
its units have a history. 阳光花园 (`demo`) has one user per role of the catalogue, named by the
role id; 滨江花园 (`riverside`) has its own: `riverside` (front desk) and a few more, so that a
second estate with its own staff shows nothing of the first. Every password is `demo1234`,
with no forced change.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from engine.access.actor import Actor
from engine.org import estates, staff
from engine.store.models import AccessLog, AuditLog, Counter, Estate, Item, Outbox, User, UserEstate

__all__ = [
    "DEMO_ACTOR", "DEMO_ESTATE", "KNOWN_CALLER", "LAYOUTS", "OTHER_ESTATE", "OTHER_STAFF", "OTHER_USER", "PASSWORD",
    "reset_org", "seed_org", "unit_numbers",
]

PASSWORD = "demo1234"
DEMO_ESTATE = "demo"
OTHER_ESTATE = "riverside"
OTHER_USER = "riverside"
DEMO_ACTOR = replace(Actor.system(), name="演示数据")
"""Who the audit log says seeded the demo."""
LAYOUTS: dict[str, dict[str, Any]] = {
    # buildings 1..n, units 1..m per building, floors, flats per floor: numbers like 3-1-502.
    DEMO_ESTATE: {"name": "阳光花园", "buildings": 6, "units_per_building": 2, "floors": 18, "flats_per_floor": 2},
    OTHER_ESTATE: {"name": "滨江花园", "buildings": 2, "units_per_building": 1, "floors": 10, "flats_per_floor": 2},
}
KNOWN_CALLER = ("3-1-502", "王丽", "13812345678")
"""A demo owner whose number a walkthrough can type: 王丽 of 3-1-502, 阳光花园."""
OTHER_STAFF: dict[str, tuple[str, tuple[str, ...]]] = {
    # username: (display name, roles in riverside), each kept only if the catalogue has the roles
    OTHER_USER: ("滨江花园前台", ("frontdesk",)),
    "riverside_supervisor": ("滨江花园客服主管", ("cs_supervisor",)),
    "riverside_housekeeper": ("滨江花园管家", ("housekeeper",)),
    "riverside_engineer": ("滨江花园维修工", ("engineer",)),
}
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗"
_GIVEN = ["丽", "强", "敏", "洋", "静", "帆", "磊", "娟", "杰", "芳", "伟", "秀英", "建国", "海燕", "志强", "晓明"]


def unit_numbers(layout: Mapping[str, Any]) -> list[str]:
    """Every unit number of a layout, like 3-1-502 (building-unit-floor+flat)."""
    return [f"{b}-{u}-{f}{n:02d}" for b in range(1, layout["buildings"] + 1)
            for u in range(1, layout["units_per_building"] + 1)
            for f in range(1, layout["floors"] + 1) for n in range(1, layout["flats_per_floor"] + 1)]


def _person(rng: random.Random) -> tuple[str, str]:
    return (rng.choice(_SURNAMES) + rng.choice(_GIVEN), f"1{rng.choice('3589')}{rng.randint(0, 999_999_999):09d}")


def _units(session: Session, estate_id: str, rng: random.Random) -> None:
    """Every unit of the estate's layout: area, a few tags, an owner (most), a tenant (some)."""
    moved_in = date(2019, 6, 1)
    for index, number in enumerate(unit_numbers(LAYOUTS[estate_id])):
        vacant = index % 15 == 7
        tags = ["空置"] if vacant else ["VIP"] if index % 23 == 5 else ["敏感客户"] if index % 37 == 11 else []
        area = Decimal(rng.randint(6_000, 14_000)) / 100
        unit = estates.save_unit(session, DEMO_ACTOR, estate_id, number, building=number.split("-")[0],
                                 area_m2=area, tags=tags)
        if vacant:
            continue
        if estate_id == DEMO_ESTATE and number == KNOWN_CALLER[0]:
            owner = KNOWN_CALLER[1:]
        else:
            owner = _person(rng)
        estates.save_resident(session, DEMO_ACTOR, unit.id, kind="owner", name=owner[0], phone=owner[1],
                              moved_in_on=moved_in + timedelta(days=rng.randint(0, 1500)))
        if index % 5 == 3:
            tenant = _person(rng)
            estates.save_resident(session, DEMO_ACTOR, unit.id, kind="tenant", name=tenant[0], phone=tenant[1],
                                  moved_in_on=date(2024, 1, 1) + timedelta(days=rng.randint(0, 600)))


def _staff(session: Session, catalogue: Mapping[str, str]) -> dict[str, int]:
    """One user per role in `demo` (named by the role id), and riverside's own staff."""
    hashed = generate_password_hash(PASSWORD)  # one hash for all: same password, and hashing is slow
    accounts: list[tuple[str, str, tuple[str, ...], str]] = [
        (role, label, (role,), DEMO_ESTATE) for role, label in catalogue.items()]
    for username, (label, wanted) in OTHER_STAFF.items():
        held = tuple(r for r in wanted if r in catalogue) or tuple(catalogue)[:1]
        if username == OTHER_USER or set(wanted) <= set(catalogue):
            accounts.append((username, label, held, OTHER_ESTATE))
    made: dict[str, int] = {}
    for username, label, roles, estate_id in accounts:
        user, _ = staff.add_user(session, DEMO_ACTOR, username, name=label, password=PASSWORD,
                                 password_hash=hashed)
        staff.set_roles(session, DEMO_ACTOR, user.id, estate_id, roles, catalogue=catalogue)
        made[username] = user.id
    return made


def seed_org(session: Session, catalogue: Mapping[str, str], rng: random.Random) -> dict[str, int]:
    """The two estates, their units and residents, and their staff; returns username → user id."""
    for estate_id, layout in LAYOUTS.items():
        estates.save_estate(session, DEMO_ACTOR, estate_id, name=layout["name"])
    made = _staff(session, catalogue)
    for estate_id in LAYOUTS:
        _units(session, estate_id, rng)
    return made


def reset_org(session: Session) -> None:
    """Delete the demo estates with everything in them: items, units, residents, staff, their logs."""
    ids = tuple(LAYOUTS)
    user_ids = list(session.scalars(select(UserEstate.user_id).where(UserEstate.estate_id.in_(ids))))
    # Items cascade to their history, links, deadlines, assignees and outbox rows.
    session.execute(delete(Item).where(Item.estate_id.in_(ids)))
    session.execute(delete(Outbox).where(Outbox.estate_id.in_(ids)))  # reports e-mailed: rows of no item
    session.execute(delete(Counter).where(Counter.estate_id.in_(ids)))
    session.execute(delete(AuditLog).where(or_(
        AuditLog.estate_id.in_(ids),
        (AuditLog.target == "user") & AuditLog.target_id.in_([str(u) for u in user_ids]))))
    session.execute(delete(AccessLog).where(AccessLog.estate_id.in_(ids)))
    session.execute(delete(User).where(User.id.in_(user_ids)))
    # Buildings, units, residents, roles and estate memberships cascade from the estates.
    session.execute(delete(Estate).where(Estate.id.in_(ids)))
