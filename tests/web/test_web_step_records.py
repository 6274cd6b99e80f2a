"""The item page's partials for log fields and countersigns (web/templates/items/_log.html,
_countersign.html), fed by engine/views/logs.py."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import render_template

from engine.views.logs import LogEntry, LogSection, Signing, StepRecords

AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)


def test_the_log_partial_lists_every_entry_with_who_and_when(app):
    records = StepRecords(logs=(LogSection("跟进记录", (LogEntry("已约明早上门", "张三", AT),
                                                      LogEntry("业主来电", "李四", None))),))
    with app.test_request_context():
        html = render_template("items/_log.html", records=records, tz="Asia/Shanghai")
    assert "跟进记录（2 条）" in html
    assert html.index("已约明早上门") < html.index("业主来电")
    assert "张三" in html and "2026-03-02 09:30" in html


def test_the_countersign_partial_shows_who_signed_and_who_is_awaited(app):
    records = StepRecords(countersigns=(Signing("会签同意", (("工程主管", "王工", AT),), ("客服主管",)),))
    with app.test_request_context():
        html = render_template("items/_countersign.html", records=records, tz="Asia/Shanghai")
    assert "会签同意（会签）" in html
    assert "工程主管：王工 已签" in html
    assert "等待会签：客服主管" in html


def test_the_item_page_renders_without_logs_or_countersigns(auth, client, world):
    item = world.make_item()
    auth.login("frontdesk")
    page = client.get(f"/items/{item.id}")
    assert page.status_code == 200
    assert "会签" not in page.get_data(as_text=True)
