"""我的账户: the logged-in user's own name, phone and e-mail, and their password.

    GET/POST /account            display name, phone, e-mail (engine/org/staff.py update_user)
    GET/POST /account/password   old password, new one twice (staff.password_problem, change_password)

A user whose password was reset by an admin or set by an import (`must_change_password`)
is sent to /account/password after login and reaches no other page (logout excepted)
until they have chosen their own: `force_password_change` runs before every request.

Changing the password ends every other session of the user (a stolen cookie dies with the
old password); this browser's stays, so the clerk carries on here.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from engine.errors import InvalidFields
from engine.org import staff
from engine.store.models import User
from engine.views import listing
from web import db
from web.auth import actor

bp = Blueprint("account", __name__, url_prefix="/account")

# Where a user who must change their password may still go.
_OPEN_WHEN_FORCED = frozenset({"account.password", "auth.logout", "auth.login", "static", "health.healthz"})
MAX_PASSWORD = 200


def force_password_change() -> Response | None:
    """Send a user who must change their password to the change page, from anywhere but logout."""
    if request.endpoint in _OPEN_WHEN_FORCED or not current_user.is_authenticated:
        return None
    if not current_user.must_change_password:
        return None
    if request.method == "GET":
        flash("请先设置您自己的新密码，然后才能使用系统", "warning")
    return redirect(url_for("account.password"))


def init_app(app: Flask) -> None:
    """Register the forced-change check on every request."""
    app.before_request(force_password_change)


def _user() -> User:
    found = db.session().get(User, actor().user_id)
    assert found is not None  # the session loader has just read it
    return found


def _text(name: str, longest: int = 200) -> str:
    return (request.form.get(name) or "").strip()[:longest]


@bp.route("", methods=("GET", "POST"))
@login_required
def profile() -> str | Response | tuple[str, int]:
    """Show and change the user's display name, phone and e-mail."""
    user = _user()
    values: dict[str, Any] = {"name": user.display_name, "phone": user.phone or "", "email": user.email or ""}
    problems: dict[str, str] = {}
    if request.method == "POST":
        values = {"name": _text("name"), "phone": _text("phone", 32), "email": _text("email", 254)}
        try:
            with db.write() as writing:
                staff.update_user(writing, actor(), actor().user_id, name=values["name"], phone=values["phone"],
                                  email=values["email"], clock=db.clock())
        except InvalidFields as error:
            problems = dict(error.fields)
        else:
            flash("已保存您的资料", "success")
            return redirect(url_for("account.profile"))
    who = actor()
    my_roles = [(name, sorted(who.roles_in(estate))) for estate, name in listing.estates_of(db.session(), who)]
    html = render_template("account/profile.html", user=user, values=values, problems=problems, my_roles=my_roles)
    return (html, 422) if problems else html


@bp.route("/password", methods=("GET", "POST"))
@login_required
def password() -> str | Response | tuple[str, int]:
    """Change the user's own password: the old one, the new one twice."""
    forced = bool(current_user.must_change_password)
    if request.method == "GET":
        return render_template("account/password.html", forced=forced, problems={})
    old = (request.form.get("old") or "")[:MAX_PASSWORD]
    new = (request.form.get("new") or "")[:MAX_PASSWORD]
    again = (request.form.get("again") or "")[:MAX_PASSWORD]
    problems = _password_problems(old, new, again)
    if not problems:
        try:
            with db.write() as writing:
                staff.change_password(writing, actor().user_id, old, new, keep_token=current_user.get_id(),
                                      clock=db.clock())
        except InvalidFields as error:
            problems = {_FIELD_OF.get(k, k): v for k, v in error.fields.items()}
        else:
            flash("密码已修改，其他设备上的登录已退出", "success")
            return redirect(url_for("account.profile") if not forced else url_for("items.inbox"))
    return render_template("account/password.html", forced=forced, problems=problems), 422


# The engine's names for the password fields → this form's inputs.
_FIELD_OF = {"old_password": "old", "new_password": "new"}


def _password_problems(old: str, new: str, again: str) -> dict[str, str]:
    """What is wrong with the form before asking the engine: empty fields, a repeat that differs, the rules."""
    problems: dict[str, str] = {}
    if not old:
        problems["old"] = "请输入当前密码"
    if not new:
        problems["new"] = "请输入新密码"
    else:
        rule = staff.password_problem(actor().username or "", new)
        if rule:
            problems["new"] = rule
        elif new == old:
            problems["new"] = "新密码不能与当前密码相同"
    if new and again != new:
        problems["again"] = "两次输入的新密码不一致"
    return problems
