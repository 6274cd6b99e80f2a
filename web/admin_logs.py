"""管理 › 日志: the audit log (who changed what) and the access log (who saw whose personal data).

    GET /admin/logs/audit?estate=&from=&to=&page=     changes to estates, units, residents, staff, roles
    GET /admin/logs/access?user=&from=&to=&page=      views of personal data in full, exports, PIPL acts

Readable by cs_manager and admin only (permissions.may_read_logs): a manager reads the rows of
the estates they manage; rows about no estate (accounts) are an admin's. Residents' names and
phones in the audit log's changes are masked unless the reader sees that estate's residents.
Also the template filters that put an audit row into words (audit_action, audit_field, audit_change).
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, abort, current_app, flash, render_template
from flask_login import login_required
from sqlalchemy import Select, false, or_, select

from engine.access import permissions
from engine.language import fields
from engine.org import values
from engine.store.models import AccessLog, AuditLog
from web import db
from web.admin import Paged, actor_estates, guard, paged, query_text
from web.auth import actor

bp = Blueprint("admin_logs", __name__, url_prefix="/admin/logs")
guard(bp)

ACTIONS = {"add": "添加", "change": "修改", "move_out": "登记搬出", "disable": "停用", "enable": "恢复",
           "leave": "休假", "back": "销假", "password": "修改密码", "reset_password": "重置密码",
           "anonymise": "匿名化", "export": "导出", "correct": "更正", "import": "导入", "publish": "发布"}
TARGETS = {"estate": "小区", "building": "楼栋", "unit": "房号", "resident": "住户", "user": "员工", "role": "岗位",
           "routing": "分派表", "import": "导入"}
VALUES = {"owner": "业主", "tenant": "租户"}
"""Stored codes that appear in changes → their labels (roles come from the role labels)."""
FIELDS = {"name": "姓名", "display_name": "姓名", "username": "用户名", "phone": "电话", "email": "电子邮箱",
          "timezone": "时区", "number": "房号", "building": "楼栋", "area_m2": "面积", "tags": "标签", "kind": "身份",
          "moved_in_on": "入住日期", "moved_out_on": "搬出日期", "roles": "岗位", "active": "可登录",
          "hand_over_to": "事项转交", "stand_in": "代理人", "on_leave": "休假", "owner_name": "业主姓名",
          "owner_phone": "业主电话", "tenant_name": "租户姓名", "tenant_phone": "租户电话", "added": "新增",
          "updated": "修改", "unchanged": "不变"}
KINDS = {"view": "查看", "export": "导出", "lookup": "来电查询", "privacy": "个人信息处理"}
_PERSONAL = {"name": values.mask_name, "phone": values.mask_phone}


def _readable() -> tuple[bool, list[str]]:
    """(whether rows about no estate are readable, the estates whose rows are)."""
    who = actor()
    if not permissions.may_read_logs(who):
        abort(403)
    estates = [e for e, _ in actor_estates(db.session()) if permissions.may_read_logs(who, e)]
    return permissions.may_add_estates(who), estates


def _day(name: str) -> date | None:
    text = query_text(name, 10)
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        flash("日期格式不正确（应为 2026-03-02），已忽略", "error")
        return None
    if day is not None and not fields.MIN_DATE <= day <= fields.MAX_DATE:
        flash(f"{fields.DATE_RANGE_MESSAGE}，已忽略", "error")
        return None
    return day


def _between(stmt: Select[Any], column: Any) -> tuple[Select[Any], dict[str, str]]:
    """`stmt` limited to the from/to days (inclusive, in the site's time zone), and those days as typed."""
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    start, end = _day("from"), _day("to")
    if start is not None:
        stmt = stmt.where(column >= datetime.combine(start, time.min, tz))
    if end is not None:
        stmt = stmt.where(column < datetime.combine(end + timedelta(days=1), time.min, tz))
    return stmt, {k: v.isoformat() for k, v in (("from", start), ("to", end)) if v is not None}


def _scope(stmt: Select[Any], column: Any, estate: str | None) -> Select[Any]:
    anywhere, estates = _readable()
    if estate is not None:
        if estate not in estates:
            abort(404)
        return stmt.where(column == estate)
    terms = [column.in_(estates)] if estates else []
    if anywhere:
        terms.append(column.is_(None))
    return stmt.where(or_(*terms) if terms else false())


@bp.get("/audit")
@login_required
def audit() -> str:
    """Show the audit log, newest first, filtered by estate and dates."""
    _readable()
    estate = query_text("estate", 64) or None
    stmt = _scope(select(AuditLog), AuditLog.estate_id, estate)
    stmt, days = _between(stmt, AuditLog.at)
    page = paged(db.session(), stmt.order_by(AuditLog.at.desc(), AuditLog.id.desc()), row=_audit_row)
    query = {**days, **({"estate": estate} if estate else {})}
    return render_template("admin/audit.html", page=page, estates=actor_estates(db.session()), estate=estate,
                           days=days, query=query, names=dict(actor_estates(db.session())))


def _audit_row(row: AuditLog) -> dict[str, Any]:
    changes = dict(row.changes or {})
    if row.target == "resident" and not permissions.sees_residents(actor(), row.estate_id or ""):
        changes = {k: [_PERSONAL[k](v) if k in _PERSONAL and isinstance(v, str) else v for v in pair]
                   if isinstance(pair, list) else pair for k, pair in changes.items()}
    return {"at": row.at, "actor_name": row.actor_name, "estate_id": row.estate_id, "target": row.target,
            "target_id": row.target_id, "unit_id": row.unit_id, "action": row.action, "changes": changes}


@bp.get("/access")
@login_required
def access() -> str:
    """Show the access log, newest first, filtered by the person who looked and by dates."""
    _readable()
    who = query_text("user", 100)
    stmt = _scope(select(AccessLog), AccessLog.estate_id, None)
    if who:
        stmt = stmt.where(AccessLog.user_name.contains(who, autoescape=True))
    stmt, days = _between(stmt, AccessLog.at)
    page: Paged = paged(db.session(), stmt.order_by(AccessLog.at.desc(), AccessLog.id.desc()))
    query = {**days, **({"user": who} if who else {})}
    return render_template("admin/access.html", page=page, user=who, days=days, query=query, kinds=KINDS,
                           names=dict(actor_estates(db.session())))


# -- putting audit rows into words ----------------------------------------------------------------


def audit_action(action: str) -> str:
    """An audit row's action in Chinese."""
    return ACTIONS.get(action, action)


def audit_target(target: str) -> str:
    """What kind of record an audit row is about, in Chinese."""
    return TARGETS.get(target, target)


def audit_field(name: str, target: str | None = None) -> str:
    """A changed field's name in Chinese (an estate's `name` is its 名称, a person's their 姓名)."""
    if name == "name" and target in ("estate", "building"):
        return "名称"
    return FIELDS.get(name, name)


def _shown(value: Any, labels: dict[str, str]) -> str:
    if value is None or value == "" or value == []:
        return "（空）"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(labels.get(str(v), str(v)) for v in value) or "（空）"
    return VALUES.get(str(value), str(value))


def audit_change(pair: Any, labels: dict[str, str] | None = None) -> str:
    """`[old, new]` as 旧 → 新 (role ids by their labels)."""
    named = labels or {}
    if isinstance(pair, list) and len(pair) == 2:
        old, new = pair
        return _shown(new, named) if old is None else f"{_shown(old, named)} → {_shown(new, named)}"
    return _shown(pair, named)


def init_app(app: Flask) -> None:
    """Register the filters the admin and unit pages use."""
    for name, function in (("audit_action", audit_action), ("audit_target", audit_target),
                           ("audit_field", audit_field), ("audit_change", audit_change)):
        app.add_template_filter(function, name)
