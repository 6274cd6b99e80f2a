"""Estates, buildings, units and their residents (一户一档): written with an audit row, found by staff.

    save_estate(session, actor, estate_id, *, name, timezone=None) -> Estate      add, or rename / new zone
    save_building(session, actor, estate_id, name) -> Building                   get or add
    save_unit(session, actor, estate_id, number, *, building, area_m2=None, tags=None) -> Unit
    save_resident(session, actor, unit_id, *, kind, name, phone=None, moved_in_on=None, resident_id=None)
    move_out(session, actor, resident_id, on)
    find_units(session, actor, q, *, estate=None, limit=20) -> list[UnitHit]     by 房号, name or phone
    resident_view(resident, full) -> ResidentView                                 masked unless `full`

Every write runs in the caller's transaction and adds an audit row (engine/org/audit.py) only
when something changed, with the old and new values; a unit's and its residents' rows carry
the unit's id, so the unit page shows them as its history. Who may write is asked of
engine/access/permissions.py: adding estates (admins), managing one (its admin or cs_manager).
An estate the actor does not work in is answered like a missing one (ItemNotFound).
Bad values raise InvalidFields {field: Chinese reason}, all of them at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.clock import DEFAULT_TIMEZONE
from engine.errors import InvalidFields, ItemNotFound, NotPermitted
from engine.language import fields
from engine.org import audit, unit_links, values
from engine.store.models import Building, Estate, Resident, Unit, UserEstate, UserRole

__all__ = [
    "KINDS", "ResidentView", "UnitHit", "find_units", "managed_estate", "move_out", "resident_view", "save_building",
    "save_estate", "save_resident", "save_unit", "seen_estate",
]

KINDS = {"owner": "业主", "tenant": "租户"}
"""A resident's kind → its label."""
_ESTATE_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
# A phone search: a mobile or landline as people type it (spaces, dashes, +86), or 7+ digits in a row
# (part of a number). A 房号 has dashes too ("12-2-1801") but never in a phone's grouping.
_PHONE_QUERY = re.compile(r"^(\+?86)?(1[3-9]\d-?\d{4}-?\d{4}|0\d{2,3}-?\d{7,8}|\d{7,})$")
_MANAGERS = "系统管理员或客服部经理"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ResidentView:
    """A resident as a page shows it: name and phone masked unless the viewer may see them (`masked`)."""

    resident_id: int
    kind: str
    kind_label: str
    name: str | None
    phone: str | None
    moved_in_on: date | None
    moved_out_on: date | None
    anonymised: bool
    masked: bool


@dataclass(frozen=True, slots=True)
class UnitHit:
    """A unit found by `find_units`, with its current residents (masked unless `masked` is False)."""

    unit_id: int
    estate_id: str
    estate_name: str
    building: str
    number: str
    area_m2: Decimal | None
    tags: tuple[str, ...]
    residents: tuple[ResidentView, ...]
    masked: bool
    matched: str
    """What the query matched: 'number', 'name' or 'phone'."""


def resident_view(resident: Resident, full: bool) -> ResidentView:
    """`resident` for a page: name and phone in full only when `full`."""
    return ResidentView(resident.id, resident.kind, KINDS.get(resident.kind, resident.kind),
                        resident.name if full else values.mask_name(resident.name),
                        resident.phone if full else values.mask_phone(resident.phone),
                        resident.moved_in_on, resident.moved_out_on, resident.anonymised_at is not None, not full)


def _checked(problems: dict[str, str], field: str, check: Callable[[], T]) -> T | None:
    """`check()`, or None with its ValueError's message noted under `field`."""
    try:
        return check()
    except ValueError as error:
        problems[field] = str(error)
        return None


def _refuse_if(problems: dict[str, str]) -> None:
    if problems:
        raise InvalidFields(problems, "；".join(problems.values()))


def seen_estate(session: Session, actor: Actor, estate_id: str) -> Estate:
    """The estate, if the actor works in it; else ItemNotFound, as for a missing one."""
    estate = session.get(Estate, estate_id)
    if estate is None or not permissions.works_in(actor, estate_id):
        raise ItemNotFound("没有这个小区", estate=estate_id)
    return estate


def managed_estate(session: Session, actor: Actor, estate_id: str) -> Estate:
    """The estate, if the actor may change its buildings, units and residents; else NotPermitted."""
    estate = seen_estate(session, actor, estate_id)
    if not permissions.may_manage_estate(actor, estate_id):
        raise NotPermitted(f"只有{_MANAGERS}可以修改{estate.name}的资料", estate=estate_id)
    return estate


