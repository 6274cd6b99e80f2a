"""Logging in and out: Flask-Login over server-side session records, a login throttle in the database.

Flask's signed cookie carries only a random session token (Flask-Login's "alternative token":
`Staff.get_id()` is the token, not the user id). Every request checks it against the
login_sessions table (engine/access/sessions.py), so logout, a password change or disabling a
user end sessions on every worker at once, and idle or old sessions expire; such a request
goes to the login page with 登录已过期，请重新登录. Logging in clears the old cookie session,
the CSRF secret with it, so a token issued before login is refused after it.

Wrong passwords are counted in the database (engine/access/logins.py); an attempt over the
limit is answered at once with HTTP 429 and 请 N 秒后再试, never by sleeping in a worker.
Logs name events and client addresses only: no username, password or other personal data.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote, urlsplit

from flask import Blueprint, Flask, current_app, flash, g, redirect, render_template, request, session, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_url, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from engine.access import logins, sessions
from engine.access.actor import Actor, load_actor
from engine.errors import Conflict, ItemNotFound
from engine.store.models import User
from web import db
from web.forms import LoginForm

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
log = logging.getLogger("estateflow.auth")
_RULES = "estateflow.auth"
# Checked against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = generate_password_hash("not a password")
WRONG = "用户名或密码不正确"
EXPIRED = "登录已过期，请重新登录"
PLEASE_LOG_IN = "请先登录"
# Control characters (tabs and newlines among them) and backslashes have no place in a path we send back.
_UNSAFE = frozenset({chr(c) for c in range(32)} | {"\x7f", "\\"})


@dataclass(frozen=True, slots=True)
class AuthRules:
    """The app's session and throttle limits, read once from its config."""

    sessions: sessions.SessionRules
    logins: logins.LoginRules


class Staff(UserMixin):  # type: ignore[misc]
    """The logged-in user: Flask-Login's user object around the engine's Actor and the session token."""

    def __init__(self, actor: Actor, token: str, *, must_change_password: bool = False) -> None:
        self.actor = actor
        self.id = token  # what Flask-Login keeps in the cookie and hands back to load_user
        self.must_change_password = must_change_password
        """Set by an admin's reset or an import: no page but the password change until done (web/account.py)."""


def _positive(app: Flask, name: str) -> float:
    value = app.config[name]
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    if not number > 0:
        raise RuntimeError(f"ESTATEFLOW_{name} must be a positive number, not {value!r}")
    return number


def init_app(app: Flask) -> None:
    """Attach Flask-Login and read the session and throttle limits (a bad value stops the app here)."""
    login_manager.init_app(app)
    app.extensions[_RULES] = AuthRules(
        sessions.SessionRules(idle=timedelta(hours=_positive(app, "SESSION_IDLE_HOURS")),
                              lifetime=timedelta(hours=_positive(app, "SESSION_MAX_HOURS"))),
        logins.LoginRules(free_failures=int(_positive(app, "LOGIN_MAX_FAILURES")),
                          first_wait=timedelta(seconds=_positive(app, "LOGIN_WAIT_SECONDS")),
                          longest_wait=timedelta(seconds=_positive(app, "LOGIN_WAIT_MAX_SECONDS")),
                          address_failures=int(_positive(app, "LOGIN_ADDRESS_MAX_FAILURES")),
                          address_window=timedelta(minutes=_positive(app, "LOGIN_ADDRESS_WINDOW_MINUTES"))),
    )


def rules() -> AuthRules:
    """The current app's limits."""
    return current_app.extensions[_RULES]  # type: ignore[no-any-return]


@login_manager.user_loader
def load_user(token: str) -> Staff | None:
    """The Staff of the cookie's session token; None (logged out, cookie cleared) when it no longer holds."""
    now = db.clock().now()
    check = sessions.check_session(db.session(), token, now, rules().sessions)
    if check.user_id is not None:
        try:
            staff = _staff(check.user_id, token)
        except ItemNotFound:  # disabled or deleted meanwhile
            pass
        else:
            if check.touch:
                _touch(token, now)
            return staff
    # The cookie is dead: drop it (a browser stops sending it) and say so on the login page.
    session.clear()
    g.session_ended = True
    return None


