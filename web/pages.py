"""What every page shares: the navigation, time display filters, role labels."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask_login import current_user

from engine.access import permissions
from engine.access.actor import Actor
from engine.clock import DEFAULT_TIMEZONE
from engine.views import listing
from engine.views.units import building_label
from web import db


def localtime(moment: datetime | None, tz: str = DEFAULT_TIMEZONE) -> str:
    """An instant as local wall-clock time: 2026-03-02 09:30."""
    if moment is None:
        return ""
    return moment.astimezone(ZoneInfo(tz)).strftime("%Y-%m-%d %H:%M")


def span(delta: timedelta) -> str:
    """A duration in Chinese, two units at most: 2天3小时, 45分钟."""
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时" if hours else f"{days}天"
    if hours:
        return f"{hours}小时{mins}分" if mins else f"{hours}小时"
    return f"{max(mins, 1)}分钟"


def countdown(deadline: datetime | None, now: datetime) -> str:
    """剩余 3小时20分 before the deadline, 已超时 1天2小时 after it."""
    if deadline is None:
        return ""
    left = deadline - now
    return f"剩余 {span(left)}" if left > timedelta(0) else f"已超时 {span(left)}"


def building(name: str | None) -> str:
    """A building as staff say it: 3 → 3栋 (engine/views/units.py says how)."""
    return building_label(name)


ADMIN_ROLE = "admin"
"""系统管理员 (workflows/roles.yaml): keeps the calendars, so sees when their holiday lists run out."""


def may_look_up(actor: Actor) -> bool:
    """Whether the navigation offers 查询来电: the customer-service posts that take calls and visits."""
    return bool(actor.roles & permissions.PERSONAL_ROLES)


def may_administer(actor: Actor) -> bool:
    """Whether the navigation offers 管理: admins, and managers of some estate of theirs (or its logs)."""
    return (permissions.may_add_estates(actor) or permissions.may_read_logs(actor)
            or any(permissions.may_manage_estate(actor, e) for e in actor.estates or ()))


def _shared() -> dict[str, Any]:
    shared: dict[str, Any] = {"now": db.clock().now()}
    if current_user.is_authenticated:
        session = db.session()
        who = current_user.actor
        shared["nav_workflows"] = listing.published(session, who)
        shared["role_labels"] = listing.role_labels(session)
        shared["nav_lookup"] = may_look_up(who)
        shared["nav_admin"] = may_administer(who)
        if ADMIN_ROLE in current_user.actor.roles:
            shared["calendar_warnings"] = [gap.chinese() for gap in db.calendars().coverage_gaps(shared["now"])]
    return shared


def init_app(app: Flask) -> None:
    """Register the filters and the shared template values."""
    app.add_template_filter(localtime)
    app.add_template_filter(countdown)
    app.add_template_filter(building)
    app.context_processor(_shared)
