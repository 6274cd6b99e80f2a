"""Importing units and residents (and, through engine/org/staff_imports.py, users) from spreadsheets.

    read_table(data, filename) -> list[Row]                  CSV or XLSX (engine/org/tables.py)
    plan_units(session, actor, rows, filename) -> ImportPlan  the preview: every row's action and changes
    plan_users(session, actor, rows, filename) -> ImportPlan  the same for staff (staff_imports.py)
    apply(session, actor, plan) -> Applied                    write it, all or nothing

Units file columns: estate, building, unit, owner_name, owner_phone; optional tenant_name,
tenant_phone, area_m2, tags (separated by ;). An empty area or tags cell keeps what is stored;
empty owner (or tenant) cells leave the unit's owners (tenants) as they are. A named owner who
is not among the unit's current owners replaces them: they move out today, the new owner
moves in (a sale), and likewise for tenants. A building named in the file is created with it.

All or nothing: planning reads and checks every row first; `apply` plans again inside its own
transaction, raises TableError (every problem as `FILE:ROW: column: message`) before writing
anything if there is one, and otherwise writes through engine/org/estates.py, so each change
has its audit row, plus one 'import' row for the file. Importing the same file again changes
nothing (every row `unchanged`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.language import fields
from engine.org import audit, estates, unit_links, values
from engine.org.plans import ImportPlan, PlannedRow, Problems
from engine.org.staff_imports import apply_users, plan_users
from engine.org.tables import Row, read_table
from engine.store.models import Building, Estate, Resident, Unit

__all__ = ["UNIT_COLUMNS", "Applied", "ImportPlan", "PlannedRow", "apply", "plan_units", "plan_users", "read_table"]

UNIT_COLUMNS = ("estate", "building", "unit", "owner_name", "owner_phone", "tenant_name", "tenant_phone", "area_m2",
                "tags")
_REQUIRED = UNIT_COLUMNS[:5]
_PEOPLE = (("owner", "业主"), ("tenant", "租户"))


@dataclass(frozen=True, slots=True)
class Applied:
    """What `apply` wrote: the plan as applied, and each new user's one-time password (shown once)."""

    plan: ImportPlan
    passwords: dict[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class _UnitRow:
    number: int
    estate: str
    building: str
    unit: str
    people: dict[str, tuple[str, str]]
    """'owner' / 'tenant' → (name, phone), when the file names one."""
    area: Decimal | None
    tags: list[str] | None


def _estate_problem(session: Session, actor: Actor, estate_id: str, seen: dict[str, str | None]) -> str | None:
    """Why the actor may not import into the estate (None: they may); asked once per estate."""
    if estate_id not in seen:
        estate = session.get(Estate, estate_id)
        if estate is None or not permissions.works_in(actor, estate_id):
            seen[estate_id] = f"没有这个小区：{estate_id}"
        elif not permissions.may_manage_estate(actor, estate_id):
            seen[estate_id] = f"你不能修改{estate.name}的资料（只有系统管理员或客服部经理可以）"
        else:
            seen[estate_id] = None
    return seen[estate_id]


def _parse_unit_rows(session: Session, actor: Actor, rows: Iterable[Row], problems: Problems) -> list[_UnitRow]:
    estate_problems: dict[str, str | None] = {}
    first_seen: dict[tuple[str, str], int] = {}
    parsed: list[_UnitRow] = []
    for row in rows:
        n = row.number
        estate_id = row.get("estate", "")
        if not estate_id:
            problems.add(n, "estate", "请填写小区编号")
        elif (why := _estate_problem(session, actor, estate_id, estate_problems)) is not None:
            problems.add(n, "estate", why)
        building = problems.checked(n, "building", values.text, row.get("building"), "楼栋", 64)
        unit = problems.checked(n, "unit", fields.normalise_unit, row.get("unit", ""))
        people: dict[str, tuple[str, str]] = {}
        for kind, label in _PEOPLE:
            name, phone = row.get(f"{kind}_name", ""), row.get(f"{kind}_phone", "")
            if not name and not phone:
                continue
            if not name:
                problems.add(n, f"{kind}_name", f"填写了{label}电话，也请填写{label}姓名")
                continue
            clean_name = problems.checked(n, f"{kind}_name", values.text, name, f"{label}姓名", 100)
            if not phone:
                problems.add(n, f"{kind}_phone", f"请填写{label}电话")
                continue
            clean_phone = problems.checked(n, f"{kind}_phone", values.phone, phone)
            if clean_name is not None and clean_phone is not None:
                people[kind] = (clean_name, clean_phone)
        area = problems.checked(n, "area_m2", values.area, row.get("area_m2"))
        tags = problems.checked(n, "tags", values.tags, row.get("tags")) if row.get("tags") else None
        if unit is not None and estate_id:
            earlier = first_seen.setdefault((estate_id, unit), n)
            if earlier != n:
                problems.add(n, "unit", f"房号 {unit} 在第 {earlier} 行已出现")
        if estate_id and building is not None and unit is not None:
            parsed.append(_UnitRow(n, estate_id, building, unit, people, area, tags))
    return parsed


def _current(session: Session, unit_id: int, kind: str) -> list[Resident]:
    return list(session.scalars(select(Resident).where(
        Resident.unit_id == unit_id, Resident.kind == kind, Resident.moved_out_on.is_(None),
        Resident.anonymised_at.is_(None)).order_by(Resident.id)))


def _person_changes(session: Session, unit: Unit | None, parsed: _UnitRow, full: bool) -> dict[str, list[Any]]:
    changes: dict[str, list[Any]] = {}
    for kind, _label in _PEOPLE:
        wanted = parsed.people.get(kind)
        if wanted is None:
            continue
        current = _current(session, unit.id, kind) if unit is not None else []
        same = next((r for r in current if r.name == wanted[0]), None)
        if same is not None:
            if same.phone != wanted[1]:
                old = same.phone if full else values.mask_phone(same.phone)
                changes[f"{kind}_phone"] = [old, wanted[1]]
            continue
        old_name = "、".join(r.name if full else str(values.mask_name(r.name)) for r in current) or None
        old_phone = (current[0].phone if full else values.mask_phone(current[0].phone)) if current else None
        changes[f"{kind}_name"] = [old_name, wanted[0]]
        changes[f"{kind}_phone"] = [old_phone, wanted[1]]
    return changes


def _unit_changes(session: Session, actor: Actor, parsed: _UnitRow) -> tuple[str, dict[str, list[Any]]]:
    unit = session.scalar(select(Unit).where(Unit.estate_id == parsed.estate, Unit.number == parsed.unit))
    full = permissions.sees_residents(actor, parsed.estate)
    changes: dict[str, list[Any]] = {}
    if unit is None:
        changes["building"] = [None, parsed.building]
        if parsed.area is not None:
            changes["area_m2"] = [None, str(parsed.area)]
        if parsed.tags:
            changes["tags"] = [None, parsed.tags]
        return "add", changes | _person_changes(session, None, parsed, full)
    building = session.get(Building, unit.building_id)
    if building is None or building.name != parsed.building:
        changes["building"] = [building.name if building else None, parsed.building]
    if parsed.area is not None and unit.area_m2 != parsed.area:
        changes["area_m2"] = [None if unit.area_m2 is None else str(unit.area_m2), str(parsed.area)]
    if parsed.tags is not None and list(unit.tags or []) != parsed.tags:
        changes["tags"] = [list(unit.tags or []), parsed.tags]
    changes |= _person_changes(session, unit, parsed, full)
    return ("update" if changes else "unchanged"), changes


def plan_units(session: Session, actor: Actor, rows: Iterable[Row], filename: str) -> ImportPlan:
    """What importing `rows` (read_table) of a units file would do, with every problem; writes nothing."""
    source = tuple(rows)
    problems = Problems(filename)
    present = set().union(*(r.keys() for r in source)) if source else set()
    if source and problems.missing_columns(present, _REQUIRED):
        return ImportPlan("units", filename, (), tuple(problems.found), source)
    if not source:
        problems.add(1, "(文件)", "文件中没有数据行")
    parsed = _parse_unit_rows(session, actor, source, problems)
    planned = tuple(PlannedRow(p.number, f"{p.estate} {p.unit}", *_unit_changes(session, actor, p)) for p in parsed)
    return ImportPlan("units", filename, planned if not problems.found else (), tuple(problems.found), source)


def _write_people(session: Session, actor: Actor, unit: Unit, parsed: _UnitRow, today: date) -> None:
    for kind, _label in _PEOPLE:
        wanted = parsed.people.get(kind)
        if wanted is None:
            continue
        current = _current(session, unit.id, kind)
        same = next((r for r in current if r.name == wanted[0]), None)
        if same is not None:
            if same.phone != wanted[1]:
                estates.save_resident(session, actor, unit.id, kind=kind, name=same.name, phone=wanted[1],
                                      resident_id=same.id)
            continue
        for leaving in current:
            estates.move_out(session, actor, leaving.id, max(today, leaving.moved_in_on or today))
        estates.save_resident(session, actor, unit.id, kind=kind, name=wanted[0], phone=wanted[1], moved_in_on=today)


def _apply_units(session: Session, actor: Actor, plan: ImportPlan, today: date) -> None:
    problems = Problems(plan.filename)
    touched: set[str] = set()
    for parsed in _parse_unit_rows(session, actor, plan.source, problems):
        unit = estates.save_unit(session, actor, parsed.estate, parsed.unit, building=parsed.building,
                                 area_m2=parsed.area, tags=parsed.tags, link=False)
        _write_people(session, actor, unit, parsed, today)
        touched.add(parsed.estate)
    for estate in sorted(touched):  # once per estate, not per row: items already naming the new units
        unit_links.link_items(session, estate)


def apply(session: Session, actor: Actor, plan: ImportPlan, *, today: date | None = None,
          catalogue: Mapping[str, str] | None = None) -> Applied:
    """Write the plan's file, all or nothing, in the caller's transaction; returns the plan as applied.

    The rows are planned again first (the data may have changed since the preview); any problem
    raises TableError before anything is written. `catalogue` (role id → label) is for users
    files, default: the published one.
    """
    day = today or date.today()
    if plan.kind == "users":
        fresh = plan_users(session, actor, plan.source, plan.filename, catalogue=catalogue)
        fresh.check()
        passwords = apply_users(session, actor, fresh, catalogue=catalogue)
    else:
        fresh = plan_units(session, actor, plan.source, plan.filename)
        fresh.check()
        _apply_units(session, actor, fresh, day)
        passwords = {}
    audit.record(session, actor, target="import", target_id=plan.filename[:100], action=plan.kind,
                 changes={"added": fresh.count("add"), "updated": fresh.count("update"),
                          "unchanged": fresh.count("unchanged")})
    return Applied(fresh, passwords)
