"""统计报表 through the Flask client: figures, the items behind a number, downloads, the home-page dashboard.

The reports are tests/web/data/reports/*.yaml (报事周报 and 报事趋势 over the test workflow `ticket`),
published into each test's database. The tests move the clock five weeks past the demo seed, so a
week's figures are the items the test itself makes (未结 also counts the seed's open tickets).
Every test runs on SQLite and, with ESTATEFLOW_TEST_PG_URL set, on PostgreSQL too.
"""

from __future__ import annotations

import io
import re
import shutil
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import openpyxl
import pytest
from _backends import BACKENDS, app_on
from conftest import START, WORKFLOWS
from sqlalchemy import select, update

from engine.reports.published import publish_reports
from engine.store.db import transaction
from engine.store.models import AccessLog, Item

REPORTS = Path(__file__).resolve().parent / "data" / "reports"
WEEK = "/reports/tickets_weekly"


@pytest.fixture(params=BACKENDS)
def app(request, clock):
    """The seeded testing app, on each database (overrides tests/web/conftest.py's SQLite-only one)."""
    with app_on(request, request.param, clock) as app:
        yield app


@pytest.fixture(autouse=True)
def reports(world, tmp_path):
    """The test reports published next to the test workflows; the clock on Monday 2026-04-06 09:00."""
    folder = tmp_path / "definitions"
    shutil.copytree(WORKFLOWS, folder)
    shutil.copytree(REPORTS, folder / "reports")
    with transaction(world.factory) as session:
        publish_reports(session, folder, now=START)
    world.clock.advance(timedelta(weeks=5))


