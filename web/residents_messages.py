"""短信通知业主 on the item page, and the SMS gateway's reports of residents' replies.

    POST /items/<id>/resident-messages/<field>   staff record consent or opt-out for the number in a
                                                 phone field (engine/runtime/resident_choices.py)
    POST /units/<id>/residents/<rid>/messages    the same from the unit page (一户一档), for a resident's number
    POST /sms/inbound                            the gateway reports a reply (TD → opted out); JSON
                                                 {"phone": ..., "text": ..., "estate": optional},
                                                 signed like our requests to it: X-Estateflow-Signature
                                                 = sha256=HMAC-SHA256(ESTATEFLOW_SMS_WEBHOOK_SECRET, body)

The panel itself (items/_resident_messages.html) reads engine/views/resident_messages.py through
the template global `resident_messages_panel(page)`. /sms/inbound has no session and no CSRF token:
the signature is its authentication, and without a configured secret the endpoint does not exist (404).
"""

from __future__ import annotations

import hmac
import json
import os
from typing import Any

from flask import Blueprint, Flask, abort, current_app, flash, jsonify, redirect, request, url_for
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import InvalidFields
from engine.runtime.resident_choices import record_for_item, record_for_resident, record_reply
from engine.runtime.sms import sign
from engine.views import resident_messages as panels
from engine.views.item import ItemPage
from web import db
from web.auth import actor

bp = Blueprint("resident_messages", __name__)
MAX_INBOUND = 4096
"""A reply report is a few fields: anything larger is refused before it is read."""
CHOICES = {"consented": "已登记：同意接收提醒短信", "opted_out": "已登记：退订短信"}


def init_app(app: Flask) -> None:
    """The panel's template global, and the inbound report exempt from CSRF (it is signed instead)."""
    from web import csrf

    csrf.exempt(inbound)

    @app.context_processor
    def panel_global() -> dict[str, Any]:
        def resident_messages_panel(page: ItemPage) -> panels.Panel | None:
            return panels.panel(db.session(), page)

        def resident_choices(unit_id: int) -> tuple[panels.ResidentChoice, ...]:
            return panels.unit_choices(db.session(), actor(), unit_id)

        return {"resident_messages_panel": resident_messages_panel, "resident_choices": resident_choices}


@bp.post("/items/<int:item_id>/resident-messages/<field>")
@login_required
def choose(item_id: int, field: str) -> Response:
    """Record the resident's choice (同意接收提醒短信 / 退订短信) for the item's number in `field`."""
    status = request.form.get("status", "")
    note = (request.form.get("note") or "").strip()[:200]
    try:
        with db.write() as writing:
            shown = record_for_item(writing, actor(), item_id, field[:64], status, now=db.clock().now(), note=note)
    except InvalidFields as error:
        flash("；".join(error.fields.values()), "error")
    else:
        flash(f"{CHOICES.get(status, '已登记')}（{shown}）", "success")
    return redirect(url_for("items.show", item_id=item_id))


@bp.post("/units/<int:unit_id>/residents/<int:resident_id>/messages")
@login_required
def choose_for_resident(unit_id: int, resident_id: int) -> Response:
    """Record a resident's choice from the unit page."""
    status = request.form.get("status", "")
    note = (request.form.get("note") or "").strip()[:200]
    try:
        with db.write() as writing:
            shown = record_for_resident(writing, actor(), resident_id, status, now=db.clock().now(), note=note)
    except InvalidFields as error:
        flash("；".join(error.fields.values()), "error")
    else:
        flash(f"{CHOICES.get(status, '已登记')}（{shown}）", "success")
    return redirect(url_for("units.show", unit_id=unit_id))


def _secret() -> str | None:
    return current_app.config.get("SMS_WEBHOOK_SECRET") or os.environ.get("ESTATEFLOW_SMS_WEBHOOK_SECRET") or None


@bp.post("/sms/inbound")
def inbound() -> tuple[Response, int] | Response:
    """A reply the gateway reports, checked by its signature; TD opts the number out."""
    secret = _secret()
    if secret is None:
        abort(404)
    if (request.content_length or 0) > MAX_INBOUND:
        abort(413)
    body = request.get_data(cache=False)
    given = request.headers.get("X-Estateflow-Signature", "")
    if not hmac.compare_digest(sign(secret, body), given):
        return jsonify({"error": "bad signature"}), 403
    try:
        document = json.loads(body)
    except ValueError:
        return jsonify({"error": "not JSON"}), 400
    phone, text, estate = (document.get(k) if isinstance(document, dict) else None for k in ("phone", "text", "estate"))
    if not isinstance(phone, str) or not isinstance(text, str) or not (estate is None or isinstance(estate, str)):
        return jsonify({"error": "phone and text are strings, estate a string if given"}), 400
    try:
        with db.write() as writing:
            recorded = record_reply(writing, phone, text, now=db.clock().now(), estate=estate)
    except InvalidFields as error:
        return jsonify({"error": ", ".join(error.fields)}), 400
    return jsonify({"opted_out": recorded})
