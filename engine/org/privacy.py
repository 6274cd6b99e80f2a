"""Residents' rights over their data (个人信息保护法, PIPL): export, correction, anonymisation.

    export_resident(session, actor, resident_id, *, now) -> ResidentExport   their record and their units' items
    correct_resident(session, actor, resident_id, *, name=None, phone=None)  a corrected name or phone
    anonymise(session, actor, resident_id, *, now) -> int                    after move-out; items touched
    anonymise_moved_out(session, actor, before, *, now) -> list[int]         everyone moved out before a date
    retention_days(environ) -> int                                           ESTATEFLOW_RESIDENT_RETENTION_DAYS

Each act is written to the access log (kind 'privacy'), never with the personal values
themselves. Only those who manage the estate (its admin or cs_manager) act on a resident's data.

Anonymising replaces the resident's name (with （已匿名）) and phone (removed) in the resident
record, in the personal fields of the items of their unit that hold that name or phone, in
those items' history, and in the audit rows of the resident; figures (areas, amounts, dates,
states, time limits) are kept, so reports still count the household and its items. The files of
those items' `personal` file fields are deleted (engine/files/erasure.py); the export lists the files.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from engine.access.actor import Actor
from engine.errors import InvalidFields, ItemNotFound, NotPermitted
from engine.files import erasure
from engine.language.definition import WorkflowDefinition
from engine.org import audit, estates, values
from engine.runtime import resident_messages
from engine.runtime.registry import REGISTRY, Registry
from engine.store import queries
from engine.store.models import AuditLog, Building, Estate, Item, ItemHistory, Resident, Unit

__all__ = [
    "DEFAULT_RETENTION_DAYS", "ResidentExport", "anonymise", "anonymise_moved_out", "correct_resident",
    "export_resident", "retention_days",
]

DEFAULT_RETENTION_DAYS = 1095
"""Three years after moving out: long enough for late disputes about deposits and repairs."""
_RETENTION_SETTING = "ESTATEFLOW_RESIDENT_RETENTION_DAYS"


def retention_days(environ: Mapping[str, str] = os.environ) -> int:
    """Days after moving out a resident's data is kept before `resident anonymise` without a date takes it."""
    raw = environ.get(_RETENTION_SETTING, "").strip()
    try:
        days = int(raw) if raw else DEFAULT_RETENTION_DAYS
    except ValueError:
        raise InvalidFields({_RETENTION_SETTING: f"应为天数（整数），而不是 {raw!r}"}) from None
    return max(days, 0)


@dataclass(frozen=True, slots=True)
class ResidentExport:
    """One resident's data, as given to them on request: their records (one per unit) and those units' items."""

    residents: tuple[dict[str, Any], ...]
    items: tuple[dict[str, Any], ...]
    files: tuple[dict[str, Any], ...] = ()
    """The files attached to those items: names, kinds, dates (engine/files/erasure.py), not their bytes."""

    def as_json(self) -> str:
        """The export as indented JSON (UTF-8 text, Chinese as is)."""
        return json.dumps({"residents": list(self.residents), "items": list(self.items), "files": list(self.files)},
                          ensure_ascii=False, indent=2, default=str)

    def as_csv(self) -> bytes:
        """The export as one CSV table (section, record, field, value), UTF-8 with BOM for Excel."""
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(["部分", "记录", "项目", "内容"])
        for record in self.residents:
            for key, value in record.items():
                writer.writerow(["住户", record["unit"], key, "" if value is None else value])
        for item in self.items:
            for key, value in item.items():
                if key != "fields":
                    writer.writerow(["事项", item["number"], key, "" if value is None else value])
            for label, value in item["fields"].items():
                writer.writerow(["事项", item["number"], label, "" if value is None else value])
        for file in self.files:
            erased = "，已删除" if file["erased_at"] else ""
            writer.writerow(["附件", file["item"], file["field"],
                             f"{file['name']}（{file['kind']}，{file['uploaded_at'][:10]} 上传{erased}）"])
        return b"\xef\xbb\xbf" + out.getvalue().encode("utf-8")


