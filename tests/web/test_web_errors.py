"""Error pages: Chinese, in the site's layout, with their headers; a 500 logs no resident's data."""

from __future__ import annotations

import logging

import pytest
from _backends import BACKENDS, backend_app
from conftest import AuthActions
from sqlalchemy import text
from werkzeug.exceptions import TooManyRequests

import web.workflows

PHONE = "13987654321"


@pytest.fixture(params=BACKENDS)
def any_app(request, clock):
    with backend_app(request, request.param, clock) as app:
        yield app


def is_chinese_page(response, status):
    page = response.get_data(as_text=True)
    return (response.status_code == status and response.mimetype == "text/html" and "物业客服工作台" in page
            and f"({status})" in page and "Traceback" not in page and "Internal Server Error" not in page)


def test_a_missing_page_is_a_chinese_404(client):
    response = client.get("/no/such/page")
    assert is_chinese_page(response, 404) and "没有这个页面" in response.get_data(as_text=True)


def test_a_wrong_method_is_a_chinese_405_that_keeps_allow(auth, client):
    auth.login()
    response = client.delete("/items")
    assert is_chinese_page(response, 405) and "GET" in response.headers["Allow"]


def test_a_form_without_its_token_is_a_chinese_400(auth, client, world):
    auth.login()
    item = world.make_item()
    response = client.post(f"/items/{item.id}/fire/dispatch", data={"version": 1})
    assert is_chinese_page(response, 400) and "页面已过期" in response.get_data(as_text=True)


def test_refusals_of_the_engine_are_chinese_pages(auth, client, world):
    item = world.make_item()
    auth.login("engineer")
    response = auth.post(f"/items/{item.id}/fire/dispatch", {"version": 1, "department": "engineering"})
    assert is_chinese_page(response, 403) and "您的角色不能执行这个操作" in response.get_data(as_text=True)
    auth.logout()
    auth.login("cs_supervisor")
    response = auth.post(f"/items/{item.id}/fire/dispatch", {"version": 7, "department": "engineering"})
    assert is_chinese_page(response, 409)


def test_a_429_shows_the_raisers_message_and_keeps_retry_after(app, client):
    @app.get("/test-throttled")
    def throttled():
        raise TooManyRequests("请 30 秒后再试", retry_after=30)

    response = client.get("/test-throttled")
    assert is_chinese_page(response, 429) and "请 30 秒后再试" in response.get_data(as_text=True)
    assert response.headers["Retry-After"] == "30"


def test_english_descriptions_are_never_shown(app, client):
    @app.get("/test-english")
    def english():
        raise TooManyRequests("Slow down, item 42 of 13812345678")

    page = client.get("/test-english").get_data(as_text=True)
    assert "操作太频繁" in page and "Slow down" not in page


def test_json_clients_get_json_errors(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404 and response.json["message"] == "没有这个页面，或它不属于您所在的小区。"


def test_a_bug_is_a_chinese_500_logged_without_its_message(app, client, caplog):
    @app.get("/test-bug")
    def bug():
        raise ValueError(f"resident {PHONE} broke it")

    caplog.set_level(logging.DEBUG)
    response = client.get("/test-bug?q=" + PHONE)
    assert is_chinese_page(response, 500) and "本次操作可能没有完成" in response.get_data(as_text=True)
    assert "ValueError" in caplog.text and "/test-bug" in caplog.text
    assert PHONE not in caplog.text


def test_a_500_page_is_drawn_even_when_the_layout_cannot_be(app, client, monkeypatch, caplog):
    @app.get("/test-outage")
    def outage():
        raise RuntimeError("the database is down")

    def broken(*_args, **_kwargs):
        raise RuntimeError("no layout either")

    monkeypatch.setattr("web.errors.render_template", broken)
    response = client.get("/test-outage")
    assert response.status_code == 500 and "系统出错了" in response.get_data(as_text=True)
    assert "no layout" not in response.get_data(as_text=True)


def test_a_failing_statement_logs_no_field_value_on_any_database(any_app, caplog, monkeypatch):
    """A create whose statement fails on a constraint, the phone among its parameters (and, on
    PostgreSQL, in the error's detail): the page is the Chinese 500, the logs hold no field value."""
    def failing_create(session, *, data, **_kwargs):
        insert = text("INSERT INTO estates (id, name) VALUES (:id, :name)")
        session.execute(insert, {"id": data["phone"], "name": data["description"]})
        session.execute(insert, {"id": data["phone"], "name": data["description"]})  # the same key twice

    monkeypatch.setattr(web.workflows, "create", failing_create)
    client = any_app.test_client()
    auth = AuthActions(client)
    auth.login("frontdesk")
    caplog.set_level(logging.DEBUG)  # every logger, SQLAlchemy's statement log included
    response = auth.post("/workflows/ticket/new", {"kind": "noise", "unit": "3-1-502", "phone": PHONE,
                                                   "description": "楼上漏水到我家客厅"})
    assert is_chinese_page(response, 500)
    assert "IntegrityError" in caplog.text
    for value in (PHONE, "楼上漏水到我家客厅"):
        assert value not in caplog.text
        assert all(value not in str(r.args) for r in caplog.records)
