"""Logging in and out: Flask-Login sessions over the users table, werkzeug password hashes.

Wrong passwords get one plain message and a delay that doubles with each failure
for the same username and client address (kept in memory: per process, forgotten
on restart; enough to make guessing slow, not a lockout that locks staff out).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, render_template, request, url_for
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from sqlalchemy import select
from werkzeug.security import check_password_hash, generate_password_hash
from werkzeug.wrappers import Response

from engine.access.actor import Actor, load_actor
from engine.errors import ItemNotFound
from engine.store.models import User
from web import db
from web.forms import LoginForm

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = "请先登录"
login_manager.login_message_category = "info"
_THROTTLE = "estateflow.throttle"
# Checked against when the username is unknown, so both cases take the same time.
_DUMMY_HASH = generate_password_hash("not a password")
WRONG = "用户名或密码不正确"


class Staff(UserMixin):  # type: ignore[misc]
    """The logged-in user: Flask-Login's user object around the engine's Actor."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.id = str(actor.user_id)


class Throttle:
    """Failed logins per key (username, address) and the delay they earn; thread-safe, bounded."""

    def __init__(self, base: float, cap: float, sleep: Callable[[float], Any] = time.sleep,
                 size: int = 10_000) -> None:
        self.base, self.cap, self.sleep, self.size = base, cap, sleep, size
        self._failures: OrderedDict[tuple[str, str], int] = OrderedDict()
        self._lock = threading.Lock()

    def delay(self, key: tuple[str, str]) -> float:
        """Seconds to wait before checking this key's next password: 0, base, 2·base, 4·base... up to cap."""
        failures = self._failures.get(key, 0)
        return 0.0 if failures == 0 else min(self.cap, self.base * 2 ** (failures - 1))

    def wait(self, key: tuple[str, str]) -> None:
        """Sleep the delay earned so far."""
        seconds = self.delay(key)
        if seconds > 0:
            self.sleep(seconds)

    def failed(self, key: tuple[str, str]) -> None:
        """Count one more failure (the oldest keys are forgotten beyond `size`)."""
        with self._lock:
            self._failures[key] = self._failures.pop(key, 0) + 1
            while len(self._failures) > self.size:
                self._failures.popitem(last=False)

    def succeeded(self, key: tuple[str, str]) -> None:
        """Forget the key's failures."""
        with self._lock:
            self._failures.pop(key, None)


def init_app(app: Flask) -> None:
    """Attach Flask-Login and the login throttle."""
    login_manager.init_app(app)
    app.extensions[_THROTTLE] = Throttle(app.config["LOGIN_DELAY_BASE"], app.config["LOGIN_DELAY_MAX"])


@login_manager.user_loader
def load_user(user_id: str) -> Staff | None:
    """The Staff for the session's user id; None (logged out) when the user is gone or inactive."""
    try:
        return Staff(load_actor(db.session(), int(user_id)))
    except (ItemNotFound, ValueError):
        return None


def actor() -> Actor:
    """The logged-in user's Actor (roles and estates, as stored now)."""
    return current_user.actor  # type: ignore[no-any-return]


def _safe_next(target: str | None) -> str:
    # Only paths on this site: "//host" or "http://..." would send the user elsewhere.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("items.inbox")


@bp.route("/login", methods=("GET", "POST"))
def login() -> str | Response:
    """Log a user in by username and password; redirect to 我的待办 (or where they were going)."""
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        username = form.username.data.strip()
        key = (username.lower(), request.remote_addr or "")
        throttle: Throttle = current_app.extensions[_THROTTLE]
        throttle.wait(key)
        user = db.session().scalars(select(User).where(User.username == username)).first()
        stored = user.password_hash if user is not None and user.active else None
        if not check_password_hash(stored or _DUMMY_HASH, form.password.data) or stored is None:
            throttle.failed(key)
            error = WRONG
        else:
            throttle.succeeded(key)
            login_user(Staff(load_actor(db.session(), user.id)))
            return redirect(_safe_next(request.args.get("next")))
    elif form.errors:
        error = next(iter(form.errors.values()))[0]
    return render_template("auth/login.html", form=form, error=error)


@bp.route("/logout", methods=("GET", "POST"))
@login_required
def logout() -> str | Response:
    """Log out (POST, with the CSRF token); a GET shows the button."""
    if request.method == "POST":
        logout_user()
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html")