def _managed_resident(session: Session, actor: Actor, resident_id: int) -> tuple[Resident, Unit]:
    resident = session.get(Resident, resident_id)
    unit = session.get(Unit, resident.unit_id) if resident is not None else None
    if resident is None or unit is None:
        raise ItemNotFound("没有这位住户", resident_id=resident_id)
    try:
        estates.managed_estate(session, actor, unit.estate_id)
    except NotPermitted:
        raise NotPermitted("只有系统管理员或客服部经理可以导出、更正或匿名化住户资料") from None
    return resident, unit


def _record(session: Session, resident: Resident, unit: Unit) -> dict[str, Any]:
    estate = session.get(Estate, unit.estate_id)
    building = session.get(Building, unit.building_id)
    return {"estate": estate.name if estate else unit.estate_id, "building": building.name if building else "",
            "unit": unit.number, "kind": estates.KINDS.get(resident.kind, resident.kind), "name": resident.name,
            "phone": resident.phone, "moved_in_on": resident.moved_in_on, "moved_out_on": resident.moved_out_on}


def _plain(definition: WorkflowDefinition, name: str, value: Any) -> Any:
    """A stored value as exported: a log field's entries one per line (when, who: text)."""
    field = definition.fields.get(name)
    if field is not None and field.type == "file" and isinstance(value, list):
        return f"{len(value)} 个文件（见附件清单）"  # the files' ids mean nothing to the resident
    if field is None or field.type != "log" or not isinstance(value, list):
        return value
    return "\n".join(f"{e.get('at', '')} {e.get('by', '')}：{e.get('text', '')}" for e in value if isinstance(e, dict))


def _item_record(item: Item, definition: WorkflowDefinition) -> dict[str, Any]:
    state = definition.states.get(item.state)
    shown = {definition.fields[k].label if k in definition.fields else k: _plain(definition, k, v)
             for k, v in item.data.items()}
    return {"number": item.number, "workflow": definition.title, "state": state.label if state else item.state,
            "created_at": item.created_at.isoformat(), "updated_at": item.updated_at.isoformat(), "fields": shown}


def export_resident(session: Session, actor: Actor, resident_id: int, *,
                    registry: Registry = REGISTRY) -> ResidentExport:
    """The resident's records (every unit of the estate where they are listed with the same phone) and
    every item of those units; logged in the access log."""
    resident, unit = _managed_resident(session, actor, resident_id)
    same = [resident]
    if resident.phone:
        same += [r for r in session.scalars(select(Resident).join(Unit, Unit.id == Resident.unit_id).where(
            Unit.estate_id == unit.estate_id, Resident.phone == resident.phone, Resident.id != resident.id))]
    units = {r.id: session.get_one(Unit, r.unit_id) for r in same}
    records = tuple(_record(session, r, units[r.id]) for r in same)
    unit_ids = sorted({u.id for u in units.values()})
    found = [(i, registry.compiled(session, i.definition_id)) for i in session.scalars(
        select(Item).where(Item.unit_id.in_(unit_ids)).order_by(Item.created_at, Item.id))]
    items = tuple(_item_record(i, d) for i, d in found)
    files = tuple(f for i, d in found for f in erasure.listed(session, i.id, i.number, d))
    audit.accessed(session, actor, "privacy", estate_id=unit.estate_id, unit_id=unit.id,
                   detail=f"应住户要求导出个人资料：住户 {resident.id}，{len(items)} 个事项，{len(files)} 个附件")
    return ResidentExport(records, items, files)


def correct_resident(session: Session, actor: Actor, resident_id: int, *, name: str | None = None,
                     phone: str | None = None) -> Resident:
    """Correct the resident's name or phone on their request (audited, and logged in the access log)."""
    resident, unit = _managed_resident(session, actor, resident_id)
    corrected = estates.save_resident(session, actor, unit.id, kind=resident.kind,
                                      name=name if name is not None else resident.name,
                                      phone=phone if phone is not None else resident.phone, resident_id=resident.id)
    audit.accessed(session, actor, "privacy", estate_id=unit.estate_id, unit_id=unit.id,
                   detail=f"应住户要求更正个人资料：住户 {resident.id}")
    return corrected


def _scrub(value: Any, name: str, phone: str | None) -> Any:
    """`value` with the name and the phone taken out (values nested in [old, new] pairs too)."""
    if isinstance(value, list):
        return [_scrub(v, name, phone) for v in value]
    if not isinstance(value, str):
        return value
    if phone and value.replace("-", "") == phone.replace("-", ""):
        return None
    if name and name in value:
        return value.replace(name, values.ANONYMOUS)
    return value