def _changes(row: Any, new: dict[str, Any], shown: Callable[[str, Any], Any] | None = None) -> dict[str, list[Any]]:
    """Set `new` on `row`; field → [old, new] for each value that differs (as JSON: `shown`)."""
    show = shown or (lambda _name, value: value)
    changed: dict[str, list[Any]] = {}
    for name, value in new.items():
        old = getattr(row, name)
        if old != value:
            changed[name] = [show(name, old), show(name, value)]
            setattr(row, name, value)
    return changed


def _json(_name: str, value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return list(value)
    return value


# -- estates and buildings ---------------------------------------------------------------------


def _zone(raw: str) -> str:
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"未知的时区：{raw}（例如 Asia/Shanghai）") from None
    return raw


def save_estate(session: Session, actor: Actor, estate_id: str, *, name: str, timezone: str | None = None) -> Estate:
    """Add the estate `estate_id`, or change its name or time zone (None keeps it).

    A new estate needs `permissions.may_add_estates`; the admin adding it also becomes its
    admin (so they can go on to add its buildings and staff). A change needs
    `may_manage_estate`. Raises InvalidFields, NotPermitted, ItemNotFound.
    """
    problems: dict[str, str] = {}
    if not _ESTATE_ID.match(estate_id):
        problems["estate_id"] = "小区编号只能用小写字母、数字、_ 和 -，最多 64 个字符"
    clean_name = _checked(problems, "name", lambda: values.text(name, "小区名称", 200))
    zone = _checked(problems, "timezone", lambda: _zone(timezone)) if timezone is not None else None
    _refuse_if(problems)
    row = session.get(Estate, estate_id)
    if row is None:
        if not permissions.may_add_estates(actor):
            raise NotPermitted("只有系统管理员可以添加小区", roles=["admin"])
        row = Estate(id=estate_id, name=clean_name, timezone=zone or DEFAULT_TIMEZONE)
        session.add(row)
        session.flush()
        audit.record(session, actor, target="estate", target_id=estate_id, action="add", estate_id=estate_id,
                     changes={"name": [None, row.name], "timezone": [None, row.timezone]})
        if actor.user_id is not None:
            session.add_all([UserEstate(user_id=actor.user_id, estate_id=estate_id),
                             UserRole(user_id=actor.user_id, estate_id=estate_id, role="admin")])
            audit.record(session, actor, target="role", target_id=actor.user_id, action="change",
                         estate_id=estate_id, changes={"roles": [[], ["admin"]]})
        return row
    managed_estate(session, actor, estate_id)
    changed = _changes(row, {"name": clean_name, **({"timezone": zone} if zone is not None else {})})
    if changed:
        audit.record(session, actor, target="estate", target_id=estate_id, action="change", estate_id=estate_id,
                     changes=changed)
    return row


def _building(session: Session, actor: Actor, estate_id: str, name: str) -> Building:
    found = session.scalar(select(Building).where(Building.estate_id == estate_id, Building.name == name))
    if found is not None:
        return found
    row = Building(estate_id=estate_id, name=name)
    session.add(row)
    session.flush()
    audit.record(session, actor, target="building", target_id=row.id, action="add", estate_id=estate_id,
                 changes={"name": [None, name]})
    return row


def save_building(session: Session, actor: Actor, estate_id: str, name: str) -> Building:
    """The building `name` of the estate, added if missing. Raises InvalidFields, NotPermitted, ItemNotFound."""
    problems: dict[str, str] = {}
    clean = _checked(problems, "building", lambda: values.text(name, "楼栋", 64))
    _refuse_if(problems)
    managed_estate(session, actor, estate_id)
    assert clean is not None
    return _building(session, actor, estate_id, clean)


# -- units -------------------------------------------------------------------------------------


def _unit_number(raw: str) -> str:
    """The 房号 as stored, by the one spelling rule of the `unit` field (fields.normalise_unit)."""
    return fields.normalise_unit(str(raw if raw is not None else ""))


def _number_query(q: str) -> str:
    """A typed part of a 房号 spelled as stored (３－１ → 3-1), or as typed when it is no 房号 at all."""
    try:
        return fields.normalise_unit(q)
    except ValueError:
        return q


