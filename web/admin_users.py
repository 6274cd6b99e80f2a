"""管理 › 员工: staff accounts and their posts per estate, through engine/org/staff.py.

    GET       /admin/users                      the users the actor manages (filter by estate, name)
    GET/POST  /admin/users/new                  add one, with roles in one estate; its one-time password shown once
    GET/POST  /admin/users/<id>                 contact details; roles per estate; history
    POST      /admin/users/<id>/roles           the roles in one estate (checkboxes: grantable_roles)
    POST      /admin/users/<id>/reset           a new one-time password, shown once
    POST      /admin/users/<id>/disable|enable  disabling hands open items to the person picked
    POST      /admin/users/<id>/leave|back      on leave with a stand-in, and back

A one-time password is shown on the page that answers the POST and nowhere else (never
stored, never in a URL or a flash message kept in the cookie).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.access import permissions
from engine.org import staff
from web import db
from web.admin import Paged, form_text, guard, managed_estates, page_number, query_text, write
from web.auth import actor

bp = Blueprint("admin_users", __name__, url_prefix="/admin/users")
guard(bp)
PER_PAGE = 50


def _catalogue() -> dict[str, str]:
    return staff.role_catalogue(db.session())


def grantable(estate_id: str) -> list[tuple[str, str]]:
    """(role, label) the user may give in `estate_id`, in the catalogue's order."""
    catalogue = _catalogue()
    allowed = permissions.grantable_roles(actor(), estate_id, frozenset(catalogue))
    return [(r, label) for r, label in catalogue.items() if r in allowed]


