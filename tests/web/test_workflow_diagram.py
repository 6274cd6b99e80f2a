"""The workflow page's drawn diagram (engine/language/drawing.py inline): states coloured and counted,
each linking to its items, ?focus=STATE for one state's steps. On SQLite and, with
ESTATEFLOW_TEST_PG_URL, on PostgreSQL (the counts come from the database)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from _backends import BACKENDS, app_on

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(params=BACKENDS)
def app(request, clock):
    """The seeded testing app, on each database (overrides tests/web/conftest.py's SQLite-only one)."""
    with app_on(request, request.param, clock) as app:
        yield app


def drawing(page: str) -> ET.Element:
    found = re.search(r"<svg .*?</svg>", page, re.S)
    assert found, "no inline SVG on the page"
    return ET.fromstring(found.group(0))


def registered(svg: ET.Element) -> list[str]:
    return [t.text or "" for t in svg.iter(f"{SVG}title") if (t.text or "").startswith("已登记 · ")]


def test_the_page_draws_the_workflow_inline_with_counts_and_links(auth, client, world):
    auth.login("frontdesk")
    before = int(re.findall(r"\d+", registered(drawing(client.get("/workflows/ticket").get_data(as_text=True)))[0])[0])
    world.make_item()
    world.make_item()
    response = client.get("/workflows/ticket")
    page = response.get_data(as_text=True)
    svg = drawing(page)
    titles = [t.text or "" for t in svg.iter(f"{SVG}title")]
    assert registered(svg) == [f"已登记 · {before + 2} 件（起始）"]
    for label in ("已登记", "处理中", "待回访", "已关闭", "重新处理"):  # each state once, with its count
        assert len([t for t in titles if re.match(rf"{label} · \d+ 件", t)]) == 1, label
    hrefs = {a.get("href") for a in svg.iter(f"{SVG}a")}
    for state in ("open", "working", "checking", "closed", "reopened"):
        assert f"/workflows/ticket/items?state={state}" in hrefs
        assert f"/workflows/ticket?focus={state}#diagram" in hrefs
    assert not [e for e in svg.iter() if e.tag in (f"{SVG}script", f"{SVG}style")]
    assert not [name for e in svg.iter() for name in e.attrib if name.startswith("on") or name == "style"]
    # the Mermaid text stays, folded away, and the page's policy needs no inline exception for the drawing
    assert "<details>" in page and "stateDiagram-v2" in page
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]


def test_a_state_link_lists_that_states_items(auth, client, world):
    world.make_item()
    auth.login("frontdesk")
    page = client.get("/workflows/ticket/items?state=open").get_data(as_text=True)
    assert "BS-" in page


def test_focus_draws_only_that_states_steps(auth, client):
    auth.login("frontdesk")
    page = client.get("/workflows/ticket?focus=checking").get_data(as_text=True)
    svg = drawing(page)
    arrows = [p.find(f"{SVG}title").text or "" for p in svg.iter(f"{SVG}path") if p.get("marker-end")]
    assert arrows and all("待回访" in a for a in arrows)
    assert [g for g in svg.iter(f"{SVG}g") if g.get("opacity")]  # the others are dimmed
    assert "显示全部" in page and '<option value="checking" selected>' in page
    whole = drawing(client.get("/workflows/ticket").get_data(as_text=True))
    assert len([p for p in whole.iter(f"{SVG}path") if p.get("marker-end")]) > len(arrows)


def test_an_unknown_focus_is_ignored(auth, client):
    auth.login("frontdesk")
    response = client.get("/workflows/ticket?focus=<script>")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "显示全部" not in page and "<script>" not in page
    assert not [g for g in drawing(page).iter(f"{SVG}g") if g.get("opacity")]


def test_admins_get_a_link_to_the_versions(auth, client):
    auth.login("frontdesk")
    assert "版本记录" not in client.get("/workflows/ticket").get_data(as_text=True)
    auth.logout()
    auth.login("admin")
    page = client.get("/workflows/ticket").get_data(as_text=True)
    assert "版本记录" in page and "/workflows/ticket/versions" in page
