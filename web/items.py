"""Items: 我的待办, the lists, the item page and firing a transition.

Every view reads through the engine with the logged-in user's Actor, so the estate,
role, visibility and masking rules are the engine's (engine/access); refusals become
status codes in web/errors.py only. An item the user may not see is a 404, like a
missing one. The item page shows personal fields in full when the engine allows it and
then writes one access_log row per view (engine.org.audit.accessed, kind 'view').
A phone typed into a list's search by a post that may not see phones is refused with a
message; the list is shown without the search.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.access import branches, permissions
from engine.errors import GuardFailed, InvalidFields, NotPermitted, TransitionError
from engine.language import fields
from engine.language.definition import WorkflowDefinition
from engine.org import audit, staff
from engine.reports.dashboard import dashboard
from engine.runtime.items import fire as fire_transition
from engine.runtime.items import get_item
from engine.runtime.registry import REGISTRY
from engine.views import listing
from engine.views.inbox import inbox as inbox_page
from engine.views.item import item_page as read_item_page
from engine.views.logs import step_records
from web import db, errors, files, forms
from web.auth import actor
from web.security import MAX_ID

bp = Blueprint("items", __name__)


MAX_PAGE = 100_000
"""Beyond it a page number is a typo or a probe (20 items a page: two million items): 404,
before the offset overflows the database's integer."""


def _page() -> int:
    """The `page` argument: 1 when missing or not a number, 404 when absurdly large."""
    page = max(1, request.args.get("page", 1, type=int) or 1)
    if page > MAX_PAGE:
        abort(404)
    return page


def _date(name: str) -> date | None:
    text = request.args.get(name, "").strip()
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        flash("日期格式不正确（应为 2026-03-02），已忽略", "error")
        return None
    if day is not None and not fields.MIN_DATE <= day <= fields.MAX_DATE:
        flash(f"{fields.DATE_RANGE_MESSAGE}，已忽略", "error")
        return None
    return day


@bp.get("/")
@login_required
def inbox() -> str:
    """Show 我的待办: items the user can act on now, most urgent first."""
    session = db.session()
    page = inbox_page(session, actor(), page=_page(), per_page=current_app.config["PER_PAGE"],
                      now=db.clock().now())
    # Open items whose person was disabled without a hand-over: supervisors see them here, so nothing stalls.
    stalled = staff.unattended(session, actor()) if page.page == 1 else []
    # The role's figures (today's deadlines, the dashboard reports, the desk's own) head the first page.
    figures = dashboard(session, actor(), now=db.clock().now(), calendars=db.calendars(),
                        panels=current_app.extensions["estateflow.report_panels"]) if page.page == 1 else None
    return render_template("items/inbox.html", page=page, stalled=stalled, figures=figures)


def render_list(definition: WorkflowDefinition | None) -> str:
    """A filtered, paginated list of one workflow's items (or of all, `definition` None)."""
    args = request.args
    workflow = definition.id if definition else (args.get("workflow") or None)
    filters = listing.Filters(
        workflow=workflow, state=args.get("state") or None, estate=args.get("estate") or None,
        overdue=args.get("overdue") == "1", date_from=_date("from"), date_to=_date("to"),
        q=(args.get("q") or "").strip()[:100] or None,
    )
    session = db.session()
    try:
        page = _list(filters)
    except NotPermitted as refusal:
        # A phone number searched by a post that may not see phones: say so, list without the search.
        flash(refusal.message, "error")
        filters = replace(filters, q=None)
        page = _list(filters)
    chosen = definition
    if chosen is None and workflow:
        chosen = next((d for d in listing.published(session, actor()) if d.id == workflow), None)
    query = {k: v for k, v in args.items() if k != "page" and v and (k != "q" or filters.q)}
    if definition:
        query["workflow_id"] = definition.id
    may_create = definition is not None and permissions.may_create(actor(), definition)
    return render_template("items/list.html", page=page, filters=filters, definition=definition, chosen=chosen,
                           estates=listing.estates_of(session, actor()), query=query, may_create=may_create)


def _list(filters: listing.Filters) -> listing.Page:
    return listing.list_items(db.session(), actor(), filters, page=_page(), per_page=current_app.config["PER_PAGE"],
                              now=db.clock().now(), tz=current_app.config["TIMEZONE"])


