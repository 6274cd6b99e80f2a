"""Workflows: the diagram and state counts, one workflow's list, and the create form.

Definitions come from the registry (the published versions), never from the YAML
files: a workflow page shows what items actually run on.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import login_required
from markupsafe import Markup
from werkzeug.wrappers import Response

from engine.access import permissions
from engine.errors import InvalidFields, TransitionError
from engine.language.definition import TransitionDef, WorkflowDefinition
from engine.language.drawing import svg
from engine.language.graph import mermaid
from engine.runtime.items import create
from engine.runtime.registry import REGISTRY
from engine.views import listing
from web import db, errors, files, forms, units
from web.auth import actor
from web.items import render_list

bp = Blueprint("workflows", __name__, url_prefix="/workflows")


def get_definition(workflow_id: str, estate: str | None = None) -> WorkflowDefinition:
    """The current published definition for the user's estate.

    :raise 404: no such published workflow.
    """
    who = actor()
    place = estate if estate and permissions.works_in(who, estate) else min(who.estates or {""})
    current = REGISTRY.current(db.session(), workflow_id, place)
    if current is None:
        abort(404)
    return current.definition


@bp.get("/<workflow_id>")
@login_required
def show(workflow_id: str) -> str:
    """Show a workflow: the drawn diagram coloured by counts, its states with steps, and the Mermaid text.

    ?focus=STATE draws only that state's steps (an unknown state is ignored).
    """
    definition = get_definition(workflow_id)
    counts = listing.state_counts(db.session(), actor(), workflow_id)
    leaving = {s: _steps(definition.transitions_from(s)) for s in definition.states}
    focus = request.args.get("focus")
    focus = focus if focus in definition.states else None
    return render_template("workflows/show.html", definition=definition, counts=counts, leaving=leaving,
                           focus=focus, drawing=_drawing(definition, counts, focus),
                           diagram=mermaid(definition))


def _drawing(definition: WorkflowDefinition, counts: dict[str, int], focus: str | None) -> Markup:
    """The SVG diagram: each state links to its items, its corner mark to the focused view."""
    links = {s: url_for("workflows.items", workflow_id=definition.id, state=s) for s in definition.states}
    focus_links = {s: url_for("workflows.show", workflow_id=definition.id, focus=s) + "#diagram"
                   for s in definition.states}
    # drawing.svg escapes every text and writes presentation attributes only (no script, no style).
    return Markup(svg(definition, counts=counts, links=links, focus=focus, focus_links=focus_links))


def _steps(transitions: tuple[TransitionDef, ...]) -> list[tuple[str, str, tuple[str, ...]]]:
    """(label, target, roles) once per label and target: branches that differ only in their
    condition (one per department, say) are one step to the reader."""
    steps: dict[tuple[str, str], list[str]] = {}
    for t in transitions:
        roles = steps.setdefault((t.label, t.dest), [])
        roles.extend(r for r in t.roles if r not in roles)
    return [(label, dest, tuple(roles)) for (label, dest), roles in steps.items()]


@bp.get("/<workflow_id>/items")
@login_required
def items(workflow_id: str) -> str:
    """List one workflow's items, with its states as a filter."""
    return render_list(get_definition(workflow_id))


def _form(definition: WorkflowDefinition, estate: str, submitted: Any = None,
          error: TransitionError | None = None) -> str:
    # A new item has no stored values to convert, so the app's zone is enough here.
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    session = db.session()
    names = listing.create_fields(definition)
    # The engine reports ill-typed and missing fields together: shown as it says.
    field_errors = dict(error.fields) if isinstance(error, InvalidFields) else {}
    start = {} if submitted is not None else _starting_values(definition, names, estate)
    options = forms.pickers(session, definition, names, estate, {**start, **(submitted or {})})
    inputs = forms.widgets(definition, names, start, tz, submitted, field_errors, options=options, estate=estate)
    general = [f"{n}：{why}" for n, why in field_errors.items() if n not in names]
    q = "" if submitted is not None else (request.args.get("q") or "").strip()[:units.MAX_QUERY]
    return render_template("workflows/new.html", definition=definition, inputs=inputs, general=general,
                           estates=listing.estates_of(session, actor()), estate=estate,
                           comment=(submitted or {}).get("comment", ""), q=q, unit_field=units.unit_field(definition),
                           **units.lookup_results(q, estate))


def _starting_values(definition: WorkflowDefinition, names: tuple[str, ...], estate: str) -> dict[str, str]:
    """What a fresh form starts with: the unit a lookup link names (?unit=3-1-502), then the routed people."""
    start: dict[str, str] = {}
    field = units.unit_field(definition)
    number = (request.args.get("unit") or "").strip()[:64]
    if field is not None and number:
        start[field] = number
    start |= forms.routed(db.session(), definition, names, estate, start)
    return start


@bp.route("/<workflow_id>/new", methods=("GET", "POST"))
@login_required
def new(workflow_id: str) -> str | Response:
    """Register a new item (who may: engine/access/permissions.py; a refusal is 403).

    A GET may name the estate and the unit (?estate=demo&unit=3-1-502: the lookup's 为此房号登记)
    and a caller to look up first (?q=13812345678).
    """
    who = actor()
    estate = request.form.get("estate") or request.args.get("estate") or min(who.estates or {""})
    definition = get_definition(workflow_id, estate)
    permissions.check_create(db.session(), who, definition, estate)
    if request.method == "GET":
        return _form(definition, estate)
    data: dict[str, Any] = {**forms.field_data(request.form, listing.create_fields(definition)),
                            **files.uploads(definition, listing.create_fields(definition))}
    errors.show_again(lambda error: _form(definition, estate, request.form, error))
    with db.write() as writing:
        item = create(writing, workflow=workflow_id, estate=estate, actor=who, data=data,
                      comment=forms.comment(request.form), clock=db.clock(), calendars=db.calendars())
    flash(f"已登记 {item.number}", "success")
    return redirect(url_for("items.show", item_id=item.id))
