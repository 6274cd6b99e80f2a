"""HTTP hardening of every request and response: headers, NUL bytes, bounded ids in URLs.

    init_app(app)   the request check, the response headers and the bounded `int` URL converter
    csp_nonce()     this response's nonce (templates: `{{ csp_nonce() }}`), for the rare <script>
                    or <style> that cannot live in web/static; everything else does

Headers on every response: a Content-Security-Policy allowing scripts and styles from this
site only (no 'unsafe-inline', no 'unsafe-eval': an injected <script> never runs), framing
refused (frame-ancestors 'none', and X-Frame-Options DENY for old browsers), nosniff,
Referrer-Policy same-origin, and Cache-Control no-store on everything but static files: pages
show residents' names and phones, and neither a shared proxy nor the back button of a
front-desk PC after logout may keep them. The app sends no Server header; gunicorn (20.1 and
later) sends a bare "gunicorn", without a version (benoitc/gunicorn#2233). Werkzeug's
development server names its version and Python's, and is never used to serve
(`estateflow serve` runs gunicorn).

Hand-written rather than Flask-Talisman: these are a handful of fixed headers, and Talisman
would also take over HTTPS redirects and the cookies' Secure flag, which the deployment
settings (ESTATEFLOW_HTTPS, ESTATEFLOW_PROXY_HOPS) own.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask import Flask, abort, g, request
from werkzeug.routing import IntegerConverter, Map
from werkzeug.wrappers import Response

MAX_ID = 2**31 - 1
"""The largest id a URL may name: ids are INTEGER columns (32 bits on PostgreSQL)."""


def csp_nonce() -> str:
    """This response's CSP nonce (made on first use)."""
    if "csp_nonce" not in g:
        g.csp_nonce = secrets.token_urlsafe(16)
    return g.csp_nonce  # type: ignore[no-any-return]


def content_security_policy(nonce: str) -> str:
    """The policy: this site's own files, plus what carries `nonce`; no framing, no plugins."""
    return "; ".join((
        "default-src 'self'",
        f"script-src 'self' 'nonce-{nonce}'",
        f"style-src 'self' 'nonce-{nonce}'",
        "img-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ))


class BoundedIntConverter(IntegerConverter):
    """`<int:...>` in a route, refusing (404) numbers beyond MAX_ID unless the route says otherwise.

    Without it `/items/9223372036854775808` reaches the database and fails there (500):
    SQLite takes 64-bit integers, PostgreSQL's INTEGER 32-bit ones.
    """

    def __init__(self, map: Map, fixed_digits: int = 0, min: int | None = None, max: int | None = None,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)


def _has_nul(texts: Iterable[str]) -> bool:
    return any("\x00" in text for text in texts)


def refuse_nul() -> None:
    """400 for a NUL byte in the path, the query, a form field or a header.

    PostgreSQL refuses NUL in text (SQLite keeps it), so a NUL that reached a query was a
    500 on one database and stored data on the other; refused here, it is 400 on both,
    before anything reaches the database.
    """
    if "\x00" in request.path or _has_nul(request.headers.values()):
        abort(400)
    for values in (request.args, request.form):
        if _has_nul(values.keys()) or _has_nul(values.values()):
            abort(400)


def add_headers(response: Response) -> Response:
    """The security headers of every response."""
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(csp_nonce())
    headers["X-Frame-Options"] = "DENY"
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    headers.pop("Server", None)
    return response


def init_app(app: Flask) -> None:
    """Register the converter, the request check and the headers; call before registering blueprints."""
    # Every `<int:...>` route, other modules' included, gets the bound: set before any rule
    # is added, since a rule picks its converter when it is added.
    app.url_map.converters["int"] = BoundedIntConverter
    app.before_request(refuse_nul)
    app.after_request(add_headers)
    app.jinja_env.globals["csp_nonce"] = csp_nonce