def _staff(user_id: int, token: str) -> Staff:
    """The Staff of a stored, active user (ItemNotFound otherwise)."""
    who = load_actor(db.session(), user_id)
    user = db.session().get(User, user_id)  # already in the session: load_actor has just read it
    return Staff(who, token, must_change_password=bool(user is not None and user.must_change_password))


def _touch(token: str, now: datetime) -> None:
    try:
        with db.write() as writing:
            sessions.touch_session(writing, token, now)
    except Conflict:  # database busy: the next request writes it; a page view must not fail for this
        log.warning("session activity not recorded (database busy)")


@login_manager.unauthorized_handler
def unauthorized() -> Response:
    """A page that needs a login: to the login page, saying why, then back here (GET pages only)."""
    flash(EXPIRED if g.pop("session_ended", False) else PLEASE_LOG_IN, "info")
    return redirect(login_url("auth.login", request.url if request.method == "GET" else None))


def actor() -> Actor:
    """The logged-in user's Actor (roles and estates, as stored now)."""
    return current_user.actor  # type: ignore[no-any-return]


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path on this site, else None.

    Browsers drop tabs and newlines and read a backslash as a slash, so `/\\t/evil.example` or
    `/\\evil.example` would leave the site; each layer of percent-decoding is checked too, since
    the target may be decoded again on the way.
    """
    if not target or len(target) > 2000:
        return None
    text = target
    for _ in range(3):
        if not text.startswith("/") or text.startswith(("//", "/\\")) or any(c in _UNSAFE for c in text):
            return None
        parts = urlsplit(text)
        if parts.scheme or parts.netloc:
            return None
        decoded = unquote(text)
        if decoded == text:
            return target
        text = decoded
    return None  # encoded three times over: no real page needs that


def _render_login(form: LoginForm, error: str | None, status: int = 200) -> tuple[str, int]:
    return render_template("auth/login.html", form=form, error=error), status


@bp.route("/login", methods=("GET", "POST"))
def login() -> Response | tuple[str, int]:
    """Log a user in by username and password; redirect to 我的待办 (or where they were going)."""
    form = LoginForm()
    if not form.validate_on_submit():
        return _render_login(form, next(iter(form.errors.values()))[0] if form.errors else None)
    username = form.username.data.strip()
    # Bounded to the columns: lower() may lengthen a name, and a misconfigured proxy may pass anything.
    account, address = username.lower()[:100], (request.remote_addr or "")[:64]
    now = db.clock().now()
    limits = rules()
    wait = logins.wait_seconds(db.session(), account, address, now, limits.logins)
    if wait:
        # Refused before the password is checked: a refused guess tells nothing and costs nothing.
        log.warning("login.throttled address=%s wait=%ds", address, wait)
        response = current_app.make_response(_render_login(form, f"请 {wait} 秒后再试", 429))
        response.headers["Retry-After"] = str(wait)
        return response
    user = db.session().scalars(select(User).where(User.username == username)).first()
    stored = user.password_hash if user is not None and user.active else None
    if not check_password_hash(stored or _DUMMY_HASH, form.password.data) or stored is None or user is None:
        with db.write() as writing:
            logins.record_failure(writing, account, address, now, limits.logins)
        log.info("login.failed address=%s", address)
        return _render_login(form, WRONG)
    with db.write() as writing:
        logins.record_success(writing, account, address)
        token = sessions.start_session(writing, user.id, now, limits.sessions)
    # A fresh cookie session: the old CSRF secret goes with it, so pre-login tokens are refused.
    session.clear()
    g.pop("csrf_token", None)
    staff = _staff(user.id, token)
    login_user(staff)
    log.info("login.succeeded address=%s", address)
    if staff.must_change_password:
        return redirect(url_for("account.password"))
    return redirect(safe_next(request.args.get("next")) or url_for("items.inbox"))


@bp.route("/logout", methods=("GET", "POST"))
@login_required
def logout() -> str | Response:
    """Log out (POST, with the CSRF token): this session ends on every worker; a GET shows the button."""
    if request.method == "POST":
        with db.write() as writing:
            sessions.end_session(writing, current_user.get_id(), db.clock().now())
        logout_user()
        session.clear()
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html")