class Tables(HTMLParser):
    """The report tables of a page: {section title: [[cell text, ...], ...]} and each cell's link."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: dict[tuple[str, str, int], str] = {}
        self._title: str | None = None
        self._in_h2 = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "h2":
            self._in_h2, self._title = True, ""
        elif tag == "tr" and self._title:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "a" and self._cell is not None and self._row is not None:
            self.links[(self._title, self._row[0] if self._row else "", len(self._row))] = attrs["href"]

    def handle_endtag(self, tag):
        if tag == "h2":
            self._in_h2 = False
            self.tables.setdefault(self._title, [])
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._title].append(self._row)
            self._row = None

    def handle_data(self, data):
        if self._in_h2:
            self._title += data.strip()
        elif self._cell is not None:
            self._cell.append(data)


def read(html: str) -> Tables:
    parser = Tables()
    parser.feed(html)
    return parser


def row(parsed: Tables, title: str, label: str) -> list[str]:
    return next(r for r in parsed.tables[title] if r[0] == label)


def tickets(world, *kinds, estate="demo", by="frontdesk"):
    return [world.make_item(by=by, estate=estate, kind=kind) for kind in kinds]


# -- the figures -----------------------------------------------------------------------------

def test_the_supervisor_sees_this_weeks_tickets_by_category(auth, client, world):
    noise = tickets(world, "noise", "noise", "leak")
    world.fire(noise[0], "dispatch", "cs_supervisor", department="engineering")
    auth.login("cs_supervisor")
    response = client.get(WEEK)
    assert response.status_code == 200
    page = read(response.get_data(as_text=True))
    assert page.tables["按类别"][0] == ["类别", "新增件", "办结件", "未结件", "超时件"]
    assert row(page, "按类别", "噪音")[1:3] == ["2", "0"]
    assert row(page, "按类别", "漏水")[1:3] == ["1", "0"]
    assert row(page, "按类别", "其他")[1:3] == ["0", "0"]
    assert row(page, "按类别", "合计")[1] == "3"
    assert row(page, "按状态", "处理中")[1] == "1" and row(page, "按状态", "已登记")[1] == "2"
    text = response.get_data(as_text=True)
    assert "2026年4月6日" in text and 'value="2026-04-12"' in text and "阳光花园" in text
    assert 'value="this-week" class="here"' in text  # the default range is this week
    # 按类别 and 按状态; 满意率 draws its rate, and no ticket is closed yet; 费用 has `chart: none`.
    assert text.count('<svg class="chart"') == 2


def test_a_number_lists_exactly_the_items_behind_it(auth, client, world):
    noise = tickets(world, "noise", "noise")
    leak = tickets(world, "leak")[0]
    auth.login("cs_supervisor")
    page = read(client.get(WEEK).get_data(as_text=True))
    link = page.links[("按类别", "噪音", 1)]
    assert link.startswith("/reports/tickets_weekly/items?")
    listed = client.get(link)
    assert listed.status_code == 200
    html = listed.get_data(as_text=True)
    assert all(item.number in html for item in noise) and leak.number not in html
    assert "共 2 件" in html and "噪音 · 新增：2" in html
    assert ("按类别", "其他", 1) not in page.links  # a zero has nothing behind it


def test_rates_are_percentages_marked_against_their_target(auth, client, world):
    good, quiet = tickets(world, "other", "other")
    world.fire(good, "dispatch", "cs_supervisor", department="engineering")
    world.fire(good, "finish", "engineer", done_at="2026-04-06T10:00", amount="120.50")
    world.fire(good, "revisit", "frontdesk", result="good", note="回访")
    world.fire(quiet, "close_quietly", "cs_supervisor")  # closed without a revisit
    auth.login("cs_supervisor")
    page = read(client.get(WEEK).get_data(as_text=True))
    assert page.tables["满意率"][0] == ["类别", "办结件", "回访满意件", "满意率目标 ≥ 90%"]
    assert row(page, "满意率", "其他")[1:] == ["2", "1", "50.0%未达标"]
    assert page.tables["费用"][1] == ["合计", "120.50"]


def test_another_estates_user_sees_none_of_its_figures(auth, client, world):
    tickets(world, "noise", "noise")
    auth.login("riverside_supervisor")
    html = client.get(WEEK).get_data(as_text=True)
    assert row(read(html), "按类别", "噪音")[1] == "0" and "阳光花园" not in html
    assert client.get(f"{WEEK}?estate=demo").status_code == 404
    assert client.get(f"{WEEK}/items?key=0.0.0&estate=demo&from=2026-04-06&to=2026-04-12").status_code == 404


def test_an_engineer_counts_what_their_lists_show(auth, client, world):
    tickets(world, "noise", "noise")
    auth.login("engineer")
    response = client.get(WEEK)
    if response.status_code == 404:
        return  # no ticket the engineer may see: no report either
    counted = row(read(response.get_data(as_text=True)), "按类别", "合计")[1]
    listed = client.get("/workflows/ticket/items?from=2026-04-06&to=2026-04-12").get_data(as_text=True)
    assert f"共 {counted} 条" in listed


@pytest.mark.parametrize("url", ["/reports/nothing", "/reports/nothing.xlsx", "/reports/nothing/items?key=0.0.0"])
def test_an_unknown_report_is_a_chinese_404(auth, client, url):
    auth.login("cs_supervisor")
    response = client.get(url)
    assert response.status_code == 404 and "没有这个报表" in response.get_data(as_text=True)


def test_quick_choices_and_dates(auth, client, world):
    tickets(world, "noise")
    auth.login("cs_supervisor")
    last = client.get(f"{WEEK}?period=last-week").get_data(as_text=True)
    assert 'value="2026-03-30"' in last and 'value="2026-04-05"' in last
    assert row(read(last), "按类别", "噪音")[1] == "0"
    assert 'value="last-week" class="here"' in last
    both = client.get(f"{WEEK}?period=custom&from=2026-03-30&to=2026-04-06").get_data(as_text=True)
    assert row(read(both), "按类别", "噪音")[1] == "1"


@pytest.mark.parametrize(("query", "field", "message"), [
    ("from=2026-13-01&to=2026-04-06", "from", "日期格式不正确"),
    ("from=2026-04-06&to=2026-04-01", "to", "结束日期不能早于开始日期"),
    ("from=&to=2026-04-01", "from", "请填写日期"),
])
def test_bad_dates_are_said_next_to_the_field(auth, client, query, field, message):
    auth.login("cs_supervisor")
    response = client.get(f"{WEEK}?period=custom&{query}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    box = re.search(rf'<div class="field has-error">\s*<label for="report-{field}">.*?</div>', html, re.S)
    assert box and message in box.group(0)
    assert "2026年4月6日" in html  # the default range's figures meanwhile


# -- downloads -------------------------------------------------------------------------------

def test_the_excel_download_opens_and_is_on_the_access_log(auth, client, world):
    tickets(world, "noise", "noise")
    auth.login("cs_supervisor")
    response = client.get(f"{WEEK}.xlsx?from=2026-04-06&to=2026-04-12")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment; filename=\"tickets_weekly_") and disposition.isascii()
    chinese = unquote(disposition.split("filename*=UTF-8''")[1])
    assert chinese == "报事周报_阳光花园_2026-04-06至2026-04-12.xlsx"
    book = openpyxl.load_workbook(io.BytesIO(response.data))
    cells = [c for sheet in book.worksheets for line in sheet.iter_rows(values_only=True) for c in line]
    assert "噪音" in cells and 2 in cells
    with world.factory() as session:
        logged = session.scalars(select(AccessLog).where(AccessLog.kind == "export")).all()
    assert len(logged) == 1 and logged[0].user_name and logged[0].detail.startswith("导出统计报表：报事周报（")
    assert logged[0].detail.endswith("，Excel）")


def test_the_csv_download_starts_with_the_bom(auth, client, world):
    tickets(world, "leak")
    auth.login("cs_supervisor")
    response = client.get(f"{WEEK}.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf")
    assert "漏水" in response.data.decode("utf-8-sig")


def test_a_download_is_refused_outside_the_users_estates(auth, client):
    auth.login("cs_supervisor")
    assert client.get(f"{WEEK}.csv?estate=riverside").status_code == 404


# -- the pages themselves --------------------------------------------------------------------

def test_the_list_of_reports_and_the_navigation(auth, client):
    auth.login("cs_supervisor")
    html = client.get("/reports").get_data(as_text=True)
    assert "报事周报" in html and "报事趋势" in html
    assert 'href="/reports">统计报表</a>' in html or ">统计报表</a>" in html


def test_report_pages_carry_no_inline_style_or_script(auth, client, world):
    tickets(world, "noise")
    auth.login("cs_supervisor")
    page = read(client.get(WEEK).get_data(as_text=True))
    for url in ("/", "/reports", WEEK, f"{WEEK}?period=last-month", page.links[("按类别", "噪音", 1)]):
        html = client.get(url).get_data(as_text=True)
        assert not re.search(r"\sstyle\s*=", html), url
        assert "<style" not in html, url
        assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", html)), url
        assert not re.search(r"\son[a-z]+\s*=", html), url


# -- the home page ---------------------------------------------------------------------------

def test_the_supervisors_home_page_shows_deadlines_and_dashboard_reports(auth, client, world):
    late = tickets(world, "noise")[0]
    with world.factory.begin() as session:
        session.execute(update(Item).where(Item.id == late.id).values(deadline_at=world.clock.now() - timedelta(hours=1)))
    auth.login("cs_supervisor")
    html = client.get("/").get_data(as_text=True)
    assert "今日期限" in html and "/items?workflow=ticket&amp;overdue=1" in html
    assert "报事周报" in html and "报事趋势" in html and html.count('<svg class="chart"') == 2
    assert html.index("今日期限") < html.index("我的待办</h1>") or html.index("我的待办</h1>") < html.index("今日期限")


def test_the_front_desk_sees_its_own_figures(auth, client, world):
    tickets(world, "noise", "leak")
    auth.login("frontdesk")
    html = client.get("/").get_data(as_text=True)
    assert "我的工作量" in html
    today = re.search(r"<dt>今天登记</dt><dd>(\d+)</dd>", html)
    assert today and today.group(1) == "2"