@bp.get("/items")
@login_required
def index() -> str:
    """List the items of every workflow."""
    return render_list(None)


def item_page(item_id: int, *, open_name: str | None = None, submitted: Any = None,
              error: TransitionError | None = None) -> str:
    """Render the item page; with `open_name` (a Choice's key: the name, or name-branch), that form is
    open with the error shown."""
    session = db.session()
    who = actor()
    now = db.clock().now()
    page = read_item_page(session, item_id, who, now=now)
    item, definition = page.item, page.definition
    tz = ZoneInfo(page.timezone)
    field_errors = error.fields if isinstance(error, InvalidFields) else {}
    actions = []
    for choice in page.choices:
        is_open = choice.key == open_name
        # People are picked by display name from the estate's staff holding the field's roles; an empty
        # routed field (dispatch → the trade's lead, the building's housekeeper) starts with its person.
        options = forms.pickers(session, definition, choice.fields, item.estate_id, item.values)
        start = {**item.values, **forms.routed(session, definition, choice.fields, item.estate_id, item.values,
                                               unit_id=item.unit_id)}
        # A branch's form offers only the options it can fire with (回访满意: 满意, 较满意); a stored
        # value outside them (an earlier round's answer) is not offered as this form's answer.
        options.update(forms.narrowed(definition, choice.options, submitted if is_open else None))
        start = {n: v for n, v in start.items() if n not in choice.options or v in choice.options[n]}
        inputs = forms.widgets(definition, choice.fields, start, tz, submitted if is_open else None,
                               field_errors if is_open else None, required=choice.required, options=options,
                               estate=item.estate_id)
        general = []
        if is_open and isinstance(error, GuardFailed):
            general.append(error.message)  # plain words from the engine, never the expression
        if is_open:
            general += [f"{definition.fields[n].label if n in definition.fields else n}：{why}"
                        for n, why in field_errors.items() if n not in choice.fields]
        actions.append({"choice": choice, "inputs": inputs, "open": is_open, "general": general,
                        "comment": (submitted or {}).get("comment", "") if is_open else ""})
    html = render_template(
        "items/show.html", page=page, item=item, definition=definition, estate_name=page.estate_name,
        tz=page.timezone, fields=page.fields, state=page.state, actions=actions, now=now,
        timeline=page.timeline, linked=page.linked,
        records=step_records(session, item, definition, full=page.full),  # logs and countersigns
    )
    if page.shows_personal:
        # PIPL: each page view that showed personal data in full is on record (who, when, which item).
        with db.write() as writing:
            audit.accessed(writing, who, "view", estate_id=item.estate_id, item_id=item.id, clock=db.clock())
    return html


@bp.get("/items/<int:item_id>")
@login_required
def show(item_id: int) -> str:
    """Show an item: fields, state, deadline, timeline, links, and what the user may do."""
    return item_page(item_id)


@bp.post("/items/<int:item_id>/fire/<name>")
@login_required
def fire(item_id: int, name: str) -> Response:
    """Fire transition `name` with the version the page showed, the step's fields and a comment."""
    version = request.form.get("version", type=int)
    if version is None or not 0 <= version <= MAX_ID:  # an item's version is an INTEGER column too
        abort(400)
    who = actor()
    session = db.session()
    item = get_item(session, item_id, who)
    definition = REGISTRY.compiled(session, item.definition_id)
    branch = forms.branch(request.form)
    # Exactly what the step's form asks for (the chosen branch's, when the button was one branch's):
    # other fields in the request are ignored.
    placed = who.at(item.estate_id)
    asked = (permissions.form_fields(definition, item.state, name, placed) if branch is None
             else branches.form_fields(definition, item.state, name, placed, branch))
    data: dict[str, Any] = {**forms.field_data(request.form, asked), **files.uploads(definition, asked)}
    key = name if branch is None else f"{name}-{branch}"
    errors.show_again(lambda error: item_page(item_id, open_name=key, submitted=request.form, error=error))
    with db.write() as writing:
        done = fire_transition(writing, item_id, name, who, data, forms.comment(request.form), version,
                               clock=db.clock(), branch=branch, calendars=db.calendars())
    state = definition.states.get(done.state)
    flash(f"操作成功：{done.number} 现为“{state.label if state else done.state}”", "success")
    return redirect(url_for("items.show", item_id=item_id))
