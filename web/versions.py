"""版本记录: a workflow's published versions for one estate, and the difference between any two.

    GET /workflows/<id>/versions?estate=E                  every version (who, when, comment), the one new
                                                           items get, how many items each holds
    GET /workflows/<id>/versions/diff?estate=E&a=..&b=..   what changed from version a to b: a summary by
                                                           subject and the YAML diff with line numbers

Checked here, on the server: an admin, or a manager of that estate (permissions.may_manage_estate), else
403; an estate the user does not work in is a 404, as another estate's item is. Versions are read from the
database (engine/views/versions.py), the text the items run on, never from the YAML files. Read-only GETs.
"""

from __future__ import annotations

from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import login_required

from engine.access import permissions
from engine.language.diff import compare, grouped, text_diff, yaml_text
from engine.runtime.registry import REGISTRY
from engine.views import listing
from engine.views.versions import VersionRow, stored_version, versions
from web import db
from web.auth import actor

bp = Blueprint("versions", __name__, url_prefix="/workflows")

NOT_FOUND = "没有这个流程或版本，或它不属于您所在的小区。"
FORBIDDEN = "只有系统管理员和本小区的经理可以查看流程的版本记录。"


def _may_see(estate: str) -> bool:
    who = actor()
    return permissions.may_author(who) or permissions.may_manage_estate(who, estate)


def _estate() -> tuple[str, list[tuple[str, str]]]:
    """The estate asked for (else the user's first one they may see versions of) and those they may choose.

    :raise 404: an estate the user does not work in.
    :raise 403: the user may not see this estate's versions.
    """
    mine = listing.estates_of(db.session(), actor())
    choices = [(e, name) for e, name in mine if _may_see(e)]
    asked = (request.args.get("estate") or "").strip()
    if asked and asked not in {e for e, _name in mine}:
        abort(404, NOT_FOUND)
    estate = asked or (choices[0][0] if choices else (mine[0][0] if mine else ""))
    if not estate:
        abort(404, NOT_FOUND)
    if not _may_see(estate):
        abort(403, FORBIDDEN)
    return estate, choices


def _listed(workflow_id: str, estate: str) -> tuple[str, list[VersionRow]]:
    """The workflow's title (as new items get it) and its versions. :raise 404: never published."""
    session = db.session()
    rows = versions(session, workflow_id, estate)
    current = REGISTRY.current(session, workflow_id, estate)
    if not rows or current is None:
        abort(404, NOT_FOUND)
    return current.definition.title, rows


def _migrate_url(workflow_id: str, estate: str) -> str | None:
    """The page that moves running items to the newest version, for admins (when the app has it)."""
    if not permissions.may_author(actor()) or "migrations.show" not in current_app.view_functions:
        return None
    return url_for("migrations.show", workflow_id=workflow_id, estate=estate)


@bp.get("/<workflow_id>/versions")
@login_required
def index(workflow_id: str) -> str:
    """Every version of the workflow an item of the estate can be on, newest first."""
    estate, choices = _estate()
    title, rows = _listed(workflow_id, estate)
    return render_template("versions/index.html", workflow_id=workflow_id, title=title, rows=rows,
                           estate=estate, estates=choices, estate_names=dict(choices),
                           previous=_previous_of(rows), migrate_url=_migrate_url(workflow_id, estate))


def _previous_of(rows: list[VersionRow]) -> dict[int, int]:
    """Each version's id → the id of the one before it: the older one of its own series (the estate's or
    the base), else the next older in the list; the oldest has none."""
    previous: dict[int, int] = {}
    for i, row in enumerate(rows):
        older = rows[i + 1:]
        before = next((r for r in older if r.estate_id == row.estate_id), older[0] if older else None)
        if before is not None:
            previous[row.id] = before.id
    return previous


def _chosen(name: str, rows: list[VersionRow], default: int | None) -> int | None:
    """The version id of argument `name` (default when absent). :raise 404: not one of `rows`."""
    text = (request.args.get(name) or "").strip()
    if not text:
        return default
    if not text.isdigit() or int(text) not in {r.id for r in rows}:
        abort(404, NOT_FOUND)
    return int(text)


@bp.get("/<workflow_id>/versions/diff")
@login_required
def diff(workflow_id: str) -> str:
    """What changed from version `a` to version `b` (default: the one before the current, and the current)."""
    estate, choices = _estate()
    title, rows = _listed(workflow_id, estate)
    current = next((r for r in rows if r.current), rows[0])
    b = _chosen("b", rows, current.id)
    a = _chosen("a", rows, _previous_of(rows).get(b) if b is not None else None)
    session = db.session()
    old = stored_version(session, workflow_id, estate, a) if a is not None else None
    new = stored_version(session, workflow_id, estate, b) if b is not None else None
    if new is None:
        abort(404, NOT_FOUND)
    summary, lines = [], ()
    if old is not None:
        summary = grouped(compare(old.document, new.document, role_labels=listing.role_labels(session)))
        lines = text_diff(yaml_text(old.document), yaml_text(new.document))
    return render_template("versions/diff.html", workflow_id=workflow_id, title=title, rows=rows, estate=estate,
                           estates=choices, estate_names=dict(choices), old=old, new=new, a=a, b=b,
                           summary=summary, lines=lines, migrate_url=_migrate_url(workflow_id, estate))
