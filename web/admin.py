"""管理: the admin area's front page and its estates (小区), with what every admin page shares.

    GET       /admin                        what the user may manage: estates, staff, imports, logs
    GET/POST  /admin/estates/new            add an estate (admins: permissions.may_add_estates)
    GET/POST  /admin/estates/<estate>       rename it, change its time zone; its buildings and units

The admin pages are split by subject: this module (estates), web/admin_units.py (buildings,
units, residents), web/admin_users.py (staff and roles), web/admin_data.py (imports and exports)
and web/admin_logs.py (the audit and access logs). Each blueprint calls `guard(bp)`: only a
user the navigation offers 管理 to gets in (403 for the rest); every write is then decided by the
engine (engine/org, asking engine/access/permissions.py), whose refusals become 403/404 in
web/errors.py and whose InvalidFields become messages next to the fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from engine.access import permissions
from engine.errors import InvalidFields
from engine.org import estates
from engine.store.models import Building, Estate, Resident, Unit
from web import db
from web.auth import actor, login_manager
from web.pages import may_administer

bp = Blueprint("admin", __name__, url_prefix="/admin")
PER_PAGE = 50
MAX_PAGE = 100_000
T = TypeVar("T")


def guard(blueprint: Blueprint) -> None:
    """Let only logged-in users whom 管理 is offered into `blueprint`'s pages (login page, else 403)."""

    def check() -> Response | None:
        if not current_user.is_authenticated:
            return login_manager.unauthorized()  # type: ignore[no-any-return]
        if not may_administer(actor()):
            abort(403)
        return None

    blueprint.before_request(check)


guard(bp)


@dataclass(frozen=True, slots=True)
class Paged:
    """One page of a list, as macros.pager draws it."""

    rows: Sequence[Any]
    page: int
    pages: int
    total: int

    @property
    def has_next(self) -> bool:
        """Whether a later page exists."""
        return self.page < self.pages


def page_number() -> int:
    """The `page` argument: 1 when missing or not a number, 404 when absurdly large."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    if page > MAX_PAGE:
        abort(404)
    return page


def paged(session: Session, stmt: Select[Any], per_page: int = PER_PAGE,
          row: Callable[[Any], Any] = lambda r: r) -> Paged:
    """The requested page of `stmt`'s rows (scalars when it selects one entity), with the count."""
    page = page_number()
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    result = session.execute(stmt.limit(per_page).offset((page - 1) * per_page))
    rows = [row(r[0] if len(r) == 1 else r) for r in result]
    return Paged(rows, page, max(1, math.ceil(total / per_page)), total)


def form_text(name: str, longest: int = 200) -> str:
    """A submitted text, stripped and bounded (the engine checks it)."""
    return (request.form.get(name) or "").strip()[:longest]


def query_text(name: str, longest: int = 100) -> str:
    """A query-string text, stripped and bounded."""
    return (request.args.get(name) or "").strip()[:longest]


def managed_estates(session: Session) -> list[tuple[str, str]]:
    """(id, name) of the estates whose records the user may change, by name."""
    who = actor()
    return [(e, name) for e, name in actor_estates(session) if permissions.may_manage_estate(who, e)]


def actor_estates(session: Session) -> list[tuple[str, str]]:
    """(id, name) of the estates the user works in, by name."""
    who = actor()
    stmt = select(Estate.id, Estate.name).where(*permissions.in_estates(who, Estate.id)).order_by(Estate.name)
    return [(r.id, r.name) for r in session.execute(stmt)]


def write(work: Callable[[Session], T]) -> tuple[T | None, dict[str, str]]:
    """Run `work` in the request's one transaction: (its result, {}) or (None, the engine's field messages)."""
    try:
        with db.write() as writing:
            return work(writing), {}
    except InvalidFields as error:
        return None, dict(error.fields)


# -- the front page ---------------------------------------------------------------------------


@bp.get("")
@login_required
def index() -> str:
    """Show what the user may manage."""
    session = db.session()
    who = actor()
    return render_template("admin/index.html", estates=managed_estates(session),
                           may_add=permissions.may_add_estates(who), may_logs=permissions.may_read_logs(who),
                           may_author=permissions.may_author(who))


# -- estates ----------------------------------------------------------------------------------


@bp.route("/estates/new", methods=("GET", "POST"))
@login_required
def new_estate() -> str | Response | tuple[str, int]:
    """Add an estate: its id (used in files and commands), name and time zone."""
    if not permissions.may_add_estates(actor()):
        abort(403)
    values = {"estate_id": "", "name": "", "timezone": "Asia/Shanghai"}
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {"estate_id": form_text("estate_id", 64), "name": form_text("name"),
                  "timezone": form_text("timezone", 64) or "Asia/Shanghai"}
        if db.session().get(Estate, values["estate_id"]) is not None:
            problems = {"estate_id": "已有这个编号的小区"}
        else:
            _, problems = write(lambda s: estates.save_estate(s, actor(), values["estate_id"], name=values["name"],
                                                              timezone=values["timezone"]))
        if not problems:
            flash(f"已添加小区 {values['name']}", "success")
            return redirect(url_for("admin.estate", estate_id=values["estate_id"]))
        return render_template("admin/estate_new.html", values=values, problems=problems), 422
    return render_template("admin/estate_new.html", values=values, problems=problems)


@bp.route("/estates/<estate_id>", methods=("GET", "POST"))
@login_required
def estate(estate_id: str) -> str | Response | tuple[str, int]:
    """Show an estate: its name and zone (editable), buildings, and units with a search and pages."""
    session = db.session()
    place = estates.managed_estate(session, actor(), estate_id)
    values = {"name": place.name, "timezone": place.timezone}
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {"name": form_text("name"), "timezone": form_text("timezone", 64) or place.timezone}
        _, problems = write(lambda s: estates.save_estate(s, actor(), estate_id, name=values["name"],
                                                          timezone=values["timezone"]))
        if not problems:
            flash("已保存小区资料", "success")
            return redirect(url_for("admin.estate", estate_id=estate_id))
    q = query_text("q", 32)
    buildings = session.execute(
        select(Building.name, func.count(Unit.id)).outerjoin(Unit, Unit.building_id == Building.id)
        .where(Building.estate_id == estate_id).group_by(Building.id, Building.name).order_by(Building.name)).all()
    units = select(Unit.id, Unit.number, Building.name.label("building"), Unit.area_m2, Unit.tags,
                   _residents_now()).join(Building, Building.id == Unit.building_id).where(Unit.estate_id == estate_id)
    if q:
        units = units.where(Unit.number.contains(q, autoescape=True))
    page = paged(session, units.order_by(Building.name, Unit.number))
    html = render_template("admin/estate.html", estate=place, values=values, problems=problems, buildings=buildings,
                           page=page, q=q)
    return (html, 422) if problems else html


def _residents_now() -> Any:
    """How many residents of the unit have not moved out (a correlated count)."""
    return (select(func.count(Resident.id)).where(Resident.unit_id == Unit.id, Resident.moved_out_on.is_(None))
            .correlate(Unit).scalar_subquery().label("residents"))
