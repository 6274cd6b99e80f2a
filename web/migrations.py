"""迁移进行中的事项: move a workflow's open items in one estate to its newest version.

    GET  /admin/workflows/<id>/migrate?estate=E[&map=OLD=NEW...]   the dry run: each item's old → new state,
                                                                  missing fields, changed deadlines; a select
                                                                  per state the new version has no place for
    POST /admin/workflows/<id>/migrate                            apply (estate and map as form fields)

Admins only (permissions.may_author, 403 otherwise), as for editing the definitions; an estate the
user does not work in is a 404. The dry run replans each item's deadlines in a savepoint rolled back at
once, so it shows what applying does (engine/runtime/item_migration.py), and the POST plans again:
items changed since the page was shown are moved as they are now, or skipped and named.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.access import permissions
from engine.errors import ItemNotFound, UnmappedStates
from engine.runtime.item_migration import MigrationPlan, plan_migration, run_migration
from engine.runtime.registry import REGISTRY
from engine.views import listing
from web import db
from web.auth import actor

bp = Blueprint("migrations", __name__, url_prefix="/admin/workflows")

FORBIDDEN = "只有系统管理员可以迁移事项到新版本。"
NOT_FOUND = "没有这个流程，或这个小区不在您的管理范围内。"
MAX_MAP = 100
"""States a map may name: more is not a workflow, it is a request to refuse."""


def _estate(values: dict[str, str]) -> tuple[str, list[tuple[str, str]]]:
    """The estate asked for (else the user's first) and the user's estates. :raise 403/404."""
    if not permissions.may_author(actor()):
        abort(403, FORBIDDEN)
    mine = listing.estates_of(db.session(), actor())
    asked = (values.get("estate") or "").strip()[:64]
    if asked and asked not in {e for e, _name in mine}:
        abort(404, NOT_FOUND)
    estate = asked or (mine[0][0] if mine else "")
    if not estate:
        abort(404, NOT_FOUND)
    return estate, mine


def _mapping(pairs: list[str]) -> dict[str, str]:
    """`OLD=NEW` values (the selects send them so) as a map; empty choices are left out."""
    found: dict[str, str] = {}
    for pair in pairs[:MAX_MAP]:
        old, sep, new = pair.partition("=")
        if sep and old.strip() and new.strip():
            found[old.strip()[:64]] = new.strip()[:64]
    return found


def _plan(workflow_id: str, estate: str, mapping: dict[str, str]) -> MigrationPlan:
    # The dry run writes in savepoints it rolls back: on a write session, never the read one of the
    # request (on SQLite a read transaction cannot always become a write one).
    with db.database().writer() as session:
        try:
            return plan_migration(session, workflow_id, estate, mapping=mapping, calendars=db.calendars(),
                                  clock=db.clock())
        except ItemNotFound:
            abort(404, NOT_FOUND)
        finally:
            session.rollback()


@bp.get("/<workflow_id>/migrate")
@login_required
def show(workflow_id: str) -> str:
    """The dry run of moving the estate's open items to the newest version, and the form to apply it."""
    estate, estates = _estate(request.args.to_dict())
    mapping = _mapping(request.args.getlist("map"))
    plan = _plan(workflow_id, estate, mapping)
    target = REGISTRY.compiled(db.session(), plan.target_id)
    return render_template("migrations/show.html", workflow_id=workflow_id, title=target.title, plan=plan,
                           states=[(name, spec.label) for name, spec in target.states.items()],
                           new_labels={name: spec.label for name, spec in target.states.items()},
                           estate=estate, estates=estates, estate_names=dict(estates), mapping=mapping)


@bp.post("/<workflow_id>/migrate")
@login_required
def apply(workflow_id: str) -> Response:
    """Move the items (one history event each, in batches); the result as a flash message."""
    estate, _estates = _estate(request.form.to_dict())
    mapping = _mapping(request.form.getlist("map"))
    back = url_for(".show", workflow_id=workflow_id, estate=estate, map=[f"{o}={n}" for o, n in mapping.items()])
    try:
        report = run_migration(db.database().writer, workflow_id, estate, actor=actor(), mapping=mapping,
                               calendars=db.calendars(), clock=db.clock())
    except ItemNotFound:
        abort(404, NOT_FOUND)
    except UnmappedStates as error:
        flash(f"没有迁移任何事项：{len(error.states)} 个状态在新版本中没有对应状态，请为它们选择新状态。", "error")
        return redirect(back)
    if report.moved or not report.skipped:
        flash(f"已将 {report.moved} 项事项迁移到第 {report.target_version} 版。", "success")
    if report.skipped:
        numbers = "、".join(number for number, _why in report.skipped)
        flash(f"{len(report.skipped)} 项事项在迁移期间已被他人更新，未迁移：{numbers}。可以再次迁移。", "error")
    return redirect(back)