@bp.get("")
@login_required
def index() -> str:
    """List the users the actor manages, by display name, with their roles per estate."""
    session = db.session()
    estate = query_text("estate", 64) or None
    mine = managed_estates(session)
    if estate is not None and estate not in dict(mine):
        estate = None
    q = query_text("q", 100)
    users = staff.list_users(session, actor(), estate)
    if q:
        users = [u for u in users if q.lower() in u.display_name.lower() or q.lower() in u.username.lower()]
    page = page_number()
    pages = max(1, -(-len(users) // PER_PAGE))
    shown = Paged(users[(page - 1) * PER_PAGE:page * PER_PAGE], page, pages, len(users))
    query = {k: v for k, v in (("q", q), ("estate", estate)) if v}
    return render_template("admin/users.html", page=shown, estates=mine, names=dict(mine), estate=estate, q=q,
                           query=query)


@bp.route("/new", methods=("GET", "POST"))
@login_required
def new() -> str | Response | tuple[str, int]:
    """Add a user with their roles in one estate; show the one-time password once."""
    mine = managed_estates(db.session())
    if not mine:
        abort(403)
    values: dict[str, Any] = {"username": "", "name": "", "phone": "", "email": "",
                              "estate": request.args.get("estate") or mine[0][0], "roles": []}
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {"username": form_text("username", 100), "name": form_text("name"), "phone": form_text("phone", 32),
                  "email": form_text("email", 254), "estate": form_text("estate", 64),
                  "roles": request.form.getlist("roles")[:50]}
        if values["estate"] not in dict(mine):
            problems["estate"] = "请选择小区"
        elif not values["roles"]:
            problems["roles"] = "请至少选择一个岗位"
        elif refused := set(values["roles"]) - dict(grantable(values["estate"])).keys():
            problems["roles"] = "在这个小区不能授予：" + "、".join(_catalogue().get(r, r) for r in sorted(refused))
        if not problems:
            made, problems = write(lambda s: _add(s, values))
            if made is not None:
                user_id, password = made
                return render_template("admin/password_once.html", user_id=user_id, name=values["name"],
                                       username=values["username"], password=password, added=True)
    html = render_template("admin/user_new.html", values=values, problems=problems, estates=mine,
                           roles=_union(e for e, _ in mine))
    return (html, 422) if problems else html


def _union(estates: Any) -> list[tuple[str, str]]:
    """(role, label) grantable in any of `estates`, in the catalogue's order."""
    found: dict[str, str] = {}
    for estate_id in estates:
        found |= dict(grantable(estate_id))
    return [(r, label) for r, label in _catalogue().items() if r in found]


def _add(session: Any, values: dict[str, Any]) -> tuple[int, str | None]:
    user, password = staff.add_user(session, actor(), values["username"], name=values["name"],
                                    phone=values["phone"] or None, email=values["email"] or None)
    staff.set_roles(session, actor(), user.id, values["estate"], values["roles"])
    return user.id, password


@bp.route("/<int:user_id>", methods=("GET", "POST"))
@login_required
def show(user_id: int) -> str | Response | tuple[str, int]:
    """Show a user: contact details (editable), roles per estate, leave, disabling, history."""
    record = staff.user_record(db.session(), actor(), user_id)
    values = {"name": record.display_name, "phone": record.phone or "", "email": record.email or ""}
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {"name": form_text("name"), "phone": form_text("phone", 32), "email": form_text("email", 254)}
        _, problems = write(lambda s: staff.update_user(s, actor(), user_id, name=values["name"],
                                                        phone=values["phone"], email=values["email"]))
        if not problems:
            flash("已保存员工资料", "success")
            return redirect(url_for("admin_users.show", user_id=user_id))
    html = _page(user_id, values=values, problems=problems)
    return (html, 422) if problems else html


def _page(user_id: int, **extra: Any) -> str:
    session = db.session()
    record = staff.user_record(session, actor(), user_id)
    mine = managed_estates(session)
    colleagues: dict[int, str] = {}
    for estate_id in set(record.roles) | {e for e, _ in mine if e in record.roles}:
        for member in staff.staff_of(session, estate_id):
            if member.user_id != user_id:
                colleagues.setdefault(member.user_id, member.display_name)
    defaults: dict[str, Any] = {"values": {"name": record.display_name, "phone": record.phone or "",
                                           "email": record.email or ""}, "problems": {}, "action_problems": {}}
    return render_template("admin/user.html", record=record, estates=mine, names=dict(mine),
                           choices={e: grantable(e) for e, _ in mine},
                           colleagues=sorted(colleagues.items(), key=lambda c: c[1]),
                           is_me=user_id == actor().user_id, **(defaults | extra))


@bp.post("/<int:user_id>/roles")
@login_required
def roles(user_id: int) -> Response | tuple[str, int]:
    """Replace the user's roles in one estate with the boxes ticked (only grantable ones can change)."""
    estate = form_text("estate", 64)
    wanted = request.form.getlist("roles")[:50]
    _, problems = write(lambda s: staff.set_roles(s, actor(), user_id, estate, wanted))
    if problems:
        return _page(user_id, action_problems=problems), 422
    flash("已保存岗位", "success")
    return redirect(url_for("admin_users.show", user_id=user_id))


@bp.post("/<int:user_id>/reset")
@login_required
def reset(user_id: int) -> str:
    """Give the user a new one-time password (shown once here); they must change it at the next login."""
    record = staff.user_record(db.session(), actor(), user_id)
    with db.write() as writing:
        password = staff.reset_password(writing, actor(), user_id, clock=db.clock())
    return render_template("admin/password_once.html", user_id=user_id, name=record.display_name,
                           username=record.username, password=password, added=False)


def _other(name: str) -> int | None:
    text = form_text(name, 12)
    return int(text) if text.isdigit() and len(text) <= 9 else None


def _after(user_id: int, problems: dict[str, str], done: str) -> Response | tuple[str, int]:
    if problems:
        return _page(user_id, action_problems=problems), 422
    flash(done, "success")
    return redirect(url_for("admin_users.show", user_id=user_id))


@bp.post("/<int:user_id>/disable")
@login_required
def disable(user_id: int) -> Response | tuple[str, int]:
    """Disable the user (sessions end); their open items go to the colleague picked, if any."""
    to = _other("hand_over_to")
    report, problems = write(lambda s: staff.disable(s, actor(), user_id, hand_over_to=to, clock=db.clock()))
    return _after(user_id, problems, "已停用该账号" + (f"，{_count(report)}" if report is not None else ""))


def _count(report: Any) -> str:
    handed = len(getattr(report, "handed", ()) or ())
    return f"已转交 {handed} 个事项" if handed else "没有需要转交的事项"


@bp.post("/<int:user_id>/enable")
@login_required
def enable(user_id: int) -> Response | tuple[str, int]:
    """Let a disabled user log in again."""
    _, problems = write(lambda s: staff.enable(s, actor(), user_id, clock=db.clock()))
    return _after(user_id, problems, "已恢复该账号")


@bp.post("/<int:user_id>/leave")
@login_required
def leave(user_id: int) -> Response | tuple[str, int]:
    """Mark the user on leave: open items and notifications go to the stand-in."""
    stand_in = _other("stand_in")
    if stand_in is None:
        return _page(user_id, action_problems={"stand_in": "请选择代理人"}), 422
    report, problems = write(lambda s: staff.start_leave(s, actor(), user_id, stand_in_id=stand_in,
                                                         clock=db.clock()))
    return _after(user_id, problems, "已登记休假" + (f"，{_count(report)}" if report is not None else ""))


@bp.post("/<int:user_id>/back")
@login_required
def back(user_id: int) -> Response | tuple[str, int]:
    """The user is back from leave."""
    _, problems = write(lambda s: staff.end_leave(s, actor(), user_id, clock=db.clock()))
    return _after(user_id, problems, "已销假")