def save_unit(session: Session, actor: Actor, estate_id: str, number: str, *, building: str,
              area_m2: Decimal | str | int | float | None = None,
              tags: Iterable[str] | str | None = None, link: bool = True) -> Unit:
    """Add the unit `number` (房号) of the estate, or change its building, area or tags.

    The building is added when missing. `area_m2` None and `tags` None keep what is stored
    (tags=[] clears them). The audit row carries the unit's id and the old values. A new unit
    is linked to the items already naming it (engine/org/unit_links.py; `link=False` leaves
    that to a caller adding many, as an import does once at the end).
    Raises InvalidFields, NotPermitted, ItemNotFound.
    """
    problems: dict[str, str] = {}
    clean_number = _checked(problems, "unit", lambda: _unit_number(number))
    building_name = _checked(problems, "building", lambda: values.text(building, "楼栋", 64))
    area = _checked(problems, "area_m2", lambda: values.area(area_m2))
    labels = _checked(problems, "tags", lambda: values.tags(tags)) if tags is not None else None
    _refuse_if(problems)
    assert clean_number is not None and building_name is not None
    managed_estate(session, actor, estate_id)
    home = _building(session, actor, estate_id, building_name)
    row = session.scalar(select(Unit).where(Unit.estate_id == estate_id, Unit.number == clean_number))
    if row is None:
        row = Unit(estate_id=estate_id, building_id=home.id, number=clean_number, area_m2=area, tags=labels or [])
        session.add(row)
        session.flush()
        audit.record(session, actor, target="unit", target_id=row.id, action="add", estate_id=estate_id,
                     unit_id=row.id, changes={"number": [None, clean_number], "building": [None, home.name],
                                              "area_m2": [None, _json("", area)], "tags": [None, row.tags]})
        if link:
            unit_links.link_items(session, estate_id, clean_number)
        return row
    changed: dict[str, list[Any]] = {}
    if row.building_id != home.id:
        old = session.get(Building, row.building_id)
        changed["building"] = [old.name if old else None, home.name]
        row.building_id = home.id
    new: dict[str, Any] = {}
    if area is not None:
        new["area_m2"] = area
    if labels is not None:
        new["tags"] = labels
    changed |= _changes(row, new, _json)
    if changed:
        audit.record(session, actor, target="unit", target_id=row.id, action="change", estate_id=estate_id,
                     unit_id=row.id, changes=changed)
    return row


def _unit(session: Session, actor: Actor, unit_id: int) -> Unit:
    """The unit, if the actor may manage its estate."""
    unit = session.get(Unit, unit_id)
    if unit is None or not permissions.works_in(actor, unit.estate_id):
        raise ItemNotFound("没有这个房号", unit_id=unit_id)
    managed_estate(session, actor, unit.estate_id)
    return unit


# -- residents ---------------------------------------------------------------------------------


def save_resident(session: Session, actor: Actor, unit_id: int, *, kind: str, name: str, phone: str | None = None,
                  moved_in_on: date | None = None, resident_id: int | None = None) -> Resident:
    """Add an owner or tenant (`kind` 'owner' or 'tenant') to the unit, or correct one (`resident_id`).

    `phone` None removes the phone of a corrected resident; `moved_in_on` None keeps the stored
    date. An anonymised resident cannot be corrected. Raises InvalidFields, NotPermitted,
    ItemNotFound.
    """
    problems: dict[str, str] = {}
    if kind not in KINDS:
        problems["kind"] = "请选择业主或租户"
    clean_name = _checked(problems, "name", lambda: values.text(name, "姓名", 100))
    clean_phone = _checked(problems, "phone", lambda: values.optional_phone(phone))
    _refuse_if(problems)
    unit = _unit(session, actor, unit_id)
    if resident_id is None:
        row = Resident(unit_id=unit.id, kind=kind, name=clean_name, phone=clean_phone, moved_in_on=moved_in_on)
        session.add(row)
        session.flush()
        audit.record(session, actor, target="resident", target_id=row.id, action="add", estate_id=unit.estate_id,
                     unit_id=unit.id, changes={"kind": [None, kind], "name": [None, clean_name],
                                               "phone": [None, clean_phone],
                                               "moved_in_on": [None, _json("", moved_in_on)]})
        return row
    row_found = session.get(Resident, resident_id)
    if row_found is None or row_found.unit_id != unit.id:
        raise ItemNotFound("这个房号没有这位住户", resident_id=resident_id)
    if row_found.anonymised_at is not None:
        raise NotPermitted("这位住户的资料已匿名化，不能再修改")
    new: dict[str, Any] = {"kind": kind, "name": clean_name, "phone": clean_phone}
    if moved_in_on is not None:
        new["moved_in_on"] = moved_in_on
    changed = _changes(row_found, new, _json)
    if changed:
        audit.record(session, actor, target="resident", target_id=row_found.id, action="change",
                     estate_id=unit.estate_id, unit_id=unit.id, changes=changed)
    return row_found


