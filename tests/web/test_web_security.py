"""Security headers on every response, no inline code, and odd input refused as 400/404 instead of 500."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import gunicorn
import pytest

from engine.language import fields
from engine.language.definition import FieldDef
from web.security import MAX_ID

TEMPLATES = Path(__file__).resolve().parents[2] / "web" / "templates"


def headers_of(response):
    return {k.lower(): v for k, v in response.headers.items()}


# -- headers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/", "/items", "/workflows/ticket", "/workflows/ticket/new", "/no/such/page"])
def test_every_logged_in_page_carries_the_headers_and_is_not_stored(auth, client, url):
    auth.login()
    headers = headers_of(client.get(url))
    csp = headers["content-security-policy"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp and "object-src 'none'" in csp
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["cache-control"] == "no-store"


def test_the_login_page_and_redirects_carry_them_too(client):
    for response in (client.get("/login"), client.get("/items")):
        headers = headers_of(response)
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["cache-control"] == "no-store"


def test_static_files_may_be_cached_but_are_not_sniffed(client):
    response = client.get("/static/style.css")
    assert response.status_code == 200
    headers = headers_of(response)
    assert headers.get("cache-control") != "no-store" and headers["x-content-type-options"] == "nosniff"
    response.close()


def test_each_response_has_its_own_nonce(client):
    nonces = {re.search(r"'nonce-([^']+)'", client.get("/login").headers["Content-Security-Policy"]).group(1)
              for _ in range(3)}
    assert len(nonces) == 3


def test_no_server_version_from_the_app_nor_from_gunicorn(auth, client):
    auth.login()
    assert "server" not in headers_of(client.get("/"))
    # gunicorn writes its own Server header from this constant: a bare name since 20.1.
    assert not re.search(r"\d", gunicorn.SERVER)


def test_templates_hold_no_inline_script_style_or_handler():
    for path in TEMPLATES.rglob("*.html"):
        page = path.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)", page), path
        assert "<style" not in page and not re.search(r"\sstyle=", page), path
        assert not re.search(r"\son[a-z]+=", page), path
        assert "javascript:" not in page, path


# -- odd input: 400 or 404, never 500 --------------------------------------------------------

@pytest.mark.parametrize("url", [
    f"/items/{2**63}", f"/items/{2**31}", f"/items/{MAX_ID + 1}", "/items/" + "9" * 5000,
    f"/?page={2**62}", f"/items?page={2**62}", f"/workflows/ticket/items?page={2**63}",
])
def test_huge_numbers_in_urls_are_not_found(auth, client, url):
    auth.login()
    assert client.get(url).status_code == 404


def test_a_huge_item_id_in_a_fire_url_is_not_found(auth, client):
    auth.login("cs_supervisor")
    assert auth.post(f"/items/{2**63}/fire/dispatch", {"version": 1}).status_code == 404


@pytest.mark.parametrize("version", [str(2**31), str(2**63), "-1"])
def test_an_impossible_version_is_400(auth, world, version):
    item = world.make_item()
    auth.login("cs_supervisor")
    assert auth.post(f"/items/{item.id}/fire/dispatch", {"version": version, "department": "engineering"}) \
        .status_code == 400


@pytest.mark.parametrize("url", [
    "/items?q=a%00b", "/items?state=%00", "/items?%00=1", "/workflows/ti%00cket/items", "/login?next=/%00",
    "/static/style%00.css",
])
def test_nul_bytes_in_paths_and_queries_are_400(auth, client, url):
    auth.login()
    assert client.get(url).status_code == 400


def test_nul_bytes_in_forms_are_400_and_write_nothing(auth, world):
    auth.login("frontdesk")
    before = world.snapshot()
    response = auth.post("/workflows/ticket/new", {"kind": "noise", "unit": "3-1-502", "description": "a\x00b"})
    assert response.status_code == 400 and world.snapshot() == before


def test_nul_in_a_header_is_400(client):
    assert client.get("/login", headers={"User-Agent": "x\x00y"}).status_code == 400


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
def test_far_dates_in_list_filters_are_ignored_with_a_message(auth, client, day):
    auth.login()
    for name in ("from", "to"):
        response = client.get(f"/items?{name}={day}")
        assert response.status_code == 200 and "日期超出范围" in response.get_data(as_text=True)


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_far_dates_in_a_create_form_are_refused_next_to_the_field(auth, world, day):
    auth.login("frontdesk")
    before = world.snapshot()
    response = auth.post("/workflows/ticket/new", {"kind": "noise", "unit": "3-1-502", "description": "漏水",
                                                   "visit_on": day})
    assert response.status_code == 422 and "日期超出范围（应在 1900-01-01 至 2999-12-31 之间）" in \
        response.get_data(as_text=True)
    assert world.snapshot() == before


@pytest.mark.parametrize("moment", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_far_times_in_a_fire_form_are_refused_next_to_the_field(auth, world, moment):
    item = world.fire(world.make_item(), "dispatch", "cs_supervisor", department="engineering")
    auth.login("engineer")
    response = auth.post(f"/items/{item.id}/fire/finish", {"version": item.version, "done_at": moment,
                                                           "amount": "100"})
    assert response.status_code == 422 and "日期超出范围" in response.get_data(as_text=True)


@pytest.mark.parametrize(("kind", "raw", "message"), [
    ("date", "0001-01-01", "日期超出范围"), ("datetime", "9999-12-31T23:59:59-12:00", "日期超出范围"),
    ("integer", 10**19, "数值超出范围"), ("integer", float("inf"), "不是有效的整数"),
    ("integer", Decimal("sNaN"), "不是有效的整数"), ("text", "a\x00b", "控制字符"), ("string", "a\x1bb", "控制字符"),
])
def test_field_values_out_of_range_are_refused_in_chinese(kind, raw, message):
    field = FieldDef(name="f", type=kind, label="字段")
    with pytest.raises(ValueError, match=message):
        fields.parse(field, raw, ZoneInfo("Asia/Shanghai"))
