"""The one place where errors become HTTP status codes and Chinese error pages.

    not_found, unknown_transition → 404     not_permitted → 403     conflict → 409
    invalid_fields, guard_failed  → 422 (the form is shown again, messages by field)
    any HTTP error (400, 403, 404, 405, 409, 413, 429...) → its page, its headers kept
    anything else                 → 500, logged without request data

A view that shows a form registers how to show it again with `show_again(fn)`;
the 422 handler calls it with the error. The transaction has already been rolled
back by then (the error left the `with db.write()` block), so nothing was written.
Requests asking for JSON get `{"error": code, "message": ..., "fields": ...}`.

An HTTP error raised with a Chinese description shows it, e.g. the login throttle's
`abort(429, "请 30 秒后再试", retry_after=30)` (Retry-After stays on the response);
English descriptions (werkzeug's defaults, libraries') are never shown.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from flask import Flask, g, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from engine.errors import Conflict, InvalidFields, TransitionError
from web import db

log = logging.getLogger(__name__)

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
    413: "提交的内容太多",
    422: "填写的内容有误",
    429: "操作太频繁",
    500: "系统出错了",
}
# What the page says for an HTTP error of that status (engine errors have MESSAGES below).
EXPLANATIONS = {
    400: "请求的内容无效，请回到上一页重新操作。",
    403: "您没有权限查看此页面或进行此操作。",
    404: "没有这个页面，或它不属于您所在的小区。",
    405: "此页面不支持这种操作方式，请使用页面上的按钮。",
    409: "数据已被他人更改，请刷新页面后再操作。",
    413: "提交的内容超过了允许的大小，请删减后重试。",
    429: "操作太频繁，请稍后再试。",
    500: "系统出错了，本次操作可能没有完成。请刷新页面查看，稍后再试；如果一直出现，请联系系统管理员。",
}
# Engine messages may name internal ids; the page says it plainly, the same way for
# a missing item and another estate's item (so nobody learns the other exists).
MESSAGES = {
    "not_found": "没有这个事项，或它不属于您所在的小区。",
    "unknown_transition": "该事项当前状态下没有这个操作，可能已被处理。",
    "not_permitted": "您的角色不能执行这个操作。",
    "conflict": "您打开页面后，另一位同事已处理此事项。请刷新页面，看看最新情况后再操作。",
}
# The 500 page when even the layout cannot be drawn (the database is down, say): no
# template, no database, the same look through the stylesheet.
_BARE_500 = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} · 物业客服工作台</title><link rel="stylesheet" href="/static/style.css"></head>
<body><header class="top"><a class="brand" href="/">物业客服工作台</a></header>
<main><section class="card narrow"><h1>{title} <small>(500)</small></h1><p>{message}</p>
<p><a class="button" href="/">回到我的待办</a></p></section></main></body></html>
"""

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


def _page(status: int, message: str, reload: str | None = None) -> str:
    return render_template("error.html", status=status, title=TITLES.get(status, "出错了"), message=message,
                           reload=reload)


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
    return _page(status, MESSAGES.get(error.code, error.message), reload), status


def explanation(error: HTTPException) -> str:
    """What the page says: our own description when the raiser gave one, else the status's."""
    if isinstance(error, CSRFError):
        return "页面已过期或表单无效，请刷新页面后重试。"
    status = error.code or 500
    # Ours are Chinese; werkzeug's and libraries' are English and never shown to staff.
    own = error.description if error.description and not error.description.isascii() else None
    return own or EXPLANATIONS.get(status, TITLES.get(status, "出错了"))


def handle_http_error(error: HTTPException) -> Response:
    """The Chinese page (or JSON) of an HTTP error, with its headers (Allow, Retry-After) kept."""
    status = error.code or 500
    message = explanation(error)
    if _wants_json():
        response = jsonify({"error": error.name.lower().replace(" ", "_"), "message": message})
    else:
        response = Response(_page(status, message), mimetype="text/html")
    response.status_code = status
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


def handle_unexpected(error: Exception) -> tuple[Any, int]:
    """A bug or an outage: log it without request data and show the Chinese 500 page.

    Registered for Exception, so Flask's own logging (which quotes the exception's
    message: a database error's may hold a resident's data) never runs, and the debugger
    never answers. The log names the route pattern, never the path, query or form, and the
    exceptions by type, never by message; the frames show where.
    """
    rule = request.url_rule.rule if request.url_rule else "(no route)"
    chain = []
    cause: BaseException | None = error
    while cause is not None and len(chain) < 5:
        code = getattr(getattr(cause, "orig", None), "sqlstate", None)
        chain.append(type(cause).__qualname__ + (f" (SQLSTATE {code})" if code else ""))
        cause = cause.__cause__ or cause.__context__
    frames = "".join(traceback.format_tb(error.__traceback__))
    log.error("unexpected error on %s %s: %s\n%s", request.method, rule, " <- ".join(chain), frames.rstrip())
    # The request's read session may be inside a failed transaction (PostgreSQL refuses
    # every further statement): the page's layout gets a fresh one.
    db.close_session()
    message = EXPLANATIONS[500]
    if _wants_json():
        return jsonify({"error": "internal_server_error", "message": message}), 500
    try:
        return _page(500, message), 500
    except Exception:  # the layout needs the database; the bare page does not
        log.error("the error page could not be drawn either; a bare page was sent")
        return _BARE_500.format(title=TITLES[500], message=escape(message)), 500


def init_app(app: Flask) -> None:
    """Register the handlers (the most specific class wins: engine errors, HTTP errors, the rest)."""
    app.register_error_handler(TransitionError, handle_engine_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(Exception, handle_unexpected)