def move_out(session: Session, actor: Actor, resident_id: int, on: date) -> Resident:
    """Record that the resident moved out `on` that day (the record stays, for the unit's history)."""
    row = session.get(Resident, resident_id)
    if row is None:
        raise ItemNotFound("没有这位住户", resident_id=resident_id)
    unit = _unit(session, actor, row.unit_id)
    if row.moved_in_on is not None and on < row.moved_in_on:
        raise InvalidFields({"moved_out_on": "搬出日期不能早于入住日期"})
    changed = _changes(row, {"moved_out_on": on}, _json)
    if changed:
        audit.record(session, actor, target="resident", target_id=row.id, action="move_out",
                     estate_id=unit.estate_id, unit_id=unit.id, changes=changed)
    return row


# -- finding units -----------------------------------------------------------------------------


def is_phone_query(q: str) -> bool:
    """Whether `q` reads as a phone number (7+ digits) rather than a 房号 or a name."""
    return bool(_PHONE_QUERY.match(re.sub(r"\s", "", q)))


def _phone_digits(q: str) -> str:
    """The query as phones are stored: mobiles without dashes or +86; a landline keeps its dash."""
    text = re.sub(r"\s", "", q)
    text = text[3:] if text.startswith("+86") else text[2:] if text.startswith("86") and len(text) > 11 else text
    return text if text.startswith("0") and "-" in text else text.replace("-", "")


def find_units(session: Session, actor: Actor, q: str, *, estate: str | None = None, limit: int = 20,
               today: date | None = None) -> list[UnitHit]:
    """Units of the actor's estates whose 房号 contains `q`, or whose current owner or tenant has that name
    or phone; residents in full only where `permissions.sees_residents`.

    A phone search by someone who may not see residents' phones raises NotPermitted, and a
    name is searched only where the actor sees residents (a masked page must not confirm who
    lives where). `estate` limits the search to one estate (ItemNotFound when not the actor's).
    """
    q = q.strip()[:100]
    if not q:
        return []
    if estate is not None:
        seen_estate(session, actor, estate)
    scope = [estate] if estate is not None else None
    estates = select(Estate.id).order_by(Estate.id)
    if actor.estates is not None:
        estates = estates.where(Estate.id.in_(sorted(actor.estates)))
    if scope is not None:
        estates = estates.where(Estate.id.in_(scope))
    ids = list(session.scalars(estates))
    personal = [e for e in ids if permissions.sees_residents(actor, e)]
    current = or_(Resident.moved_out_on.is_(None), Resident.moved_out_on > (today or date.today()))
    matched: dict[int, str] = {}
    if is_phone_query(q):
        if not personal:
            raise NotPermitted("你的岗位不能按电话查找住户（只有客服、管家和项目负责人可以）",
                               roles=sorted(permissions.PERSONAL_ROLES))
        stmt = (select(Resident.unit_id).join(Unit, Unit.id == Resident.unit_id)
                .where(Unit.estate_id.in_(personal), Resident.phone.contains(_phone_digits(q), autoescape=True),
                       current).limit(limit))
        matched |= dict.fromkeys(session.scalars(stmt), "phone")
    else:
        number = _number_query(q)
        by_number = (select(Unit.id).where(Unit.estate_id.in_(ids), Unit.number.contains(number, autoescape=True))
                     .order_by(Unit.number.startswith(number, autoescape=True).desc(), Unit.number).limit(limit))
        matched |= dict.fromkeys(session.scalars(by_number), "number")
        if personal and len(matched) < limit:
            by_name = (select(Resident.unit_id).join(Unit, Unit.id == Resident.unit_id)
                       .where(Unit.estate_id.in_(personal), Resident.name.contains(q, autoescape=True), current)
                       .limit(limit))
            for unit_id in session.scalars(by_name):
                matched.setdefault(unit_id, "name")
    return [hit for hit in (_hit(session, actor, unit_id, how, today) for unit_id, how in
                            list(matched.items())[:limit]) if hit is not None]


def _hit(session: Session, actor: Actor, unit_id: int, how: str, today: date | None) -> UnitHit | None:
    unit = session.get(Unit, unit_id)
    if unit is None:
        return None
    estate = session.get(Estate, unit.estate_id)
    building = session.get(Building, unit.building_id)
    full = permissions.sees_residents(actor, unit.estate_id)
    day = today or date.today()
    people = session.scalars(select(Resident).where(Resident.unit_id == unit.id).order_by(Resident.kind,
                                                                                          Resident.id))
    shown = tuple(resident_view(r, full) for r in people if r.moved_out_on is None or r.moved_out_on > day)
    return UnitHit(unit.id, unit.estate_id, estate.name if estate else unit.estate_id,
                   building.name if building else "", unit.number, unit.area_m2, tuple(unit.tags or ()), shown,
                   not full, how)
