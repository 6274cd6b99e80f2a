"""管理 › 导入与导出: spreadsheets of units and residents, and of staff (engine/org/imports.py, exports.py).

    GET  /admin/import            choose the kind (units or users) and the CSV/XLSX file
    POST /admin/import            the preview: rows to add, update, leave unchanged; every problem as
                                  `ROW: column: message`; a confirm button only when there is none
    POST /admin/import/confirm    plan again and write, all or nothing (new users' one-time passwords shown once)
    GET  /admin/export            choose what, which estate, CSV or XLSX
    GET  /admin/export/download   the file (an export with residents in full is in the access log)

The preview page carries the file itself (base64, in the confirm form), so confirming writes
exactly the file that was previewed, planned again against the database as it is then, and
nothing is kept on the server between the two requests.
"""

from __future__ import annotations

import base64
import binascii
from pathlib import PurePath

from flask import Blueprint, Flask, abort, render_template, request
from flask_login import login_required
from werkzeug.wrappers import Response

from engine.errors import TableError
from engine.org import exports, imports
from engine.org.tables import MAX_BYTES, write_table
from web import db
from web.admin import form_text, guard, managed_estates, query_text
from web.auth import actor

bp = Blueprint("admin_data", __name__, url_prefix="/admin")
guard(bp)
KINDS = {"units": "房号与住户", "users": "员工与岗位"}
FORMATS = {"csv": "CSV（Excel 可打开）", "xlsx": "Excel（.xlsx）"}
_SUFFIXES = (".csv", ".xlsx")


def init_app(app: Flask) -> None:
    """Let the confirmation carry the previewed file (base64) past the default form size limit.

    Registered before CSRFProtect, whose check reads the form first.
    """

    def allow_the_file() -> None:
        if request.endpoint == "admin_data.confirm":
            request.max_form_memory_size = MAX_BYTES * 4 // 3 + 4096

    app.before_request(allow_the_file)


@bp.get("/import")
@login_required
def upload() -> str:
    """Show the upload form."""
    return render_template("admin/import.html", kinds=KINDS, kind=request.args.get("kind", "units"), problems=[])


def _plan(kind: str, data: bytes, filename: str, session: object) -> imports.ImportPlan:
    rows = imports.read_table(data, filename)
    planner = imports.plan_users if kind == "users" else imports.plan_units
    return planner(session, actor(), rows, filename)  # type: ignore[arg-type]


@bp.post("/import")
@login_required
def preview() -> str | tuple[str, int]:
    """Read the uploaded file and show what importing it would do; nothing is written."""
    kind = form_text("kind", 10)
    upload = request.files.get("file")
    if kind not in KINDS:
        abort(400)
    if upload is None or not upload.filename:
        return render_template("admin/import.html", kinds=KINDS, kind=kind, problems=["请选择要导入的文件"]), 422
    filename = PurePath(upload.filename.replace("\\", "/")).name[:100] or "upload.csv"
    if not filename.lower().endswith(_SUFFIXES):
        return render_template("admin/import.html", kinds=KINDS, kind=kind,
                               problems=["只能导入 .csv 或 .xlsx 文件"]), 422
    data = upload.stream.read(MAX_BYTES + 1)
    return _preview(kind, filename, data)


def _preview(kind: str, filename: str, data: bytes) -> str | tuple[str, int]:
    try:
        plan = _plan(kind, data, filename, db.session())
    except TableError as error:
        return render_template("admin/import_preview.html", kind=kind, kinds=KINDS, filename=filename, plan=None,
                               problems=error.problems, payload=None), 422
    payload = base64.b64encode(data).decode("ascii") if not plan.problems else None
    html = render_template("admin/import_preview.html", kind=kind, kinds=KINDS, filename=filename, plan=plan,
                           problems=plan.problems, payload=payload)
    return (html, 422) if plan.problems else html


@bp.post("/import/confirm")
@login_required
def confirm() -> str | tuple[str, int]:
    """Plan the previewed file again and write it, all or nothing; show what was done."""
    kind = form_text("kind", 10)
    filename = PurePath(form_text("filename", 100)).name or "upload.csv"
    if kind not in KINDS or not filename.lower().endswith(_SUFFIXES):
        abort(400)
    try:
        data = base64.b64decode(request.form.get("payload") or "", validate=True)
    except (binascii.Error, ValueError):
        abort(400)
    try:
        with db.write() as writing:
            plan = _plan(kind, data, filename, writing)
            applied = imports.apply(writing, actor(), plan, today=db.clock().now().date())
    except TableError:
        # The data changed since the preview (or the file was forged): show the problems, nothing written.
        return _preview(kind, filename, data)
    return render_template("admin/import_done.html", kind=kind, kinds=KINDS, filename=filename, plan=applied.plan,
                           passwords=applied.passwords)


@bp.get("/export")
@login_required
def export() -> str:
    """Show the export form."""
    return render_template("admin/export.html", kinds=KINDS, formats=FORMATS, estates=managed_estates(db.session()))


@bp.get("/export/download")
@login_required
def download() -> Response:
    """The chosen estate's units (with residents) or staff, as CSV or XLSX."""
    kind, estate, form = query_text("kind", 10), query_text("estate", 64), query_text("format", 5)
    if kind not in KINDS or form not in FORMATS or not estate:
        abort(400)
    with db.write() as writing:
        if kind == "units":
            rows, columns = exports.export_units(writing, actor(), estate), exports.UNIT_COLUMNS
        else:
            rows, columns = exports.export_users(writing, actor(), estate), exports.USER_COLUMNS
    # Named after the estate only now: the export has checked it is one the user manages (a plain id).
    filename = f"{kind}-{estate}-{db.clock().now().date().isoformat()}.{form}"
    body = write_table(columns, rows, filename)
    mimetype = ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" if form == "xlsx"
                else "text/csv; charset=utf-8")
    return Response(body, mimetype=mimetype,
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
