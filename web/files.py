"""Attached files: serving a file or its thumbnail to whoever may see its item, and reading uploads.

    GET /files/<id>              the file: images inline, everything else as a download
    GET /files/<id>/thumbnail    an image's small JPEG
    uploads(definition, names)   the files a multipart form gives for the file fields of `names`

Who may open a file is who may see its item (engine/views/attachments.py): anyone else gets the
same 404 as for a file that does not exist. Each opening is written to the access log (PIPL); a
page's thumbnails are covered by the page's own row (engine/views/attachments.py says when). The
name shown in the download is the uploader's, cleaned and sent RFC 5987-encoded; the type sent is
the one sniffed from the bytes at upload, never the one the uploader's browser claimed, and
`nosniff` keeps the browser to it.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import quote

from flask import Blueprint, Flask, Response, request
from flask_login import login_required

from engine.files import attachments
from engine.language.definition import FieldDef, WorkflowDefinition
from engine.language.uploads import Upload
from engine.views.attachments import open_file, record_opening
from web import db
from web.auth import actor

bp = Blueprint("files", __name__, url_prefix="/files")

MAX_REQUEST = 60 * 1024 * 1024
"""A request's whole body, a step's form with its files included: above the largest file a field may take
(50MB). Flask's MAX_CONTENT_LENGTH (ESTATEFLOW_MAX_CONTENT_LENGTH) when a site sets it."""


def init_app(app: Flask) -> None:
    """Bound every request's size, so that no form with files is read past it (413, before it is read).

    App-wide, not per view: the first request hook (web/security.py's NUL check) already reads the form.
    """
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_REQUEST)
    if app.config["MAX_CONTENT_LENGTH"] is None:
        app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST


def uploads(definition: WorkflowDefinition, names: Iterable[str]) -> dict[str, list[Upload]]:
    """The uploaded files of the form's file fields among `names` (others, and empty inputs, ignored)."""
    found: dict[str, list[Upload]] = {}
    for name in names:
        field = definition.fields.get(name)
        if field is None or field.type != "file":
            continue
        given = [Upload(f.filename or "", f.read()) for f in request.files.getlist(name) if f.filename]
        if given:
            found[name] = given
    return found


_PICKER = {"image": "image/jpeg,image/png,image/gif,image/webp", "pdf": "application/pdf,.pdf",
           "office": ".doc,.docx,.xls,.xlsx,.ppt,.pptx"}


def accept_attribute(field: FieldDef) -> str:
    """The file input's `accept`: what the phone's picker offers (the server checks the bytes anyway)."""
    return ",".join(_PICKER.get(kind, kind) for kind in (field.accept or attachments.DEFAULT_ACCEPT))


def accept_hint(field: FieldDef) -> str:
    """The line under a file input: what may be attached, and how large."""
    limit = (field.max_size or attachments.DEFAULT_MAX_SIZE)
    size = f"{limit // 1024} KB" if limit < 1024 * 1024 else f"{limit / 1024 / 1024:g} MB"
    many = "，可选多个" if field.multiple else ""
    kinds = "、".join({"image": "照片", "pdf": "PDF", "office": "Office 文档"}.get(k, k)
                     for k in (field.accept or attachments.DEFAULT_ACCEPT))
    return f"可上传：{kinds}，每个最大 {size}{many}"


def _disposition(kind: str, filename: str) -> str:
    """`inline` or `attachment` with the name for old browsers (ASCII) and everyone else (RFC 5987)."""
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_" for c in filename)
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename, safe='')}"


def _send(attachment_id: str, *, thumbnail: bool) -> Response:
    who = actor()
    opened = open_file(db.session(), who, attachment_id, thumbnail=thumbnail, clock=db.clock())
    if opened.access is not None:  # read in the read transaction; only the access row takes the write lock
        with db.write() as writing:
            record_opening(writing, who, opened, clock=db.clock())
    response = Response(opened.content, mimetype=opened.content_type)
    inline = thumbnail or opened.file.inline
    response.headers["Content-Disposition"] = _disposition("inline" if inline else "attachment",
                                                           opened.file.filename)
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Cache-Control stays the app's no-store (web/security.py): access may be withdrawn, so no copy is kept.
    return response


@bp.get("/<attachment_id>")
@login_required
def download(attachment_id: str) -> Response:
    """Send the file to a user who may see its item (404 otherwise)."""
    return _send(attachment_id, thumbnail=False)


@bp.get("/<attachment_id>/thumbnail")
@login_required
def thumbnail(attachment_id: str) -> Response:
    """Send an image's thumbnail to a user who may see its item (404 otherwise, or for a document)."""
    return _send(attachment_id, thumbnail=True)
