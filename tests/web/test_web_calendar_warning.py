"""The administrator sees when a working calendar's holiday list runs out; other staff do not.

The calendars are read from $ESTATEFLOW_WORKFLOWS, as the web app and the worker read them.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select, update

from engine.runtime.timers import UNCOVERED
from engine.store.models import ItemHistory

BANNER = "工作日历 {file} 的节假日和调休只列到 2026年12月31日"


@pytest.fixture
def calendars(tmp_path, monkeypatch):
    """A definitions folder whose calendar lists the dates of 2026 only."""
    folder = tmp_path / "workflows"
    folder.mkdir()
    (folder / "calendar.yaml").write_text(
        "timezone: Asia/Shanghai\nholidays:\n  - {from: 2026-10-01, to: 2026-10-07, name: 国庆节}\n"
        "workdays: [2026-10-10]\n", encoding="utf-8")
    monkeypatch.setenv("ESTATEFLOW_WORKFLOWS", str(folder))
    return folder / "calendar.yaml"


def december(clock):
    clock.set(datetime.fromisoformat("2026-12-01T10:00:00+08:00"))


def test_the_admin_sees_the_warning_on_every_page(auth, client, clock, calendars):
    december(clock)
    auth.login("admin")
    for url in ("/", "/items"):
        page = client.get(url).get_data(as_text=True)
        assert BANNER.format(file=calendars) in page
        assert "请在国务院办公厅公布下一年的节假日安排后补上日期并重新发布" in page


def test_other_staff_do_not_see_it(auth, client, clock, calendars):
    december(clock)
    auth.login("frontdesk")
    assert "节假日和调休只列到" not in client.get("/").get_data(as_text=True)


def test_no_warning_while_the_list_covers_the_next_90_days(auth, client, calendars):
    auth.login("admin")  # the clock stands in March 2026
    assert "节假日和调休只列到" not in client.get("/").get_data(as_text=True)


def test_the_item_page_says_a_deadline_was_computed_without_a_holiday_list(auth, client, world):
    item = world.make_item()
    with world.factory.begin() as session:
        row = session.scalars(select(ItemHistory).where(ItemHistory.item_id == item.id)).one()
        session.execute(update(ItemHistory).where(ItemHistory.id == row.id)
                        .values(changes={**row.changes, UNCOVERED: [None, "2026-12-31"]}))
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}").get_data(as_text=True)
    assert "期限按工作日推算（节假日表未覆盖）" in page and "节假日表只列到2026年12月31日" in page
    assert UNCOVERED not in page
