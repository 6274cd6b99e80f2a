"""The one place where engine errors become HTTP status codes and error pages.

    not_found, unknown_transition → 404     not_permitted → 403     conflict → 409
    invalid_fields, guard_failed  → 422 (the form is shown again, messages by field)

A view that shows a form registers how to show it again with `show_again(fn)`;
the 422 handler calls it with the error. The transaction has already been rolled
back by then (the error left the `with db.write()` block), so nothing was written.
Requests asking for JSON get `{"error": code, "message": ..., "fields": ...}`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from engine.errors import Conflict, InvalidFields, TransitionError

STATUS = {
    "not_found": 404,
    "unknown_transition": 404,
    "not_permitted": 403,
    "conflict": 409,
    "invalid_fields": 422,
    "guard_failed": 422,
}
TITLES = {
    400: "请求无效",
    403: "没有权限",
    404: "找不到该页面或事项",
    405: "不支持的操作",
    409: "另一位同事已处理此事项",
    422: "填写的内容有误",
    500: "系统出错了",
}
# Engine messages may name internal ids; the page says it plainly, the same way for
# a missing item and another estate's item (so nobody learns the other exists).
MESSAGES = {
    "not_found": "没有这个事项，或它不属于您所在的小区。",
    "unknown_transition": "该事项当前状态下没有这个操作，可能已被处理。",
    "not_permitted": "您的角色不能执行这个操作。",
    "conflict": "您打开页面后，另一位同事已处理此事项。请刷新页面，看看最新情况后再操作。",
}

Page = Callable[[TransitionError], str]


def show_again(page: Page) -> None:
    """Register how this request's form is shown again on invalid_fields/guard_failed."""
    g.show_again = page


def status_for(error: TransitionError) -> int:
    """The HTTP status of an engine error."""
    return STATUS.get(error.code, 400)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" or request.path.startswith("/api/")


def handle_engine_error(error: TransitionError) -> tuple[Any, int]:
    """Render an engine refusal with its status code."""
    status = status_for(error)
    if _wants_json():
        body: dict[str, Any] = {"error": error.code, "message": MESSAGES.get(error.code, error.message)}
        if isinstance(error, InvalidFields):
            body["fields"] = error.fields
        return jsonify(body), status
    again: Page | None = g.get("show_again")
    if status == 422 and again is not None:
        return again(error), status
    reload = request.path.split("/fire/")[0] if isinstance(error, Conflict) and "/fire/" in request.path else None
    return render_template("error.html", status=status, title=TITLES.get(status, "出错了"),
                           message=MESSAGES.get(error.code, error.message), reload=reload), status


def handle_http_error(error: HTTPException) -> tuple[Any, int] | Response:
    """Chinese pages for 400/403/404/405 (CSRF failures included)."""
    status = error.code or 500
    if isinstance(error, CSRFError):
        message = "页面已过期或表单无效，请刷新页面后重试。"
    else:
        message = TITLES.get(status, error.name)
    if _wants_json():
        return jsonify({"error": error.name.lower().replace(" ", "_"), "message": message}), status
    return render_template("error.html", status=status, title=TITLES.get(status, error.name),
                           message=message, reload=None), status


def init_app(app: Flask) -> None:
    """Register the handlers."""
    app.register_error_handler(TransitionError, handle_engine_error)
    for status in (400, 403, 404, 405):
        app.register_error_handler(status, handle_http_error)