def _anonymise_items(session: Session, actor: Actor, unit_id: int, name: str, phone: str | None, now: datetime,
                     registry: Registry) -> int:
    touched = 0
    db = session.connection()
    for item in list(session.scalars(select(Item).where(Item.unit_id == unit_id))):
        definition = registry.compiled(session, item.definition_id)
        personal = {k for k, f in definition.fields.items() if f.personal}
        data = dict(item.data)
        changed = sorted(k for k in personal if k in data and _scrub(data[k], name, phone) != data[k])
        if not changed:
            continue
        for key in changed:
            data[key] = _scrub(data[key], name, phone)
            if data[key] is None:
                del data[key]
        # Their items' photos and documents of `personal` file fields go too (engine/files/erasure.py).
        changed += erasure.erase(session, item.id, definition, now, name=name, phone=phone,
                                  placeholder=values.ANONYMOUS)
        if not queries.update_item(db, item.id, item.version, {"state": item.state, "data": data,
                                                               "version": item.version + 1, "updated_at": now}):
            raise InvalidFields({"item": f"事项 {item.number} 刚被他人修改，请重试"})
        for row in session.scalars(select(ItemHistory).where(ItemHistory.item_id == item.id)):
            scrubbed = {k: (_scrub(v, name, phone) if k in personal else v) for k, v in row.changes.items()}
            if scrubbed != row.changes:
                row.changes = scrubbed
        queries.add_history(db, {
            "item_id": item.id, "kind": "event", "transition": None, "event": "anonymised", "from_state": item.state,
            "to_state": item.state, "actor_id": actor.user_id, "actor_name": actor.name, "at": now,
            "changes": {k: ["***", "***"] for k in changed}, "comment": "住户资料已匿名化（个人信息保护法）",
        })
        session.expire(item)
        touched += 1
    return touched


def anonymise(session: Session, actor: Actor, resident_id: int, *, now: datetime,
              registry: Registry = REGISTRY) -> int:
    """Anonymise a resident who has moved out (see the module docstring); returns how many items changed.

    Raises InvalidFields when the resident has not moved out, NotPermitted, ItemNotFound.
    Anonymising twice does nothing the second time.
    """
    resident, unit = _managed_resident(session, actor, resident_id)
    if resident.anonymised_at is not None:
        return 0
    if resident.moved_out_on is None:
        raise InvalidFields({"moved_out_on": "住户还未搬出：先登记搬出日期，再匿名化"})
    name, phone = resident.name, resident.phone
    touched = _anonymise_items(session, actor, unit.id, name, phone, now, registry)
    resident_messages.forget(session, unit.estate_id, phone)  # texts to them and their recorded choices
    for row in session.scalars(select(AuditLog).where(AuditLog.target == "resident",
                                                      AuditLog.target_id == str(resident.id))):
        row.changes = {k: (_scrub(v, name, phone) if k in ("name", "phone") else v) for k, v in row.changes.items()}
    session.execute(update(Resident).where(Resident.id == resident.id)
                    .values(name=values.ANONYMOUS, phone=None, anonymised_at=now)
                    .execution_options(synchronize_session="fetch"))
    audit.record(session, actor, target="resident", target_id=resident.id, action="anonymise",
                 estate_id=unit.estate_id, unit_id=unit.id, changes={"anonymised": [False, True]})
    audit.accessed(session, actor, "privacy", estate_id=unit.estate_id, unit_id=unit.id,
                   detail=f"匿名化住户资料：住户 {resident.id}，{touched} 个事项")
    return touched


def anonymise_moved_out(session: Session, actor: Actor, before: date, *, now: datetime,
                        registry: Registry = REGISTRY) -> list[int]:
    """Anonymise every resident of the actor's managed estates who moved out before `before`; their ids."""
    stmt = (select(Resident.id, Unit.estate_id).join(Unit, Unit.id == Resident.unit_id)
            .where(Resident.moved_out_on < before, Resident.anonymised_at.is_(None)).order_by(Resident.id))
    if actor.estates is not None:
        stmt = stmt.where(Unit.estate_id.in_(sorted(actor.estates)))
    done = []
    for resident_id, _estate in session.execute(stmt).all():
        anonymise(session, actor, resident_id, now=now, registry=registry)
        done.append(resident_id)
    return done
