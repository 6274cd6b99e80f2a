"""No input gives HTTP 500: every route of the app, every method it takes, on both databases.

The routes come from the app's own url_map, so a route added later is fuzzed without
touching this file. Each route gets its own hypothesis run (HYPOTHESIS_PROFILE=ci: 15
examples), with path values (real ids, huge and negative numbers, unicode, NUL, raw
%-encodings), query parameters and form fields (every field of the workflow's create and
transition forms, with huge numbers, far dates, NUL, control characters, very long text),
anonymous and logged in as each kind of user, POSTs carrying a valid CSRF token.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from _backends import BACKENDS, backend_app
from conftest import AuthActions, token
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from engine.store.models import Item

ROLES = ["frontdesk", "cs_supervisor", "engineer", "admin"]
ODD = [
    str(2**31), str(2**31 - 1), str(2**62), str(2**63), str(2**64), "9" * 40, "-1", "0", "1", "2", "1e9", "0x10", "1_000",
    "٣", "0001-01-01", "9999-12-31", "1899-12-31", "2026-02-30", "2026-03-02", "0001-01-01T00:00",
    "9999-12-31T23:59", "2026-03-02T09:30+14:00", "\x00", "a\x00b", "\x01\x1b\x7f", "\u202e", "😀", "中文",
    "' OR 1=1 --", "<script>alert(1)</script>", "../../etc/passwd", "//evil.example", "/\t/evil.example",
    "/%0A/x", "\\\\evil", "NaN", "Infinity", "-0", "1e999999", "true", "是", " ", "", "%", "100%", "a_b",
]
RAW_SEGMENTS = ["%00", "%2F", "%25", "%ZZ", "%C0%AF", "%E4%B8%AD", "%FF", "..", "%2e%2e", "%20", "%0A"]
QUERY_NAMES = ["page", "per_page", "state", "workflow", "estate", "overdue", "from", "to", "date_from", "date_to",
               "q", "next", "sort"]
FIELDS = ["kind", "unit", "description", "phone", "visit_on", "department", "amount", "paid", "done_at", "result",
          "note", "comment", "version", "estate", "username", "password", "next"]

values = st.one_of(
    st.sampled_from(ODD),
    st.text(max_size=30),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.integers(min_value=300, max_value=30_000).map(lambda n: "长" * n),
)
queries = st.one_of(
    st.dictionaries(st.sampled_from(QUERY_NAMES), values, max_size=5),
    st.sampled_from(["page=%FF%FE", "q=%", "from=%00", "&&==", "q=" + "%E4" * 50]),
)
# Often a valid form with odd values on top, so requests get past the first check to the engine and the database.
VALID = {"kind": "noise", "unit": "3-1-502", "description": "楼上漏水", "department": "engineering", "amount": "100",
         "done_at": "2026-03-02T10:00", "result": "good", "note": "满意", "version": "1"}
forms = st.tuples(st.booleans(), st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)) \
    .map(lambda pair: {**(VALID if pair[0] else {}), **pair[1]})


@pytest.fixture(params=BACKENDS)
def any_app(request, clock):
    with backend_app(request, request.param, clock) as app:
        yield app


def test_no_route_answers_500_to_any_input(any_app):
    app = any_app
    with app.app_context():
        from web import db

        item_ids = [str(i) for i in db.session().scalars(select(Item.id).order_by(Item.id).limit(5))]
    real = {"item_id": item_ids, "workflow_id": ["ticket", "repair"], "name": ["dispatch", "finish", "revisit"],
            "filename": ["style.css"]}
    clients = {"anonymous": app.test_client()}
    for role in ROLES:
        clients[role] = app.test_client()
        assert AuthActions(clients[role]).login(role).status_code == 302
    tokens = {who: token(c, "/login" if who == "anonymous" else "/") for who, c in clients.items()}

    def segments(name):
        return st.one_of(
            st.sampled_from(real.get(name, ["x"])),
            st.sampled_from(ODD[:12]),
            st.sampled_from(RAW_SEGMENTS),
            st.text(min_size=1, max_size=20).map(lambda t: quote(t, safe="")),
        )

    def fuzz(rule, method):
        """One hypothesis run over one route and method."""
        @given(path=st.fixed_dictionaries({n: segments(n) for n in sorted(rule.arguments)}), query=queries,
               form=forms, who=st.sampled_from(sorted(clients)), keep_token=st.sampled_from([True, True, True, False]))
        def request_once(path, query, form, who, keep_token):
            url = rule.rule
            for name, segment in path.items():
                url = _fill(url, name, segment)
            client, address = clients[who], "127.0.0.1"
            if rule.endpoint == "auth.logout":
                client = app.test_client()  # a session of its own, so the other clients stay logged in
            if rule.endpoint == "auth.login":
                address = "10.9.9.9"  # wrong passwords counted against another address than the clients'
            data = dict(form) if method == "POST" else None
            if data is not None and keep_token:
                data["csrf_token"] = token(client, "/login") if rule.endpoint == "auth.logout" else tokens[who]
            response = client.open(url, method=method, query_string=query, data=data,
                                   environ_overrides={"REMOTE_ADDR": address})
            # 503 is /healthz's answer while no worker has run, not a crash; a crash is 500.
            assert response.status_code < 500 or response.status_code == 503, (method, url, query, sorted(form), who)
            response.close()

        request_once()

    fuzzed = []
    # Log-in and log-out last: whatever they do to the throttle or the sessions comes after the rest.
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.endpoint in ("auth.login", "auth.logout")):
        for method in sorted({"GET", "POST"} & rule.methods):
            fuzz(rule, method)
            fuzzed.append((method, rule.rule))
    assert {("GET", "/items/<int:item_id>"), ("POST", "/items/<int:item_id>/fire/<name>"),
            ("POST", "/workflows/<workflow_id>/new")} <= set(fuzzed)


def _fill(url, name, segment):
    """Put `segment` in place of the rule's `<converter:name>` or `<name>`."""
    start = url.find("<")
    while start != -1:
        end = url.index(">", start)
        if url[start + 1:end].split(":")[-1] == name:
            return url[:start] + segment + url[end + 1:]
        start = url.find("<", end)
    return url
