"""管理 › 房号: buildings, units and their residents (owners and tenants), through engine/org/estates.py.

    POST      /admin/estates/<estate>/buildings      add a building
    GET/POST  /admin/estates/<estate>/units/new      add a unit (房号, building, area, tags)
    GET/POST  /admin/units/<id>                      change a unit; its residents; add one
    GET/POST  /admin/residents/<id>                  correct a resident
    POST      /admin/residents/<id>/move-out         record a move-out (the record stays)

Residents' names and phones are shown in full only to those who see residents
(permissions.sees_residents; an admin who is not also in customer service sees them masked,
and may add and move out residents but not correct names they cannot read). Each page that
shows them in full is written to the access log.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from engine.access import permissions
from engine.errors import ItemNotFound
from engine.language import fields
from engine.org import audit, estates
from engine.store.models import Building, Resident, Unit
from web import db
from web.admin import form_text, guard, write
from web.auth import actor

bp = Blueprint("admin_units", __name__, url_prefix="/admin")
guard(bp)


def _unit(unit_id: int) -> Unit:
    """The unit, if the user may manage its estate (404 for another estate's, 403 for one not managed)."""
    session = db.session()
    unit = session.get(Unit, unit_id)
    if unit is None or not permissions.works_in(actor(), unit.estate_id):
        raise ItemNotFound("没有这个房号", unit_id=unit_id)
    estates.managed_estate(session, actor(), unit.estate_id)
    return unit


def _day(name: str, problems: dict[str, str]) -> date | None:
    text = form_text(name, 10)
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        problems[name] = "日期格式不正确（应为 2026-03-02）"
        return None
    if not fields.MIN_DATE <= day <= fields.MAX_DATE:
        problems[name] = fields.DATE_RANGE_MESSAGE
        return None
    return day


@bp.post("/estates/<estate_id>/buildings")
@login_required
def add_building(estate_id: str) -> Response:
    """Add a building to the estate (an existing name is kept as it is)."""
    name = form_text("building", 64)
    _, problems = write(lambda s: estates.save_building(s, actor(), estate_id, name))
    for message in problems.values():
        flash(message, "error")
    if not problems:
        flash(f"已添加楼栋 {name}", "success")
    return redirect(url_for("admin.estate", estate_id=estate_id))


@bp.route("/estates/<estate_id>/units/new", methods=("GET", "POST"))
@login_required
def new_unit(estate_id: str) -> str | Response | tuple[str, int]:
    """Add a unit: 房号, building (added when new), area and tags."""
    place = estates.managed_estate(db.session(), actor(), estate_id)
    values = {"unit": "", "building": "", "area_m2": "", "tags": ""}
    if request.method == "GET":
        return render_template("admin/unit_new.html", estate=place, values=values, problems={},
                               buildings=_buildings(estate_id))
    values = {"unit": form_text("unit", 32), "building": form_text("building", 64),
              "area_m2": form_text("area_m2", 20), "tags": form_text("tags", 300)}
    if db.session().scalar(select(Unit.id).where(Unit.estate_id == estate_id, Unit.number == values["unit"])):
        problems = {"unit": f"已有房号 {values['unit']}"}
    else:
        made, problems = write(lambda s: estates.save_unit(
            s, actor(), estate_id, values["unit"], building=values["building"], area_m2=values["area_m2"] or None,
            tags=values["tags"]).id)
        if made is not None:
            flash(f"已添加房号 {values['unit']}", "success")
            return redirect(url_for("admin_units.unit", unit_id=made))
    return render_template("admin/unit_new.html", estate=place, values=values, problems=problems,
                           buildings=_buildings(estate_id)), 422


def _buildings(estate_id: str) -> list[str]:
    return list(db.session().scalars(select(Building.name).where(Building.estate_id == estate_id)
                                     .order_by(Building.name)))


@bp.route("/units/<int:unit_id>", methods=("GET", "POST"))
@login_required
def unit(unit_id: int) -> str | Response | tuple[str, int]:
    """Change a unit's building, area and tags; list its residents and add one."""
    record = _unit(unit_id)
    session = db.session()
    building = session.get(Building, record.building_id)
    values = {"building": building.name if building else "", "area_m2": str(record.area_m2 or ""),
              "tags": "、".join(record.tags or [])}
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {"building": form_text("building", 64), "area_m2": form_text("area_m2", 20),
                  "tags": form_text("tags", 300)}
        _, problems = write(lambda s: estates.save_unit(
            s, actor(), record.estate_id, record.number, building=values["building"],
            area_m2=values["area_m2"] or None, tags=values["tags"]))
        if not problems:
            flash(f"已保存房号 {record.number}", "success")
            return redirect(url_for("admin_units.unit", unit_id=unit_id))
    return _unit_page(record, values, problems, {}, {}), 422 if problems else 200


def _unit_page(record: Unit, values: dict[str, str], problems: dict[str, str], person: dict[str, str],
               person_problems: dict[str, str]) -> str:
    session = db.session()
    full = permissions.sees_residents(actor(), record.estate_id)
    people = session.scalars(select(Resident).where(Resident.unit_id == record.id)
                             .order_by(Resident.moved_out_on.is_not(None), Resident.kind, Resident.id))
    shown = [estates.resident_view(r, full) for r in people]
    if full and shown:
        with db.write() as writing:
            audit.accessed(writing, actor(), "view", estate_id=record.estate_id, unit_id=record.id,
                           detail="管理页面：住户姓名和电话", clock=db.clock())
    return render_template("admin/unit.html", unit=record, values=values, problems=problems, residents=shown,
                           full=full, person=person or {"kind": "owner", "name": "", "phone": "", "moved_in_on": ""},
                           person_problems=person_problems, kinds=estates.KINDS,
                           buildings=_buildings(record.estate_id), today=db.clock().now().date())


@bp.post("/units/<int:unit_id>/residents")
@login_required
def add_resident(unit_id: int) -> Response | tuple[str, int]:
    """Add an owner or tenant to the unit."""
    record = _unit(unit_id)
    problems: dict[str, str] = {}
    person = {"kind": form_text("kind", 16), "name": form_text("name", 100), "phone": form_text("phone", 32),
              "moved_in_on": form_text("moved_in_on", 10)}
    moved_in = _day("moved_in_on", problems)
    if not problems:
        _, problems = write(lambda s: estates.save_resident(
            s, actor(), unit_id, kind=person["kind"], name=person["name"], phone=person["phone"] or None,
            moved_in_on=moved_in))
    if not problems:
        flash(f"已添加{estates.KINDS.get(person['kind'], '住户')}", "success")
        return redirect(url_for("admin_units.unit", unit_id=unit_id))
    building = db.session().get(Building, record.building_id)
    values = {"building": building.name if building else "", "area_m2": str(record.area_m2 or ""),
              "tags": "、".join(record.tags or [])}
    return _unit_page(record, values, {}, person, problems), 422


def _resident(resident_id: int) -> tuple[Resident, Unit]:
    row = db.session().get(Resident, resident_id)
    if row is None:
        abort(404)
    return row, _unit(row.unit_id)


@bp.route("/residents/<int:resident_id>", methods=("GET", "POST"))
@login_required
def resident(resident_id: int) -> str | Response | tuple[str, int]:
    """Correct a resident's kind, name, phone or move-in date (only for those who see them in full)."""
    row, record = _resident(resident_id)
    if not permissions.sees_residents(actor(), record.estate_id):
        abort(403, "只有客服岗位可以查看和更正住户的姓名和电话")
    if row.anonymised_at is not None:
        abort(403, "这位住户的资料已匿名化，不能再修改")
    person = {"kind": row.kind, "name": row.name, "phone": row.phone or "",
              "moved_in_on": row.moved_in_on.isoformat() if row.moved_in_on else ""}
    problems: dict[str, str] = {}
    if request.method == "POST":
        person = {"kind": form_text("kind", 16), "name": form_text("name", 100), "phone": form_text("phone", 32),
                  "moved_in_on": form_text("moved_in_on", 10)}
        moved_in = _day("moved_in_on", problems)
        if not problems:
            _, problems = write(lambda s: estates.save_resident(
                s, actor(), record.id, kind=person["kind"], name=person["name"], phone=person["phone"] or None,
                moved_in_on=moved_in, resident_id=resident_id))
        if not problems:
            flash("已更正住户资料", "success")
            return redirect(url_for("admin_units.unit", unit_id=record.id))
    else:
        with db.write() as writing:
            audit.accessed(writing, actor(), "view", estate_id=record.estate_id, unit_id=record.id,
                           detail="更正住户资料", clock=db.clock())
    html = render_template("admin/resident.html", unit=record, resident=row, person=person, problems=problems,
                           kinds=estates.KINDS)
    return (html, 422) if problems else html


@bp.post("/residents/<int:resident_id>/move-out")
@login_required
def move_out(resident_id: int) -> Response:
    """Record that the resident moved out on the given day (today when none)."""
    row, record = _resident(resident_id)
    problems: dict[str, str] = {}
    day = _day("moved_out_on", problems) or db.clock().now().date()
    if not problems:
        _, problems = write(lambda s: estates.move_out(s, actor(), resident_id, day))
    for message in problems.values():
        flash(message, "error")
    if not problems:
        flash(f"已登记搬出（{day.isoformat()}）", "success")
    return redirect(url_for("admin_units.unit", unit_id=record.id))
