"""The web app counts by the calendars published in its database (web.db.calendars), not by YAML on disk:
here the definitions folder ($ESTATEFLOW_WORKFLOWS) does not exist at all.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from engine.runtime.calendars import PublishedCalendars
from engine.runtime.definition_files import store_files
from engine.store.db import transaction
from web import db

CALENDAR = ("timezone: Asia/Shanghai\nholidays:\n  - {from: 2026-10-01, to: 2026-10-07, name: 国庆节}\n"
            "workdays: [2026-10-10]\n")


@pytest.fixture
def published(world, tmp_path, monkeypatch):
    """calendar.yaml published in the app's database only."""
    monkeypatch.setenv("ESTATEFLOW_WORKFLOWS", str(tmp_path / "no-folder"))
    with transaction(world.factory) as session:
        store_files(session, {"calendar.yaml": CALENDAR}, by="admin", comment=None,
                    now=datetime.fromisoformat("2026-03-02T09:00:00+08:00"), complete=False)


def test_the_app_holds_one_published_calendars_reading_its_database(app, published) -> None:
    with app.app_context():
        calendars = db.calendars()
        assert isinstance(calendars, PublishedCalendars) and calendars is db.calendars()
        assert date(2026, 10, 1) in calendars.for_estate("demo").holidays


def test_the_admin_is_warned_of_the_published_calendar_running_out(auth, client, clock, published) -> None:
    clock.set(datetime.fromisoformat("2026-12-01T10:00:00+08:00"))
    auth.login("admin")
    page = client.get("/").get_data(as_text=True)
    assert "工作日历 calendar.yaml 的节假日和调休只列到 2026年12月31日" in page
