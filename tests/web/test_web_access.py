"""The item pages obey the engine's access rules: 404 for an item not seen, masked or in full, the access log.

The shipped workflows and an organisation of one user per role (tests/runtime/_access_org.py), served by
the app on SQLite and, when configured, PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from werkzeug.security import generate_password_hash

from engine.store.db import transaction
from engine.store.models import User
from tests.runtime._access_org import NAME, PHONE, Org
from web import create_app

PASSWORD = "demo1234"
_TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@pytest.fixture
def org(db: Any, clock: Any) -> Org:
    made = Org(db, clock)
    with transaction(db.factory) as session:
        session.execute(update(User).values(password_hash=generate_password_hash(PASSWORD, method="pbkdf2:sha256:1")))
    return made


@pytest.fixture
def site(org: Org, db: Any, clock: Any) -> Iterator[Flask]:
    app = create_app({"TESTING": True, "DATABASE_URL": db.url, "SECRET_KEY": "test", "CLOCK": clock})
    yield app
    app.extensions["estateflow.db"].engine.dispose()


def _login(site: Flask, username: str) -> FlaskClient:
    client = site.test_client()
    match = _TOKEN.search(client.get("/login").get_data(as_text=True))
    assert match
    response = client.post("/login", data={"username": username, "password": PASSWORD,
                                           "csrf_token": match.group(1) or match.group(2)})
    assert response.status_code == 302, username
    return client


@pytest.fixture
def repair(org: Org) -> Any:
    made = org.create("repair", by="frontdesk", unit="3-1-502")
    return org.fire(made, "dispatch", "frontdesk", {"area": "in_unit", "trade": "plumbing", "paid": "false",
                                                    "engineer": "engineer"})


def test_a_cleaner_cannot_open_a_repair_by_url(site, repair):
    cleaner = _login(site, "cleaning")
    assert cleaner.get(f"/items/{repair.id}").status_code == 404
    assert cleaner.get("/items/999999").status_code == 404
    assert repair.number not in cleaner.get("/items").get_data(as_text=True)


def test_the_technician_assigned_sees_the_residents_phone_and_the_view_is_logged(site, org, repair):
    page = _login(site, "engineer").get(f"/items/{repair.id}").get_data(as_text=True)
    assert PHONE in page and NAME in page
    logged = org.rows("access_log")
    assert [(r["user_id"], r["kind"], r["item_id"], r["estate_id"]) for r in logged] == [
        (org.ids["engineer"], "view", repair.id, "demo")]
    assert PHONE not in str(logged)


def test_another_technician_sees_it_masked_and_nothing_is_logged(site, org, repair):
    page = _login(site, "engineer2").get(f"/items/{repair.id}").get_data(as_text=True)
    assert "138****5678" in page and PHONE not in page and NAME not in page
    assert "部分个人信息按岗位权限已隐藏" in page
    assert org.rows("access_log") == []


def test_each_view_in_full_is_logged(site, org, repair):
    frontdesk = _login(site, "frontdesk")
    for _ in range(2):
        assert PHONE in frontdesk.get(f"/items/{repair.id}").get_data(as_text=True)
    assert len(org.rows("access_log", user_id=org.ids["frontdesk"])) == 2


def test_the_person_in_charge_is_shown_by_name_never_by_login_id(site, org, repair):
    page = _login(site, "frontdesk").get(f"/items/{repair.id}").get_data(as_text=True)
    assert org.name("engineer") in page
    assert ">engineer<" not in page and "engineer</dd>" not in page
    listed = _login(site, "frontdesk").get("/items").get_data(as_text=True)
    assert org.name("engineer") in listed


def test_a_phone_search_by_a_post_that_may_not_see_phones_is_refused_with_a_message(site, repair):
    response = _login(site, "engineer").get(f"/items?q={PHONE}")
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "您的岗位不能按电话号码查找事项" in page and repair.number in page  # the list without the search


def test_the_front_desk_finds_the_caller_by_phone(site, repair):
    page = _login(site, "frontdesk").get(f"/items?q={PHONE}").get_data(as_text=True)
    assert repair.number in page and "不能按电话号码查找" not in page


def test_a_refusal_for_not_being_in_charge_names_the_person(site, org, repair):
    client = _login(site, "engineer2")
    page = client.get(f"/items/{repair.id}").get_data(as_text=True)
    assert f"不是本事项的责任人（责任人：{org.name('engineer')}）" in page
    assert "engineer == me" not in page and "my_roles" not in page


def test_a_step_form_picks_the_person_by_display_name_never_by_login_id(site, org):
    made = org.create("repair", by="frontdesk", unit="3-1-502")
    html = _login(site, "cs_supervisor").get(f"/items/{made.id}").get_data(as_text=True)
    picker = re.search(r'<select[^>]*name="engineer"[^>]*>(.*?)</select>', html, re.S)
    assert picker, "the dispatch form has no picker for 维修人员"
    options = dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', picker.group(1)))
    assert options.get("engineer") == org.name("engineer")  # the value is the login id, the text the name
    assert "cleaning" not in options  # only the field's roles are offered
    assert ">engineer<" not in picker.group(1)


def test_the_item_page_links_an_items_unit_to_its_household_record(site, org):
    made = org.create("repair", by="frontdesk", unit="3-1-502")
    html = _login(site, "frontdesk").get(f"/items/{made.id}").get_data(as_text=True)
    link = re.search(r'<a class="unit-link" href="/units/(\d+)"[^>]*>3-1-502</a>', html)
    assert link and int(link.group(1)) == made.unit_id


def test_supervisors_see_the_items_left_with_a_disabled_person(site, org, repair):
    from engine.access.actor import Actor
    from engine.org import staff

    with transaction(org.db.factory) as session:
        staff.disable(session, Actor.system(), org.ids["engineer"])
    supervisor = _login(site, "cs_supervisor").get("/").get_data(as_text=True)
    assert "责任人已停用的事项" in supervisor and repair.number in supervisor
    assert org.name("engineer") in supervisor
    assert "责任人已停用的事项" not in _login(site, "frontdesk").get("/").get_data(as_text=True)
