"""Exporting units and staff in the columns their imports read, so an export imports back unchanged.

    export_units(session, actor, estate_id) -> list[dict]   UNIT_COLUMNS, one row per unit
    export_users(session, actor, estate_id) -> list[dict]   USER_COLUMNS, one row per user of the estate

Residents' names and phones are exported in full only to those who see them
(`permissions.sees_residents`), masked for the rest; an export with them in full is written
to the access log (kind 'export'). Write the rows with engine/org/tables.py `write_table`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.access import permissions
from engine.access.actor import Actor
from engine.org import audit, values
from engine.org.estates import managed_estate
from engine.org.imports import UNIT_COLUMNS
from engine.org.staff_imports import USER_COLUMNS
from engine.org.staff_views import list_users
from engine.store.models import Building, Resident, Unit, User

__all__ = ["UNIT_COLUMNS", "USER_COLUMNS", "export_units", "export_users"]


def export_units(session: Session, actor: Actor, estate_id: str) -> list[dict[str, Any]]:
    """Every unit of the estate with its current owner and tenant (the first of each), by 房号.

    Raises ItemNotFound / NotPermitted as the estate's pages do (its admin or cs_manager).
    """
    managed_estate(session, actor, estate_id)
    full = permissions.sees_residents(actor, estate_id)
    residents: dict[int, dict[str, Resident]] = {}
    for resident in session.scalars(select(Resident).join(Unit, Unit.id == Resident.unit_id).where(
            Unit.estate_id == estate_id, Resident.moved_out_on.is_(None), Resident.anonymised_at.is_(None))
            .order_by(Resident.id)):
        residents.setdefault(resident.unit_id, {}).setdefault(resident.kind, resident)
    rows: list[dict[str, Any]] = []
    for unit, building in session.execute(select(Unit, Building.name).join(Building, Building.id == Unit.building_id)
                                          .where(Unit.estate_id == estate_id).order_by(Unit.number)).tuples():
        row: dict[str, Any] = {"estate": estate_id, "building": building, "unit": unit.number,
                               "area_m2": "" if unit.area_m2 is None else str(unit.area_m2),
                               "tags": ";".join(unit.tags or [])}
        for kind in ("owner", "tenant"):
            person = residents.get(unit.id, {}).get(kind)
            row[f"{kind}_name"] = "" if person is None else person.name if full else values.mask_name(person.name)
            row[f"{kind}_phone"] = "" if person is None or person.phone is None else \
                person.phone if full else values.mask_phone(person.phone)
        rows.append(row)
    if full and residents:
        audit.accessed(session, actor, "export", estate_id=estate_id,
                       detail=f"导出房屋和住户：{len(rows)} 户，含住户姓名和电话")
    return rows


def export_users(session: Session, actor: Actor, estate_id: str) -> list[dict[str, Any]]:
    """Every user working in the estate, with the roles held there, by display name."""
    managed_estate(session, actor, estate_id)
    rows = []
    for summary in list_users(session, actor, estate=estate_id):
        if estate_id not in summary.roles:
            continue
        user = session.get_one(User, summary.user_id)
        rows.append({"username": user.username, "name": user.display_name, "estate": estate_id,
                     "roles": ";".join(summary.roles[estate_id]), "phone": user.phone or "", "email": user.email or ""})
    if rows:
        audit.accessed(session, actor, "export", estate_id=estate_id, detail=f"导出员工：{len(rows)} 人")
    return rows
