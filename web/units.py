"""一户一档 and 查询来电: the unit page and the front desk's caller lookup (engine/views/units.py).

    GET /units/<id>        the unit record: residents (masked per the engine), tags, history, every item
    GET /lookup?q=         a phone or 房号: matching units, each with open items and the last closed ones

Both pages may show residents in full, which the engine writes to the access log; they read
and log in the request's one write transaction, so a page that failed logs nothing. A unit
of another estate is answered 404, like a missing one; a phone search by a post that may not
see phones is refused by the engine (shown as a message on the lookup page).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template, request
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.access import permissions
from engine.errors import NotPermitted
from engine.org import estates
from engine.runtime.registry import REGISTRY
from engine.views import listing
from engine.views import units as unit_views
from web import db
from web.auth import actor
from web.pages import building

bp = Blueprint("units", __name__)
MAX_QUERY = 50
SUGGESTIONS = 10


@bp.get("/units/<int:unit_id>")
@login_required
def show(unit_id: int) -> str:
    """Show the unit record, its residents, history and items of every workflow, newest first."""
    with db.write() as writing:
        record = unit_views.unit_record(writing, actor(), unit_id, now=db.clock().now())
    return render_template("units/show.html", record=record, creatable=creatable(record.estate_id))


def creatable(estate: str) -> list[tuple[str, str]]:
    """(workflow id, title) of the workflows the user may register in `estate`, with a `unit` field."""
    who = actor()
    found = []
    for definition in listing.published(db.session(), who):
        current = REGISTRY.current(db.session(), definition.id, estate)
        if current is None:
            continue
        shown = current.definition
        if unit_field(shown) and permissions.may_create(who.at(estate), shown, estate):
            found.append((shown.id, shown.title))
    return found


def unit_field(definition: Any) -> str | None:
    """The `unit` field of the create form that a 为此房号登记 link fills in (None: the form has none)."""
    asked = set(listing.create_fields(definition))
    return next((name for name, f in definition.fields.items() if f.type == "unit" and name in asked), None)


@bp.get("/units/suggest")
@login_required
def suggest() -> Response:
    """JSON for static/units.js: up to 10 units of the estate whose 房号 contains `q` (numbers only:
    a phone or a name is never matched here, so suggestions show no resident)."""
    q = (request.args.get("q") or "").strip()[:MAX_QUERY]
    estate = (request.args.get("estate") or "").strip()[:64] or None
    if not q or estates.is_phone_query(q):
        return jsonify({"units": []})
    hits = estates.find_units(db.session(), actor(), q, estate=estate, limit=SUGGESTIONS,
                              today=db.clock().now().date())
    return jsonify({"units": [{"number": h.number, "label": f"{h.number}（{building(h.building)}）"}
                              for h in hits if h.matched == "number"]})


@bp.get("/lookup")
@login_required
def lookup() -> str:
    """Find the caller's unit by phone or 房号, with its open items and last three closed ones."""
    q = (request.args.get("q") or "").strip()[:MAX_QUERY]
    return render_template("units/lookup.html", q=q, **lookup_results(q))


def lookup_results(q: str, estate: str | None = None) -> dict[str, Any]:
    """What the lookup shows for `q`: {'matches': [...], 'refused': message or None, 'targets': [...]}.

    Also used by the new-item form (web/workflows.py) to show the caller's unit before registering.
    """
    if not q:
        return {"matches": [], "refused": None, "targets": []}
    try:
        with db.write() as writing:
            matches = unit_views.lookup(writing, actor(), q, estate=estate, now=db.clock().now())
    except NotPermitted as refusal:
        return {"matches": [], "refused": refusal.message, "targets": []}
    places = {m.unit.estate_id for m in matches}
    return {"matches": matches, "refused": None, "targets": {e: creatable(e) for e in places}}
